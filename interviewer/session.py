"""The interview as a state machine, pure: feed it events, it answers with what the interviewer says.

Phases: configure → ask → listen → grade → follow-up or next → wrap-up → report. Events: start, an answer
(graded at once, provisionally; the verified grade replaces it when it comes), the candidate talking back
(a clarifying question, repeat, skip, hint, "I don't know", stop), time up, end early. What the LLM adds
(the verified grade, the reply's wording, related questions to probe) is computed outside and handed in,
so this module imports no model, store or UI, and its tests need none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from interviewer import planner
from interviewer.errors import BadInput
from interviewer.grader import SAID_DONT_KNOW, Grader
from interviewer.knowledge.schema import LEVELS, Question
from interviewer.limits import MAX_ANSWER_CHARS
from interviewer.types import Grade

Phase = Literal["configure", "ask", "listen", "grade", "follow_up", "next", "wrap_up", "report"]
Kind = Literal["main", "follow_up"]
FOLLOW_UP_WEIGHT = 0.5  # share of the points recovered in a follow-up that counts towards the score
SCORING_RULE = (
    "Each question's score is its first answer's score plus half of what the follow-up answer recovered "
    "(the two answers graded together); the overall score is the mean of the question scores. Scores are the "
    "verified grades where the LLM verified them, the instant ones otherwise."
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


SayKind = Literal["greeting", "question", "follow_up", "ack", "grade", "hint", "repeat", "clarify", "notice",
                  "close"]


@dataclass(frozen=True)
class Say:
    """Something the interviewer says or shows: its kind and its text."""

    kind: SayKind
    text: str
    grade: Grade | None = None


@dataclass(frozen=True)
class Turn:
    """One prompt (a question or its follow-up), what the candidate answered, and its grade.

    `grade` is the grade that counts: the verified one once it came, else the instant (provisional) one,
    which is then also kept in `provisional`. `verification` says which: "pending", "verified", or
    "not verified: <why>". `decided_on` records which grade chose what came next."""

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
    provisional: Grade | None = None
    verification: str = "pending"
    decided_on: str = ""

    @property
    def verified(self) -> bool:
        return self.verification == "verified"


@dataclass(frozen=True)
class Exchange:
    """A moment of the interview that is not a graded answer: a question asked, or the candidate talking back
    (clarify, repeat, skip, hint, dont_know, stop) and what the interviewer said to it."""

    kind: str
    question_id: str
    said: str = ""
    reply: str = ""
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Prompt:
    """What the candidate is answering now."""

    question: Question
    kind: Kind
    text: str
    hints: int = 0
    passes: int = 0  # times the candidate said they did not know, on this prompt


@dataclass(frozen=True)
class Plan:
    """What comes after a graded answer: a follow-up on a missed point, a probe into something the candidate
    raised (another stored question), the next question, or the close."""

    kind: Literal["follow_up", "probe", "next", "close"]
    question: Question | None = None  # what will be asked (follow-up: the same question)
    point: int | None = None  # follow-up: 0-based index of the key point it is about
    ask: str = ""  # the bank's words for it (a probe: the question, led by the term)
    term: str = ""  # probe: the term the candidate used

    @property
    def reply_kind(self) -> str:
        """What the LLM's reply to the answer is to do: acknowledge it before a follow-up ("follow_up"), or
        acknowledge it and let the interview move on ("move_on")."""
        return "follow_up" if self.kind == "follow_up" else "move_on"


@dataclass
class Interview:
    """A session: `start()`, then `answer()` + `advance()` (or the other events) until `phase == "report"`.

    `pool` is every question of the chosen topics; `lookup` finds any stored question by id (for probes and
    resuming).
    """

    pool: list[Question]
    grader: Grader
    options: SessionOptions
    past: dict[str, planner.Past] = field(default_factory=dict)
    on_change: Callable[[Interview], None] | None = None  # called after every event (persistence)
    titles: dict[str, str] = field(default_factory=dict)  # topic slug -> title, for what is said
    id: str = ""
    turns: list[Turn] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    prompt: Prompt | None = None
    pending: dict | None = None  # an answer received but not graded, or a recording not heard (kept across a crash)
    level: str = ""
    trace: list[Phase] = field(default_factory=lambda: ["configure"])

    def __post_init__(self) -> None:
        if not self.pool:
            raise BadInput(f"no questions for topic(s) {', '.join(self.options.topics)}")
        if len(self.pool) < self.options.questions:  # a small topic (one's own notes): every question it has
            self.options = replace(self.options, questions=len(self.pool))
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
        topics = " and ".join(self.titles.get(t, t) for t in self.options.topics)
        greeting = (f"Hello, and welcome. This is a {self.options.questions}-question interview on {topics}, "
                    f"starting at {self.options.level} level. Take your time, and ask me if anything is unclear.")
        return self._changed([Say("greeting", greeting), *self._next_question()])

    def submit(self, answer: str, *, timed_out: bool = False, delivery: dict | None = None) -> list[Say]:
        """Grade the answer to the current prompt, then follow up, move on or wrap up (no LLM involved)."""
        said = self.answer(answer, timed_out=timed_out, delivery=delivery)
        return said + self.advance()

    def receive(self, answer: str, *, timed_out: bool = False, delivery: dict | None = None) -> None:
        """Keep an answer before it is graded, so a crash in between loses nothing."""
        self._require("listen")
        self.pending = {"answer": answer[: self.options.max_answer_chars], "timed_out": timed_out,
                        "delivery": delivery}
        self._changed([])

    def keep_recording(self, path: str) -> None:
        """Keep where a spoken answer's recording is before it is transcribed, so a crash while it is heard
        loses nothing: resuming transcribes it."""
        self._require("listen")
        self.pending = {"recording": path}
        self._changed([])

    @property
    def recording(self) -> str | None:
        """The kept recording of an answer that was not transcribed yet."""
        return self.pending.get("recording") if self.pending and "answer" not in self.pending else None

    def withdraw(self) -> None:
        """The kept utterance was not an answer (a request to repeat, skip, ...): nothing waits to be graded."""
        if self.pending:
            self.pending = None
            self._changed([])

    def forget_recording(self) -> None:
        """The kept recording gave no answer (silence, or unreadable): the prompt is open as before."""
        if self.recording:
            self.pending = None
            self._changed([])

    def answer(self, answer: str, *, timed_out: bool = False, delivery: dict | None = None) -> list[Say]:
        """Grade the answer to the current prompt at once (the provisional grade) and say so; `advance` then
        says what comes next. The answer is kept before it is graded."""
        self.receive(answer, timed_out=timed_out, delivery=delivery)
        answer = self.pending["answer"]
        prompt = self.prompt
        # a follow-up with nothing said changes nothing: its grade is the first answer's, checked as that was (as a
        # skipped one: no acknowledgement of words never said, no check of them while the candidate waits)
        first = self._main_turn(prompt.question) if prompt.kind == "follow_up" and not answer.strip() else None
        # if grading fails, the answer waits (kept above)
        grade = first.grade if first else self.grader.grade(prompt.question, self.graded_text(answer))
        self._go("grade")
        turn = Turn(prompt.question, prompt.kind, prompt.text, answer, grade, timed_out=timed_out,
                    hints=prompt.hints, delivery=delivery, verification=first.verification if first else "pending")
        self.pending = None
        self._record(turn)
        return self._changed([Say("grade", _ack(answer, timed_out, len(self.turns) - 1), grade)])

    def graded_text(self, answer: str) -> str:
        """What is graded for an answer to the open prompt: a follow-up is graded with the first answer, so
        the points it recovers show as covered."""
        prompt = self.prompt or Prompt(self.turns[-1].question, self.turns[-1].kind, "")
        if prompt.kind == "follow_up":
            return f"{self._main_turn(prompt.question).answer} {answer}".strip()
        return answer

    def earned(self) -> tuple[float, ...]:
        """What the last answer's verified grade starts from: for a follow-up, each key point's credit in its
        question's first answer as the LLM verified it (nothing when that answer was not verified, or the last
        answer is a first answer)."""
        turn = self.turns[-1]
        if turn.kind != "follow_up":
            return ()
        main = self._main_turn(turn.question)
        return tuple(p.strength for p in main.grade.points) if main.grade.verified else ()

    def verified(self, grade: Grade | None, note: str = "") -> None:
        """The verified grade of the last answer arrived (`grade`), or verification failed (`note` says why)."""
        turn = self.turns[-1]
        if grade is not None:
            self.turns[-1] = replace(turn, grade=grade, provisional=turn.grade, verification="verified")
        else:
            self.turns[-1] = replace(turn, verification=f"not verified: {note}")
        self._changed([])

    def plan(self, related: list[tuple[str, Question]] = (), made: frozenset[int] = frozenset()) -> Plan:
        """What follows the last graded answer. `related`: (term, question) pairs the candidate raised, found
        by the caller in the store, any of which may be probed when nothing needs a follow-up; `made`: key
        points (0-based) the caller has since found made, which are not followed up."""
        self._require("grade")
        turn = self.turns[-1]
        follow = self._follow_up(turn, made)
        if follow is not None:
            return follow
        main = [t for t in self.turns if t.kind == "main"]
        if len(main) >= self.options.questions:
            return Plan("close")
        asked = {t.question.id for t in main} | {e.question_id for e in self.exchanges if e.kind == "ask"}
        for term, question in related:
            if question.id not in asked and turn.grade.score >= planner.WEAK:
                return Plan("probe", question, ask=f"You mentioned {term}. {question.question}", term=term)
        question = self._pick()
        return Plan("next", question) if question is not None else Plan("close")

    def advance(self, plan: Plan | None = None) -> list[Say]:
        """Carry out a plan (by default `plan()`): a follow-up (the bank's prompt), a probe, the next question,
        or the close."""
        plan = plan or self.plan()
        turn = self.turns[-1]
        self.turns[-1] = replace(turn, decided_on="verified" if turn.verified else "provisional")
        if plan.kind == "follow_up":
            self._go("follow_up")
            self.prompt = Prompt(turn.question, "follow_up", plan.ask)
            self._go("listen")
            return self._changed([Say("follow_up", self.prompt.text)])
        if plan.kind == "close":
            return self._changed(self._wrap_up())
        return self._changed(self._ask(plan.question, plan.ask if plan.kind == "probe" else ""))

    def clarify(self, said: str, reply: str) -> list[Say]:
        """The candidate asked what the question means; `reply` explains it. The clock keeps running."""
        self._require("listen")
        self.exchanges.append(Exchange("clarify", self.prompt.question.id, said, reply))
        return self._changed([Say("clarify", reply)])

    def dont_know(self, said: str = "I don't know") -> list[Say]:
        """The candidate does not know: the first time, a hint or moving on is offered; the next time (or on
        a follow-up, or once hints are used up) the interview moves on and the prompt scores what it earned."""
        self._require("listen")
        prompt = self.prompt
        if prompt.kind == "main" and prompt.passes == 0 and prompt.hints == 0:
            self.prompt = replace(prompt, passes=1)
            onward = "move on to the next question" if self.number < self.options.questions else "finish here"
            reply = f"That's fine. Would you like a hint, or shall we {onward}?"  # the last question has no next
            self.exchanges.append(Exchange("dont_know", prompt.question.id, said, reply))
            return self._changed([Say("notice", reply)])
        self.exchanges.append(Exchange("dont_know", prompt.question.id, said, "moved on"))
        last = self.number >= self.options.questions  # "let's move on" said before the close read oddly
        return self.skip(reply="No problem, let's finish here." if last else "No problem, let's move on.")

    def skip(self, reply: str = "Okay, let's skip that one.") -> list[Say]:
        """Skip the current prompt: a skipped question scores 0; a skipped follow-up keeps the first score."""
        self._require("listen")
        prompt = self.prompt
        grade = self.grader.grade(prompt.question, "") if prompt.kind == "main" else \
            self._main_turn(prompt.question).grade
        self._go("grade")
        self._record(Turn(prompt.question, prompt.kind, prompt.text, "", grade, skipped=True, hints=prompt.hints,
                          verification="verified"))
        self.exchanges.append(Exchange("skip", prompt.question.id))
        return self._changed([Say("ack", reply), *self._next_question()])

    def repeat(self) -> list[Say]:
        """Say the current prompt again."""
        self._require("listen")
        self.exchanges.append(Exchange("repeat", self.prompt.question.id))
        return [Say("repeat", self.prompt.text)]

    def hint(self) -> list[Say]:
        """A nudge towards what the answer needs, without giving it away; counted in the report."""
        self._require("listen")
        prompt = self.prompt
        self.prompt = replace(prompt, hints=prompt.hints + 1)
        said = planner.hint_for(prompt.question, prompt.hints, prompt.text if prompt.kind == "follow_up" else "")
        self.exchanges.append(Exchange("hint", prompt.question.id, reply=said))
        return self._changed([Say("hint", said)])

    def end(self) -> list[Say]:
        """End early: the unanswered prompt is dropped, the report covers what was answered."""
        if self.phase == "report":
            return []
        if self.prompt is not None:
            self.exchanges.append(Exchange("stop", self.prompt.question.id))
        self.prompt = None
        return self._changed(self._wrap_up())

    # transitions --------------------------------------------------------------------------------

    def _main_count(self) -> int:
        return sum(t.kind == "main" for t in self.turns)

    def _pick(self) -> Question | None:
        main = [t for t in self.turns if t.kind == "main"]
        if main:
            last = self._question_score(main[-1].question)
            self.level = planner.next_level(main[-1].question.level, last)
        asked = {t.question.id for t in main}
        return planner.pick_question(self.pool, asked, self.level, self.past, self.options.seed)

    def _next_question(self) -> list[Say]:
        self._go("next")
        if self._main_count() >= self.options.questions:
            return self._wrap_up()
        question = self._pick()
        if question is None:
            return [Say("notice", "That was every question on this topic."), *self._wrap_up()]
        return self._ask(question)

    def _ask(self, question: Question, text: str = "") -> list[Say]:
        self._go("ask")
        number = self._main_count() + 1
        self.prompt = Prompt(question, "main", text or question.question)
        self.exchanges.append(Exchange("ask", question.id))
        self._go("listen")
        return [Say("question", self._question_line(question, number, text))]

    def _question_line(self, question: Question, number: int, text: str = "") -> str:
        intro = f"Question {number} of {self.options.questions}. "
        history = self.past.get(question.id)
        if history and history.last_score is not None and history.last_score < planner.STRONG and not text:
            # what is said matches the score: a new user heard "gave you trouble" of a 7 out of 10
            score = history.last_score
            intro += ("Last time this one gave you trouble, so let's try it again. " if score <= planner.WEAK else
                      f"Last time you scored {score:g} out of 10 on this one; let's make it complete this time. ")
        return intro + (text or question.question)

    def likely_next(self) -> list[str]:
        """What the interviewer may say once the open prompt is answered, so its audio can be made while the
        candidate talks: the acknowledgements, the next question at each level the grade could lead to,
        and the bank's follow-ups for this question."""
        if self.phase != "listen":
            return []
        lines = list(dict.fromkeys(_ack(text, t, len(self.turns)) for text in ("x", "") for t in (False, True)))
        question = self.prompt.question
        main = [t for t in self.turns if t.kind == "main"]
        number = len(main) + (1 if self.prompt.kind == "main" else 0)
        if number < self.options.questions:
            asked = {t.question.id for t in main} | {question.id}
            scores = (planner.STRONG, planner.WEAK + 1, planner.WEAK)  # harder, the same, easier
            for level in dict.fromkeys(planner.next_level(question.level, s) for s in scores):
                upcoming = planner.pick_question(self.pool, asked, level, self.past, self.options.seed)
                if upcoming is not None:
                    lines.append(self._question_line(upcoming, number + 1))
        if self.prompt.kind == "main" and self.options.follow_ups:
            lines += [f.ask for f in question.follow_ups]
        return lines

    def _follow_up(self, turn: Turn, made: frozenset[int]) -> Plan | None:
        if turn.kind != "main" or turn.skipped or self.options.follow_ups < 1 or turn.grade.score >= planner.STRONG:
            return None
        if turn.grade.verdict == SAID_DONT_KNOW or not turn.answer.strip():
            return None  # "I don't know" is not followed up on the same thing, nor time running out on nothing said
        found = planner.follow_up_for(turn.question, turn.grade, made)
        if found is None:
            return None
        point, ask = found
        return Plan("follow_up", turn.question, point=point, ask=ask)

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


# The instant acknowledgements, in turn (a new user found every reply opening with "Thank you."); neutral, so
# none praises an answer not judged yet
ACKS = ("Thank you.", "Thanks.", "All right, thank you.", "Got it, thanks.")


def _ack(answer: str, timed_out: bool, turn: int = 0) -> str:
    """The instant acknowledgement of the answer of turn `turn` (0-based), said before the answer is judged."""
    prefix = "Time's up. " if timed_out else ""
    return prefix + (ACKS[turn % len(ACKS)] if answer.strip() else "Okay.")
