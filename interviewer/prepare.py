"""Interview questions written from the user's own material, grounded in its passages.

`prepare` reads the files, splits them into passages and embeds those into the topic's own Chroma collection. It
then plans the questions: seed passages spread evenly over each file (moved off code samples to the nearest
passage of prose), each seed with the passages the store finds closest to it. For each planned question the LLM
writes a question, a model answer, key points, follow-ups and a glossary under a JSON schema; the bank's own rules
validate it, and a draft that breaks them is sent back with the problems listed (a draft whose follow-ups all
repeat its question gets them asked for on their own instead: the model repeats them in every new draft). Every
key point is then checked against the passages by the grader's verification path (the same per-point verdicts that
verify a candidate's answer, with the passages in the candidate's place); a point they do not support is removed,
and a question left with too few points has them made up from the sentences of its model answer that pass the same
check, or is dropped, with a note (where every follow-up was on a point removed, new ones on the points kept are
asked for on their own, and it is dropped only if none comes). The model answer's sentences are checked the same
way: one the passages do not support is left out, and an answer left too short is filled in with the passages'
own sentences on the question. A dropped question is written once more, seeded on
another passage of prose of its document (one no question stands on where there is one, the nearest first) and
written from passages other than its own where the store finds enough; a question written for a job requirement is
not (it stands on what the store finds for the requirement). Drafting again from the same passages did not help:
shown its draft and told which points the passages lack (a question from the bench's READMEs), or asked afresh
with a note of them at temperature 0 and 0.8 (one from python-dotenv's changelog), the 1.5B model wrote the same
unsupported points in all three drafts.

Each planned question has a key: a hash of its passages, its level, the model and the prompts. Outcomes are
appended to a journal as they are reached, so running `prepare` again on unchanged files does no LLM work, a
changed file redoes only the questions whose passages changed, and an interrupted run continues where it
stopped. The result is a bank YAML file the user can read and edit: a question marked `reviewed: true` by the
user is kept as they left it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from interviewer import text as T
from interviewer.conversation import STATES_AT, Context, Dialogue, render, stated
from interviewer.documents import Document, Passage
from interviewer.errors import BadInput, InterviewerError
from interviewer.grader import Grader
from interviewer.knowledge.schema import ANSWER_WORDS, FOLLOW_UPS, KEY_POINTS, LEVELS, SLUG, Question, Topic
from interviewer.types import Message, PointResult
from interviewer.verdicts import verified_grade

log = logging.getLogger(__name__)

PROMPT_VERSION = "11"  # bump when the prompts or the checks change: every question is then written again
NEIGHBOURS = 2  # passages retrieved beside each seed passage
# A key point stands on its passages where the verified grade, reading the passages as the candidate's answer,
# counts it at least partly made (its credit, fitted on the tuneset, at or above VerifyOptions.partial_at). The
# LLM's belief alone (P(yes) + half P(partly) at 0.5, an earlier rule) says nearly every point is made: on the
# tuneset it accepted 57% of the key points of confidently wrong answers and 95% of excellent ones; the credit
# accepts 19% and 67%.
SUPPORTED = ("covered", "partial")
# A point must also be stated in its passages, not only true: at least STATES_AT (half) of its content words are
# in them, the rule that makes a reply sentence give a point away (conversation.unsafe); a rule, not a fit. From a
# job description that only names Kubernetes, the model wrote six true points about it that the check above
# kept; they share 17-57% of their content words with the description, while all twelve points written from
# the shipped notes share 50% or more with theirs.
MAX_QUESTIONS = 40
MOSTLY_PROSE = 0.5  # a seed passage has at least this share of its words outside code and links: a rule, not a fit
# a passage retrieved beside a seed with a smaller share is a code sample or a list of links: left out of what the
# question is written from (on the bench the 1.5B model wrote five key points about a parameter that only a
# code sample's comment named, none of them stated). A rule, not a fit
SOME_PROSE = 0.25
# The cosine similarity (MiniLM, question or model answer against the requirement's words) from which a bank
# question covers a job requirement. Fitted on tests/data/prepare/requirements.yaml, requirement lines we wrote
# for it: the 17 a shipped topic covers find their topic at 0.52-0.74, the 9 that no topic covers find nothing
# above 0.33; this is the middle of that gap.
MATCH_AT = 0.42
MATCHES = 3  # bank questions at most per requirement
PER_REQUIREMENT = 3  # questions written at most for a requirement the bank does not cover (one per level)
# a key point of fewer words is a bare term ("pre-trained models"), not a statement; one of more is a stretch of
# the material copied (the 1.5B model gave one of 80 words, from a passage's links and licence), not one idea.
# Rules, not fits: the shipped bank's 703 key points have 5-24 words, and a new user's notes gave "Promotion to old
# generation" as a key point at 4
POINT_WORDS = (5, 30)
ANSWER_POINT_WORDS = (6, 30)  # a sentence of the model answer that can stand in as a key point (see _from_answer)
ANSWERED_AT = 0.8  # share of a sentence's content words a model answer holds to say it already (a rule, not a fit)
TRIES = 3  # drafts per question: the first, then up to two with the problems of the one before
# Drafts after the first are sampled at this temperature (with the fixed seed: a run repeats): at temperature 0 the
# 1.5B model wrote the same draft again word for word after being told its problems (an answer copying the
# material's layout three times running, on the Rich README). A usual sampling temperature, not tuned.
RETRY_TEMPERATURE = 0.7
LEVEL_HINTS = {
    "fresher": "a graduate: ask what something is and why it is used",
    "mid": "a working engineer: ask how it works and when to choose it",
    "senior": "an experienced engineer: ask about trade-offs, failure modes and design choices",
}


class _DraftFollowUp(BaseModel):
    key_point: int
    ask: str = Field(min_length=10, max_length=300)


class Draft(BaseModel):
    """The shape the LLM writes a question in. The grammar compiled from it holds the model to the bank's
    counts and to a model answer of spoken length in characters (6 to 8 per word: 80-200 words); the bank's
    own rules are still checked afterwards, with reasons."""

    question: str = Field(min_length=15, max_length=300)
    answer: str = Field(min_length=660, max_length=1150)  # 560 let the 1.5B write 79 words of long terms
    key_points: list[str] = Field(min_length=KEY_POINTS[0], max_length=KEY_POINTS[1])
    follow_ups: list[_DraftFollowUp] = Field(min_length=FOLLOW_UPS[0], max_length=FOLLOW_UPS[1])
    glossary: list[str] = Field(min_length=1, max_length=8)


class _FollowUps(BaseModel):
    """The shape of follow-ups asked for on their own (see Preparer._follow_ups)."""

    follow_ups: list[_DraftFollowUp] = Field(min_length=FOLLOW_UPS[0], max_length=FOLLOW_UPS[1])


@dataclass(frozen=True)
class Slot:
    """One planned question: its seed passage, the passages it is written from and its level."""

    seed: Passage
    passages: tuple[Passage, ...]
    level: str
    requirement: str = ""

    def key(self, model: str) -> str:
        parts = [PROMPT_VERSION, model, self.level, self.requirement, *(p.id for p in self.passages)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


@dataclass
class Outcome:
    """What became of one planned question: kept (with the question) or dropped (with the reason)."""

    key: str
    question: dict | None
    note: str
    tries: int = 0
    removed_points: int = 0
    seconds: float = 0.0
    replaces: str = ""  # the key of the dropped question this one was written in place of

    @property
    def kept(self) -> bool:
        return self.question is not None


@dataclass
class Report:
    """What a `prepare` run did, for the CLI, the page and `make bench`."""

    topic: str
    bank_file: Path
    files: list[str]
    skipped: list[str]  # "file: why" for each file that could not be read
    passages: int
    outcomes: list[Outcome] = field(default_factory=list)
    reused: int = 0  # outcomes taken from the journal (no LLM work)
    retired: int = 0  # questions kept by an earlier run, no longer planned and left out of the new bank (those the
    # user marked reviewed stay in it)
    requirements: list[dict] = field(default_factory=list)  # job mode: each requirement, its bank and new ids

    @property
    def kept(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kept]

    @property
    def dropped(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.kept]

    def as_dict(self) -> dict:
        return {"topic": self.topic, "bank_file": str(self.bank_file), "files": self.files, "skipped": self.skipped,
                "passages": self.passages, **tally(self.outcomes), "reused": self.reused, "retired": self.retired,
                "seconds": [round(o.seconds, 1) for o in self.outcomes if o.seconds],  # of those written now
                "requirements": self.requirements,
                "uncovered": [r["requirement"] for r in self.requirements if not r["bank"] and not r["written"]]}


def tally(outcomes: Sequence[Outcome]) -> dict:
    """The counts a run's outcomes give, for the report, `make bench` and `make eval`: the questions asked for,
    those written (with any in place of a dropped one), kept, kept on the first and within two drafts, the key
    points the grounding check removed, and why each dropped one was."""
    kept = [o for o in outcomes if o.kept]
    return {"asked_for": sum(1 for o in outcomes if not o.replaces), "planned": len(outcomes), "kept": len(kept),
            "replacements": sum(1 for o in outcomes if o.replaces), "first_try": sum(1 for o in kept if o.tries == 1),
            "kept_within_two_drafts": sum(1 for o in kept if o.tries <= 2),
            "key_points_removed": sum(o.removed_points for o in outcomes),
            "dropped": [o.note for o in outcomes if not o.kept]}


Progress = Callable[[int, int, str], None]  # (done, total, what is happening)


def since_last_run(summary: dict) -> str:
    """The parenthesis of a report's summary line: the questions reused from the last run, those written in
    place of dropped ones, and those of the last run no longer planned (their passages are not in the material
    given this time), which the new bank leaves out."""
    text = f"{summary['reused']} unchanged from the last run"
    if n := summary["replacements"]:
        text += f"; {n} written from another passage in place of a dropped one"
    if n := summary["retired"]:
        text += (f"; {n} question{'s' * (n != 1)} of the last run left out, written from passages not in the "
                 "material given this time")
    return text


def plan(documents: Sequence[Document], count: int, levels: Sequence[str],
         search: Callable[[str], list[str]]) -> list[Slot]:
    """`count` questions spread over the documents in proportion to their passages, levels taken in turn; each
    seed is the passage nearest an even spacing of the document that is mostly prose (the nearest of all where
    none is). `search` gives the ids of the passages closest to a text."""
    by_doc = [doc.passages() for doc in documents]
    total = sum(len(p) for p in by_doc)
    if total == 0:
        return []
    count = min(count, total)
    shares = [count * len(p) / total for p in by_doc]
    quota = [int(s) for s in shares]
    for n in sorted(range(len(by_doc)), key=lambda n: shares[n] - quota[n], reverse=True)[:count - sum(quota)]:
        quota[n] += 1
    prose = _prose(by_doc)
    by_id = {p.id: p for passages in by_doc for p in passages}
    slots: list[Slot] = []
    for passages, wanted in zip(by_doc, quota, strict=True):
        for k in range(wanted):
            spot = (k + 0.5) * len(passages) / wanted - 0.5
            nearest = sorted(passages, key=lambda p: abs(p.index - spot))
            used = {slot.seed.id for slot in slots}
            free = [p for p in nearest if p.id not in used] or nearest
            seed = next((p for p in free if prose[p.id] >= MOSTLY_PROSE), free[0])
            slots.append(_slot(seed, levels[len(slots) % len(levels)], by_id, prose, search))
    return slots


def replacement(documents: Sequence[Document], dropped: Slot, others: Sequence[Slot],
                search: Callable[[str], list[str]]) -> Slot | None:
    """A slot to write instead of `dropped` (a question that did not pass the checks), at its level, or None
    where there is none: seeded on a passage of prose of the same document that is neither one of its passages
    nor the seed of one of `others` (the questions planned, and written in place of dropped ones), one that no
    question stands on before one that another does, the nearest its seed first; and written from passages
    other than the dropped one's where the store finds enough."""
    by_doc = [doc.passages() for doc in documents]
    prose = _prose(by_doc)
    passages = next((ps for ps in by_doc if ps and ps[0].source == dropped.seed.source), [])
    own = {p.id for p in dropped.passages}
    seeds = {slot.seed.id for slot in others}
    stood_on = {p.id for slot in others for p in slot.passages}
    free = [p for p in passages if p.id not in own | seeds and prose[p.id] >= MOSTLY_PROSE]
    if not free:
        return None
    seed = min(free, key=lambda p: (p.id in stood_on, abs(p.index - dropped.seed.index), p.index))
    by_id = {p.id: p for passages in by_doc for p in passages}
    return _slot(seed, dropped.level, by_id, prose, search, last=own)


def _prose(by_doc: Sequence[Sequence[Passage]]) -> dict[str, float]:
    """Each passage's prose share, read as its document runs (a code block opened in one passage and closed in
    a later one is code in the passages between)."""
    prose: dict[str, float] = {}
    for passages in by_doc:
        inside = False  # whether a code block opened in an earlier passage is still open
        for passage in passages:
            prose[passage.id] = prose_share(("```" if inside else "") + passage.text)
            inside ^= passage.text.count("```") % 2 == 1
    return prose


def _slot(seed: Passage, level: str, by_id: dict[str, Passage], prose: dict[str, float],
          search: Callable[[str], list[str]], *, last: Collection[str] = ()) -> Slot:
    """The slot of `seed`: it and the NEIGHBOURS passages the store finds closest to it that have some prose
    (see SOME_PROSE), mostly prose before the rest, and those in `last` after all others."""
    near = [by_id[pid] for pid in search(seed.text) if pid != seed.id and pid in by_id and prose[pid] >= SOME_PROSE]
    near = sorted(near, key=lambda p: (p.id in last, prose[p.id] < MOSTLY_PROSE))[:NEIGHBOURS]  # closest prose first
    return Slot(seed, (seed, *near), level)


_CODE = re.compile(r"```.*?(?:```|$)|`[^`]*`|\[[^\]]*\]\([^)]*\)|https?://\S+", re.S)


def prose_share(text: str) -> float:
    """The share of a passage's words that are outside code blocks, inline code and links: what a question
    can stand on (a code sample or a list of links states no fact a key point can rest on)."""
    def words(part: str) -> int:
        return sum(1 for word in part.split() if any(c.isalpha() for c in word))

    return words(_CODE.sub(" ", text)) / max(1, words(text))


def match(requirements: Sequence[str], search: Callable[[str], list[tuple[str, float]]],
          notes: Callable[[str], float] = lambda requirement: 0.0) -> dict[str, list[tuple[str, float]]]:
    """For each requirement the bank questions that cover it: those `search` finds (ids with their cosine
    similarity, best first) at MATCH_AT or closer, at most MATCHES; a question close to several requirements
    covers only the one it is closest to. A requirement the user's notes are closer to (`notes`: the similarity
    of their closest passage), at MATCH_AT or closer, than to every bank question found is left to the notes: a
    bank question farther from it than the notes that were given for the job is about a neighbouring subject (a
    new user's "designing HTTP caching with our CDN" was covered by the bank's question on LLM prompt caching,
    at 0.51, while their notes on HTTP caching were 0.58 from it and went unused). A rule, not a fit."""
    best: dict[str, tuple[float, str]] = {}
    for requirement in requirements:
        hits = [(qid, similarity) for qid, similarity in search(requirement) if similarity >= MATCH_AT]
        own = notes(requirement) if hits else 0.0
        if own >= MATCH_AT and own > max(similarity for _, similarity in hits):
            continue
        for qid, similarity in hits:
            if similarity > best.get(qid, (-1.0, ""))[0]:
                best[qid] = (similarity, requirement)
    found: dict[str, list[tuple[str, float]]] = {r: [] for r in requirements}
    for qid, (similarity, requirement) in sorted(best.items(), key=lambda item: -item[1][0]):
        if len(found[requirement]) < MATCHES:
            found[requirement].append((qid, similarity))
    return found


def plan_requirements(requirements: Sequence[str], count: int, levels: Sequence[str],
                      search: Callable[[str], list[tuple[Passage, float]]]) -> list[Slot]:
    """Up to `count` questions for requirements, taken in turn so that each gets one before any gets two, one
    per level each (at most PER_REQUIREMENT); `search` gives the passages closest to a requirement with their
    cosine similarity, best first. A requirement is written for only from passages at MATCH_AT or closer, the
    line from which a bank question covers one (a new user's notes on database indexes were 0.44 from "Keep our
    Postgres feature store fast: design indexes", and 0.30 and 0.20 from "retrieval and ranking models for product
    search" and "A/B tests and offline evaluation", which got the two questions written, on B-trees and on write
    amplification, while the Postgres line got none); the requirements the notes are closest to come first when
    `count` runs short."""
    hits = {r: search(r)[:NEIGHBOURS + 1] for r in requirements}
    found = {r: [p for p, similarity in hits[r] if similarity >= MATCH_AT] for r in requirements}
    closest_first = sorted(requirements, key=lambda r: -max((similarity for _, similarity in hits[r]), default=0.0))
    slots: list[Slot] = []
    for round_ in range(min(PER_REQUIREMENT, len(levels))):
        for requirement in closest_first:
            if len(slots) < count and found[requirement]:
                passages = tuple(found[requirement])
                slots.append(Slot(passages[0], passages, levels[round_], requirement))
    return slots


def coverage(requirements: Sequence[str], include: Sequence[dict], kept: Sequence[dict], planned: Sequence[Slot],
             notes_given: bool = False) -> list[dict]:
    """Each requirement with the bank questions included for it, the ids of the questions written for it,
    whether any was to be written (`notes`: the user's notes had passages on it), and whether notes were given."""
    return [{"requirement": r, "bank": [i["id"] for i in include if i["covers"] == r],
             "written": [q["id"] for q in kept if q.get("covers") == r],
             "notes": any(slot.requirement == r for slot in planned), "notes_given": notes_given}
            for r in requirements]


def covered_by(need: dict) -> str:
    """What covers a requirement, as the report says it (terminal and page)."""
    found = [*need["bank"], *need["written"]]
    if found:
        return ", ".join(found)
    if need.get("notes", True):
        return "nothing (no question written from your notes on it passed the checks)"
    if need.get("notes_given"):
        return ("nothing: no bank question matches it, and your notes say too little about it to write one "
                "from; add notes on it beside the description")
    return ("nothing: no bank question matches it, and a job description states no answers to write one from; "
            "give your notes on it beside the description")


def _ends_a_line(path: Path) -> bool:
    """Whether the file is missing, empty or ends with a line break."""
    try:
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
    except OSError:  # missing, or empty (no byte to go back to)
        return True


def read_journal(path: Path) -> dict[str, Outcome]:
    """The outcomes a `prepare` journal recorded, by key (a torn last line, from a kill, is skipped): what earlier
    runs did, and what `make bench` and `make eval` measure a run by."""
    found: dict[str, Outcome] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            found[record["key"]] = Outcome(**record)
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("prepare journal %s: an unreadable line was skipped", path)
    return found


class Preparer:
    """Writes and checks the questions of one topic; the LLM and the grounding check come from outside."""

    def __init__(self, get_llm: Callable, dialogue: Dialogue, grader: Grader, *, model_name: str,
                 journal: Path) -> None:
        self._get_llm = get_llm  # loaded only when a question must be written
        self._dialogue = dialogue
        self._grader = grader  # finds the passages' words closest to each key point, for the grounding check
        self._model = model_name
        self._journal = journal

    def _record(self, outcome: Outcome) -> None:
        self._journal.parent.mkdir(parents=True, exist_ok=True)
        torn = not _ends_a_line(self._journal)  # a kill mid-write: the next record must not join the torn line
        with self._journal.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if torn else "") + json.dumps(outcome.__dict__) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _compact(self, outcomes: Sequence[Outcome]) -> None:
        """Rewrite the journal with just these outcomes, replacing it in one step (a kill leaves the old one)."""
        fresh = self._journal.with_suffix(".jsonl.new")
        with fresh.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(outcome.__dict__) + "\n" for outcome in outcomes)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(fresh, self._journal)

    def run(self, topic: str, slots: Sequence[Slot], *, progress: Progress | None = None,
            spare: Callable[[Slot, list[Slot]], Slot | None] | None = None,
            ) -> tuple[list[Outcome], int, list[Outcome]]:
        """The outcome of every slot, in order, how many came from the journal, and the outcomes of questions an
        earlier run kept that are no longer planned (a file changed or not given: the journal forgets them). Where a
        slot's question is dropped, `spare` (given it and every slot so far: those planned and the spares
        written) may give one slot to write instead, once; its outcome follows the dropped one's."""
        done = read_journal(self._journal)
        results: list[Outcome] = []
        reused = 0
        planned = list(slots)

        def outcome(slot: Slot, what: str, replaces: str = "") -> Outcome:
            nonlocal reused
            key = slot.key(self._model)
            if progress:
                progress(len(results), len(planned), what)  # a replacement counts as one more question to write
            if key in done:
                reused += 1
                return replace(done[key], seconds=0.0)  # no time spent on it in this run
            started = time.monotonic()
            written = self.write(topic, key, slot)
            written.seconds, written.replaces = time.monotonic() - started, replaces
            self._record(written)
            done[key] = written  # a slot planned twice (the same passages) is written once
            return written

        for n, slot in enumerate(slots):
            results.append(outcome(slot, f"question {n + 1} of {len(slots)} ({slot.level}, from {slot.seed.source})"))
            if results[-1].kept or spare is None:
                continue
            instead = spare(slot, planned)
            if instead is not None:
                planned.append(instead)
                log.info("prepare: question %d was dropped; writing another from %s", n + 1, instead.seed.source)
                results.append(outcome(instead, f"question {n + 1} of {len(slots)} again, from another passage of "
                                                f"{slot.seed.source} (the first did not pass the checks)",
                                       replaces=results[-1].key))
        planned_keys = {o.key for o in results}
        gone = [o for key, o in done.items() if key not in planned_keys]
        if gone:  # outcomes of questions no longer planned (a changed file, or one not given): dropped
            self._compact([done[o.key] for o in results])  # as written, with the seconds that took
        if progress:
            progress(len(results), len(planned), "done")
        return results, reused, [o for o in gone if o.kept]

    def write(self, topic: str, key: str, slot: Slot) -> Outcome:
        """One question from one slot: drafted and validated (up to TRIES drafts, each after the first written
        with the problems of the one before), then grounded."""
        qid = f"{topic}-{key[:8]}"
        system = Message("system", render("prepare_system.j2"))
        prompt = render("prepare_user.j2", level=slot.level, level_hint=LEVEL_HINTS[slot.level],
                        requirement=slot.requirement, passages=[_cleaned(p) for p in slot.passages])
        problems, tries, note = "", 0, ""
        while tries < TRIES:
            tries += 1
            try:  # a draft sent back is asked for again from the material, with the reason beside it
                draft = self._get_llm().chat_json([system, Message("user", prompt + note)], Draft, max_tokens=1100,
                                                  temperature=0.0 if tries == 1 else RETRY_TEMPERATURE)
            except InterviewerError as error:
                log.warning("prepare %s: the LLM gave no usable draft (%s)", qid, error)
                problems = "the reply did not fit the shape asked for (a field too short or too long, or cut off)"
                note = "\nThe last draft was cut off: keep every field short."
                continue
            draft = _repaired(draft)
            if not draft.follow_ups and tries < TRIES:
                tries += 1
                asked = self._follow_ups(qid, draft.question, draft.key_points, "every follow-up repeated the question")
                draft = draft.model_copy(update={"follow_ups": asked})
            try:
                question = _question(qid, topic, slot, draft)
            except (ValidationError, ValueError) as error:
                problems = ("; ".join(_problem(e) for e in error.errors()) if isinstance(error, ValidationError)
                            else str(error))
                log.info("prepare %s: draft %d broke the bank's rules: %s", qid, tries, problems)
                note = (f"\nA draft written from this material was sent back: {problems}. Write a new one that "
                        "keeps every rule.")
                continue
            return self._grounded(key, question, slot, tries)
        return Outcome(key, None, f"{qid}: dropped after {TRIES} tries: {problems}", tries=TRIES)

    def _follow_ups(self, qid: str, question: str, key_points: Sequence[str], why: str) -> list[_DraftFollowUp]:
        """Follow-ups on these key points asked for on their own (none where the model fails at it): where
        every one a draft had repeated its question, or was on a point the grounding check removed. The 1.5B
        model copies the question into each follow-up and into every new draft, told or not (three identical
        drafts of a question on the sentence-transformers README); asked for them alone, point by point, it
        wrote three of their own, in about 15 s against a minute for a draft."""
        prompt = render("prepare_follow_ups.j2", question=question, key_points=key_points)
        try:
            asked = self._get_llm().chat_json([Message("user", prompt)], _FollowUps, max_tokens=300).follow_ups
        except InterviewerError as error:
            log.warning("prepare %s: no follow-ups written on their own (%s)", qid, error)
            return []
        said = " ".join([question, *key_points])
        fitting = _pointed(question, key_points, _distinct(question, [
            f for f in asked if 1 <= f.key_point <= len(key_points) and _on_subject(f.ask, said)]))
        log.info("prepare %s: %s; %d of %d asked for on their own kept", qid, why, len(fitting), len(asked))
        return fitting

    def _from_answer(self, question: Question, points: Sequence[str], material: str) -> list[str]:
        """Sentences of the model answer that its passages support and no kept point states, to bring a question
        the grounding check left with too few key points back to KEY_POINTS[0]: the 1.5B model's key points are
        often vaguer than its answer ("Rich is highly customizable" where the answer says what can be changed),
        and the answer's sentences are checked exactly as the points were. Sentences of ANSWER_POINT_WORDS
        words: a key point is one idea (a rule, not a fit)."""
        candidates = _answer_points(question.answer, points)
        if not candidates:
            return []
        checked = grounding(self._dialogue, self._grader,
                            question.model_copy(update={"key_points": candidates[:KEY_POINTS[1]]}), material)
        supported = [point.point for point in checked if point.status in SUPPORTED][:KEY_POINTS[0] - len(points)]
        log.info("prepare %s: %d key point%s left; %d sentence%s of the model answer added as key points (%d "
                 "checked)", question.id, len(points), "s" * (len(points) != 1), len(supported),
                 "s" * (len(supported) != 1), len(checked))
        return supported

    def _answer_grounded(self, question: Question, points: Sequence[str], material: str) -> str:
        """The model answer less its sentences the passages do not support, checked as key points are (one the
        material says nearly word for word stands without the check), topped up to ANSWER_WORDS[0] words with the
        material's own sentences that share the most words with the question and its key points. The 1.5B model
        fills its answers from its own knowledge: from a new user's notes on database indexes it wrote that "a
        sequential scan is faster on tables that are not vacuumed regularly" and that PostgreSQL changes an
        index to a hash index "using the ALTER TABLE statement", neither in the notes (and both false); the
        check marked both not supported, and every sentence the notes say as supported but one."""
        sentences = list(dict.fromkeys(T.sentences(question.answer)))
        said = T.sentences(material)
        unsure = [s for s in sentences if not _copied(s, said)]
        verdicts = {}
        if unsure:
            checked = grounding(self._dialogue, self._grader, question.model_copy(update={"key_points": unsure}),
                                material)
            verdicts = {s: point.status in SUPPORTED for s, point in zip(unsure, checked, strict=True)}
        kept = [s for s in sentences if verdicts.get(s, True)]
        if len(kept) < len(sentences):
            log.info("prepare %s: %d of %d sentences of the model answer not supported by its passages: %r",
                     question.id, len(sentences) - len(kept), len(sentences),
                     [s for s in sentences if not verdicts.get(s, True)])
        return _topped_up(kept, question.question, points, said)

    def _grounded(self, key: str, question: Question, slot: Slot, tries: int) -> Outcome:
        """The question with only the key points its passages support (and the follow-ups on those)."""
        material = shown([p.text for p in slot.passages])
        checked = grounding(self._dialogue, self._grader, question, material)
        keep = [n for n, point in enumerate(checked) if point.status in SUPPORTED]
        removed = len(question.key_points) - len(keep)
        for n, point in enumerate(checked):
            if point.status not in SUPPORTED:
                log.info("prepare %s: key point %d not supported by its passages (%s, credit %.2f): %r",
                         question.id, n + 1, point.status, point.strength, question.key_points[n])
        renumber = {old + 1: new + 1 for new, old in enumerate(keep)}
        points = [question.key_points[n] for n in keep]
        if len(points) < KEY_POINTS[0]:
            points += self._from_answer(question, points, material)
        follow_ups = [{"key_point": renumber[f.key_point], "ask": f.ask}
                      for f in question.follow_ups if f.key_point in renumber]
        if not follow_ups and len(points) >= KEY_POINTS[0]:  # each was on a point removed: asked for on their own
            tries += 1
            follow_ups = [f.model_dump() for f in self._follow_ups(
                question.id, question.question, points, "every follow-up was on a point the passages do not support")]
        # with too few points the question is dropped anyway: its answer is not worth an LLM call
        answer = self._answer_grounded(question, points, material) if len(points) >= KEY_POINTS[0] else \
            question.answer
        record = question.model_dump(mode="json")
        record.update(key_points=points, follow_ups=follow_ups, answer=answer)
        try:
            kept = Question.model_validate(record)
        except ValidationError as error:
            left = []
            if len(points) < KEY_POINTS[0]:
                left.append(f"{len(points)} key point{'s' * (len(points) != 1)} left, at least {KEY_POINTS[0]} needed")
            elif len(answer.split()) < ANSWER_WORDS[0]:
                left.append(f"the model answer's sentences the material supports, with its own closest sentences, "
                            f"come to {len(answer.split())} words, at least {ANSWER_WORDS[0]} needed")
            if not follow_ups:
                left.append("no follow-up left on a supported point")
            why = "; ".join(left) or "; ".join(_problem(e) for e in error.errors())
            return Outcome(key, None, f"{question.id}: dropped by the grounding check ({removed} of "
                                      f"{len(checked)} key points not supported by the material: {why})",
                           tries, removed)
        return Outcome(key, kept.model_dump(mode="json", exclude_defaults=True) | {"topic": kept.topic},
                       "kept", tries, removed)


def grounding(dialogue: Dialogue, grader: Grader, question: Question, material: str) -> tuple[PointResult, ...]:
    """Each key point of `question` checked against `material` (its passages) as an answer is verified: the
    passages are graded as the candidate's words, the LLM gives its verdict on each point beside the passages'
    closest words, and the verified grade marks it (a status in SUPPORTED: the point stands); a point whose
    words the passages mostly lack (STATES_AT), or that names what they do not name where they say it
    (`_named_elsewhere`), is marked missed whatever the verdict."""
    grade = grader.grade(question, material)
    context = Context.of_answer(question.question, question.key_points, material, grade)
    checked = verified_grade(grade, dialogue.judge(context, kind="answer").verdicts).points
    said, sentences = T.content_stems(material), T.sentences(material)
    kept = []
    for point, closest in zip(checked, grade.points, strict=True):
        elsewhere = _named_elsewhere(point.point, closest.span, sentences)
        if elsewhere:
            log.info("prepare %s: key point names %s, which its passages do not name where they say it: %r",
                     question.id, ", ".join(elsewhere), point.point)
        kept.append(point if stated(point.point, said) and not elsewhere else replace(point, status="missed"))
    return tuple(kept)


_NEGATIONS = frozenset("not no never cannot can't don't doesn't isn't aren't won't without only".split())


def _copied(sentence: str, material: Sequence[str]) -> bool:
    """Whether the material says `sentence` nearly word for word: every content word and number of it is in one
    line of the material, with the same negations, and 90% of its words come in the same order (difflib). Such a
    sentence of a model answer needs no check. A rule, not a fit: one word changed ("faster" for "slower", 50 for
    90) is a claim of its own, checked like any other (found by review)."""
    import difflib

    words = T.words(_straight(sentence))
    negated, stems = _NEGATIONS & set(words), T.content_stems(" ".join(words))
    for line in material:
        theirs = T.words(_straight(line))
        if negated == _NEGATIONS & set(theirs) and stems <= T.content_stems(" ".join(theirs)) and \
                difflib.SequenceMatcher(None, words, theirs, autojunk=False).ratio() >= 0.9:
            return True
    return False


def _straight(text: str) -> str:
    """Curly apostrophes made straight, so "isn’t" is one word, as "isn't" is."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _topped_up(kept: Sequence[str], question: str, points: Sequence[str], material: Sequence[str]) -> str:
    """The kept sentences of a model answer, then, where they come to fewer than ANSWER_WORDS[0] words, the
    material's own sentences (whole statements of ANSWER_POINT_WORDS words that begin with a capital and lean on no
    sentence before them, `_dangling`; not headings, list items or code) that share at
    least two content words with the question and its key points and that no sentence of the answer already says
    (ANSWERED_AT of their words), the most telling first (a word counts less the more of the material's sentences
    use it: every sentence of notes on indexes says "index"), in the material's order, up to ANSWER_WORDS[1]."""
    answer = " ".join(kept)
    low, high = ANSWER_WORDS
    if len(answer.split()) >= low:
        return answer
    lines = list(dict.fromkeys(material))
    stems = {line: T.content_stems(line) for line in lines}
    uses = Counter(word for found in stems.values() for word in found)
    wanted = T.content_stems(" ".join([question, *points]))

    def telling(line: str) -> float:
        return sum(1 / uses[word] for word in stems[line] & wanted)

    candidates = [line for line in lines if ANSWER_POINT_WORDS[0] <= len(line.split()) <= ANSWER_POINT_WORDS[1]
                  and line[:1].isupper() and T.ends_a_sentence(line) and not _unspeakable(line)
                  and not _dangling(line) and len(stems[line] & wanted) >= 2]
    chosen, words, said = [], len(answer.split()), [T.content_stems(sentence) for sentence in kept]
    for line in sorted(candidates, key=telling, reverse=True):
        if words >= low:
            break
        if all(T.word_share(stems[line], other) < ANSWERED_AT for other in said) \
                and words + len(line.split()) <= high:
            chosen.append(line)
            words += len(line.split())
            said.append(stems[line])
    return " ".join([*kept, *sorted(chosen, key=lines.index)])


def _named_elsewhere(point: str, span: str, sentences: Sequence[str]) -> list[str]:
    """The names in a key point (an acronym, a product, a capitalised term) that the material does not give where
    it says what the point says: in its words closest to the point (`span`: a sentence, two, or a window) or the
    sentence before them. The 1.5B model pinned TCP's fast retransmit and AIMD on BBR from a paragraph that never
    names BBR, and the LLM's check passed it, every other word being there. Of the 59 key points the bench's runs
    and that user kept, it holds those two and three more: a README's "This package" given as "The API", a
    point joining two parts of a README, and, wrongly, "The Console object in Rich ..." beside a sentence of
    Rich's README that does not say "Rich". On the shipped bank, reading each model answer as the material of
    its own key points, it holds 21 of 703 (a subject named two sentences back, a figure in other units). A name
    with one capital that starts the point ("Redis", "Rich") is not told from a first word, so it is not checked;
    a span the sentences cannot place (words changed for grading) is not held against the point."""
    words = re.findall(r"[A-Za-z][\w+.\-]*[\w+]", point)
    names = [w for n, w in enumerate(words) if sum(c.isupper() for c in w) >= 2 or (n > 0 and w[0].isupper())]
    head = " ".join(span.split()[:5])
    first = next((n for n, sentence in enumerate(sentences) if head and head in sentence), None)
    if first is None:  # a window or pair that starts across a sentence's end: a whole sentence of it, of 4+ words
        first = next((n for n, sentence in enumerate(sentences) if len(sentence.split()) >= 4 and sentence in span),
                     None)
    if not names or first is None:
        return []
    last = first + 1 if first + 1 < len(sentences) and sentences[first + 1] in span else first
    near = sentences[max(0, first - 1): last + 1]
    return [name for name in dict.fromkeys(names) if not any(_names(sentence, name) for sentence in near)]


def _names(sentence: str, name: str) -> bool:
    """Whether `sentence` gives `name`: as a word (singular or plural, or the part before a hyphen: "BERT" for
    "BERT-style"), or, for an acronym of three letters or more, as the initials of words in a row ("direct
    preference optimisation" for DPO)."""
    forms = {name, name.removesuffix("s"), name.split("-")[0]}
    if any(len(form) >= 2 and re.search(rf"(?<!\w){re.escape(form)}s?(?!\w)", sentence, re.IGNORECASE)
           for form in forms):
        return True
    letters = name.removesuffix("s")
    initials = "".join(word[0] for word in re.findall(r"[a-z0-9]+", sentence.lower()))
    return letters.isalpha() and letters.isupper() and len(letters) >= 3 and letters.lower() in initials


def _cleaned(passage: Passage) -> Passage:
    """A passage as the model is shown it: less any sentence that addresses the model, so the material is asked
    about, never obeyed, and less what cannot be said aloud (see `_spoken`)."""
    return Passage(passage.id, passage.source, passage.index, shown([passage.text]))


def shown(texts: Sequence[str]) -> str:
    """Passages' texts as the writer is shown them, one after another: less any sentence that addresses the
    model, and less what cannot be said aloud (`_spoken`). A question's key points are checked against this."""
    return "\n\n".join(_spoken(T.without_instructions(text)) for text in texts)


_FENCED = re.compile(r"```.*?```", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_ADDRESS = re.compile(r"[<\[(]?(?:https?://|www\.)[^\s<>\[\]()]*[>\])]?")


def _spoken(text: str) -> str:
    """Text less its code blocks, images and web addresses, each link reduced to its words: what is left of
    material or a model answer in a spoken interview. The 1.5B model copied READMEs' code samples and links into
    its model answers ("Below is a short example: ```python ...```", "documented at [https://...]"), and an
    answer's sentences are what a candidate is scored on. A passage with an odd number of fences began or ended
    inside a block, which cannot be told from the passage alone: its code is left as it is."""
    if text.count("```") % 2 == 0:
        text = _FENCED.sub(" ", text)
    text = _LINK.sub(r"\1", _IMAGE.sub(" ", text))
    return re.sub(r"[ \t]{2,}", " ", _ADDRESS.sub(" ", text)).strip()


_LAYOUT = re.compile(r"\[\d+\] \(from |(?:^|\s)#{1,6} \w")  # how the material is shown: prepare_user.j2


def _before_layout(answer: str) -> str:
    """A model answer that goes on into the material itself, copied with its layout (the 1.5B model wrote a
    Rich answer's first sentences, then "[1] (from rich-readme.md) That's fine for styling a line ..." and on
    through the passages), cut where the copy begins if what comes before is long enough; otherwise as written,
    for `_draft_problems` to send back."""
    copied = _LAYOUT.search(answer)
    if copied and len(answer[:copied.start()].split()) >= ANSWER_WORDS[0]:
        return answer[:copied.start()].rstrip()
    return answer


def _draft_problems(draft: Draft) -> list[str]:
    """What makes a draft useless although it has the right shape (small models write these)."""
    problems = []
    if any(point.rstrip().endswith("?") for point in draft.key_points):
        problems.append("key_points: each key point must be a statement of fact, not a question")
    if not T.ends_a_sentence(draft.answer):
        problems.append("answer: it stops in the middle of a sentence; say it in whole sentences, 80 to 200 words, "
                        "with no lists of names")
    if _LAYOUT.search(draft.answer):
        problems.append("answer: it copies the material's layout (a passage's number or a heading); say it as a "
                        "candidate would, in sentences of your own")
    if not draft.follow_ups:
        problems.append("follow_ups: each follow-up must be a different question from the main question")
    if not draft.glossary:
        problems.append("glossary: each entry must be a technical term of one to five words")
    return problems


def _repaired(draft: Draft) -> Draft:
    """The draft less what repeats something else in it, or is not what its field holds: a key point said word
    for word before (its follow-ups pointed at the first), a bare term or a copied stretch of the material given
    as a key point (see POINT_WORDS; its follow-ups with it; where fewer than three points are left, sentences of
    the model answer take their place, to be checked against the passages as every point is), a key point or a
    follow-up that cannot be said aloud (`_unspeakable`), a follow-up that is the main question or an earlier
    follow-up again, or that is on another subject (`_on_subject`: the 1.5B model asked about a class's default
    setting after a question on embeddings), code, an image or a web address in the model answer (`_spoken`),
    the material copied with its layout after enough of an answer (`_before_layout`), a sentence of the model
    answer said again, a glossary entry that is a sentence or a question; and a follow-up numbered for a key
    point it shares no word with, where one other point is plainly its subject, is pointed there (`_pointed`).
    The 1.5B model writes these from one draft to the next when told not to, and each is an extra the rest does
    without; whether enough is left is for `_draft_problems` and the bank's rules to say."""
    first: dict[str, int] = {}
    low, high = POINT_WORDS
    unfit = {n for n, point in enumerate(draft.key_points, start=1)
             if not low <= len(point.split()) <= high or _unspeakable(point) or _dangling(point)}
    for n, point in enumerate(draft.key_points, start=1):
        if n not in unfit:
            first.setdefault(_plain(point), n)
    kept = sorted(first.values())
    renumber = {n: kept.index(first[_plain(point)]) + 1 for n, point in enumerate(draft.key_points, start=1)
                if n not in unfit}
    answer = _said_once(_before_layout(_spoken(draft.answer)))
    said = " ".join([draft.question, answer, *draft.key_points])
    follow_ups = [f.model_copy(update={"key_point": renumber.get(f.key_point, f.key_point)})
                  for f in _distinct(draft.question, draft.follow_ups)
                  if f.key_point not in unfit and not _unspeakable(f.ask) and _on_subject(f.ask, said)]
    points = [draft.key_points[n - 1] for n in kept]
    if unfit and len(points) < KEY_POINTS[0]:  # they stood in for statements: the answer's own, checked later
        points += _answer_points(answer, points)[:KEY_POINTS[0] - len(points)]
    follow_ups = _pointed(draft.question, points, follow_ups)
    glossary = [term for term in draft.glossary if len(term.split()) <= 5 and not term.rstrip().endswith("?")]
    return draft.model_copy(update={"key_points": points, "follow_ups": follow_ups, "glossary": glossary,
                                    "answer": _within_length(answer)})


def _on_subject(ask: str, draft: str) -> bool:
    """Whether a follow-up is on its draft's subject (`draft`: the text of its question, answer and key points):
    it names something the draft names, and no code term (in backticks) the draft does not (the 1.5B model asked
    "What is the default value for `num_pred_tokens` in the `LlamaPromptLookupDecoding` class?" after a question
    on embeddings, from another passage)."""
    named = draft.lower()
    return bool(T.content_stems(ask) & T.content_stems(draft)) and all(
        term.lower() in named for term in re.findall(r"`([^`]+)`", ask))


def _unspeakable(text: str) -> bool:
    """Whether a key point or follow-up holds what an interview said aloud cannot: a code block, a link or a
    web address (the 1.5B model copies them from READMEs: "The API is documented at [https://...]"); the same
    patterns `_spoken` takes out of material and answers."""
    return "```" in text or bool(_LINK.search(text) or _ADDRESS.search(text))


_DANGLING = re.compile(
    r"^\W*(?:(?:it|they|he|she)\b|(?:this|that|these|those)\s+(?:is|are|was|were|can|could|will|would|has|have|had|"
    r"does|do|did|may|might|must|should|means?|makes?|allows?|lets?|helps?|works?|includes?|gives?|keeps?|uses?|"
    r"requires?|needs?|reduces?|increases?)\b)|\b(?:do|does|did)\s+the\s+same\b", re.IGNORECASE)


def _dangling(point: str) -> bool:
    """Whether a key point leans on words outside it: it opens with a pronoun ("It includes basic text completion
    functionality", "This is currently being tracked in #741") or "does the same" as something before it. A key
    point is graded, followed up and listed in the report on its own, where "it" names nothing. Of the shipped
    bank's 703 hand-written points none does this; of the 77 distinct points the 1.5B model wrote in the prepare
    bench's runs and from two new users' notes, 12 did. A rule, not a fit."""
    return bool(_DANGLING.search(point))


def _said_once(answer: str) -> str:
    """The model answer less any sentence it says word for word again (the 1.5B model loops: "BBR is not
    recommended for use in scenarios where ..." five times); where it repeats none, as written."""
    sentences = T.sentences(answer)
    once = list(dict.fromkeys(sentences))
    return answer if len(once) == len(sentences) else " ".join(once)


def _answer_points(answer: str, points: Sequence[str]) -> list[str]:
    """The model answer's sentences that could stand as key points: of ANSWER_POINT_WORDS words, stating none of
    `points` (half their content words or more), each ended with a full stop."""
    low, high = ANSWER_POINT_WORDS
    stated = [T.content_stems(point) for point in points]
    sentences = [s[:1].upper() + s[1:].rstrip(" ;:,") + ("" if T.ends_a_sentence(s) else ".")
                 for s in T.sentences(answer)]
    return [sentence for sentence in dict.fromkeys(sentences) if low <= len(sentence.split()) <= high
            and not _unspeakable(sentence) and not _dangling(sentence)
            and not any(T.word_share(stems, T.content_stems(sentence)) >= STATES_AT for stems in stated)]


def _pointed(question: str, points: Sequence[str], follow_ups: Sequence[_DraftFollowUp]) -> list[_DraftFollowUp]:
    """The follow-ups, each pointed at the key point it plainly asks about where the model numbered it for one it
    shares no word with: one follow-up is asked when its point is missed. The 1.5B model numbers its follow-ups
    1, 2, 3 whatever they ask: from a new user's TCP notes, "What is slow start?" was on key point 1 ("TCP
    congestion control is a mechanism ..."), where point 3 says "In slow start, the window doubles ...". A
    follow-up moves only to the one point that shares two or more of its content words not in the question,
    from one that shares none. A rule, not a fit: it moved 2 of the 11 follow-ups that user's notes gave, both
    rightly; the shipped bank's hand-written follow-ups, which avoid their point's words so as not to give it
    away, it would move 10 of 360."""
    named = T.content_stems(question)
    stems = [T.content_stems(point) for point in points]
    pointed = []
    for f in follow_ups:
        asked = T.content_stems(f.ask) - named
        shares = [len(asked & point) for point in stems]
        best = max(range(len(shares)), key=shares.__getitem__, default=None)
        if (best is not None and 1 <= f.key_point <= len(shares) and shares[f.key_point - 1] == 0
                and shares[best] >= 2 and shares.count(shares[best]) == 1):
            log.info("prepare: follow-up %r pointed at key point %d, not %d", f.ask, best + 1, f.key_point)
            f = f.model_copy(update={"key_point": best + 1})
        pointed.append(f)
    return pointed


def _distinct(question: str, follow_ups: Sequence[_DraftFollowUp]) -> list[_DraftFollowUp]:
    """The follow-ups less any that is the question, or an earlier follow-up, again, or asks part of the question
    again (names nothing the question does not: the 1.5B model split "What are the main types of models, and
    how are they used?" into two follow-ups, one per half)."""
    asked, kept, named = {_plain(question)}, [], T.content_stems(question)
    for f in follow_ups:
        if _plain(f.ask) not in asked and not T.content_stems(f.ask) <= named:
            asked.add(_plain(f.ask))
            kept.append(f)
    return kept


def _within_length(answer: str) -> str:
    """A model answer that stops mid-sentence (the grammar ends the string at the schema's character limit: the
    1.5B model listed `dots1` to `dots59` until it was cut mid-word) or overruns the bank's length, cut after its
    last whole sentence that fits, where what is left is still long enough (the model overran 200 words by a
    sentence in three drafts running, told the limit each time); otherwise as written, for the bank's rule and
    `_draft_problems` to send back."""
    low, high = ANSWER_WORDS
    sentences = T.sentences(answer)
    finished = T.ends_a_sentence(answer)
    if finished and len(answer.split()) <= high:
        return answer
    kept, words = [], 0
    for sentence in sentences if finished else sentences[:-1]:
        if words + len(sentence.split()) > high:
            break
        kept.append(sentence)
        words += len(sentence.split())
    return " ".join(kept) if words >= low else answer


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def _question(qid: str, topic: str, slot: Slot, draft: Draft) -> Question:
    """The bank's question from a draft already repaired (`_repaired`), or ValueError / ValidationError."""
    problems = _draft_problems(draft)
    if problems:
        raise ValueError("; ".join(problems))
    return Question.model_validate({
        "id": qid, "topic": topic, "level": slot.level, "question": draft.question, "answer": draft.answer,
        "key_points": draft.key_points, "follow_ups": [f.model_dump() for f in draft.follow_ups],
        "glossary": draft.glossary, "references": sorted({p.source for p in slot.passages}),
        "generated": True, "reviewed": False, "covers": slot.requirement,
        "sources": [{"file": p.source, "passage": p.id, "text": p.text} for p in slot.passages],
    })


def _problem(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "the question"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def check_name(topic: str) -> str:
    import re

    if not re.fullmatch(SLUG, topic or ""):
        raise BadInput(f"topic name {topic!r}: use lower-case letters, digits and hyphens (e.g. my-notes)")
    return topic


def check_levels(levels: Sequence[str]) -> list[str]:
    bad = [level for level in levels if level not in LEVELS]
    if bad or not levels:
        raise BadInput(f"levels {', '.join(bad) or '(none)'}: choose from {', '.join(LEVELS)}")
    return list(dict.fromkeys(levels))


def reviewed_in(previous: Path) -> dict[str, dict]:
    """The questions the user marked `reviewed: true` in a topic file written before, by id (none where there is
    no such file, or it cannot be read: logged)."""
    if not previous.is_file():
        return {}
    try:
        old = yaml.safe_load(previous.read_text(encoding="utf-8")) or {}
        return {q["id"]: q for q in old.get("questions", []) if isinstance(q, dict) and q.get("reviewed")}
    except (yaml.YAMLError, OSError, AttributeError, KeyError, TypeError) as error:
        log.warning("prepare: could not read the earlier %s (%s); it is written anew", previous, error)
        return {}


def bank_text(topic: str, title: str, summary: str, questions: Sequence[dict], reviewed: dict[str, dict],
              include: Sequence[dict] = ()) -> str:
    """The topic file of the prepared questions (and, for a job description, the bank questions it includes
    by reference). Questions the user marked reviewed (`reviewed_in` the file before) are kept as they left them
    (and in their place), so editing a generated question is never undone."""
    items = [reviewed.get(q["id"], q) for q in questions]
    items += [q for qid, q in reviewed.items() if qid not in {item["id"] for item in items}]
    for item in items:
        item.pop("topic", None)
    data = {"topic": topic, "title": title, "summary": summary, "questions": items}
    if include:
        data["include"] = [dict(i) for i in include]
    Topic.model_validate(data)
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    return HEADER + body


HEADER = ("# Generated by `interviewer prepare` from your material. Edit freely; set `reviewed: true` on a\n"
          "# question you have checked and `prepare` will keep it as you left it.\n")
