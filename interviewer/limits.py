"""Bounds on what comes in from outside: the length of a typed answer and the size of an upload.

A bound keeps one careless paste or one hostile request from filling the database, the chat or the disk,
or from making a grade take minutes. The settings (`max_answer_chars`, `max_upload_mb`) default to these.
"""

from __future__ import annotations

MAX_ANSWER_CHARS = 8_000  # about 1,300 words: far more than a spoken answer of two minutes (~2,000 chars)
MAX_UPLOAD_MB = 50  # a recording larger than this is refused before it is stored


def cap_answer(text: str, limit: int = MAX_ANSWER_CHARS) -> tuple[str, str]:
    """The answer kept up to `limit` characters, and a message saying it was cut ('' when it was not)."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], (f"Your answer has {len(text):,} characters; only the first {limit:,} are kept (the "
                          f"limit is {limit:,}).")
