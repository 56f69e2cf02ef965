"""The interviewer's LLM turn: it reads what the candidate said, judges it point by point, and replies.

One prompt serves the whole turn, so a small model on a CPU can afford it. Its prefix (the instructions,
the question, the conversation so far, and the candidate's words as they are transcribed) is evaluated while
the candidate is still talking (`prefill`). When they stop, the model's reply is forced into a fixed shape,
in calls on that one prefix. Before a follow-up, the one key point it is about is read alone (a verdict line
as below: `Dialogue.point`). Then the reply, planned on the instant grade:

    Kind: answer                              <- one token chosen among the intents (or set beforehand)
    Plan: acknowledge, then ask one follow-up question.   <- decided by the planner (prompts/reply.j2)
    Acknowledgement (...): You talked about ...  <- generated after the words begun for it, streamed by
                                                    sentence; the bank's follow-up question comes after it

then the verdicts, which replace the instant grade with the verified one:

    Kind: answer
    Candidate: the reward model scores ...    <- the candidate's words closest to the first key point (from
    Key point: A reward model is trained ...     the instant grade), then the point itself
    Verdict: yes                              <- yes / partly / no / contradicts, read as probabilities
    Candidate: ...                            <- and so on for every key point
    Key point: ...
    Verdict: no

Putting the candidate's own closest words right beside each point is what lets a 1.5B model judge it. On 35
answers of the tuneset, the Spearman correlation of its mean belief with the labels was 0.45 with the points
listed above the answer and a bare "2: no" per point, 0.55 with the point restated at its verdict, 0.76 with
the candidate's closest words beside it; a system prompt that also held the rules for the reply took that
back to 0.55-0.58, so those rules sit in the reply's own line, where a small model follows them best. After
the answer only the reply's header, or the verdict lines, are left to evaluate. Each spoken sentence is
checked before it is let through: it must not state a key point the candidate has not made, and must not
praise an answer that earned none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from interviewer import text as T
from interviewer.backends import LLM
from interviewer.errors import BadModelOutput, LLMBusy
from interviewer.grader import EMPTY_VERDICTS
from interviewer.intents import INTENTS, Intent
from interviewer.types import Grade, Message, Slot
from interviewer.verdicts import VerifyOptions, verified_grade

log = logging.getLogger(__name__)
PROMPTS = Path(__file__).parent / "prompts"

VERDICTS = ("yes", "partly", "no", "contradicts")
_KIND_OPTIONS = tuple(f" {k}" for k in INTENTS)
_VERDICT_OPTIONS = tuple(f" {v}" for v in VERDICTS)
# The words a reply of a plan begins with, written for the model. Before a follow-up, the 1.5B model asked for
# an acknowledgement and then a question in the spirit of the bank's (as this was first built) gave no
# acknowledgement in 17 of 20 answers of tests/data/followup-tuning, 11 of its 19 questions were closer
# (all-MiniLM cosine) to the main question, asked again, than to the bank's follow-up, and it wrapped 18 of
# them in quotation marks or prompt tags, so the bank's question was used anyway. Asked for the acknowledgement
# alone, begun "You talked about", it gave a usable one in 20 of 20 (1.9 s p50 with the answer evaluated). So
# the model acknowledges, and the follow-up question is the bank's. Before the next question, asked for "one
# specific thing they got right" or "a short neutral acknowledgement" (as this was first built), it spoke of
# "the candidate" in the third person in 6 of 15 tuneset answers, praised a confidently wrong answer ("Good
# explanation.", and a wrong definition restated as correct: the instant grade had given it 8) and said "I will
# move on to the next question."; begun "You talked about", 15 of 15 were neutral and in the second person (2
# then stopped by the give-away guard). The reply is written on the instant grade, which cannot tell a
# confidently wrong answer from a right one, so it acknowledges what was said and does not judge it.
OPENERS = {"follow_up": "You talked about", "move_on": "You talked about"}
QUOTES = ('"', "\u201c", "\u201d")
# the prompt's own shape in a reply sentence: the model carrying on past its reply (the sentence is not said)
MARKUP = re.compile(r"</?said>|^(Candidate|Interviewer|Question|Key point|Verdict|Kind|Plan|Reply|Acknowledgement)"
                    r"\b\s*[:(]")
STATES_AT = 0.5  # share of a point's content words a text must hold to state it (a reply sentence then gives it away)
PRAISE = re.compile(r"\b(great|excellent|perfect|brilliant|fantastic|awesome|well done|nailed|impressive|"
                    r"good (?:answer|explanation|point|job)|well explained|nicely|"
                    r"spot on|exactly right|good job)\b", re.IGNORECASE)


@cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(PROMPTS), undefined=StrictUndefined, keep_trailing_newline=True)


def render(name: str, **values) -> str:
    """Render a packaged prompt template; a missing value is an error, not an empty string."""
    return _templates().get_template(name).render(**values)


@dataclass(frozen=True)
class Context:
    """What one turn's prompt is built from."""

    question: str
    key_points: tuple[str, ...]
    earlier: tuple[tuple[str, str], ...] = ()  # (who, words) said before on this question, in order
    said: str = ""
    spans: tuple[str, ...] = ()  # per key point, the candidate's words closest to it (the instant grade's span)

    @property
    def earlier_answers(self) -> str:
        """What the candidate said before on this question (the answer a follow-up is on), as one text."""
        return " ".join(words for who, words in self.earlier if who == "Candidate")

    @classmethod
    def of_answer(cls, question: str, key_points: Sequence[str], answer: str, grade: Grade) -> Context:
        """One answer on its own (no conversation around it), each verdict to be read beside the words its
        instant `grade` found closest to the key point: the context every verdict outside an interview uses."""
        return cls(question, tuple(key_points), (), answer, closest_words(grade))

    def verdict_slots(self) -> list[Slot]:
        """Where the model gives its verdict on each key point, each after the candidate's closest words (each
        read on its own, see LLM.choose)."""
        return [self.verdict_slot(n) for n in range(len(self.key_points))]

    def verdict_slot(self, n: int) -> Slot:
        """Where the model gives its verdict on key point `n` (0-based), after the candidate's closest words, as
        the start of its reply."""
        span = " ".join(self.spans[n].split()) if n < len(self.spans) else ""
        said = f"Candidate: {span or '(nothing)'}\n" if self.spans else ""
        return Slot(f"Kind: answer\n{said}Key point: {self.key_points[n]}\nVerdict:", _VERDICT_OPTIONS)


def closest_words(grade: Grade) -> tuple[str, ...]:
    """Per key point, the answer's words closest to it in an instant grade: what its verdict is read beside."""
    return tuple(p.span for p in grade.points)


@dataclass(frozen=True)
class Judgement:
    """What the LLM made of an utterance: its intent, and for an answer, per key point the probability of
    each verdict (yes, partly, no, contradicts)."""

    kind: Intent
    verdicts: tuple[dict[str, float], ...] = ()


class Dialogue:
    """The LLM side of a turn: prefill while the candidate talks, judge, then a guarded, streamed reply."""

    def __init__(self, get_llm: Callable[[], LLM]) -> None:
        self._get_llm = get_llm  # the model loads when first needed

    @staticmethod
    def messages(context: Context, *, closed: bool = True) -> list[Message]:
        """The turn's prompt; `closed=False` leaves the candidate's words open (they are still talking).
        Sentences addressed to the grader are taken out of the candidate's words before the model sees them."""
        user = render("turn_user.j2", question=context.question, earlier=context.earlier,
                      said=T.without_instructions(T.spelled_letters(context.said.strip())))
        return [Message("system", render("turn_system.j2")), Message("user", user + ("\n</said>" if closed else ""))]

    def prefill(self, context: Context) -> None:
        """Evaluate the prompt as far as the candidate has got (never waits for a busy model)."""
        self._get_llm().prefill(self.messages(context, closed=False))

    def judge(self, context: Context, *, kind: Intent | None = None, deadline: float | None = None) -> Judgement:
        """With `kind` None, the intent alone (what the candidate did); with kind "answer", a verdict per key
        point, each read beside the candidate's closest words (`context.spans`)."""
        llm = self._get_llm()
        messages = self.messages(context)
        if kind is None:
            [probabilities] = llm.choose(messages, [Slot("Kind:", _KIND_OPTIONS)], deadline=deadline)
            scores = [float(probabilities.get(o, np.nan)) for o in _KIND_OPTIONS]
            if not np.isfinite(scores).all():
                raise BadModelOutput("the model gave no usable reading of the utterance")
            return Judgement(INTENTS[int(np.argmax(scores))])
        if kind != "answer":
            return Judgement(kind)
        slots = context.verdict_slots()
        found = llm.choose(messages, slots, deadline=deadline)
        verdicts = tuple({v: float(p.get(f" {v}", np.nan)) for v in VERDICTS} for p in found)
        if len(verdicts) != len(slots) or not all(np.isfinite(list(v.values())).all() for v in verdicts):
            raise BadModelOutput(f"the model gave no usable verdicts ({len(verdicts)} for {len(slots)} key points)")
        return Judgement("answer", verdicts)

    def _unqueued(self) -> LLM:
        """The model, unless another call holds it (LLMBusy): a reply or a reading that would queue behind it comes
        too late to beat the bank's words. The call may be another candidate's turn, this candidate's earlier
        answer still being verified, or questions being prepared (a new user, alone on the page, was told
        "another candidate's turn" while the page prepared questions from their notes)."""
        llm = self._get_llm()
        if llm.busy:
            raise LLMBusy("the model is busy with another call (another candidate's turn, an earlier answer's "
                          "verification, or questions being prepared)")
        return llm

    def point(self, context: Context, n: int, *, deadline: float | None = None) -> dict[str, float]:
        """The verdict on key point `n` (0-based) alone: one line of the verdicts' call, about a second once the
        answer is evaluated, against several for all of them. Like `reply`, it never queues behind another
        candidate's call (LLMBusy)."""
        llm = self._unqueued()
        [probabilities] = llm.choose(self.messages(context), [context.verdict_slot(n)], deadline=deadline)
        verdict = {v: float(probabilities.get(f" {v}", np.nan)) for v in VERDICTS}
        if not np.isfinite(list(verdict.values())).all():
            raise BadModelOutput("the model gave no usable verdict on the key point")
        return verdict

    def verify(self, question: str, key_points: Sequence[str], answer: str, provisional: Grade, *,
               options: VerifyOptions | None = None, deadline: float | None = None,
               ) -> tuple[Grade, Judgement | None]:
        """The verified grade of one answer on its own (no conversation around it), and the verdicts it
        rests on; an answer with nothing to verify keeps its instant grade."""
        if provisional.verdict in EMPTY_VERDICTS:
            return provisional, None
        context = Context.of_answer(question, key_points, answer, provisional)
        judgement = self.judge(context, kind="answer", deadline=deadline)
        return verified_grade(provisional, judgement.verdicts, options or VerifyOptions()), judgement

    def reply(self, context: Context, plan: str, *, unsaid: Sequence[str], praise_allowed: bool,
              max_tokens: int = 70, deadline: float | None = None) -> Iterator[str]:
        """The interviewer's words, sentence by sentence (a generator), for a `plan`: "follow_up" or "move_on"
        (an acknowledgement of the answer, begun with the plan's opener), or "clarify". A sentence that would
        give away a point in `unsaid`, or praise when `praise_allowed` is False, ends the reply there. It never
        queues: with the model busy with another candidate's call (several tabs on one machine), it raises
        LLMBusy at once, since the bank's words now beat the LLM's after a wait."""
        llm = self._unqueued()
        kind = "clarify" if plan == "clarify" else "answer"  # the utterance's intent, as the verdicts' call has it
        opener = OPENERS.get(plan, "")
        prefix = f"Kind: {kind}" + render("reply.j2", plan=plan, opener=opener)
        pieces = llm.stream(self.messages(context), max_tokens=max_tokens, deadline=deadline, assistant=prefix)
        heard = f"{context.earlier_answers} {context.said}"
        for sentence in _sentences(_continued(opener, pieces) if opener else pieces):
            if sentence.rstrip(".!") == opener:
                log.info("reply sentence dropped (nothing after its opener): %r", sentence)
                return
            problem = unsafe(sentence, unsaid, praise_allowed=praise_allowed, heard=heard) or (
                "about an earlier answer, not this one" if opener and about_earlier(sentence, context) else "") or (
                "names too little the candidate said" if opener and unheard(sentence, opener, context) else "")
            if problem:
                log.info("reply sentence dropped (%s): %r", problem, sentence)
                return
            yield sentence


def unsafe(sentence: str, unsaid: Sequence[str], *, praise_allowed: bool, heard: str = "") -> str:
    """Why a spoken sentence may not be said (it states a point the candidate has not made, or praises a
    weak answer), or "" when it is fine. Words the candidate said (`heard`) give nothing away: a point is
    stated by the sentence when it holds STATES_AT of the point's other content words. A new user's "the keys
    and values of a token depend on the tokens before it" was not said back to them, since those words were
    half of a point the instant grade had not marked made."""
    if "\ufffd" in sentence or not T.words(sentence):
        return "garbled text"
    if MARKUP.search(sentence):
        return "the prompt's own markup"
    if not praise_allowed and PRAISE.search(sentence):
        return "praise for an answer that earned none"
    said, candidate = T.content_stems(sentence), T.content_stems(heard)
    for point in unsaid:
        stems = T.content_stems(point)
        wanted = stems - candidate
        if len(stems) >= 2 and wanted and T.word_share(wanted, said) >= STATES_AT:
            return f"gives away the point {point!r}"
    return ""


def about_earlier(sentence: str, context: Context) -> bool:
    """Whether an acknowledgement is about what the candidate said earlier on this question rather than the
    answer it acknowledges: more of its own content words (less the question's and the opener's) are in the
    earlier answers than in this one, and fewer than STATES_AT in this one. After a right answer to a follow-up
    on how cached blocks are evicted, a new user heard "You talked about how vLLM caches the final generated
    answer ... in a Redis cache": their wrong first answer, said back as if it were this one."""
    earlier = T.content_stems(context.earlier_answers)
    own = T.content_stems(sentence) - T.content_stems(context.question) - T.content_stems(" ".join(OPENERS.values()))
    if not earlier or not own:
        return False
    now = T.word_share(own, T.content_stems(context.said))
    return T.word_share(own, earlier) > now and now < STATES_AT


HEARD_AT = 0.25  # share of an acknowledgement's own content words that must be the candidate's (a rule, not a fit)


def unheard(sentence: str, opener: str, context: Context) -> bool:
    """Whether an acknowledgement says the question back as what the candidate talked about: fewer than HEARD_AT
    of its content words (less the opener's) are in the answer, and at least half of the rest are the question's.
    After an answer that was only an instruction to the grader, a new user heard "You talked about the order of
    operations in a sampling pipeline with penalties, temperature, top-k, top-p, and min-p", the question's own
    words. A paraphrase in words of neither ("reinforcement learning from human feedback" for "RLHF") is said."""
    own = T.content_stems(sentence) - T.content_stems(opener)
    said = T.content_stems(T.without_instructions(T.spelled_letters(context.said)))  # as the model reads it
    if not own or T.word_share(own, said) >= HEARD_AT:
        return False
    return T.word_share(own - said, T.content_stems(context.question)) >= 0.5


def stated(text: str, said: set[str]) -> bool:
    """Whether `said` (content stems) holds at least STATES_AT of the content words of `text`, or `text` has none:
    the rule a prepared key point is held to by its passages, and an explanation by its question's bank entry."""
    wanted = T.content_stems(text)
    return not wanted or T.word_share(wanted, said) >= STATES_AT


def _sentences(pieces: Iterator[str]) -> Iterator[str]:
    """Text pieces joined and cut into sentences as soon as each one ends (a generator). Words left without an
    end when the text stops (the model was stopped by its deadline or token limit mid-sentence: "... and what
    the left") are never said; words the model ended its line on are."""
    buffer, ended = "", False
    for piece in pieces:
        buffer += piece
        if "\n" in buffer:  # the model began another section: the reply is over
            buffer, ended = buffer.split("\n", 1)[0], True
            break
        while (cut := re.search(r"[.!?](\s|$)", buffer)) and cut.end() < len(buffer):
            sentence, buffer = _bare(buffer[:cut.end()]), buffer[cut.end():]
            if sentence:
                yield sentence
    last = _bare(buffer)
    if last and (ended or T.ends_a_sentence(last)):
        yield last
    elif last:
        log.info("reply words dropped (stopped mid-sentence): %r", last)


def _continued(opener: str, pieces: Iterator[str]) -> Iterator[str]:
    """The words begun for the model, then its continuation of them, spaced, with the opener said once: a server
    that cannot continue a reply is asked to (see OpenAICompatibleLLM.stream), and may write the opener, or the
    whole line of the prompt that ends with it, again before going on."""
    head = ""
    for piece in pieces:
        head += piece
        if re.search(r"[.!?\n]", head):
            break
    before, found, after = head.rpartition(opener)
    rest = after if found and "\n" not in before else head
    rest = rest.lstrip(" \t")  # a newline stays: the model began another section at once
    yield opener + ("" if not rest.strip() or rest[:1] in ",.;:\n" else " ") + rest
    yield from pieces


def _bare(sentence: str) -> str:
    """A sentence without the space around it, nor the quotation marks the small model often puts around its
    whole reply ('"So, what ...? "', or only one of them); a quotation inside it is left alone."""
    sentence = sentence.strip()
    if sentence[:1] in QUOTES:
        sentence = sentence[1:].strip()
        if sentence[-1:] in QUOTES:
            sentence = sentence[:-1].strip()
    elif sentence[-1:] in QUOTES and sum(sentence.count(q) for q in QUOTES) % 2:
        sentence = sentence[:-1].strip()
    return sentence
