"""Domain types that cross backend boundaries. No library object ever does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Role = Literal["system", "user", "assistant"]
Coverage = Literal["covered", "partial", "missed", "contradicted"]
Confidence = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class Message:
    """One chat turn sent to an LLM."""

    role: Role
    content: str


@dataclass(frozen=True)
class Slot:
    """A place in an LLM reply where it must pick one of a few options, after some fixed text.

    Options must differ in their first token (" Y", " N", not "contradicts" and "contradicted")."""

    forced: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Word:
    """A recognised word with its timing in seconds from the start of the audio."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard: the text, each word with its timing, and the audio length in seconds."""

    text: str
    words: tuple[Word, ...] = ()
    duration: float = 0.0
    language: str = "en"


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesised speech: mono 16-bit samples, their rate in Hz, and the text they say."""

    samples: np.ndarray
    sample_rate: int
    text: str = ""

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class PointResult:
    """How one key point of the model answer fared: its status, the answer's words that earned it, a score."""

    point: str
    status: Coverage
    evidence: str = ""
    strength: float = 0.0  # 0..1, how strongly the answer supports the point
    span: str = ""  # the answer's words closest to the point, whatever its status


@dataclass(frozen=True)
class Grade:
    """The grade of one answer: the number first, then what explains it."""

    score: int  # 0..10
    letter: str  # A..F
    points: tuple[PointResult, ...]
    verdict: str
    tip: str
    confidence: Confidence
    confidence_reason: str = ""
    notes: tuple[str, ...] = field(default=())
    coverage: float = 0.0  # mean strength of what the score counts, 0..1: a continuous companion to the score,
    # which still orders answers that score 0 (SemEval's ranking is read from it)
    verified: bool = False  # False: the instant grade from embeddings; True: the LLM read the answer too
    changes: tuple[str, ...] = ()  # verified: what the LLM's reading changed against the instant grade, and why
    cap: int = 10  # the most the answer can score whoever reads it (an answer about something else: 2)

    @property
    def covered(self) -> list[str]:
        return [p.point for p in self.points if p.status == "covered"]

    @property
    def partial(self) -> list[str]:
        return [p.point for p in self.points if p.status == "partial"]

    @property
    def not_covered(self) -> list[str]:
        """Points the answer did not make in full: partial, missed or contradicted."""
        return [p.point for p in self.points if p.status != "covered"]

    @property
    def missed(self) -> list[str]:
        return [p.point for p in self.points if p.status == "missed"]

    @property
    def contradicted(self) -> list[str]:
        return [p.point for p in self.points if p.status == "contradicted"]

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "letter": self.letter,
            "verdict": self.verdict,
            "tip": self.tip,
            "confidence": self.confidence,
            "confidence_reason": self.confidence_reason,
            "notes": list(self.notes),
            "coverage": round(self.coverage, 4),
            "verified": self.verified,
            "changes": list(self.changes),
            "cap": self.cap,
            "points": [
                {"point": p.point, "status": p.status, "evidence": p.evidence, "strength": round(p.strength, 3),
                 "span": p.span}
                for p in self.points
            ],
        }
