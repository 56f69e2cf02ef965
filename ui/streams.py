"""Every piece of the hands-free microphone's audio, in order, even when the server falls behind.

Gradio's streaming input keeps one slot per stream: each piece the browser posts to `/stream/{event}` replaces
the one before, and the handler is called on whichever is there when it is free. While the server keeps up
(a piece every half second) nothing is lost; on a loaded machine, with the handler's calls slower than that,
the pieces in between were never heard: with both cores busy while the interviewer spoke, an answer begun over
the voice lost its first three seconds.

Each piece is uploaded as a file before it is posted, so the posts are what gets lost, not the audio.
`StreamLog` (ASGI middleware) notes each posted piece's file, its stream and when it arrived, for its browser
session; the handler takes every piece of its stream noted up to the one it was called with (`Pieces.take`), in
the order they were posted, and judges each by when it arrived (audio posted while the interviewer spoke is
not an answer, however late it is handled).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

log = logging.getLogger(__name__)
STREAM_POST = re.compile(r"^/gradio_api/stream/([^/]+)$")  # a piece posted to a stream (not its /close)
MAX_BODY = 64 * 1024  # a piece's post names a file: a larger body is passed on without a note
MAX_NAME = 4096  # characters of a session or a file path noted
KEPT_PIECES = 240  # per session: two minutes of half-second pieces not yet taken (a handler that stopped)
KEPT_SESSIONS = 256  # sessions whose pieces are kept, the least recently posted to forgotten first


@dataclass(frozen=True)
class Piece:
    """A piece of microphone audio posted to a stream: its uploaded file, the stream, and when it arrived."""

    file: str
    stream: str
    arrived: float  # time.time()


class Pieces:
    """The pieces posted per browser session, oldest first, until the handler takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: OrderedDict[str, deque[Piece]] = OrderedDict()

    def note(self, session: str, stream: str, file: str, arrived: float | None = None) -> None:
        piece = Piece(os.path.abspath(file), stream, time.time() if arrived is None else arrived)
        with self._lock:
            pieces = self._by_session.setdefault(session, deque(maxlen=KEPT_PIECES))
            self._by_session.move_to_end(session)
            pieces.append(piece)
            while len(self._by_session) > KEPT_SESSIONS:
                self._by_session.popitem(last=False)

    def take(self, session: str | None, upto: str) -> list[Piece]:
        """The pieces of `upto`'s stream posted in `session` up to and including `upto` (the file the handler
        was called with), in order; those posted after it stay for the next call, and those of an earlier
        stream (a microphone stopped while its last pieces waited) are dropped. Just `upto`, as arriving now,
        where it was not noted (the page is served without `StreamLog`)."""
        upto = os.path.abspath(upto)
        with self._lock:
            pieces = self._by_session.get(session or "")
            last = next((p for p in pieces if p.file == upto), None) if pieces else None
            if last is None:
                return [Piece(upto, "", time.time())]
            taken = []
            while pieces:
                piece = pieces.popleft()
                if piece.stream == last.stream:
                    taken.append(piece)
                if piece is last:
                    break
        if len(taken) > 1:
            log.info("the microphone stream fell behind: %d pieces heard at once, %d of them passed over by the "
                     "stream", len(taken), len(taken) - 1)
        return taken


PIECES = Pieces()


class StreamLog:
    """ASGI middleware: notes each piece of audio posted to a stream (`PIECES`) before passing the post on
    unchanged. Only a stream's own route is read, up to MAX_BODY; everything else passes straight through."""

    def __init__(self, app, pieces: Pieces = PIECES) -> None:
        self.app = app
        self.pieces = pieces

    async def __call__(self, scope, receive, send) -> None:
        posted = STREAM_POST.match(scope.get("path", "")) if scope["type"] == "http" and \
            scope.get("method") == "POST" else None
        if posted is None:
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        messages, chunks, size = [], [], 0
        while True:  # the body, kept to be replayed to the app
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body", False) or size > MAX_BODY:
                break
        if size <= MAX_BODY and messages[-1]["type"] == "http.request" and not messages[-1].get("more_body"):
            self._note(b"".join(chunks), posted.group(1), arrived)

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _note(self, body: bytes, stream: str, arrived: float) -> None:
        try:
            data = json.loads(body)
            session, audio = data["session_hash"], data["data"][0]
            file = audio["path"]
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            return  # not a piece of ours: Gradio answers it as it would have
        if isinstance(session, str) and isinstance(file, str) and len(session) <= MAX_NAME >= len(file):
            self.pieces.note(session, stream, file, arrived)
