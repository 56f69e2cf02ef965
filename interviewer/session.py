"""The interview: which question comes next, each answer graded as it ends, and the report.

Pure logic over the knowledge store and the grader; the terminal and the page both drive this one class.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from interviewer.errors import BadInput
from interviewer.grader import Grader
from interviewer.knowledge.schema import LEVELS, Question
from interviewer.knowledge.store import KnowledgeStore
from interviewer.types import Grade


@dataclass(frozen=True)
class SessionOptions:
    """What the candidate asked for."""

    topics: tuple[str, ...]  # one or more topic slugs
    level: str = "mid"  # fresher, mid or senior: the level of the first question
    questions: int = 5  # how many questions in the session
    answer_seconds: int = 120  # time per answer; what was said is submitted when it runs out
    seed: int = 0  # makes the choice of questions repeatable

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise BadInput(f"unknown level {self.level!r}; choose one of {', '.join(LEVELS)}")
        if self.questions < 1:
            raise BadInput("a session needs at least one question")


@dataclass(frozen=True)
class Turn:
    """One question, what the candidate answered, and its grade."""

    question: Question
    answer: str
    grade: Grade


@dataclass
class Interview:
    """A session in progress: ask `current`, pass the answer to `answer`, until `done`."""

    store: KnowledgeStore
    grader: Grader
    options: SessionOptions
    turns: list[Turn] = field(default_factory=list)
    current: Question | None = None

    def __post_init__(self) -> None:
        self._pool = [q for t in self.options.topics for q in self.store.questions(topic=t)]
        if not self._pool:
            known = ", ".join(sorted(self.store.topics())) or "none"
            raise BadInput(f"no questions for topic(s) {', '.join(self.options.topics)}; known topics: {known}")
        self._rng = random.Random(self.options.seed)
        self.current = self._pick(self.options.level)

    @property
    def done(self) -> bool:
        return self.current is None

    @property
    def number(self) -> int:
        """1-based number of the current question."""
        return len(self.turns) + 1

    def answer(self, text: str) -> Turn:
        """Grade the answer to the current question and move to the next one."""
        if self.current is None:
            raise BadInput("the interview is over; start a new one")
        turn = Turn(self.current, text, self.grader.grade(self.current, text))
        self.turns.append(turn)
        if len(self.turns) >= self.options.questions:
            self.current = None
        else:
            self.current = self._pick(_next_level(turn.question.level, turn.grade.score))
        return turn

    def _pick(self, level: str) -> Question | None:
        asked = {t.question.id for t in self.turns}
        fresh = [q for q in self._pool if q.id not in asked]
        if not fresh:
            return None
        nearest = min(abs(LEVELS.index(q.level) - LEVELS.index(level)) for q in fresh)
        choices = [q for q in fresh if abs(LEVELS.index(q.level) - LEVELS.index(level)) == nearest]
        return self._rng.choice(choices)

    @property
    def overall(self) -> float | None:
        """The mean of the per-question scores, out of 10, one decimal; None before the first answer."""
        if not self.turns:
            return None
        return round(sum(t.grade.score for t in self.turns) / len(self.turns), 1)

    def report(self) -> dict:
        """The whole session as plain data: each question with its answer and grade, and the overall score."""
        return {
            "topics": list(self.options.topics),
            "level": self.options.level,
            "overall": self.overall,
            "questions": [
                {
                    "id": t.question.id, "topic": t.question.topic, "level": t.question.level,
                    "question": t.question.question, "answer": t.answer, "model_answer": t.question.answer,
                    **t.grade.to_dict(),
                }
                for t in self.turns
            ],
        }


def _next_level(level: str, score: int) -> str:
    """Harder after a strong answer (8+), easier after a weak one (4 or less)."""
    index = LEVELS.index(level)
    if score >= 8:
        index = min(index + 1, len(LEVELS) - 1)
    elif score <= 4:
        index = max(index - 1, 0)
    return LEVELS[index]
