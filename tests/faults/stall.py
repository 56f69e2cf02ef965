"""An `interviewer` command (`serve`, `interview`, `resume`) with a fault point at each stage of a turn, for the
kill -9 tests.

Usage: python stall.py ARM REACHED COMMAND [options]. Every stage's function is wrapped; while the file ARM
holds a stage's name, a call to that stage writes the name to the FIFO REACHED (the test waits on it) and
blocks until the process is killed. Nothing of this is in the product: the wrapping is done here, by the test.
"""

from __future__ import annotations

import importlib
import runpy
import sys
import threading
from pathlib import Path

STAGES = {
    "reading": ("interviewer.intents", "IntentReader", "__call__"),
    "transcribing": ("interviewer.stt", "WhisperSTT", "transcribe"),
    "grading": ("interviewer.grader", "Grader", "grade"),
    "verifying": ("interviewer.conversation", "Dialogue", "judge"),
    "phrasing": ("interviewer.conversation", "Dialogue", "reply"),
    "synthesising": ("interviewer.tts", "SpokenLines", "speak"),
}


def _install(arm: Path, reached: Path) -> None:
    for stage, (module, cls, name) in STAGES.items():
        owner = getattr(importlib.import_module(module), cls)
        real = getattr(owner, name)

        def stalled(*args, _stage=stage, _real=real, **kwargs):
            if arm.is_file() and arm.read_text().strip() == _stage:
                with reached.open("w") as fifo:
                    fifo.write(_stage)
                threading.Event().wait()  # until kill -9
            return _real(*args, **kwargs)

        setattr(owner, name, stalled)


if __name__ == "__main__":
    _install(Path(sys.argv.pop(1)), Path(sys.argv.pop(1)))
    sys.argv[0] = "interviewer"
    runpy.run_module("interviewer.cli", run_name="__main__")
