"""Checks made before a command does any work, and where its log goes.

Each check stops start-up with a message that names what is wrong and what to do, so a read-only folder or a
damaged model is found in the first second, not after the first answer.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path

from interviewer.errors import StorageUnavailable

log = logging.getLogger(__name__)


def ensure_writable(data_dir: Path) -> None:
    """Create the data directory if needed and prove it can be written; stop with the fix if not."""
    fix = ("Give this user write access to it, or point INTERVIEWER_DATA_DIR at a folder you can write to "
           "(for example INTERVIEWER_DATA_DIR=~/.local/share/interviewer).")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
            pass
    except OSError as error:
        raise StorageUnavailable(f"The data directory {data_dir} is not writable ({error.strerror}). {fix}") from error
    blocked = [p for p in (data_dir / "sessions.sqlite", data_dir / "store", data_dir / "logs")
               if p.exists() and not os.access(p, os.W_OK)]
    if blocked:
        raise StorageUnavailable(f"{blocked[0]} in the data directory is read-only. {fix}")


_configured: list[Path | None] = []  # the log file chosen by the first call, once per process
_terminal: list[logging.Handler] = []  # the handler that shows warnings in the terminal, once set up


def log_to_file(log_file: Path | None, level: str = "INFO") -> Path | None:
    """Send this app's log, from `level` up, to a file (kept small by rotation) and its warnings to the terminal.

    Returns the log file, or None where it could not be opened (the warnings still reach the terminal).
    """
    if _configured:
        return _configured[0]
    ours = logging.getLogger("interviewer")
    ours.setLevel(level)
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.WARNING)
    terminal.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    terminal.addFilter(lambda record: not record.exc_info)  # a traceback belongs in the file, not the terminal
    ours.addHandler(terminal)
    _terminal.append(terminal)
    opened = None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
        except OSError as error:
            log.warning("No log file: cannot open %s (%s).", log_file, error.strerror)
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger().addHandler(handler)  # ours propagate here; libraries' warnings too
            opened = log_file
    _configured.append(opened)
    return opened


class _Tally(logging.Handler):
    """Counts the records it is given (warnings and up)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def warnings_to_the_log() -> Iterator[_Tally]:
    """While the terminal holds a conversation, this app's warnings (a fallback taken: the LLM out of time, the
    bank's words used) go to the log file alone and are counted, so that no log line lands between a question
    and its answer; errors still show. Where no log file could be opened, warnings stay on the terminal."""
    ours, tally = logging.getLogger("interviewer"), _Tally()
    quiet = [(handler, handler.level) for handler in _terminal] if _configured and _configured[0] else []
    for handler, _ in quiet:
        handler.setLevel(logging.ERROR)
    ours.addHandler(tally)
    try:
        yield tally
    finally:
        ours.removeHandler(tally)
        for handler, level in quiet:
            handler.setLevel(level)
