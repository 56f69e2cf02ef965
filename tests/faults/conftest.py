"""The fault-injection suite: each test breaks one real part (a file, a permission, a model, a request) and
asserts what the user sees, that the app stays usable, and what is kept.

Every test here is a case; a test that gives answers before its fault records how many it gave and how many
were still there afterwards (`ledger.answers(given, kept)`). At the end the suite prints one table: cases
tried, cases survived, answers lost (`make faults` runs just this folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servers import seed


@dataclass
class Ledger:
    """What the suite tallies across its cases."""

    tried: int = 0
    survived: int = 0
    given: int = 0
    kept: int = 0
    lost_by_case: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)  # measured, never asserted: name -> values

    def answers(self, given: int, kept: int, case: str = "") -> None:
        self.given += given
        self.kept += kept
        if given > kept:
            self.lost_by_case[case] = given - kept


LEDGER = Ledger()


@pytest.fixture
def ledger(request) -> Ledger:
    """Record answers given before a fault and kept after it (`ledger.answers(given, kept)`), and times to
    report, never to assert (`ledger.took(name, seconds)`)."""

    class _Case:
        def answers(self, given: int, kept: int) -> None:
            LEDGER.answers(given, kept, request.node.nodeid)

        def took(self, name: str, seconds: float) -> None:
            LEDGER.seconds.setdefault(name, []).append(seconds)

    return _Case()


def pytest_runtest_logreport(report) -> None:
    if "tests/faults/" not in report.nodeid.replace(os.sep, "/"):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        LEDGER.tried += 1
        LEDGER.survived += int(report.passed)


def pytest_terminal_summary(terminalreporter) -> None:
    if not LEDGER.tried:
        return
    lost = LEDGER.given - LEDGER.kept
    write = terminalreporter.write_line
    write("")
    write("| fault-injection suite | count |")
    write("|---|---|")
    write(f"| cases tried | {LEDGER.tried} |")
    write(f"| cases survived | {LEDGER.survived} |")
    write(f"| answers given before a fault | {LEDGER.given} |")
    write(f"| answers lost | {lost} |")
    for case, n in LEDGER.lost_by_case.items():
        write(f"  lost {n} answer(s) in {case}")
    for name, values in LEDGER.seconds.items():
        ordered = sorted(values)
        p50, p95 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.95))
        write(f"| {name}, p50 / p95 (n={len(values)}) | {p50:.2f} / {p95:.2f} s |")


@pytest.fixture
def cli(tmp_path, seeded_store):
    """Run `interviewer ...` as a user does, in a subprocess, with its own data directory (tmp_path/data), whose
    store already holds the bank."""

    def cli(*args: str, stdin: str = "", env: dict | None = None, timeout: float = 300,
            **popen) -> subprocess.CompletedProcess:
        seed(tmp_path / "data", seeded_store)
        base = {**os.environ, "INTERVIEWER_DATA_DIR": str(tmp_path / "data"), "INTERVIEWER_PROFILE": "test"}
        return subprocess.run([sys.executable, "-m", "interviewer.cli", *args], input=stdin, capture_output=True,
                              text=True, env={**base, **(env or {})}, timeout=timeout, **popen)

    return cli


@pytest.fixture
def models_copy(settings, tmp_path) -> Path:
    """A models folder of links to the real model files, safe to damage one model in (replace its link by a
    folder of its own): the real files are never touched."""
    folder = tmp_path / "models"
    folder.mkdir()
    real = settings.models_dir
    (folder / "registry.yaml").write_bytes((real / "registry.yaml").read_bytes())
    if (real / ".verified.json").is_file():  # checksums already known, keyed by the real files' paths
        (folder / ".verified.json").write_bytes((real / ".verified.json").read_bytes())
    for model in real.iterdir():
        if model.is_dir():
            (folder / model.name).symlink_to(model.resolve(), target_is_directory=True)
    return folder
