"""Sessions, turns and grades in SQLite under the data directory, written as each turn ends.

A crash or a closed tab loses at most the answer in progress: `load` rebuilds an unfinished interview
from its options and turns, and the planner's choices are a pure function of them, so it continues
exactly where it stopped.

A damaged database file (garbled, truncated) is moved aside, kept as `sessions.sqlite.corrupt-<time>`, and a
fresh one is started, with a warning that says where the old one is. A database locked by another process is
waited for, for `wait_s` seconds, then reported as busy; it is never moved.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from interviewer.errors import StorageUnavailable
from interviewer.knowledge.schema import Question
from interviewer.planner import Past
from interviewer.session import Exchange, Interview, Prompt, SessionOptions, Turn
from interviewer.types import Grade, PointResult

log = logging.getLogger(__name__)
DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # what a garbled or truncated file reports
BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")  # another process holds the lock

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
CREATE TABLE IF NOT EXISTS exchanges (
    session_id TEXT NOT NULL REFERENCES sessions(id), position INTEGER NOT NULL, kind TEXT NOT NULL,
    question_id TEXT NOT NULL, said TEXT NOT NULL, reply TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (session_id, position)
);
"""
# Columns added after the first release; a database from before gets them when it is opened.
ADDED = {"sessions": {"pending": "TEXT"},
         "turns": {"provisional": "TEXT", "verification": "TEXT NOT NULL DEFAULT 'verified'", "decided_on": "TEXT",
                   "question_score": "INTEGER"}}
# a main question whose time ran out on nothing said was walked away from, not answered: a new user's abandoned
# session was suggested for practice at 0.0/10, its every point counted as missed, and listed as answered
WALKED_AWAY = "(t.kind = 'main' AND t.timed_out AND t.answer = '')"
TURN_COLUMNS = ("session_id, position, question_id, topic, kind, prompt, answer, grade, score, skipped, timed_out, "
                "hints, at, delivery, provisional, verification, decided_on, question_score")


def grade_from_dict(data: dict) -> Grade:
    """Rebuild a Grade from `Grade.to_dict()`."""
    points = tuple(PointResult(p["point"], p["status"], p.get("evidence", ""), p.get("strength", 0.0),
                               p.get("span", "")) for p in data["points"])
    return Grade(data["score"], data["letter"], points, data["verdict"], data["tip"], data["confidence"],
                 data.get("confidence_reason", ""), tuple(data.get("notes", ())), data.get("coverage", 0.0),
                 data.get("verified", False), tuple(data.get("changes", ())), data.get("cap", 10))


class SessionStore:
    """One SQLite file; safe to share between the threads of one app process."""

    def __init__(self, path: Path, *, wait_s: float = 5.0) -> None:
        self.path = path
        self.moved_aside: Path | None = None  # where a damaged file found at start was put
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = _connect(path, wait_s)
        except sqlite3.DatabaseError as error:
            if getattr(error, "sqlite_errorname", "") not in DAMAGED:
                raise _unavailable(path, error) from error
            self.moved_aside = _move_aside(path)
            log.warning("The sessions database %s was damaged (%s). It was moved aside to %s, where it is kept, "
                        "and a fresh one was started.", path, error, self.moved_aside)
            self._db = _connect(path, wait_s)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file (the last connection to close folds the write-ahead log back into it)."""
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as error:
                raise _unavailable(self.path, error) from error

    def attach(self, interview: Interview) -> Interview:
        """Give a new interview an id and a row; every later turn is saved as it ends."""
        interview.id = interview.id or uuid.uuid4().hex[:8]
        self._run("INSERT OR IGNORE INTO sessions (id, started, options) VALUES (?, ?, ?)",
                  (interview.id, time.time(), json.dumps(asdict(interview.options))))
        interview.on_change = self.save
        return interview

    def save(self, interview: Interview) -> None:
        """Write the turns (a turn's grade changes once it is verified), the exchanges not yet saved, the open
        prompt, an answer not yet graded, and the status (after every event)."""
        scores = {q.id: score for q, score in interview.question_scores()}
        marks = ", ".join("?" * len(TURN_COLUMNS.split(", ")))
        for position, turn in enumerate(interview.turns):
            self._run(
                f"INSERT OR REPLACE INTO turns ({TURN_COLUMNS}) VALUES ({marks})",
                (interview.id, position, turn.question.id, turn.question.topic, turn.kind, turn.prompt,
                 turn.answer, json.dumps(turn.grade.to_dict()), turn.grade.score, int(turn.skipped),
                 int(turn.timed_out), turn.hints, turn.at, json.dumps(turn.delivery) if turn.delivery else None,
                 json.dumps(turn.provisional.to_dict()) if turn.provisional else None, turn.verification,
                 turn.decided_on, scores.get(turn.question.id) if turn.kind == "main" else None),
            )
        saved = self._run("SELECT COUNT(*) FROM exchanges WHERE session_id = ?", (interview.id,))[0][0]
        for position, e in enumerate(interview.exchanges[saved:], start=saved):
            self._run("INSERT OR REPLACE INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (interview.id, position, e.kind, e.question_id, e.said, e.reply, e.at))
        prompt = interview.prompt
        state = None if prompt is None else json.dumps(
            {"question_id": prompt.question.id, "kind": prompt.kind, "text": prompt.text, "hints": prompt.hints,
             "passes": prompt.passes})
        status = "done" if interview.done else "open"
        pending = json.dumps(interview.pending) if interview.pending else None
        self._run("UPDATE sessions SET prompt = ?, status = ?, overall = ?, level = ?, pending = ? WHERE id = ?",
                  (state, status, interview.overall, interview.level, pending, interview.id))

    def load(self, session_id: str, questions: dict[str, Question], grader, **extra) -> Interview:
        """Rebuild a session: its options, turns, exchanges, open prompt and any answer not yet graded.
        `questions` holds every stored question by id."""
        from interviewer.errors import BadInput

        rows = self._run("SELECT options, prompt, level, status, pending FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise BadInput(f"no session {session_id!r}; `interviewer sessions` lists them")
        options, prompt, level, status, pending = rows[0]
        options = SessionOptions(**_options(json.loads(options)))

        def question(qid: str) -> Question:
            if qid not in questions:
                raise BadInput(f"session {session_id} asked question {qid!r}, which is no longer in any bank; "
                               "add its bank back to resume it")
            return questions[qid]

        pool = [q for q in questions.values() if q.topic in options.topics]
        interview = Interview(pool, grader, options, id=session_id, level=level or "", **extra)
        for (qid, kind, text, answer, grade, skipped, timed_out, hints, at, delivery, provisional, verification,
             decided_on) in self._run(
            "SELECT question_id, kind, prompt, answer, grade, skipped, timed_out, hints, at, delivery, provisional, "
            "verification, decided_on FROM turns WHERE session_id = ? ORDER BY position", (session_id,)
        ):
            interview.turns.append(Turn(
                question(qid), kind, text, answer, grade_from_dict(json.loads(grade)), bool(skipped), bool(timed_out),
                hints, at, json.loads(delivery) if delivery else None,
                grade_from_dict(json.loads(provisional)) if provisional else None, verification, decided_on or ""))
        interview.exchanges = [Exchange(*row) for row in self._run(
            "SELECT kind, question_id, said, reply, at FROM exchanges WHERE session_id = ? ORDER BY position",
            (session_id,))]
        if status == "done":
            interview.trace.append("report")
        elif prompt:
            p = json.loads(prompt)
            interview.prompt = Prompt(question(p["question_id"]), p["kind"], p["text"], p["hints"], p.get("passes", 0))
            interview.trace.append("listen")
            interview.pending = json.loads(pending) if pending else None
        elif interview.turns:
            interview.trace.append("grade")  # stopped between a grade and the next line: `advance` goes on
        interview.on_change = self.save
        return interview

    def sessions(self) -> list[dict]:
        """Every session, newest first, with its progress."""
        # a question skipped, or whose time ran out on nothing said, is not answered (a new user's "2/3 answered"
        # was one answered and one skipped)
        rows = self._run(
            "SELECT s.id, s.started, s.options, s.status, s.overall, "
            f"COUNT(DISTINCT CASE WHEN t.kind = 'main' AND NOT t.skipped AND NOT {WALKED_AWAY} "
            "THEN t.question_id END), "
            "COUNT(DISTINCT CASE WHEN t.kind = 'main' AND t.skipped THEN t.question_id END) "
            "FROM sessions s LEFT JOIN turns t ON t.session_id = s.id GROUP BY s.id ORDER BY s.started DESC")
        return [{"id": sid, "started": started, "status": status, "overall": overall, "answered": answered,
                 "skipped": skipped,
                 **{k: v for k, v in json.loads(options).items() if k in ("topics", "level", "questions")}}
                for sid, started, options, status, overall, answered, skipped in rows]

    def past(self) -> dict[str, Past]:
        """For each question asked before: its last score and the key points missed that time."""
        result: dict[str, Past] = {}
        for (qid,) in self._run("SELECT question_id FROM exchanges WHERE kind = 'ask' ORDER BY at"):
            result[qid] = Past(None)  # asked, perhaps never answered
        for qid, grade in self._run("SELECT question_id, grade FROM turns WHERE kind = 'main' ORDER BY at"):
            data = json.loads(grade)
            missed = tuple(p["point"] for p in data["points"] if p["status"] in ("missed", "contradicted"))
            result[qid] = Past(data["score"], missed)
        return result

    def history(self) -> dict:
        """Scores over time per topic, the most often missed key points, and a suggested next session."""
        points = []
        answered = f"NOT {WALKED_AWAY}"
        for sid, started, topic, score in self._run(
            "SELECT s.id, s.started, t.topic, AVG(COALESCE(t.question_score, t.score)) FROM sessions s "
            f"JOIN turns t ON t.session_id = s.id WHERE t.kind = 'main' AND {answered} GROUP BY s.id, t.topic "
            "ORDER BY s.started"
        ):  # the question scores, as the report and the overall score count them
            points.append({"session": sid, "started": started, "topic": topic, "score": round(score, 1)})
        missed: Counter[str] = Counter()
        for (grade,) in self._run(  # each question's last grade: a point its follow-up recovered was made
                f"SELECT t.grade FROM turns t WHERE {answered} AND t.position = (SELECT MAX(u.position) FROM turns u "
                "WHERE u.session_id = t.session_id AND u.question_id = t.question_id)"):
            missed.update(p["point"] for p in json.loads(grade)["points"] if p["status"] == "missed")
        chosen = {t for (options,) in self._run("SELECT options FROM sessions") for t in json.loads(options)["topics"]}
        by_topic: dict[str, list[float]] = {}
        for p in points:  # a probe may have asked about another topic: only the ones the candidate chose are suggested
            if p["topic"] in chosen:
                by_topic.setdefault(p["topic"], []).append(p["score"])
        suggestion = None
        if by_topic:
            weakest = min(by_topic, key=lambda t: by_topic[t][-1])
            suggestion = {"topic": weakest, "last_score": by_topic[weakest][-1],
                          "command": f"make interview TOPIC={weakest}"}
        return {"scores": points, "weakest_points": [{"point": p, "missed": n} for p, n in missed.most_common(10)],
                "suggestion": suggestion}


def _connect(path: Path, wait_s: float) -> sqlite3.Connection:
    """Open the database, waiting up to `wait_s` for a lock, and check that its pages read back intact."""
    db = sqlite3.connect(path, timeout=wait_s, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            error = sqlite3.DatabaseError(f"integrity check failed: {'; '.join(problems[:3])}")
            error.sqlite_errorname = "SQLITE_CORRUPT"
            raise error
        db.executescript(SCHEMA)
        for table, columns in ADDED.items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    except BaseException:
        db.close()
        raise
    return db


def _move_aside(path: Path) -> Path:
    """Rename a damaged database (and its journal files) to `<name>.corrupt-<time>`; return the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def _unavailable(path: Path, error: sqlite3.DatabaseError) -> StorageUnavailable:
    """A database error the app cannot repair by itself, as a message that says what to do."""
    name = getattr(error, "sqlite_errorname", "")
    if name in BUSY:
        return StorageUnavailable(
            f"The sessions database {path} is locked by another process (is another `interviewer` running?). "
            "Close it and try again, or set INTERVIEWER_DATA_DIR to use another folder.")
    if name in DAMAGED:
        return StorageUnavailable(
            f"The sessions database {path} is damaged ({error}). Restart the app: it moves the damaged file "
            "aside, keeps it, and starts a fresh one.")
    return StorageUnavailable(
        f"The sessions database {path} cannot be used ({error}). Check that the disk has space and the folder "
        "is writable, or set INTERVIEWER_DATA_DIR to another folder.")


def _options(data: dict) -> dict:
    data["topics"] = tuple(data["topics"])
    return data
