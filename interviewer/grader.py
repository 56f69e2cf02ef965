"""The grader: an answer against a stored model answer and its key points, scored in milliseconds.

The number never hangs on an LLM. Each statement of the model answer (its sentences) and each key point
is matched against spans of the answer (single sentences and adjacent pairs) by embedding similarity and
shared content words; that strength decides covered, partial or missed. The score is the share of the
model answer's statements the answer makes, out of 10, with full marks from four fifths; the key points
are marked for feedback and follow-ups. Guards then cap what the evidence cannot justify: nothing said,
"I don't know", off-topic text, a bare keyword list. Sentences that address the grader are removed before
grading and noted.

Why statements rather than key points for the number: key points are terse, so an answer that reuses
their terms while getting the idea wrong still matches them; the model answer's fuller sentences are
harder to match by vocabulary alone. Measured on the held-out labelled answers: Spearman 0.807 -> 0.852,
mean absolute error 1.52 -> 1.25 (make eval).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from interviewer import text as T
from interviewer.backends import Embedder
from interviewer.hearing import Hearing, question_terms
from interviewer.knowledge.schema import Question
from interviewer.types import Grade, PointResult
from interviewer.verdicts import letter_for, tip_for, verdict_line

NOTHING_SAID = "No answer was given."
SAID_DONT_KNOW = "The answer said the candidate does not know."
EMPTY_VERDICTS = (NOTHING_SAID, SAID_DONT_KNOW)  # graded 0 by rule: nothing for an LLM to verify


@dataclass(frozen=True)
class GraderOptions:
    """Calibration of the grader. Similarities are cosine; strengths and credits are 0..1.

    sim_full, lexical_weight, covered_at, partial_at, credit_from, credit_full, full_marks_at, max_statements
    and statement_min_stems were chosen on the tuning two thirds of the labelled answers (tests/data/graded);
    the held-out third only measures them.
    """

    max_words: int = 600  # an answer is graded on its first this many words, with a notice (about four minutes
    # of speech; a typed answer is kept up to limits.MAX_ANSWER_CHARS, about 1,300 words, and shown whole)
    sim_floor: float = 0.25  # cosine at or below which a span says nothing about a key point
    sim_full: float = 0.75  # cosine at which a span fully states a key point
    lexical_weight: float = 0.4  # share of strength from the point's own content words found in the span
    covered_at: float = 0.65  # strength from which a key point counts as covered
    partial_at: float = 0.40  # strength from which it counts as partly covered
    credit_from: float = 0.40  # strength from which a statement of the model answer earns some credit
    credit_full: float = 0.85  # strength at which it earns full credit (linear in between)
    full_marks_at: float = 0.6  # share of the statements' credit that earns 10 (the score is linear up to it)
    max_statements: int = 8  # a model answer's statements beyond the eighth are folded into one
    statement_min_stems: int = 5  # a sentence with fewer content words is joined to the next
    window_words: int = 14  # a sentence longer than 1.5 windows is also matched in windows of this many words,
    # half a window apart: transcribed speech has no full stops, so without them a whole answer is one "sentence"
    off_topic_below: float = 0.30  # answer-to-reference cosine under which an answer is off-topic
    off_topic_cap: int = 2
    keyword_list_cap: int = 3
    margin: float = 0.06  # strengths this close to a threshold make the grade less certain
    short_below: float = 0.3  # an answer with fewer words than this share of the model answer's is graded with
    # low confidence: tuneset, 62 of 324 answers, mean error 4.1 points against 2.1 for the rest (mostly terse
    # experts, labelled 8.7 and graded 3.1, beside short vague answers that are rightly graded low)
    cache_size: int = 50_000  # embeddings of texts kept in memory (about 1.5 KB each)


@dataclass(frozen=True)
class Reference:
    """What an answer is graded against: the question, its model answer and the key points to look for."""

    question: str
    answer: str
    key_points: tuple[str, ...]

    def content_hash(self) -> str:
        return hashlib.sha256("\x1f".join((self.question, self.answer, *self.key_points)).encode()).hexdigest()[:16]

    @classmethod
    def from_text(cls, question: str, answer: str) -> Reference:
        """A reference for a question of the user's own: its key points are the model answer's statements."""
        return cls(question, answer, statements(answer))


def statements(answer: str, options: GraderOptions = GraderOptions()) -> tuple[str, ...]:
    """What the score counts: the model answer's sentences, each too short to stand alone ("The limitations
    are real.") joined to the next, and the ones past `options.max_statements` folded into the last."""
    most, shortest = options.max_statements, options.statement_min_stems
    found: list[str] = []
    carry = ""
    for sentence in T.sentences(answer) or [answer]:
        sentence = f"{carry} {sentence}".strip()
        carry = sentence if len(T.content_stems(sentence)) < shortest else ""
        if not carry:
            found.append(sentence)
    if carry:
        found = found[:-1] + [f"{found[-1]} {carry}"] if found else [carry]
    if len(found) > most:
        found = found[: most - 1] + [" ".join(found[most - 1:])]
    return tuple(found)


Gradable = Question | Reference  # a bank question, or a reference the user supplied

class Grader:
    """Grades answers against questions from the knowledge store; deterministic for the same input."""

    def __init__(self, embedder: Embedder, options: GraderOptions | None = None, *,
                 hearing: Hearing | None = None) -> None:
        self._embedder = embedder
        self.options = options or GraderOptions()
        self._hearing = hearing  # puts back terms a recogniser misheard ("kale penalty"); None: read as written
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # text -> embedding, least recent first
        self._lock = threading.Lock()

    def warm(self, questions: list[Gradable]) -> None:
        """Embed what answers to these questions are graded against, in large batches, ahead of grading."""
        o = self.options
        texts = (t for q in questions for t in (*q.key_points, *statements(q.answer, o), *_references(q)))
        self._vectors(list(dict.fromkeys(texts)))

    def warm_answers(self, answers: list[str], questions: list[Gradable] | None = None) -> None:
        """Embed the spans of many answers (to these questions, in order) at once, so grading them afterwards
        embeds nothing."""
        spans = []
        for answer, question in zip(answers, questions or [None] * len(answers), strict=True):
            kept = self._kept_sentences(answer.strip(), question)[0]
            spans.extend(_spans(kept, self.options.window_words) + [" ".join(kept)])
        self._vectors(spans)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for start in range(0, len(missing), 256):
                chunk = missing[start:start + 256]
                self._cache.update(zip(chunk, self._embedder.embed(chunk), strict=True))
            for text in texts:
                self._cache.move_to_end(text)
            rows = [self._cache[t] for t in texts]
            while len(self._cache) > self.options.cache_size:
                self._cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, self._embedder.dim), dtype=np.float32)

    def _kept_sentences(self, answer: str, question: Gradable | None = None) -> tuple[list[str], list[str]]:
        """The answer's sentences, less those addressed to the grader, and the notes that explain cuts; terms of
        the question a recogniser misheard put back ("kale penalty" -> KL penalty), and acronyms of its glossary
        terms followed by the terms ("SFT (supervised fine-tuning)")."""
        notes = []
        answer = T.spelled_letters(answer)  # "pee pee oh" as a recogniser may write it is PPO
        if question is not None and self._hearing is not None:
            mended = self._hearing.mend(answer, question_terms(question.question, question.answer,
                                                               question.key_points, getattr(question, "glossary", ())))
            answer = mended.text
            if mended.heard_as:
                notes.append("Read as the terms they sound like: " +
                             ", ".join(f'"{said}" as {term}' for said, term in mended.heard_as) + ".")
        if question is not None:
            answer = T.expand_acronyms(answer, _acronyms(question))
        tokens = answer.split()
        if len(tokens) > self.options.max_words:
            answer = " ".join(tokens[: self.options.max_words])
            notes.append(f"The answer was long; the grade reads its first {self.options.max_words} words "
                         f"(of {len(tokens):,}).")
        sentences = T.sentences(answer)
        kept = [s for s in sentences if not T.is_instruction(s)]
        if len(kept) < len(sentences):
            notes.append("Text addressed to the grader was ignored; only the answer itself was graded.")
        return kept, notes

    def grade(self, question: Gradable, answer: str) -> Grade:
        """Score one answer to one question, with the evidence for each key point."""
        kept, notes = self._kept_sentences(answer.strip(), question)
        body = " ".join(kept)
        if not T.looks_english(body):
            notes.append("This answer does not look like English; grading works on English answers only.")
        if not T.content_stems(body):
            return self._empty(question, notes, NOTHING_SAID)
        if T.is_dont_know(body):
            return self._empty(question, notes, SAID_DONT_KNOW)
        return self._grade_body(question, kept, notes)

    def _grade_body(self, question: Gradable, sentences: list[str], notes: list[str]) -> Grade:
        o = self.options
        spans = _spans(sentences, o.window_words)
        vectors = self._vectors(spans + [" ".join(sentences)])
        span_vecs, whole = vectors[:-1], vectors[-1]
        points = self._mark(question.key_points, spans, span_vecs)
        said = statements(question.answer, o)
        counted = points if tuple(question.key_points) == said else self._mark(said, spans, span_vecs)
        strengths = np.array([r.strength for r in counted])
        share = float(np.mean(np.clip((strengths - o.credit_from) / (o.credit_full - o.credit_from), 0.0, 1.0)))
        score = min(10, round(10 * share / o.full_marks_at))
        relevance = float(np.max(self._vectors(_references(question)) @ whole))
        body = " ".join(sentences)
        cap = 10
        if relevance < o.off_topic_below:
            cap = o.off_topic_cap
            score = min(score, cap)
            notes.append("The answer seems to be about something else than the question.")
        elif self._keyword_list(body):
            score = min(score, o.keyword_list_cap)
            notes.append("The answer lists terms without explaining them; say how they connect.")
        length = len(body.split()) / max(1, len(question.answer.split()))  # times the model answer's words
        confidence, reason = self._confidence(counted, body, notes, length)
        return Grade(
            score=score, letter=letter_for(score), points=tuple(points),
            verdict=verdict_line(score, points), tip=tip_for(points),
            confidence=confidence, confidence_reason=reason, notes=tuple(notes),
            coverage=float(np.mean([r.strength for r in counted])), cap=cap,
        )

    def _mark(self, points: tuple[str, ...], spans: list[str], span_vecs: np.ndarray) -> list[PointResult]:
        """Each point's strength in the answer, from its best-matching span, and the mark it earns."""
        o = self.options
        sims = span_vecs @ self._vectors(list(points)).T  # (spans, points)
        results = []
        for k, point in enumerate(points):
            best = int(np.argmax(sims[:, k]))
            semantic = np.clip((sims[best, k] - o.sim_floor) / (o.sim_full - o.sim_floor), 0.0, 1.0)
            lexical = T.word_share(T.content_stems(point), T.content_stems(spans[best]))
            strength = float((1 - o.lexical_weight) * semantic + o.lexical_weight * lexical)
            status = "covered" if strength >= o.covered_at else "partial" if strength >= o.partial_at else "missed"
            results.append(PointResult(point, status, spans[best] if status != "missed" else "", strength, spans[best]))
        return results

    @staticmethod
    def _keyword_list(body: str) -> bool:
        """Terms with nothing said about them: no function word at all, or no run of four words between
        punctuation. A terse expert answer ("proxy R rises with KL, gold R peaks then falls") is not one: the
        earlier test (under 15% function words) capped 28 of the tuneset's 39 terse answers, labelled 8.7."""
        clauses = re.split(r"[.,;:!?()\n]|->|→|=>", body)
        longest = max((len(c.split()) for c in clauses), default=0)
        return T.function_word_ratio(body) == 0 or longest < 4

    def _confidence(self, results: list[PointResult], body: str, notes: list[str], length: float):
        o = self.options
        if len(body.split()) < 12:
            return "low", "The answer is very short, so there is little to judge."
        if any("English" in n or "long" in n for n in notes):
            return "low", notes[0]
        if length < o.short_below:
            return "low", ("The answer is much shorter than the model answer. A terse answer can state the core in "
                           "few words, and the instant grade, which matches wording, often under-rates it.")
        close = sum(
            min(abs(r.strength - o.covered_at), abs(r.strength - o.partial_at)) < o.margin for r in results
        )
        if close >= 2:
            return "low", f"{close} points of the model answer sit on the line between two marks."
        return ("medium", "") if close == 1 else ("high", "")

    def _empty(self, question: Gradable, notes: list[str], verdict: str) -> Grade:
        results = tuple(PointResult(p, "missed") for p in question.key_points)
        tip = f"Start from the core idea: {question.key_points[0]}"
        return Grade(0, "F", results, verdict, tip, "high", "", tuple(notes))


def _acronyms(question: Gradable) -> dict[str, str]:
    """The acronyms of a bank question's glossary terms that its own text does not use (see T.acronyms)."""
    known = " ".join([question.question, question.answer, *question.key_points])
    return T.acronyms(getattr(question, "glossary", ()), known)


def _references(question: Gradable) -> list[str]:
    """What an answer's relevance is measured against: the model answer and, for a question generated from
    the user's material, the passages it stands on (an answer drawn from the notes is not off-topic)."""
    return [question.answer, *(source.text for source in getattr(question, "sources", ()))]


def _spans(sentences: list[str], window: int) -> list[str]:
    """What key points are matched against: each sentence, each pair of adjacent sentences, and windows of
    `window` words, half a window apart, over each sentence longer than one and a half windows."""
    spans = sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
    step = max(1, window // 2)
    for sentence in sentences:
        words = sentence.split()
        if len(words) > window + step:
            starts = list(range(0, len(words) - window, step)) + [len(words) - window]
            spans.extend(" ".join(words[at:at + window]) for at in starts)
    return list(dict.fromkeys(spans))
