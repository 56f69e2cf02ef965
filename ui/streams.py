"""Every piece of the hands-free microphone's audio, in order, even when the server falls behind.

Gradio's streaming input keeps one slot per stream: each piece the browser posts to `/stream/{event}` replaces
the one before, and the handler is called on whichever is there when it is free. While the server keeps up
(a piece every half second) nothing is lost; on a loaded machine, with the handler's calls slower than that,
the pieces in between were never heard: with both cores busy while the interviewer spoke, an answer begun over
the voice lost its first three seconds.

Each piece is uploaded as a file before it is posted, so the posts are what gets lost, not the audio.
`StreamLog` (ASGI middleware) notes each posted piece's file for its browser session as the post arrives; the
handler takes every piece noted up to the one it was called with (`Pieces.take`), in the order they were posted.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from pathlib import Path

log = logging.getLogger(__name__)
KEPT_PIECES = 240  # per session: two minutes of half-second pieces not yet taken (a handler that stopped)
KEPT_SESSIONS = 256  # sessions whose pieces are kept, the least recently posted to forgotten first


class Pieces:
    """The files of the pieces posted per browser session, oldest first, until the handler takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: OrderedDict[str, deque[str]] = OrderedDict()

    def note(self, session: str, path: str) -> None:
        with self._lock:
            pieces = self._by_session.setdefault(session, deque(maxlen=KEPT_PIECES))
            self._by_session.move_to_end(session)
            pieces.append(path)
            while len(self._by_session) > KEPT_SESSIONS:
                self._by_session.popitem(last=False)

    def take(self, session: str | None, upto: str) -> list[str]:
        """The pieces posted in `session` up to and including `upto` (the one the handler was called with), in
        order; those posted after it stay for the next call. Just `upto` where it was not noted (the page is
        served without `StreamLog`)."""
        with self._lock:
            pieces = self._by_session.get(session or "")
            if not pieces or upto not in pieces:
                return [upto]
            taken = []
            while pieces:
                taken.append(pieces.popleft())
                if taken[-1] == upto:
                    break
        if len(taken) > 1:
            log.info("the microphone stream fell behind: %d pieces heard at once, %d of them passed over by the "
                     "stream", len(taken), len(taken) - 1)
        return taken


PIECES = Pieces()


class StreamLog:
    """ASGI middleware: notes the file of each piece of audio posted to a stream (`PIECES`) and passes the post
    on unchanged."""

    def __init__(self, app, pieces: Pieces = PIECES) -> None:
        self.app = app
        self.pieces = pieces

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or "/stream/" not in path or \
                path.endswith("/close"):
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:  # the whole body, kept to be replayed to the app
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self._note(body)

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _note(self, body: bytes) -> None:
        try:
            posted = json.loads(body)
            session = posted["session_hash"]
            files = [d["path"] for d in posted.get("data", []) if isinstance(d, dict) and d.get("path")]
        except (ValueError, KeyError, TypeError):
            return  # not a post of ours: Gradio answers it as it would have
        for file in files:
            self.pieces.note(str(session), str(Path(file)))
