"""Deterministic in-process backends for unit tests of pure logic. Each honours its real protocol."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from interviewer.text import content_stems
from interviewer.types import Message

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
    """Replies with a fixed text, or with a JSON object built from the shape's defaults."""

    name = "fake-llm"

    def __init__(self, reply: str = "OK.", json_reply: dict | None = None) -> None:
        self.reply = reply
        self.json_reply = json_reply or {}
        self.prompts: list[list[Message]] = []

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256) -> str:
        self.prompts.append(list(messages))
        return self.reply

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 256) -> Iterator[str]:
        self.prompts.append(list(messages))
        yield from (word + " " for word in self.reply.split(" "))

    def chat_json(self, messages: Sequence[Message], shape: type[T], *, max_tokens: int = 256) -> T:
        self.prompts.append(list(messages))
        return shape.model_validate_json(json.dumps(self.json_reply))
