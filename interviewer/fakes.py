"""Deterministic in-process backends for unit tests of pure logic. Each honours its real protocol."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from interviewer.text import content_stems
from interviewer.types import Message, Slot

T = TypeVar("T", bound=BaseModel)


class FakeEmbedder:
    """Bag-of-stems hashed into a fixed-size vector: texts sharing words are similar, others are not."""

    name = "fake-embedder"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.calls: list[int] = []  # how many texts each call embedded

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for stem in content_stems(text) or {"<empty>"}:
                out[row, int(hashlib.md5(stem.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeLLM:
    """Replies with a fixed text; `choose` picks options by a rule given as a function (by default the first
    option, with certainty); records every prompt. `busy` and `fail` make it behave like a model another call
    holds, or one that breaks."""

    name = "fake-llm"

    def __init__(self, reply: str = "OK.", json_reply: dict | None = None,
                 choices: Callable[[Sequence[Message], Slot], dict[str, float]] | None = None) -> None:
        self.reply = reply
        self.json_reply = json_reply or {}
        self.choices = choices or (lambda messages, slot: {o: float(i == 0) for i, o in enumerate(slot.options)})
        self.prompts: list[list[Message]] = []
        self.prefilled: list[list[Message]] = []
        self.forced: list[str] = []  # the text each choose (its slots) and stream (its `assistant`) forced
        self.busy = False
        self.fail: Exception | None = None

    def _called(self, messages: Sequence[Message]) -> None:
        if self.fail is not None:
            raise self.fail
        self.prompts.append(list(messages))

    def prefill(self, messages: Sequence[Message]) -> None:
        self.prefilled.append(list(messages))

    def choose(self, messages: Sequence[Message], slots: Sequence[Slot], *,
               deadline: float | None = None) -> list[dict[str, float]]:
        self._called(messages)
        self.forced.append("".join(slot.forced for slot in slots))
        return [self.choices(messages, slot) for slot in slots]

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256) -> str:
        self._called(messages)
        return self.reply

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 256, deadline: float | None = None,
               assistant: str = "") -> Iterator[str]:
        self._called(messages)
        self.forced.append(assistant)
        yield from (word + " " for word in self.reply.split(" "))

    def chat_json(self, messages: Sequence[Message], shape: type[T], *, max_tokens: int = 256,
                  temperature: float = 0.0) -> T:
        self._called(messages)
        return shape.model_validate_json(json.dumps(self.json_reply))


class FakeTurnDetector:
    """Says the turn is finished with a fixed probability, or raises `fail`; records the audio it was given."""

    def __init__(self, probability: float = 1.0, fail: Exception | None = None) -> None:
        self.probability = probability
        self.fail = fail
        self.heard: list[np.ndarray] = []

    def complete_probability(self, audio: np.ndarray) -> float:
        self.heard.append(audio)
        if self.fail is not None:
            raise self.fail
        return self.probability


class FakeWords:
    """Reads every text as finished with a fixed probability, or raises `fail`; records the texts it was given."""

    def __init__(self, probability: float = 1.0, fail: Exception | None = None) -> None:
        self.probability = probability
        self.fail = fail
        self.read: list[str] = []

    def complete_probability(self, text: str) -> float:
        self.read.append(text)
        if self.fail is not None:
            raise self.fail
        return self.probability
