"""The log of the microphone's pieces of audio (ui/streams.py): Gradio's stream keeps only the latest piece, so
the middleware notes each one posted and the handler takes them all, in order."""

from __future__ import annotations

import json

import pytest

from interviewer.ui.streams import KEPT_PIECES, Pieces, StreamLog


def test_the_handler_takes_every_piece_up_to_its_own_in_the_order_they_were_posted():
    pieces = Pieces()
    for name in "abcde":
        pieces.note("tab-1", f"/up/{name}/audio.wav")
    pieces.note("tab-2", "/up/x/audio.wav")
    assert pieces.take("tab-1", "/up/c/audio.wav") == ["/up/a/audio.wav", "/up/b/audio.wav", "/up/c/audio.wav"]
    assert pieces.take("tab-1", "/up/e/audio.wav") == ["/up/d/audio.wav", "/up/e/audio.wav"]  # later ones waited
    assert pieces.take("tab-2", "/up/x/audio.wav") == ["/up/x/audio.wav"]  # another tab's are its own
    assert pieces.take("tab-1", "/up/f/audio.wav") == ["/up/f/audio.wav"]  # not noted: served without the log
    assert pieces.take(None, "/up/g/audio.wav") == ["/up/g/audio.wav"]


def test_pieces_nobody_takes_are_not_kept_without_end():
    pieces = Pieces()
    for n in range(KEPT_PIECES + 50):
        pieces.note("tab", f"/up/{n}/audio.wav")
    last = f"/up/{KEPT_PIECES + 49}/audio.wav"
    assert len(pieces.take("tab", last)) == KEPT_PIECES


@pytest.fixture
def served():
    """The middleware in front of an app that answers with what it was posted."""
    from starlette.testclient import TestClient

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    pieces = Pieces()
    return TestClient(StreamLog(app, pieces)), pieces


def test_each_piece_posted_to_a_stream_is_noted_and_passed_on_unchanged(served):
    client, pieces = served
    posts = [{"data": [{"path": f"/tmp/gradio/{n}/audio.wav", "meta": {"_type": "gradio.FileData"}}],
              "event_data": None, "fn_index": 40, "session_hash": "s1"} for n in range(3)]
    for post in posts:
        sent = json.dumps(post).encode()
        answered = client.post("/gradio_api/stream/event-7", content=sent)
        assert answered.content == sent  # the app read the whole body, as posted
    assert pieces.take("s1", "/tmp/gradio/2/audio.wav") == [f"/tmp/gradio/{n}/audio.wav" for n in range(3)]


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/gradio_api/stream/event-7/close", b'{"session_hash": "s1", "data": [{"path": "/a"}]}'),
    ("POST", "/gradio_api/queue/join", b'{"session_hash": "s1", "data": [{"path": "/a"}]}'),
    ("POST", "/gradio_api/stream/event-7", b"not json at all"),
    ("POST", "/gradio_api/stream/event-7", b'{"data": [{"path": "/a"}]}'),
    ("GET", "/gradio_api/stream/event-7", b""),
])
def test_other_requests_pass_through_without_a_note(served, method, path, body):
    client, pieces = served
    answered = client.request(method, path, content=body)
    assert answered.status_code == 200 and answered.content == body
    assert pieces.take("s1", "/a") == ["/a"] and pieces._by_session == {}
