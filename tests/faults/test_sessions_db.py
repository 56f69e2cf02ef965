"""A garbled, truncated or locked sessions database: said plainly, the bad file kept aside, practice goes on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from faultkit import no_traceback

from interviewer.session import Interview, SessionOptions
from interviewer.storage import SessionStore

pytestmark = pytest.mark.real
ANSWERS = ("A reward model is trained on human preference comparisons.", "PPO then optimises the policy.")


def _saved_sessions(services, db: Path, count: int = 12) -> None:
    """A real sessions file with several sessions, two answers each, closed as a finished process leaves it."""
    store = SessionStore(db)
    for _ in range(count):
        interview = store.attach(Interview(services.store.questions(topic="rlhf"), services.grader,
                                           SessionOptions(topics=("rlhf",), questions=3, follow_ups=0)))
        interview.start()
        for answer in ANSWERS:
            interview.submit(answer)
    store.close()


def _garble_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:100] = b"\x5a" * 100
    db.write_bytes(bytes(data))


def _garble_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    for start in range(4096, len(data), 8192):  # every other page after the first, overwritten with junk
        data[start:start + 4096] = bytes((i * 7 + 3) % 256 for i in range(4096))
    db.write_bytes(bytes(data))


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2 + 123])


@pytest.mark.parametrize("damage", [_garble_header, _garble_pages, _truncate], ids=["header", "pages", "truncated"])
def test_a_damaged_database_is_moved_aside_and_a_fresh_one_started(services, cli, tmp_path, damage):
    db = tmp_path / "data" / "sessions.sqlite"
    db.parent.mkdir()
    _saved_sessions(services, db)
    damage(db)
    damaged = db.read_bytes()
    done = cli("sessions", "--json")
    assert done.returncode == 0 and no_traceback(done), done.stderr
    [kept] = db.parent.glob("sessions.sqlite.corrupt-*[0-9]")
    assert kept.read_bytes() == damaged  # the old file is kept exactly as it was
    assert "damaged" in done.stderr and str(kept) in done.stderr and "fresh one" in done.stderr
    assert json.loads(done.stdout) == []
    log = (tmp_path / "data" / "logs" / "interviewer.log").read_text()
    assert str(kept) in log
    again = cli("history", "--json")  # said once: the fresh file is fine
    assert again.returncode == 0 and "damaged" not in again.stderr and no_traceback(again)


def test_an_interview_starts_on_a_damaged_database(services, cli, tmp_path):
    db = tmp_path / "data" / "sessions.sqlite"
    db.parent.mkdir()
    _saved_sessions(services, db, count=2)
    _truncate(db)
    # the LLM is off: the database, not the reply, is on trial (a reply waits out its time limit, seconds of the suite)
    done = cli("interview", "--topic", "rlhf", "--text", "--questions", "1", "--json", stdin=ANSWERS[0] + "\n",
               env={"INTERVIEWER_USE_LLM": "false"})
    assert done.returncode == 0 and no_traceback(done), done.stderr
    assert "moved aside" in done.stderr and json.loads(done.stdout)["questions"][0]["answer"] == ANSWERS[0]
    [session] = json.loads(cli("sessions", "--json").stdout)
    assert session["answered"] == 1  # practice goes on in the fresh file


LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode=EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_locked_database_is_waited_for_then_named_and_left_alone(services, cli, tmp_path, ledger):
    db = tmp_path / "data" / "sessions.sqlite"
    db.parent.mkdir()
    _saved_sessions(services, db, count=1)
    before = db.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", LOCK, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for command in (("sessions",), ("history",)):
            done = cli(*command, env={"INTERVIEWER_DB_WAIT_S": "0.5"})
            assert done.returncode == 2 and no_traceback(done), done.stderr
            assert "is locked by another process" in done.stderr and str(db) in done.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not list(db.parent.glob("*.corrupt-*")) and db.read_bytes() == before  # never moved or changed
    [session] = json.loads(cli("sessions", "--json").stdout)
    interview = SessionStore(db).load(session["id"], services.questions(), services.grader)
    kept = [t.answer for t in interview.turns]
    ledger.answers(given=len(ANSWERS), kept=len(kept))
    assert kept == list(ANSWERS)
