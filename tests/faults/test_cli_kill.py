"""kill -9 of the terminal interview (`interviewer interview --text`, a real process on the test profile) at
each stage of a turn: reading what was said, grading it, writing the reply, verifying the grade. Each
`interviewer resume` of the session is the next stage's victim, and the last one finishes the interview:
every answer given before each kill is in the session, and the report, history and export read it (run in the
test's own process: they load no model, and a process of their own would only add its start).

The fault points are tests/faults/stall.py's (installed by the test, not the product)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faultkit import reached
from servers import seed

from interviewer.cli import main
from interviewer.storage import SessionStore

pytestmark = pytest.mark.real
HERE = Path(__file__).parent
FIRST = "A reward model is trained on human preference comparisons."
SECOND = "PPO optimises the policy against it."
STAGES = ("reading", "grading", "phrasing", "verifying")


class Stalls:
    """Runs `interviewer` commands with the fault points installed; `killed_in` kills one inside a stage."""

    def __init__(self, folder: Path, data: Path) -> None:
        self.arm, self.reached = folder / "arm", folder / "reached"
        os.mkfifo(self.reached)
        self.env = {**os.environ, "INTERVIEWER_DATA_DIR": str(data), "INTERVIEWER_PROFILE": "test",
                    "INTERVIEWER_VERIFY_SECONDS": "300", "INTERVIEWER_REPLY_SECONDS": "300"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(HERE / "stall.py"), str(self.arm), str(self.reached), *args]

    def killed_in(self, stage: str, args: list[str], typed: str) -> None:
        procs = []

        def start() -> None:
            procs.append(subprocess.Popen(self.command(*args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True, env=self.env))
            procs[0].stdin.write(typed)
            procs[0].stdin.flush()

        held = reached(self.arm, self.reached, stage, start)
        procs[0].kill()  # kill -9
        _, err = procs[0].communicate(timeout=30)
        assert held, f"the command never reached {stage}: {err[-2000:]}"
        self.arm.write_text("")


def test_kill_9_of_the_terminal_interview_at_each_stage_then_resume(seeded_store, services, tmp_path, ledger,
                                                                   monkeypatch, capsys):
    data = seed(tmp_path / "data", seeded_store)
    stalls = Stalls(tmp_path, data)
    store = SessionStore(data / "sessions.sqlite")
    cli = [sys.executable, "-m", "interviewer.cli"]

    def kept() -> list[str]:
        [row] = store.sessions()
        session = store.load(row["id"], services.questions(), services.grader)
        return [t.answer for t in session.turns] + ([session.pending["answer"]] if session.pending else [])

    stalls.killed_in(STAGES[0], ["interview", "--topic", "rlhf", "--text", "--questions", "2", "--json"],
                     FIRST + "\n")
    [row] = store.sessions()
    assert kept() == [FIRST]  # kept while its intent was read
    for stage in STAGES[1:]:  # each resume takes the kept answer on from where the last one stopped
        stalls.killed_in(stage, ["resume", row["id"], "--json"], "")
        assert kept() == [FIRST], stage
    done = subprocess.run([*cli, "resume", row["id"], "--json"], input=SECOND + "\n", env=stalls.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [q["answer"] for q in report["questions"]] == [FIRST, SECOND] and report["complete"]
    assert all(q["score"] is not None for q in report["questions"])
    ledger.answers(len(STAGES), len(STAGES) * (report["questions"][0]["answer"] == FIRST))

    for name in ("INTERVIEWER_DATA_DIR", "INTERVIEWER_PROFILE"):
        monkeypatch.setenv(name, stalls.env[name])
    capsys.readouterr()

    def run(*args: str) -> str:  # what reads the session afterwards, in this process: it loads no model
        assert main(list(args)) == 0
        return capsys.readouterr().out

    markdown = run("report", row["id"])
    assert markdown.startswith("# Interview report: rlhf") and "**Model answer:**" in markdown
    page = run("report", row["id"], "--format", "html")
    assert page.startswith("<!DOCTYPE html>") and SECOND in page and "Model answer:" in page
    history = json.loads(run("history", "--json"))
    assert history["scores"][0]["topic"] == "rlhf" and history["suggestion"]["topic"] == "rlhf"
    assert history["scores"][0]["score"] == report["overall"]  # history and the report count the same score
    store.close()
