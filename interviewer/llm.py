"""The LLM backend on llama.cpp (llama-cpp-python), loading a local GGUF file."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from interviewer.errors import BadModelOutput, ModelCorrupt
from interviewer.types import Message

T = TypeVar("T", bound=BaseModel)
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def parse_json_reply(text: str, shape: type[T]) -> T:
    """Parse a model's JSON reply (tolerating a ``` fence) and validate it into `shape`."""
    try:
        return shape.model_validate(json.loads(_FENCE.sub("", text)))
    except (json.JSONDecodeError, ValidationError) as error:
        raise BadModelOutput(f"expected JSON matching {shape.__name__}, got {text[:200]!r}: {error}") from error


class LlamaCppLLM:
    """A GGUF model run in-process. Temperature 0 and a fixed seed make every call repeatable.

    llama.cpp contexts are not thread-safe, so calls are serialised with a lock; the prompt prefix
    shared between calls stays in llama.cpp's KV cache.
    """

    def __init__(
        self,
        path: Path,
        *,
        context_tokens: int = 4096,
        threads: int | None = None,
        gpu_layers: int = -1,
        seed: int = 0,
    ) -> None:
        import llama_cpp

        self.name = path.stem
        self.seed = seed
        self.gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=context_tokens,
                n_threads=threads,
                n_gpu_layers=gpu_layers if self.gpu_offload else 0,
                seed=seed,
                verbose=False,
            )
        except ValueError as error:  # llama-cpp-python's way of saying the file would not load
            raise ModelCorrupt(
                f"llama.cpp could not load {path}: is it a GGUF file? Run `make models` to restore the "
                "default, or point MODEL= at a valid .gguf."
            ) from error
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """Whether another call is running now (a caller with a deadline may prefer not to queue)."""
        return self._lock.locked()

    def _complete(self, messages: Sequence[Message], max_tokens: int, **extra):
        return self._llama.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            temperature=0.0,
            seed=self.seed,
            max_tokens=max_tokens,
            **extra,
        )

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256) -> str:
        """The whole reply as one string."""
        with self._lock:
            reply = self._complete(messages, max_tokens)
        return reply["choices"][0]["message"]["content"] or ""

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 256) -> Iterator[str]:
        """Yield the reply's text as llama.cpp produces it."""
        with self._lock:
            for part in self._complete(messages, max_tokens, stream=True):
                text = part["choices"][0]["delta"].get("content")
                if text:
                    yield text

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """How many tokens these messages take once the chat template is applied (for benchmarks)."""
        text = "".join(f"{m.role}\n{m.content}\n" for m in messages)
        return len(self._llama.tokenize(text.encode(), add_bos=True))

    def chat_json(self, messages: Sequence[Message], shape: type[T], *, max_tokens: int = 256) -> T:
        """A reply constrained by a grammar compiled from `shape`'s JSON schema, then validated.

        The grammar does not enforce numeric bounds, so `shape` must validate (or clamp) them itself.
        """
        schema = shape.model_json_schema()
        with self._lock:
            reply = self._complete(
                messages, max_tokens, response_format={"type": "json_object", "schema": schema}
            )
        return parse_json_reply(reply["choices"][0]["message"]["content"] or "", shape)

