"""One protocol per backend family. Only our own domain types cross these boundaries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
from pydantic import BaseModel

from interviewer.types import AudioChunk, Message, Slot, Transcript

T = TypeVar("T", bound=BaseModel)


class LLM(Protocol):
    """A chat model. Deterministic by default: temperature 0 and a fixed seed."""

    name: str
    busy: bool  # a call now would queue behind another caller's (a prefill does not count)

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256) -> str:
        """The whole reply as one string."""
        ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 256, deadline: float | None = None,
               assistant: str = "") -> Iterator[str]:
        """The reply as it is generated, piece by piece (a generator), continuing from `assistant` when given;
        past `deadline` (time.monotonic()) it raises LLMTimeout."""
        ...

    def prefill(self, messages: Sequence[Message]) -> None:
        """Evaluate a prompt ahead of need, so a later call that extends it starts from there; never waits
        for a busy model, and does nothing where the backend cannot keep a prefix."""
        ...

    def choose(self, messages: Sequence[Message], slots: Sequence[Slot], *,
               deadline: float | None = None) -> list[dict[str, float]]:
        """The reply forced into each of `slots`: per slot, each option's probability (summing to 1), each slot
        read straight after the prompt where the backend can (llama.cpp can; a server reads them in one reply)."""
        ...

    def chat_json(self, messages: Sequence[Message], shape: type[T], *, max_tokens: int = 256,
                  temperature: float = 0.0) -> T:
        """A reply constrained to `shape`'s JSON schema, parsed and validated into it; sampled at `temperature`
        (with the fixed seed, so still repeatable) where a caller wants another reply than the likeliest."""
        ...


class Embedder(Protocol):
    """Sentence embeddings, L2-normalised, so a dot product is a cosine similarity."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An array of shape (len(texts), dim), float32."""
        ...


class SpeechToText(Protocol):
    """Speech recognition with word timings."""

    def transcribe(self, audio: Path | np.ndarray, *, hint: str = "") -> Transcript:
        """Transcribe a sound file, or float32 mono samples at 16 kHz; `hint` lists words to expect."""
        ...


class TurnDetector(Protocol):
    """Hears whether a speaker sounds finished: intonation and trailing words, not the words' meaning."""

    def complete_probability(self, audio: np.ndarray) -> float:
        """P(the turn is complete), from 16 kHz float32 mono audio that ends just after the last word
        (only the last 8 s count)."""
        ...


class WordsDetector(Protocol):
    """Reads whether the words said so far make a finished answer, whatever the voice sounds like."""

    def complete_probability(self, text: str) -> float:
        """P(the speaker's message ends after `text`), from its words alone."""
        ...


class TextToSpeech(Protocol):
    """Speech synthesis, streamed sentence by sentence."""

    sample_rate: int

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence as soon as it is synthesised (a generator)."""
        ...
