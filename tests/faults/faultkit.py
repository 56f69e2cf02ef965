"""Helpers of the fault-injection suite: services that share loaded models, damaged model copies."""

from __future__ import annotations

import subprocess
from pathlib import Path

from interviewer.wiring import Services

SHARED = ("bank", "registry", "embedder", "store", "grader", "stt", "tts", "spoken")


def sharing(services: Services, **changes) -> Services:
    """Services with some settings changed that share the backends already loaded (the models load once)."""
    services.store  # noqa: B018 (load them now, so the copy has them)
    twin = Services(services.settings.model_copy(update=changes))
    for name in SHARED:
        if name in services.__dict__:
            twin.__dict__[name] = services.__dict__[name]
    return twin


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
