"""The LLM backend over HTTP: any OpenAI-compatible chat-completions server (llama.cpp, vLLM, Ollama, ...)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, create_model

from interviewer.errors import BackendUnavailable, BadModelOutput, LLMTimeout
from interviewer.llm import parse_json_reply
from interviewer.types import Message, Slot

T = TypeVar("T", bound=BaseModel)


class OpenAICompatibleLLM:
    """Chat completions from a server, deterministic where the server allows (temperature 0, a seed).

    JSON output asks for `json_schema` first (vLLM, recent llama.cpp, OpenAI), then llama-cpp-python's
    `json_object` with a schema, then plain text with the schema in the prompt; the reply is validated in
    every case. The working mode is remembered.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str = "", timeout_s: float = 60.0, seed: int = 0):
        import openai

        self.name = model or "server-default"
        self.gpu_offload = False  # not ours to know: the server decides
        self.busy = False  # a server schedules concurrent requests itself (its parallel slots): never worth skipping
        self._model, self._seed, self._url = model, seed, base_url
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s,
                                     max_retries=0)
        self._openai = openai
        self._json_mode: int | None = None

    def _create(self, messages: Sequence[Message], max_tokens: int, temperature: float = 0.0, **extra):
        try:
            return self._client.chat.completions.create(
                model=self._model, messages=[{"role": m.role, "content": m.content} for m in messages],
                temperature=temperature, seed=self._seed, max_tokens=max_tokens, **extra,
            )
        except (self._openai.APIConnectionError, self._openai.APITimeoutError) as error:
            raise BackendUnavailable(
                f"the LLM server at {self._url} did not answer ({error.__class__.__name__}); is it running? "
                "Check INTERVIEWER_LLM_URL (it ends in /v1)."
            ) from error
        except self._openai.APIStatusError as error:
            raise BadModelOutput(f"the LLM server at {self._url} refused the request: {error.status_code} "
                                 f"{str(error)[:200]}") from error

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256) -> str:
        """The whole reply as one string."""
        reply = self._create(messages, max_tokens)
        if not getattr(reply, "choices", None):
            raise BadModelOutput(f"the LLM server at {self._url} answered without choices: {str(reply)[:200]}")
        return reply.choices[0].message.content or ""

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 256, deadline: float | None = None,
               assistant: str = "") -> Iterator[str]:
        """Yield the reply as the server streams it. A chat server cannot continue a reply it did not write,
        so the start of the reply (`assistant`) is handed over as a note to continue from."""
        if assistant:
            messages = [*messages, Message("user", f"Continue this reply, writing only what comes next:\n{assistant}")]
        for part in self._create(messages, max_tokens, stream=True):
            if deadline is not None and time.monotonic() > deadline:
                raise LLMTimeout(f"the LLM server at {self._url} was still writing at the deadline")
            if part.choices and part.choices[0].delta.content:
                yield part.choices[0].delta.content

    def prefill(self, messages: Sequence[Message]) -> None:
        """Nothing to do here: servers keep their own prefix cache (llama.cpp's cache_prompt, vLLM's)."""

    def choose(self, messages: Sequence[Message], slots: Sequence[Slot], *,
               deadline: float | None = None) -> list[dict[str, float]]:
        """The slots as one JSON object with an enumerated field per slot; the chosen option gets probability 1
        (a server's JSON mode gives no probabilities)."""
        fields = {f"s{n}": (Literal[tuple(o.strip() for o in slot.options)], ...) for n, slot in enumerate(slots)}
        shape = create_model("Choices", **fields)
        layout = "; ".join(f"s{n} follows {slot.forced.strip()!r}" for n, slot in enumerate(slots))
        asked = [*messages, Message("user", f"Reply as JSON, one field per line of your reply: {layout}.")]
        if deadline is not None and time.monotonic() > deadline:
            raise LLMTimeout("no time left to ask the LLM server")
        picked = self.chat_json(asked, shape, max_tokens=16 + 8 * len(slots))
        return [{o: float(o.strip() == getattr(picked, f"s{n}")) for o in slot.options} for n, slot in enumerate(slots)]

    def chat_json(self, messages: Sequence[Message], shape: type[T], *, max_tokens: int = 256,
                  temperature: float = 0.0) -> T:
        """A reply in `shape`'s JSON schema, by the strongest mode the server supports, then validated."""
        schema = shape.model_json_schema()
        modes = [
            {"response_format": {"type": "json_schema",
                                 "json_schema": {"name": shape.__name__, "schema": schema}}},
            {"response_format": {"type": "json_object", "schema": schema}},
            {},
        ]
        order = [self._json_mode] if self._json_mode is not None else range(len(modes))
        last: Exception | None = None
        for index in order:
            extra = modes[index]
            asked = list(messages)
            if not extra:
                asked.append(Message("system", f"Reply with JSON only, matching this schema: {schema}"))
            try:
                reply = self._create(asked, max_tokens, temperature, **extra)
                result = parse_json_reply(reply.choices[0].message.content or "", shape)
            except BadModelOutput as error:
                last = error
                continue
            self._json_mode = index
            return result
        raise BadModelOutput(f"the LLM server gave no valid {shape.__name__} in any JSON mode: {last}")
