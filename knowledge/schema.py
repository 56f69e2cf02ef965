"""The question-bank format: typed records, loading from YAML and validation with precise problems.

A bank is a folder of YAML files, one per topic. Each file holds a topic record with its questions;
see knowledge/FORMAT.md for the format with a complete example.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LEVELS: tuple[str, ...] = ("fresher", "mid", "senior")
Level = Literal["fresher", "mid", "senior"]
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"

MAX_FILE_BYTES = 1_000_000  # a topic file larger than this is refused before it is read (the largest shipped: ~60 KB)
ANSWER_WORDS = (80, 200)  # a strong spoken answer of about a minute
KEY_POINTS = (3, 6)
FOLLOW_UPS = (1, 3)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FollowUp(_Strict):
    """A follow-up prompt, asked when the candidate misses the key point it names."""

    key_point: int = Field(ge=1, description="1-based index of the key point this probes")
    ask: str = Field(min_length=10, description="what the interviewer asks")


class Source(_Strict):
    """A passage of the user's material that a generated question stands on (see `interviewer prepare`)."""

    file: str = Field(min_length=1, description="the file the passage came from, as the user named it")
    passage: str = Field(pattern=r"^p[0-9a-f]{12}$", description="the passage's id: a hash of its text")
    text: str = Field(min_length=1, description="the passage itself, also graded against as extra reference")


class Question(_Strict):
    """One interview question with everything needed to grade an answer to it."""

    id: str = Field(pattern=SLUG, description="stable id, unique across all banks")
    topic: str = Field(default="", description="filled from the topic file")
    level: Level
    question: str = Field(min_length=10)
    answer: str = Field(min_length=1, description="model answer, 80-200 words")
    key_points: list[str] = Field(min_length=KEY_POINTS[0], max_length=KEY_POINTS[1])
    follow_ups: list[FollowUp] = Field(min_length=FOLLOW_UPS[0], max_length=FOLLOW_UPS[1])
    glossary: list[str] = Field(min_length=1, description="terms the recogniser must get right")
    references: list[str] = Field(min_length=1, description="papers or docs that back the facts")
    generated: bool = Field(False, description="written by the LLM from the user's material")
    reviewed: bool = Field(True, description="checked by a person; a generated question starts unreviewed")
    sources: list[Source] = Field(default_factory=list, description="the passages a generated question stands on")
    covers: str = Field("", description="the job requirement this question was chosen or written for")

    @field_validator("answer")
    @classmethod
    def _answer_length(cls, value: str) -> str:
        words = len(value.split())
        low, high = ANSWER_WORDS
        if not low <= words <= high:
            raise ValueError(f"model answer has {words} words; it must have {low}-{high}")
        return value

    @field_validator("key_points", "glossary", "references")
    @classmethod
    def _no_empty_items(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("contains an empty item")
        return items

    @model_validator(mode="after")
    def _follow_ups_point_at_key_points(self) -> Question:
        for follow_up in self.follow_ups:
            if follow_up.key_point > len(self.key_points):
                raise ValueError(
                    f"follow-up names key point {follow_up.key_point}, "
                    f"but the question has {len(self.key_points)}"
                )
        return self

    def content_hash(self) -> str:
        """A hash of everything that is stored; it changes exactly when the record must be re-embedded."""
        payload = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class Include(_Strict):
    """A question of another topic asked in this one too, by reference (a job description's topic names the
    bank questions that match its requirements): the question's id and the requirement it covers here."""

    id: str = Field(pattern=SLUG, description="the id of a question in another topic of the banks")
    covers: str = Field("", description="the job requirement it was chosen for")


class Topic(_Strict):
    """A topic file: its slug, a title, a one-line summary, its questions and the questions it includes."""

    topic: str = Field(pattern=SLUG)
    title: str = Field(min_length=3)
    summary: str = Field(default="")
    questions: list[Question] = Field(default_factory=list)
    include: list[Include] = Field(default_factory=list, description="questions of other topics asked here too")

    @model_validator(mode="after")
    def _not_empty(self) -> Topic:
        if not self.questions and not self.include:
            raise ValueError("a topic needs at least one question (or an include of one)")
        return self

    def included(self, by_id: dict[str, Question]) -> list[Question]:
        """The included questions as members of this topic: each a copy with its own id (this topic's name
        before the original's, so the two never clash in the store) and the requirement it covers."""
        return [by_id[inc.id].model_copy(update={"id": f"{self.topic}-{inc.id}", "topic": self.topic,
                                                 "covers": inc.covers})
                for inc in self.include if inc.id in by_id]

    @model_validator(mode="before")
    @classmethod
    def _stamp_topic(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("questions"), list):
            slug = data.get("topic", "")
            for item in data["questions"]:
                if isinstance(item, dict):
                    item.setdefault("topic", slug)
        return data


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bank, located by file, question id and field."""

    file: str
    question_id: str
    field: str
    message: str

    def __str__(self) -> str:
        where = ":".join(part for part in (self.file, self.question_id, self.field) if part)
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Bank:
    """Topics loaded from one or more folders, and every problem found on the way."""

    topics: tuple[Topic, ...]
    problems: tuple[Problem, ...]
    included: tuple[Question, ...] = ()  # the copies that topics include by reference (see Topic.included)

    @property
    def questions(self) -> list[Question]:
        return [question for topic in self.topics for question in topic.questions] + list(self.included)


def topic_counts(questions) -> dict[str, dict[str, int]]:
    """Question counts per topic and level."""
    counts: dict[str, dict[str, int]] = {}
    for q in questions:
        counts.setdefault(q.topic, {}).setdefault(q.level, 0)
        counts[q.topic][q.level] += 1
    return counts


def bank_files(path: Path) -> list[Path]:
    """The topic files of a bank: a single YAML file, or every YAML file in a folder."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


class _BankLoader(yaml.SafeLoader):
    """YAML without aliases: a bank never needs them, and nested aliases ("billion laughs") expand a few
    hundred bytes into gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"uses an alias (*{event.anchor}); bank files may not "
                                              "use aliases: write the text out", event.start_mark)
        return super().compose_node(parent, index)


def _read_yaml(path: Path, in_folder: bool) -> tuple[object, str]:
    """A topic file's data, or '' and what is wrong with it; checked before a byte is parsed."""
    if in_folder and path.is_symlink():
        return None, "is a symbolic link; copy the file into the bank folder instead"
    if not path.is_file():
        return None, "is not a regular file"
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return None, (f"has {size:,} bytes; a topic file may have at most {MAX_FILE_BYTES:,} "
                      "(split it into several topics)")
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_FILE_BYTES + 1).decode("utf-8")
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            return None, f"grew past {MAX_FILE_BYTES:,} bytes while it was read"
        return yaml.load(text, Loader=_BankLoader), ""  # a SafeLoader that refuses aliases
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return None, f"cannot read this file as YAML: {error.problem}{where}"
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return None, f"cannot read this file as YAML: {error}"
    except RecursionError:
        return None, "cannot read this file as YAML: it is nested too deeply"


def load_topic_file(path: Path, *, in_folder: bool = False) -> tuple[Topic | None, list[Problem]]:
    """Parse and validate one topic file; on failure return every problem found in it. In a folder, a symlink
    is refused (a bank is its own files, not a pointer to files elsewhere)."""
    name = str(path)
    data, problem = _read_yaml(path, in_folder)
    if problem:
        return None, [Problem(name, "", "", problem)]
    if not isinstance(data, dict):
        return None, [Problem(name, "", "", "expected a mapping with topic, title and questions")]
    try:
        return Topic.model_validate(data), []
    except ValidationError as error:
        return None, [_locate(name, data, detail) for detail in error.errors()]


def _locate(file: str, data: dict, detail: dict) -> Problem:
    loc = list(detail["loc"])
    question_id = ""
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        items = data.get("questions") or []
        item = items[loc[1]] if loc[1] < len(items) else None
        question_id = str(item.get("id")) if isinstance(item, dict) and item.get("id") else f"#{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc)
    message = detail["msg"].removeprefix("Value error, ")
    return Problem(file, question_id, field, message)


def load_bank(*paths: Path, known: Sequence[Question] = ()) -> Bank:
    """Load every topic file under the given paths and check the bank as a whole (unique ids, topics, includes
    that name a question). `known`: questions of banks not loaded here that an include may name (the other
    banks, when a user's file is checked alone)."""
    topics: list[Topic] = []
    problems: list[Problem] = []
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), "", "", "no such file or folder"))
            continue
        files = bank_files(path)
        if not files:
            problems.append(Problem(str(path), "", "", "no .yaml topic files here"))
        for file in files:
            topic, found = load_topic_file(file, in_folder=path.is_dir())
            problems.extend(found)
            if topic is not None:
                topics.append(topic)
    included, missing = _resolve_includes(topics, known)
    problems.extend(missing)
    problems.extend(_cross_problems(topics, included))
    return Bank(tuple(topics), tuple(problems), tuple(included))


def _resolve_includes(topics: list[Topic], known: Sequence[Question]) -> tuple[list[Question], list[Problem]]:
    """The included questions, resolved against the topics' own questions (an include of an include is not
    followed), and a problem for each include that names no question."""
    by_id = {q.id: q for q in known} | {q.id: q for topic in topics for q in topic.questions}
    included: list[Question] = []
    problems = []
    for topic in topics:
        for inc in topic.include:
            if inc.id not in by_id:
                problems.append(Problem(topic.topic, inc.id, "include",
                                        "names a question that is in no bank; remove it or add its bank back"))
        included.extend(topic.included(by_id))
    return included, problems


def _cross_problems(topics: list[Topic], included: list[Question]) -> list[Problem]:
    problems = []
    seen_ids: dict[str, str] = {}
    seen_topics: set[str] = set()
    members: dict[str, list[Question]] = {}
    for question in included:
        members.setdefault(question.topic, []).append(question)
    for topic in topics:
        if topic.topic in seen_topics:
            problems.append(Problem(topic.topic, "", "topic", "this topic is defined in two files"))
        seen_topics.add(topic.topic)
        for question in [*topic.questions, *members.get(topic.topic, [])]:
            if question.id in seen_ids:
                problems.append(Problem(
                    topic.topic, question.id, "id", f"duplicate id (also in topic {seen_ids[question.id]})"
                ))
            seen_ids[question.id] = topic.topic
    return problems


if __name__ == "__main__":  # a quick check for bank authors: python3 -m knowledge.schema PATH...
    import sys

    bank = load_bank(*(Path(arg) for arg in sys.argv[1:] or ["knowledge/bank"]))
    for problem in bank.problems:
        print(problem)
    print(f"{len(bank.topics)} topics, {len(bank.questions)} questions, {len(bank.problems)} problems")
    sys.exit(1 if bank.problems else 0)
