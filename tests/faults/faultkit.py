"""Helpers of the fault-injection suite: services that share loaded models, damaged model copies."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from pathlib import Path

from interviewer.wiring import Services

SHARED = ("registry", "embedder", "grader", "stt", "tts", "spoken", "turn", "llm")


def sharing(services: Services, **changes) -> Services:
    """Services with some settings changed that share the backends already loaded (the models load once)."""
    services.store  # noqa: B018 (load them now, so the copy has them)
    twin = Services(services.settings.model_copy(update=changes))
    for name in SHARED:
        if name in services.__dict__:
            twin.__dict__[name] = services.__dict__[name]
    twin._bank, twin._bank_read, twin._store = services._bank, services._bank_read, services._store  # as read
    return twin


def reached(arm: Path, fifo: Path, stage: str, start, *, timeout: float = 300) -> bool:
    """Arm a stage of tests/faults/stall.py's fault points, run `start` (which sets off the call that reaches it)
    and wait until the process says it is held there; False if it never got there (the waiter is released)."""
    arm.write_text(stage)
    seen: list[str] = []
    waiter = threading.Thread(target=lambda: seen.append(fifo.read_text()), daemon=True)
    waiter.start()
    start()
    waiter.join(timeout=timeout)
    if not seen:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    return seen == [stage]


def no_traceback(done: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in done.stderr and "Traceback" not in done.stdout


def own_copy(models: Path, model_id: str) -> Path:
    """Replace a model's link in a models copy by a folder of links to each of its files; return the folder,
    in which one file's link can then be replaced by a damaged file."""
    link = models / model_id
    source = link.resolve()
    link.unlink()
    link.mkdir()
    for file in source.rglob("*"):
        if file.is_file():
            target = link / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file)
    return link


def drained(events) -> tuple:
    """Run a page handler (a generator of output tuples) to its end; its last outputs."""
    outputs = ()
    for outputs in events:  # noqa: B007 (the last one is wanted)
        pass
    return outputs


def started_tab(services: Services, topic: str = "rlhf", *, questions: int = 3, voice: bool = False):
    """A tab of the page with an interview started through the page's own Start handler."""
    from interviewer.ui.app import start

    return drained(start(services, 0, [topic], "mid", questions, 120, voice))[1]


def chunks_of(audio, seconds: float = 0.5):
    """16 kHz float audio as the browser's microphone stream sends it: (rate, int16 samples) every half second."""
    import numpy as np

    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    step = int(16_000 * seconds)
    return [(16_000, pcm[i:i + step]) for i in range(0, len(pcm), step)]


def chat_text(tab) -> str:
    content = (m["content"] for m in tab.chat)
    return "\n".join(c if isinstance(c, str) else str(c) for c in content)


class Broken:
    """A backend method broken on purpose, standing in for the real one: `mode` is "raises" (a raw library
    error, as onnxruntime or CTranslate2 raise), "hangs" (waits `hang_s`, then answers as the real one does),
    "garbage" (`garbage()`'s value), or "ok"; `times` calls are broken, the rest answered by the real method."""

    def __init__(self, real, mode: str, *, garbage=None, hang_s: float = 3.0, times: int = 10**6) -> None:
        self.real, self.mode, self.garbage, self.hang_s, self.left = real, mode, garbage, hang_s, times
        self.calls = 0

    def __call__(self, *args, **kwargs):
        import time

        self.calls += 1
        if self.left <= 0 or self.mode == "ok":
            return self.real(*args, **kwargs)
        self.left -= 1
        if self.mode == "raises":
            raise RuntimeError("backend failed: std::bad_alloc")
        if self.mode == "hangs":
            time.sleep(self.hang_s)
            return self.real(*args, **kwargs)
        return self.garbage(*args, **kwargs)
