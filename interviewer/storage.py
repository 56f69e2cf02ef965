"""Sessions, turns and grades in SQLite under the data directory, written as each turn ends.

A crash or a closed tab loses at most the answer in progress: `load` rebuilds an unfinished interview
from its options and turns, and the planner's choices are a pure function of them, so it continues
exactly where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from interviewer.planner import Past
from interviewer.session import Interview, Prompt, SessionOptions, Turn
from interviewer.types import Grade, PointResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started REAL NOT NULL, options TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open', overall REAL, prompt TEXT, level TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id), position INTEGER NOT NULL,
    question_id TEXT NOT NULL, topic TEXT NOT NULL, kind TEXT NOT NULL, prompt TEXT NOT NULL,
    answer TEXT NOT NULL, grade TEXT NOT NULL, score INTEGER NOT NULL, skipped INTEGER NOT NULL,
    timed_out INTEGER NOT NULL, hints INTEGER NOT NULL, at REAL NOT NULL, delivery TEXT,
    PRIMARY KEY (session_id, position)
);
"""


def grade_from_dict(data: dict) -> Grade:
    """Rebuild a Grade from `Grade.to_dict()`."""
    points = tuple(PointResult(p["point"], p["status"], p.get("evidence", ""), p.get("strength", 0.0))
                   for p in data["points"])
    return Grade(data["score"], data["letter"], points, data["verdict"], data["tip"], data["confidence"],
                 data.get("confidence_reason", ""), tuple(data.get("notes", ())), data.get("coverage", 0.0))


class SessionStore:
    """One SQLite file; safe to share between the threads of one app process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def attach(self, interview: Interview) -> Interview:
        """Give a new interview an id and a row; every later turn is saved as it ends."""
        interview.id = interview.id or uuid.uuid4().hex[:8]
        self._run("INSERT OR IGNORE INTO sessions (id, started, options) VALUES (?, ?, ?)",
                  (interview.id, time.time(), json.dumps(asdict(interview.options))))
        interview.on_change = self.save
        return interview

    def save(self, interview: Interview) -> None:
        """Write the turns not yet saved, the open prompt and the status (after every event)."""
        saved = self._run("SELECT COUNT(*) FROM turns WHERE session_id = ?", (interview.id,))[0][0]
        for position, turn in enumerate(interview.turns[saved:], start=saved):
            self._run(
                "INSERT OR REPLACE INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (interview.id, position, turn.question.id, turn.question.topic, turn.kind, turn.prompt,
                 turn.answer, json.dumps(turn.grade.to_dict()), turn.grade.score, int(turn.skipped),
                 int(turn.timed_out), turn.hints, turn.at, json.dumps(turn.delivery) if turn.delivery else None),
            )
        prompt = interview.prompt
        state = None if prompt is None else json.dumps(
            {"question_id": prompt.question.id, "kind": prompt.kind, "text": prompt.text, "hints": prompt.hints})
        status = "done" if interview.done else "open"
        self._run("UPDATE sessions SET prompt = ?, status = ?, overall = ?, level = ? WHERE id = ?",
                  (state, status, interview.overall, interview.level, interview.id))

    def load(self, session_id: str, store, grader, **extra) -> Interview:
        """Rebuild a session: its options, its turns and its open prompt."""
        from interviewer.errors import BadInput

        rows = self._run("SELECT options, prompt, level, status FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise BadInput(f"no session {session_id!r}; `interviewer sessions` lists them")
        options, prompt, level, status = rows[0]
        interview = Interview(store, grader, SessionOptions(**_options(json.loads(options))), id=session_id,
                              level=level or "", **extra)
        for qid, kind, text, answer, grade, skipped, timed_out, hints, at, delivery in self._run(
            "SELECT question_id, kind, prompt, answer, grade, skipped, timed_out, hints, at, delivery FROM turns "
            "WHERE session_id = ? ORDER BY position", (session_id,)
        ):
            interview.turns.append(Turn(store.get(qid), kind, text, answer, grade_from_dict(json.loads(grade)),
                                        bool(skipped), bool(timed_out), hints, at,
                                        json.loads(delivery) if delivery else None))
        if status == "done":
            interview.trace.append("report")
        elif prompt:
            p = json.loads(prompt)
            interview.prompt = Prompt(store.get(p["question_id"]), p["kind"], p["text"], p["hints"])
            interview.trace.append("listen")
        elif interview.turns:
            interview.trace.append("grade")  # stopped between a grade and the next line: `advance` goes on
        interview.on_change = self.save
        return interview

    def sessions(self) -> list[dict]:
        """Every session, newest first, with its progress."""
        rows = self._run(
            "SELECT s.id, s.started, s.options, s.status, s.overall, COUNT(DISTINCT t.question_id) "
            "FROM sessions s LEFT JOIN turns t ON t.session_id = s.id GROUP BY s.id ORDER BY s.started DESC")
        return [{"id": sid, "started": started, "status": status, "overall": overall, "answered": answered,
                 **{k: v for k, v in json.loads(options).items() if k in ("topics", "level", "questions")}}
                for sid, started, options, status, overall, answered in rows]

    def past(self) -> dict[str, Past]:
        """For each question asked before: its last score and the key points missed that time."""
        result: dict[str, Past] = {}
        for qid, grade in self._run("SELECT question_id, grade FROM turns WHERE kind = 'main' ORDER BY at"):
            data = json.loads(grade)
            missed = tuple(p["point"] for p in data["points"] if p["status"] == "missed")
            result[qid] = Past(data["score"], missed)
        return result

    def history(self) -> dict:
        """Scores over time per topic, the most often missed key points, and a suggested next session."""
        points = []
        for sid, started, topic, score in self._run(
            "SELECT s.id, s.started, t.topic, AVG(t.score) FROM sessions s JOIN turns t ON t.session_id = s.id "
            "WHERE t.kind = 'main' GROUP BY s.id, t.topic ORDER BY s.started"
        ):
            points.append({"session": sid, "started": started, "topic": topic, "score": round(score, 2)})
        missed: Counter[str] = Counter()
        for (grade,) in self._run("SELECT grade FROM turns WHERE kind = 'main'"):
            missed.update(p["point"] for p in json.loads(grade)["points"] if p["status"] == "missed")
        by_topic: dict[str, list[float]] = {}
        for p in points:
            by_topic.setdefault(p["topic"], []).append(p["score"])
        suggestion = None
        if by_topic:
            weakest = min(by_topic, key=lambda t: by_topic[t][-1])
            suggestion = {"topic": weakest, "last_score": by_topic[weakest][-1],
                          "command": f"make interview TOPIC={weakest}"}
        return {"scores": points, "weakest_points": [{"point": p, "missed": n} for p, n in missed.most_common(10)],
                "suggestion": suggestion}


def _options(data: dict) -> dict:
    data["topics"] = tuple(data["topics"])
    return data
