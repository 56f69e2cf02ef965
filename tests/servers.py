"""Start a real server for a test on loopback, and know when it is ready from its own log line."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(command: list[str], ready: str, *, start_timeout_s: float = 180.0,
            env: dict | None = None) -> Iterator[subprocess.Popen]:
    """Run `command` until its output shows `ready`; stop it afterwards. A server that never gets ready is
    killed after the timeout and fails the test with its output. `env` adds to this process's environment."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1", **(env or {})}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    watchdog = threading.Timer(start_timeout_s, proc.kill)
    watchdog.start()
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if ready in line:
                break
        else:
            raise RuntimeError(f"{command[0]} stopped before it was ready:\n{''.join(seen[-30:])}")
        watchdog.cancel()
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep the pipe drained
        yield proc
    finally:
        watchdog.cancel()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def seed(data_dir: Path, store: Path) -> Path:
    """Give a fresh data directory a copy of an already-built store (the bank's embeddings: the
    `seeded_store` fixture), so the command run on it does not embed the whole bank again."""
    if not (data_dir / "store").exists():
        shutil.copytree(store, data_dir / "store")
    return data_dir


@contextmanager
def hogged() -> Iterator[None]:
    """Both cores kept busy by two other processes while the block runs."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait()
