"""The interview as a state machine, pure: feed it events, it answers with what the interviewer says.

Phases: configure → ask → listen → grade → follow-up or next → wrap-up → report. Events: start, an
answer submitted, time up, skip, repeat the question, ask for a hint, end early. The terminal and the
page both drive this one class; persistence and phrasing are injected, so tests need neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from interviewer import planner
from interviewer.errors import BadInput
from interviewer.grader import Grader
from interviewer.knowledge.schema import LEVELS, Question
from interviewer.knowledge.store import KnowledgeStore
from interviewer.limits import MAX_ANSWER_CHARS
from interviewer.types import Grade

Phase = Literal["configure", "ask", "listen", "grade", "follow_up", "next", "wrap_up", "report"]
Kind = Literal["main", "follow_up"]
FOLLOW_UP_WEIGHT = 0.5  # share of the points recovered in a follow-up that counts towards the score
SCORING_RULE = (
    "Each question's score is its first answer's score plus half of what the follow-up answer recovered "
    "(the two answers graded together); the overall score is the mean of the question scores."
)


@dataclass(frozen=True)
class SessionOptions:
    """What the candidate asked for."""

    topics: tuple[str, ...]  # one or more topic slugs
    level: str = "mid"  # fresher, mid or senior: the level of the first question
    questions: int = 5  # how many questions in the session
    answer_seconds: int = 120  # time per answer; what was said is submitted when it runs out
    follow_ups: int = 1  # follow-up questions at most per question
    voice: bool = False  # spoken (True) or typed (False) answers
    seed: int = 0  # makes the choice of questions repeatable
    max_answer_chars: int = MAX_ANSWER_CHARS  # an answer is kept (and graded) up to this many characters

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise BadInput(f"unknown level {self.level!r}; choose one of {', '.join(LEVELS)}")
        if self.questions < 1:
            raise BadInput("a session needs at least one question")
        if not self.topics:
            raise BadInput("choose at least one topic")


@dataclass(frozen=True)
class Say:
    """Something the interviewer says or shows: its kind and its text."""

    kind: Literal["greeting", "question", "follow_up", "ack", "grade", "hint", "repeat", "notice", "close"]
    text: str
    grade: Grade | None = None


@dataclass(frozen=True)
class Turn:
    """One prompt (a question or its follow-up), what the candidate answered, and its grade."""

    question: Question
    kind: Kind
    prompt: str
    answer: str
    grade: Grade
    skipped: bool = False
    timed_out: bool = False
    hints: int = 0
    at: float = field(default_factory=time.time)
    delivery: dict | None = None  # how it was spoken (see delivery.py), for voice answers


@dataclass(frozen=True)
class Prompt:
    """What the candidate is answering now."""

    question: Question
    kind: Kind
    text: str
    hints: int = 0


FollowUpPhraser = Callable[[Question, list[str], str], str]


@dataclass
class Interview:
    """A session: `start()`, then `submit()` (or skip, hint, repeat) until `phase == "report"`.

    `submit` is `answer` (grade, phase "grade") then `advance` (what comes next); a page that wants the
    grade out first calls the two itself. When the answer time runs out, submit with `timed_out=True`.
    """

    store: KnowledgeStore
    grader: Grader
    options: SessionOptions
    past: dict[str, planner.Past] = field(default_factory=dict)
    phrase: FollowUpPhraser | None = None  # phrases a follow-up from the missed points; a template when None
    on_change: Callable[[Interview], None] | None = None  # called after every event (persistence)
    id: str = ""
    turns: list[Turn] = field(default_factory=list)
    prompt: Prompt | None = None
    level: str = ""
    trace: list[Phase] = field(default_factory=lambda: ["configure"])

    def __post_init__(self) -> None:
        self._pool = [q for t in self.options.topics for q in self.store.questions(topic=t)]
        if not self._pool:
            known = ", ".join(sorted(self.store.topics())) or "none"
            raise BadInput(f"no questions for topic(s) {', '.join(self.options.topics)}; known topics: {known}")
        self.level = self.level or self.options.level

    @property
    def phase(self) -> Phase:
        return self.trace[-1]

    @property
    def done(self) -> bool:
        return self.phase == "report"

    @property
    def asked(self) -> list[Question]:
        """The main questions asked so far, in order (the current one included)."""
        seen = [t.question for t in self.turns if t.kind == "main"]
        if self.prompt and self.prompt.kind == "main":
            seen.append(self.prompt.question)
        return seen

    @property
    def number(self) -> int:
        """1-based number of the current main question."""
        return len(self.asked)

    # events -------------------------------------------------------------------------------------

    def start(self) -> list[Say]:
        """Greet and ask the first question."""
        self._require("configure")
        topics = ", ".join(self.options.topics)
        greeting = (f"Hello, and welcome. This is a {self.options.questions}-question interview on {topics}, "
                    f"starting at {self.options.level} level. Take your time.")
        return self._changed([Say("greeting", greeting), *self._next_question()])

    def submit(self, answer: str, *, timed_out: bool = False, delivery: dict | None = None) -> list[Say]:
        """Grade the answer to the current prompt, then follow up, move on or wrap up."""
        said = self.answer(answer, timed_out=timed_out, delivery=delivery)
        return said + self.advance()

    def answer(self, answer: str, *, timed_out: bool = False, delivery: dict | None = None) -> list[Say]:
        """Grade the answer to the current prompt and say so; `advance` then says what comes next.

        The two halves are separate events so that a voice reply can start with the grade (milliseconds)
        while the next line, perhaps phrased by the LLM, is still being prepared.
        """
        self._require("listen")
        answer = answer[: self.options.max_answer_chars]  # the callers say so when they cut; this is the bound
        prompt = self.prompt
        self._go("grade")
        target = prompt.question
        if prompt.kind == "follow_up":  # graded with the first answer, so recovered points show as covered
            grade = self.grader.grade(target, f"{self._main_turn(target).answer} {answer}".strip())
        else:
            grade = self.grader.grade(target, answer)
        turn = Turn(target, prompt.kind, prompt.text, answer, grade, timed_out=timed_out, hints=prompt.hints,
                    delivery=delivery)
        self._record(turn)
        return self._changed([Say("grade", _ack(grade.score, timed_out), grade)])

    def advance(self) -> list[Say]:
        """After a graded answer: a follow-up on what it missed, the next question, or the close."""
        self._require("grade")
        turn = self.turns[-1]
        follow = self._follow_up(turn)
        return self._changed(follow if follow else self._next_question())

    def skip(self) -> list[Say]:
        """Skip the current prompt: a skipped question scores 0; a skipped follow-up keeps the first score."""
        self._require("listen")
        prompt = self.prompt
        if prompt.kind == "main":
            grade = self.grader.grade(prompt.question, "")
        else:
            grade = self._main_turn(prompt.question).grade
        self._go("grade")
        self._record(Turn(prompt.question, prompt.kind, prompt.text, "", grade, skipped=True, hints=prompt.hints))
        return self._changed([Say("ack", "Okay, let's skip that one."), *self._next_question()])

    def repeat(self) -> list[Say]:
        """Say the current prompt again."""
        self._require("listen")
        return [Say("repeat", self.prompt.text)]

    def hint(self) -> list[Say]:
        """A nudge towards what the answer needs, without giving it away; counted in the report."""
        self._require("listen")
        prompt = self.prompt
        self.prompt = Prompt(prompt.question, prompt.kind, prompt.text, prompt.hints + 1)
        return self._changed([Say("hint", planner.hint_for(prompt.question, prompt.hints))])

    def end(self) -> list[Say]:
        """End early: the unanswered prompt is dropped, the report covers what was answered."""
        if self.phase == "report":
            return []
        self.prompt = None
        return self._changed(self._wrap_up())

    # transitions --------------------------------------------------------------------------------

    def _next_question(self) -> list[Say]:
        self._go("next")
        main_turns = [t for t in self.turns if t.kind == "main"]
        if len(main_turns) >= self.options.questions:
            return self._wrap_up()
        if main_turns:
            last = self._question_score(main_turns[-1].question)
            self.level = planner.next_level(main_turns[-1].question.level, last)
        asked = {t.question.id for t in main_turns}
        question = planner.pick_question(self._pool, asked, self.level, self.past, self.options.seed)
        if question is None:
            return [Say("notice", "That was every question on this topic."), *self._wrap_up()]
        self._go("ask")
        self.prompt = Prompt(question, "main", question.question)
        self._go("listen")
        return [Say("question", self._question_line(question, len(main_turns) + 1))]

    def _question_line(self, question: Question, number: int) -> str:
        intro = f"Question {number} of {self.options.questions}. "
        history = self.past.get(question.id)
        if history and history.missed:
            intro += f"Last time you missed this: {history.missed[0]} "
        return intro + question.question

    def likely_next(self) -> list[str]:
        """What the interviewer may say once the open prompt is answered, so its audio can be made while the
        candidate talks: the acknowledgements, the next question at each level the grade could lead to,
        and the bank's follow-ups for this question."""
        if self.phase != "listen":
            return []
        lines = [_ack(score, False) for score in (10, 6, 2, 0)]
        question = self.prompt.question
        main = [t for t in self.turns if t.kind == "main"]
        number = len(main) + (1 if self.prompt.kind == "main" else 0)
        if number < self.options.questions:
            asked = {t.question.id for t in main} | {question.id}
            scores = (planner.STRONG, planner.WEAK + 1, planner.WEAK)  # harder, the same, easier
            for level in dict.fromkeys(planner.next_level(question.level, s) for s in scores):
                upcoming = planner.pick_question(self._pool, asked, level, self.past, self.options.seed)
                if upcoming is not None:
                    lines.append(self._question_line(upcoming, number + 1))
        if self.prompt.kind == "main" and self.options.follow_ups:
            lines += [f.ask for f in question.follow_ups]
        return lines

    def _follow_up(self, turn: Turn) -> list[Say]:
        if turn.kind != "main" or self.options.follow_ups < 1 or turn.grade.score >= planner.STRONG:
            return []
        ask = planner.follow_up_for(turn.question, turn.grade)
        if ask is None:
            return []
        self._go("follow_up")
        text = ask
        if self.phrase is not None:
            text = self.phrase(turn.question, turn.grade.missed + turn.grade.partial, ask) or ask
        self.prompt = Prompt(turn.question, "follow_up", text)
        self._go("listen")
        return [Say("follow_up", text)]

    def _wrap_up(self) -> list[Say]:
        self._go("wrap_up")
        self.prompt = None
        overall = self.overall
        close = "That's the end of the interview. Thank you."
        if overall is not None:
            close += f" Your overall score is {overall} out of 10; the report has the details."
        self._go("report")
        return [Say("close", close)]

    def _record(self, turn: Turn) -> None:
        self.turns.append(turn)
        self.prompt = None

    def _changed(self, said: list[Say]) -> list[Say]:
        if self.on_change is not None:
            self.on_change(self)
        return said

    def _main_turn(self, question: Question) -> Turn:
        return next(t for t in self.turns if t.question.id == question.id and t.kind == "main")

    def _question_score(self, question: Question) -> int:
        """A question's score: the first answer, plus half of what a follow-up recovered."""
        turns = [t for t in self.turns if t.question.id == question.id]
        first = next(t.grade.score for t in turns if t.kind == "main")
        later = [t.grade.score for t in turns if t.kind == "follow_up" and not t.skipped]
        gain = max([s - first for s in later] + [0])
        return min(10, round(first + FOLLOW_UP_WEIGHT * gain))

    def question_scores(self) -> list[tuple[Question, int]]:
        """Each answered main question with its final score."""
        return [(t.question, self._question_score(t.question)) for t in self.turns if t.kind == "main"]

    @property
    def overall(self) -> float | None:
        """The mean of the question scores, out of 10, one decimal; None before the first answer."""
        scores = [s for _, s in self.question_scores()]
        return round(sum(scores) / len(scores), 1) if scores else None

    def _go(self, phase: Phase) -> None:
        self.trace.append(phase)

    def _require(self, phase: Phase) -> None:
        if self.phase != phase:
            if self.phase == "report":
                raise BadInput("the interview is over; start a new one")
            raise BadInput(f"cannot do that now: the interview is at {self.phase!r}, not {phase!r}")


def _ack(score: int, timed_out: bool) -> str:
    """A one-sentence acknowledgement that never praises a weak answer."""
    prefix = "Time's up. " if timed_out else ""
    if score >= 8:
        return prefix + "Good, that covers the main points."
    if score >= 5:
        return prefix + "Thanks, that's partly there."
    if score >= 1:
        return prefix + "Okay, noted."
    return prefix + "No problem, let's keep going."
