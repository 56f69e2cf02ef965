"""One candidate turn, as a pipeline: what they said → intent → instant grade → reply → verified grade.

The page and the terminal both hand each utterance to `Conductor.heard` and show the events it yields:

- `Spoken`: a sentence for the interviewer to say; sentences with the same `group` form one message. The
  instant acknowledgement of an answer carries its instant grade (`grade`), shown at once;
- `Graded`: the grade that replaces it: the verified one, or the instant one again with the reason it
  could not be verified.

The interview state machine (session.py) stays pure: this module runs the LLM around it, within time
budgets, and every fallback (LLM busy, slow, failing, or a sentence that would give a point away) is logged
and still leaves the candidate a sensible next line.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

from interviewer import planner
from interviewer import text as T
from interviewer.conversation import Context, Dialogue, closest_words, stated
from interviewer.errors import BackendUnavailable, BadInput, InterviewerError
from interviewer.grader import EMPTY_VERDICTS
from interviewer.intents import Reading, read_intent
from interviewer.knowledge.schema import Question
from interviewer.session import Interview, Plan, Say, Turn
from interviewer.types import Grade
from interviewer.verdicts import VerifyOptions, made, verified_grade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Graded:
    """A grade for the last answer: the instant one, the verified one, or `note` saying why it stays instant."""

    grade: Grade
    note: str = ""


@dataclass(frozen=True)
class Spoken:
    """A sentence the interviewer says; sentences sharing `group` belong to one message."""

    kind: str
    text: str
    group: int
    grade: Grade | None = None  # set on the line that carries the instant grade
    written: bool = False  # the LLM wrote it (not the bank or the state machine)


Event = Graded | Spoken

REPLY_SENTENCES = 1  # sentences of acknowledgement, as the reply prompt (prompts/reply.j2) asks
# Said before the last answer's verdicts, which the close waits for (it states the overall score): 8-10 s of
# silence after "Thank you." on 2 cores otherwise
# said before the close's verdicts; it promises no wrap-up, since the verified grade may still call for a follow-up
# (a new user heard "before we wrap up", then a follow-up, then the same line again)
CHECKING = "Let me check that answer against the key points."


@dataclass(frozen=True)
class ConductorOptions:
    """Time budgets of a turn, in seconds, and the reply's length in tokens."""

    verify_s: float = 10.0  # the verified grade must come within this, or the instant grade stands
    intent_s: float = 3.0  # the LLM's reading of an unclear utterance; past it, the utterance is an answer
    reply_s: float = 8.0  # the LLM-written reply; past it, the bank's words alone serve
    reply_tokens: int = 70
    # before a follow-up planned on the instant grade is asked, the LLM reads its key point alone (about 1.1 s,
    # p95 1.7 s, once the answer is evaluated on 2 cores); a point it finds made is not asked about, and the next
    # one is read, up to this many readings per answer
    follow_up_checks: int = 2
    check_s: float = 3.0  # each reading must come within this, or the follow-up is asked as planned
    # what comes next is decided on the verified grade, read before it: the terminal, which shows the verified
    # grade before the next line anyway (a new user's answer, instant 3, verified 8, was followed by an easier
    # question). The page speaks the next line at once and decides on the instant grade (see _after_grade)
    verify_first: bool = False


@dataclass
class Conductor:
    """Runs the turns of one interview. `dialogue` is None when no LLM is to be used (then the bank's words
    and the instant grade serve); `search` finds stored questions by free text, for probes."""

    interview: Interview
    dialogue: Dialogue | None = None
    search: Callable[[str], list[Question]] | None = None
    intents: Callable[[str], Reading] = read_intent  # what an utterance means: the rules, or the fitted reader
    options: ConductorOptions = field(default_factory=ConductorOptions)
    verify: VerifyOptions = field(default_factory=VerifyOptions)
    timings: dict[str, float] = field(default_factory=dict)  # the last turn's stages, time.time() each
    _groups: Iterator[int] = field(default_factory=itertools.count)

    # while the candidate talks -------------------------------------------------------------------

    def listening(self, so_far: str) -> None:
        """The words heard so far on the open prompt (none yet as it opens: the question is read then): evaluate
        the reply prompt up to them in the background."""
        if self.dialogue is None or self.interview.phase != "listen":
            return
        context = self._context(so_far)
        threading.Thread(target=self._prefill, args=(context,), daemon=True, name="prefill").start()

    def _prefill(self, context: Context) -> None:
        try:
            self.dialogue.prefill(context)
        except InterviewerError as error:
            log.info("prefill skipped: %s", error)
        except Exception:  # noqa: BLE001 (a background head start: the turn itself calls the LLM again)
            log.exception("prefill failed")

    # a turn ---------------------------------------------------------------------------------------

    def said(self, says: list[Say]) -> Iterator[Spoken]:
        """Lines of the state machine as events, one message each."""
        for say in says:
            yield Spoken(say.kind, say.text, next(self._groups), say.grade)

    def heard(self, utterance: str, *, timed_out: bool = False, delivery: dict | None = None) -> Iterator[Event]:
        """Everything that follows what the candidate said while a prompt is open (a generator)."""
        interview = self.interview
        if interview.phase != "listen":
            raise BadInput("no question is open; start or resume an interview")
        self.timings = {"heard": time.time()}
        interview.receive(utterance, timed_out=timed_out, delivery=delivery)  # kept while its intent is decided
        kind = "answer" if timed_out else self._intent(utterance)
        if kind != "answer":
            interview.withdraw()
        log.info("turn %s: %s (%d words)", interview.id, kind, len(utterance.split()))
        if kind == "answer":
            yield from self._answer(utterance, timed_out, delivery)
        elif kind == "clarify":
            yield from self._clarify(utterance)
        elif kind == "dont_know":
            yield from self.said(interview.dont_know(utterance))
        else:
            yield from self.said({"repeat": interview.repeat, "skip": interview.skip, "hint": interview.hint,
                                  "stop": interview.end}[kind]())

    def _intent(self, utterance: str) -> str:
        reading = self.intents(utterance)
        if reading.confident or self.dialogue is None:
            return reading.intent
        try:
            return self.dialogue.judge(self._context(utterance), deadline=time.monotonic() + self.options.intent_s).kind
        except Exception as error:  # noqa: BLE001 (whatever the model does, the utterance is kept and answered)
            _log_failure("intent: the LLM did not decide; taken as an answer", error)
            return "answer"

    def _answer(self, utterance: str, timed_out: bool, delivery: dict | None) -> Iterator[Event]:
        interview = self.interview
        try:
            [graded] = interview.answer(utterance, timed_out=timed_out, delivery=delivery)
        except Exception as error:  # the grader (its embedder) broke: the answer is kept, ungraded, in the session
            log.exception("grading the answer to %s failed; it is kept", interview.prompt.question.id)
            raise BackendUnavailable(f"grading failed ({type(error).__name__}: {error}). Your answer is kept: "
                                     "submit it again, or resume this session later to have it graded") from error
        self.timings["provisional"] = time.time()
        yield from self.said([graded])  # the instant acknowledgement, carrying the instant grade
        yield from self._after_grade(self._context(utterance, graded.grade))

    def _after_grade(self, context: Context) -> Iterator[Event]:
        """What follows a graded answer: the LLM's acknowledgement, then what comes next, then the verified grade.
        The acknowledgement is written first, on the instant grade: it says what the answer talked about, which
        no later step changes, so it is heard while the follow-up's point is read and the verdicts are judged
        (about 60 prompt tokens per key point: 9 s for six points on 2 cores). The verified grade replaces the
        instant one as soon as it comes; only the close waits for it, since it states the overall score, and,
        with `verify_first`, what comes next."""
        interview = self.interview
        turn = interview.turns[-1]
        related = self._related(turn.answer, turn.question)
        plan = interview.plan(related)
        group = next(self._groups)
        yield from self._acknowledged(context, plan, group)
        if made := self._made_points(plan, context):  # a point read as made stays unasked on the verified grade
            plan = interview.plan(related, made)
        late = False  # verify_first: the verified grade shown once what follows is said (in full, if it is over)
        if (plan.kind == "close" or self.options.verify_first) and turn.verification == "pending":
            if self.dialogue is not None and turn.answer.strip():  # the verdicts take seconds: the candidate
                # hears why it is quiet (with nothing said there is nothing to check)
                group = next(self._groups)
                yield Spoken("wait", CHECKING, group)
            if self.options.verify_first:
                self._verify(context)
                late = True
            else:  # the page shows the grade before the close that states the overall score
                yield from self._verified(context)
            plan = interview.plan(related, made)
            if self.options.verify_first and (more := self._made_points(plan, context, verified=True)):
                made |= more  # the verified grade's own follow-up, read alone first as well
                plan = interview.plan(related, made)
        if plan.kind == "follow_up":
            yield Spoken("follow_up", interview.advance(plan)[0].text, group)  # one message with the acknowledgement
        else:
            yield from self.said(interview.advance(plan))
        if late or interview.turns[-1].verification == "pending":
            yield from self._verified(context)

    def _made_points(self, plan: Plan, context: Context, *, verified: bool = False) -> frozenset[int]:
        """The key points not to follow up: a follow-up planned on the instant grade is checked first, the LLM
        reading the point it is about on its own, and a point it credits as made (in words the embeddings
        missed) is not asked about; the next point is read in its place. Asking for what the candidate has just
        said is what makes an interviewer sound as if it was not listening."""
        turn = self.interview.turns[-1]
        if (plan.kind != "follow_up" or self.dialogue is None or turn.verified != verified
                or turn.grade.verdict in EMPTY_VERDICTS):
            return frozenset()
        return planner.points_made(turn.question, turn.grade, lambda n: self._made(context, turn, n),
                                   self.options.follow_up_checks)

    def _made(self, context: Context, turn: Turn, n: int) -> bool:
        """Whether the LLM, reading key point `n` alone, credits the answer with it (False when it cannot say)."""
        try:
            verdict = self.dialogue.point(context, n, deadline=time.monotonic() + self.options.check_s)
        except Exception as error:  # noqa: BLE001 (the follow-up is asked as planned, whatever the model did)
            _log_failure(f"follow-up on {turn.question.id}: its point was not checked "
                         f"({_reason(error, self.options.check_s)})", error)
            return False
        if not made(verdict, turn.grade.points[n].strength, self.verify):
            return False
        log.info("follow-up on %s: key point %d was made in other words; not asked", turn.question.id, n + 1)
        return True

    def _verified(self, context: Context) -> Iterator[Graded]:
        """Verify the last answer's grade (unless done), and show the grade it ends with."""
        if self.interview.turns[-1].verification == "pending":
            self._verify(context)
        turn = self.interview.turns[-1]
        yield Graded(turn.grade, "" if turn.verified else turn.verification)

    def _verify(self, context: Context) -> None:
        """The LLM's verdicts on the last answer, turned into its verified grade (or the reason it has none)."""
        interview, turn = self.interview, self.interview.turns[-1]
        if self.dialogue is None:
            interview.verified(None, "the LLM is switched off")
            return
        if turn.grade.verdict in EMPTY_VERDICTS:
            interview.verified(None, "nothing to verify: no answer was given")
            return
        try:
            judgement = self.dialogue.judge(context, kind="answer", deadline=time.monotonic() + self.options.verify_s)
            interview.verified(verified_grade(turn.grade, judgement.verdicts, self.verify, interview.earned()))
        except Exception as error:  # noqa: BLE001 (the instant grade stands, whatever the model did)
            reason = _reason(error, self.options.verify_s)
            _log_failure(f"verification of {turn.question.id} skipped: {reason}", error)
            interview.verified(None, reason)
            return
        self.timings["verified"] = time.time()

    def _related(self, answer: str, question: Question) -> list[tuple[str, Question]]:
        try:
            return related(answer, question, self.search) if self.search else []
        except Exception:  # noqa: BLE001 (a probe is a nicety: without the search the plan goes on)
            log.exception("searching the bank for terms the answer raised failed; no probe this time")
            return []

    def _acknowledged(self, context: Context, plan: Plan, group: int) -> Iterator[Spoken]:
        """The LLM's acknowledgement of the answer (none when it is off, busy, slow or failing). Praise passes
        the guard only on a verified grade of 7 or more: the instant grade can rate a confidently wrong answer 8.
        Nothing said (time ran out, or "I don't know") has nothing to acknowledge."""
        turn = self.interview.turns[-1]
        grade = turn.grade
        if self.dialogue is None or not turn.answer.strip() or grade.verdict in EMPTY_VERDICTS:
            return
        written = self._written(context, plan.reply_kind, grade.not_covered, grade.verified and grade.score >= 7)
        for n, sentence in enumerate(written, 1):
            if "?" not in sentence:  # a question the plan did not call for is dropped
                yield Spoken("ack", sentence, group, written=True)
            if n >= REPLY_SENTENCES:
                break  # the model is stopped: the point's reading and the verdicts wait for it

    def _written(self, context: Context, kind: str, unsaid: list[str], praise_allowed: bool) -> Iterator[str]:
        """The LLM's sentences for a reply of this kind (see `Dialogue.reply`), as they come; none when it is
        busy, slow or failing."""
        try:
            for sentence in self.dialogue.reply(context, kind, unsaid=unsaid, praise_allowed=praise_allowed,
                                                max_tokens=self.options.reply_tokens,
                                                deadline=time.monotonic() + self.options.reply_s):
                self.timings.setdefault("first_reply", time.time())
                yield sentence
        except Exception as error:  # noqa: BLE001 (the bank's words serve, whatever the model did)
            _log_failure(f"reply: the LLM's words were not used ({_reason(error, self.options.reply_s)})", error)

    def _clarify(self, utterance: str) -> Iterator[Event]:
        interview = self.interview
        question = interview.prompt.question
        text = ""
        if self.dialogue is not None:
            context = self._context(utterance)
            sentences = self._written(context, "clarify", list(question.key_points), False)
            # a clarification explains; the 1.5B model often just asks the candidate's question back ("what do
            # you mean by fan-out?" -> "What is the term 'fan-out'?"), so its questions are left out
            bank = T.content_stems(" ".join([question.question, question.answer, *question.glossary]))
            text = " ".join(itertools.takewhile(partial(_backed, bank),
                                                (s for s in sentences if not s.rstrip().endswith("?"))))
        if not text:
            log.info("clarify on %s: the LLM gave no explanation; the question is said again", question.id)
            # what an interviewer says who will not explain: take a reading and say which (a new user heard the
            # question said again after "the same characters or the same tokens?", and took it as a dodge)
            text = ("Take it the way you understand it, and say which reading you chose; that is part of the "
                    f"answer. The question again: {interview.prompt.text}")
        yield from self.said(interview.clarify(utterance, text))

    def _context(self, said: str, grade: Grade | None = None, *, answered: bool = False) -> Context:
        """The LLM's context for what is said on the open prompt, or (none open, or `answered`) on the last
        graded one; with the instant `grade` of it, the candidate's words closest to each key point."""
        interview = self.interview
        turns = list(interview.turns)
        current = turns.pop() if answered or interview.prompt is None else interview.prompt
        question = current.question
        earlier: list[tuple[str, str]] = []
        for turn in turns:
            if turn.question.id == question.id:
                if turn.kind == "follow_up":
                    earlier.append(("Interviewer", turn.prompt))
                earlier.append(("Candidate", turn.answer or "(nothing)"))
        if current.kind == "follow_up":
            earlier.append(("Interviewer", current.prompt if isinstance(current, Turn) else current.text))
        spans = closest_words(grade) if grade is not None else ()
        return Context(question.question, tuple(question.key_points), tuple(earlier), said, spans)

    def resumed(self) -> Iterator[Event]:
        """What a resumed session still owes: grading an answer kept before its grade, saying what follows a
        graded one, and verifying a grade that was not verified."""
        interview = self.interview
        if interview.phase == "grade":
            turn = interview.turns[-1]
            yield from self._after_grade(self._context(turn.answer, turn.grade))
            return
        if interview.turns and interview.turns[-1].verification == "pending":  # replied to, not yet verified
            turn = interview.turns[-1]
            yield from self._verified(self._context(turn.answer, turn.grade, answered=True))
        if interview.phase == "listen" and interview.pending:
            pending = interview.pending  # heard again from the start: the crash may have come before its intent
            yield from self.heard(pending["answer"], timed_out=pending["timed_out"], delivery=pending["delivery"])


def related(answer: str, question: Question, search: Callable[[str], list[Question]],
            ) -> list[tuple[str, Question]]:
    """Stored questions about a term the candidate raised that this question does not cover, each with the
    term (found by semantic search over the bank with the candidate's words). An everyday word is no term to
    probe: "the advantage is speed" is not about PPO's advantage, and "You mentioned client." was asked of a
    user's notes on HTTP caching. Nor is a glossary term the stored question never names: `prepare`'s model takes
    terms from every passage it is shown (a question on B-tree and hash indexes had "timestamp")."""
    if not answer.strip():
        return []
    own = " ".join([question.question, *question.key_points, *question.glossary]).lower()
    found = []
    for hit in search(answer):
        about = " ".join([hit.question, hit.answer, *hit.key_points])
        for term in hit.glossary:
            if hit.id != question.id and term.lower() not in own and T.mentions(answer, term) \
                    and T.mentions(about, term) and not T.everyday_word(term):
                found.append((term, hit))
                break
    return found


def _backed(bank: set[str], sentence: str) -> bool:
    """Whether a sentence explaining a question stands on the bank: at least half of its content words
    (`stated`, the rule a key point is held to by its passages in `prepare`) are in `bank`, the stems of the
    question, its model answer and its glossary. The 1.5B model explains from its own knowledge, which can be
    false: asked "what do you mean by sampling here, sampling from the training data?" it said sampling "refers
    to the process of selecting a random sample from the training data" (under a third of its words in the
    bank's answer; "picking the next token at random from the probabilities the model gives" has two thirds).
    The explanation ends before such a sentence."""
    if stated(sentence, bank):
        return True
    log.info("clarify sentence not said (the bank's answer does not back it): %r", sentence)
    return False


def _reason(error: Exception, budget: float) -> str:
    from interviewer.errors import LLMBusy, LLMTimeout

    if isinstance(error, LLMBusy):
        return str(error)
    if isinstance(error, LLMTimeout):
        return f"the model did not answer within {budget:g} s"
    return f"the model failed ({error})"


def _log_failure(message: str, error: Exception) -> None:
    """A fallback is logged: one line for the errors we expect of a model, the traceback for any other."""
    if isinstance(error, InterviewerError):
        log.warning(message)
    else:
        log.exception(message)
