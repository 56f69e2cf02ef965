"""The LLM backend on llama.cpp (llama-cpp-python), loading a local GGUF file.

Besides chat, two calls make a small model affordable in a live conversation on a CPU:
- `prefill` evaluates a prompt ahead of need (while the candidate is still talking), so the call that
  follows re-evaluates only what came after;
- `choose` reads the model's probabilities for a few allowed answers at fixed places of its reply (one
  verdict per key point, an intent), a handful of tokens instead of free generation.
Both rest on llama.cpp keeping the token prefix shared with the previous call. Several tabs share one
model, so the context of each recent prompt is kept as a snapshot and put back when its tab comes again.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from interviewer.errors import BackendUnavailable, BadModelOutput, LLMTimeout, ModelCorrupt
from interviewer.types import Message, Slot

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")
CHUNK = 32  # prompt tokens evaluated per step: the granularity of deadlines and of giving way
_OPEN = "\x00open\x00"  # stands for the words of a user message while the chat template is applied around it


def parse_json_reply(text: str, shape: type[T]) -> T:
    """Parse a model's JSON reply (tolerating a ``` fence, and a raw line break or tab inside a string: the
    grammar llama-cpp-python compiles from a JSON schema lets any character but a quote or a backslash into a
    string, and the 1.5B model writes a line break there in some drafts) and validate it into `shape`."""
    try:
        return shape.model_validate(json.loads(_FENCE.sub("", text), strict=False))
    except (json.JSONDecodeError, ValidationError) as error:
        raise BadModelOutput(f"expected JSON matching {shape.__name__}, got {text[:200]!r}: {error}") from error


def choice_ids(tokenize, slot: Slot) -> list[int]:
    """The first token of each option of a slot; options must differ in their first token."""
    ids = [tokenize(option)[0] for option in slot.options]
    if len(set(ids)) != len(ids):
        raise ValueError(f"options {slot.options} do not differ in their first token")
    return ids


@dataclass
class _Snapshot:
    tokens: np.ndarray  # the token ids the context held
    data: bytes  # llama.cpp's state of sequence 0


class LlamaCppLLM:
    """A GGUF model run in-process. Temperature 0 and a fixed seed make every call repeatable.

    llama.cpp contexts are not thread-safe, so calls are serialised with a lock. A `prefill` never waits
    for the lock and gives way, between chunks, to a caller who is waiting.
    """

    def __init__(self, path: Path, *, context_tokens: int = 4096, threads: int | None = None,
                 gpu_layers: int = -1, seed: int = 0, snapshots: int = 8) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.name = path.stem
        self.seed = seed
        self.gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
        threads = threads or os.cpu_count() or 1  # llama.cpp's default generates on half the cores
        try:
            self._llama = llama_cpp.Llama(model_path=str(path), n_ctx=context_tokens, n_threads=threads,
                                          n_threads_batch=threads,
                                          n_gpu_layers=gpu_layers if self.gpu_offload else 0, seed=seed,
                                          verbose=False)
        except ValueError as error:  # llama-cpp-python's way of saying the file would not load
            raise ModelCorrupt(f"llama.cpp could not load {path}: is it a GGUF file? Run `make models` to "
                               "restore the default, or point MODEL= at a valid .gguf.") from error
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelCorrupt(f"{path} has no chat template; use an instruction-tuned (chat) GGUF model")
        model = self._llama._model
        self._format = Jinja2ChatFormatter(template=template, eos_token=model.token_get_text(model.token_eos()),
                                           bos_token=model.token_get_text(model.token_bos()))
        self._capacity = snapshots
        self._snapshots: list[_Snapshot] = []
        self._lock = threading.Lock()
        self._counts = threading.Lock()  # guards the two counts below (+= is not atomic across threads)
        self._waiting = 0  # foreground calls waiting for the lock
        self._engaged = 0  # foreground calls running or waiting
        self.last_evaluated = 0  # prompt tokens the last call had to evaluate (the rest came from a prefix)

    @property
    def busy(self) -> bool:
        """Whether a call is running or waiting now, so that a new one would queue behind it. A prefill does not
        count: it gives way between chunks."""
        return self._engaged > 0

    # prompts and context -------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[int]:
        return self._llama.tokenize(text.encode(), add_bos=False, special=True)

    def prompt_tokens(self, messages: Sequence[Message], assistant: str = "") -> list[int]:
        """The chat template applied to `messages`, ready for the assistant's reply (which starts with
        `assistant`), as token ids."""
        rendered = self._format(messages=[{"role": m.role, "content": m.content} for m in messages])
        return self._with_bos(self._tokenize(rendered.prompt + assistant), rendered.added_special)

    def _with_bos(self, tokens: list[int], added_special: bool) -> list[int]:
        bos = self._llama.token_bos()
        if not added_special and bos >= 0 and (not tokens or tokens[0] != bos):
            tokens = [bos, *tokens]
        return tokens

    @cached_property
    def _user_message(self) -> tuple[str, str, bool]:
        """The chat template around one user message: what comes before its words, what closes it, and whether
        the template adds the BOS token itself."""
        rendered = self._format(messages=[{"role": "user", "content": _OPEN}])
        head, tail = rendered.prompt.split(_OPEN)
        return head, tail, rendered.added_special

    def open_message_tokens(self, text: str) -> list[int]:
        """A user message still being said: the chat template's tokens up to the end of `text`, and none of
        what closes the message."""
        head, _, added_special = self._user_message
        return self._with_bos(self._tokenize(head + text), added_special)

    def message_end_tokens(self) -> list[int]:
        """The first token of each way a user message can end where it stands: ".", "?", "!", or the template's
        end of a message."""
        model = self._llama._model
        ends = [".", "?", "!", self._user_message[1].strip() or model.token_get_text(model.token_eos())]
        return sorted({self._tokenize(end)[0] for end in ends})

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """How many tokens these messages take once the chat template is applied."""
        return len(self.prompt_tokens(messages))

    def _count(self, waiting: int, engaged: int) -> None:
        with self._counts:
            self._waiting += waiting
            self._engaged += engaged

    @contextmanager
    def _foreground(self, deadline: float | None):
        self._count(1, 1)
        try:
            try:
                wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
                acquired = self._lock.acquire(timeout=wait)
            finally:
                self._count(-1, 0)
            if not acquired:
                raise LLMTimeout("the LLM was busy with another call until the deadline")
            try:
                yield
            except RuntimeError as error:  # llama_decode failed: out of context, or a damaged model
                raise BackendUnavailable(f"llama.cpp failed: {error}") from error
            finally:
                self._lock.release()
        finally:
            self._count(0, -1)

    def _common(self, held: np.ndarray, tokens: list[int]) -> int:
        n = min(len(held), len(tokens))
        if n == 0:
            return 0
        same = np.asarray(held[:n]) == np.asarray(tokens[:n], dtype=held.dtype)
        return n if same.all() else int(np.argmin(same))

    def _sync(self, tokens: list[int], *, aligned: bool = False) -> int:
        """Make the context hold the longest available prefix of `tokens` (the live one or a snapshot's);
        returns how many tokens it holds. `aligned`: only whole CHUNKs of it, counted from the start, so that
        every token is evaluated in the same batch of tokens however much the context held before."""
        llama = self._llama
        live = self._common(llama.input_ids[:llama.n_tokens], tokens)
        best = max(self._snapshots, key=lambda s: self._common(s.tokens, tokens), default=None)
        if best is not None and self._common(best.tokens, tokens) > live + CHUNK:
            self._restore(best)
            live = self._common(best.tokens, tokens)
        keep = min(live, len(tokens) - 1)  # the last token is evaluated again, for fresh logits
        if aligned:
            keep -= keep % CHUNK
        self._trim(keep)
        return keep

    def _restore(self, snapshot: _Snapshot) -> None:
        import ctypes

        import llama_cpp

        llama = self._llama
        llama._ctx.kv_cache_clear()
        buffer = (ctypes.c_uint8 * len(snapshot.data)).from_buffer_copy(snapshot.data)
        if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(snapshot.data), 0) == 0:
            llama.n_tokens = 0
            return
        llama.input_ids[:len(snapshot.tokens)] = snapshot.tokens
        llama.n_tokens = len(snapshot.tokens)

    def _save(self) -> None:
        """Keep the current context as a snapshot; one it extends, or the oldest beyond capacity, goes."""
        import ctypes

        import llama_cpp

        llama = self._llama
        tokens = llama.input_ids[:llama.n_tokens].copy()
        if not len(tokens):
            return
        size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, buffer, size, 0)
        kept = [s for s in self._snapshots if self._common(s.tokens, list(tokens)) < len(s.tokens)]
        self._snapshots = (kept + [_Snapshot(tokens, bytes(buffer)[:written])])[-self._capacity:]

    def _feed(self, tokens: list[int], start: int, deadline: float | None, *, give_way: bool = False,
              stop: threading.Event | None = None) -> bool:
        """Evaluate tokens[start:] in chunks; False when it stopped early to give way to a waiting call, or
        because `stop` was set (the reader left)."""
        for at in range(start, len(tokens), CHUNK):
            if (give_way and self._waiting) or (stop is not None and stop.is_set()):
                return False
            if deadline is not None and time.monotonic() > deadline:
                raise LLMTimeout(f"the LLM ran out of time evaluating the prompt ({at} of {len(tokens)} tokens)")
            self._llama.eval(tokens[at:at + CHUNK])
        return True

    def _logits(self) -> np.ndarray:
        return np.ctypeslib.as_array(self._llama._ctx.get_logits(), shape=(self._llama.n_vocab(),))

    # calls ----------------------------------------------------------------------------------------

    def prefill(self, messages: Sequence[Message]) -> None:
        """Evaluate this prompt now, generating nothing, if the model is free; never waits."""
        tokens = self.prompt_tokens(messages)
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._feed(tokens, self._sync(tokens), None, give_way=True)
            self._save()
        except RuntimeError as error:
            log.warning("prefill failed: %s", error)
        finally:
            self._lock.release()

    def next_token_probabilities(self, tokens: list[int]) -> np.ndarray:
        """The model's probability of each token of its vocabulary coming next after `tokens`; only what
        follows the longest prefix the context already holds is evaluated."""
        with self._foreground(None):
            start = self._sync(tokens)
            self.last_evaluated = len(tokens) - start
            self._feed(tokens, start, None)
            logits = self._logits().astype(np.float64)
        odds = np.exp(logits - logits.max())
        return odds / odds.sum()

    def choose(self, messages: Sequence[Message], slots: Sequence[Slot], *,
               deadline: float | None = None) -> list[dict[str, float]]:
        """The model's reply forced into each of `slots` in turn: the slot's text straight after the prompt, then
        the probability of each of its options (normalised over them). Each slot is read on its own branch from
        the evaluated prompt, never after the slots before it: read in one line, the 1.5B model followed its own
        earlier picks ("partly" once, "partly" for every key point after it)."""
        tokens = self.prompt_tokens(messages)
        with self._foreground(deadline):
            start = self._sync(tokens, aligned=True)
            self.last_evaluated = len(tokens) - start
            self._feed(tokens, start, deadline)
            found = []
            for slot in slots:
                self._trim(len(tokens) - (0 if slot.forced else 1))  # back to the prompt (fresh logits if no text)
                self._llama.eval(self._tokenize(slot.forced) if slot.forced else tokens[-1:])
                ids = choice_ids(lambda text: self._llama.tokenize(text.encode(), add_bos=False), slot)
                picked = self._logits()[ids].astype(np.float64)
                p = np.exp(picked - picked.max())
                p /= p.sum()
                found.append(dict(zip(slot.options, p.tolist(), strict=True)))
            self._trim(len(tokens))
            self._save()
        return found

    def _trim(self, keep: int) -> None:
        """Forget what the context holds after its first `keep` tokens."""
        self._llama._ctx.kv_cache_seq_rm(-1, keep, -1)
        self._llama.n_tokens = keep

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 256, deadline: float | None = None,
               assistant: str = "") -> Iterator[str]:
        """Yield the reply's text as llama.cpp produces it (a generator); the reply continues from
        `assistant` when given. Generation runs in a worker that holds the model, so a slow or abandoned
        reader never keeps it from other callers for long. When the reader stops early, the worker stops at its
        next token or prompt chunk, and the reader waits for that (up to a second), so that the model is free,
        not `busy`, once the reply is over."""
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._generate, args=(messages, assistant, max_tokens, deadline, pieces,
                                                               stop), daemon=True, name="llm-generate")
        worker.start()
        try:
            while (piece := pieces.get()) is not None:
                if isinstance(piece, Exception):
                    raise piece
                yield piece
        finally:
            stop.set()
            worker.join(timeout=1.0)

    def _generate(self, messages, assistant, max_tokens, deadline, pieces: queue.Queue, stop: threading.Event):
        try:
            tokens = self.prompt_tokens(messages, assistant)
            with self._foreground(deadline):
                start = self._sync(tokens)
                self.last_evaluated = len(tokens) - start
                if not self._feed(tokens, start, deadline, stop=stop):
                    return
                for part in self._llama.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0,
                                                          seed=self.seed, stream=True):
                    text = part["choices"][0]["text"]
                    if text:
                        pieces.put(text)
                    if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
                        break
                self._save()
        except Exception as error:  # handed to the reader, who raises it in its own thread
            pieces.put(error)
        finally:
            pieces.put(None)

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256) -> str:
        """The whole reply as one string."""
        return "".join(self.stream(messages, max_tokens=max_tokens))

    def chat_json(self, messages: Sequence[Message], shape: type[T], *, max_tokens: int = 256,
                  temperature: float = 0.0) -> T:
        """A reply constrained by a grammar compiled from `shape`'s JSON schema, then validated.

        The grammar does not enforce numeric bounds, so `shape` must validate (or clamp) them itself.
        """
        schema = shape.model_json_schema()
        with self._foreground(None):
            reply = self._llama.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in messages], temperature=temperature,
                seed=self.seed, max_tokens=max_tokens,
                response_format={"type": "json_object", "schema": schema})
        return parse_json_reply(reply["choices"][0]["message"]["content"] or "", shape)
