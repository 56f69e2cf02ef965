"""The log of the microphone's pieces of audio (ui/streams.py): Gradio's stream keeps only the latest piece, so
the middleware notes each one posted and the handler takes them all, in order."""

from __future__ import annotations

import json
import os

import pytest

from interviewer.ui.streams import KEPT_PIECES, MAX_BODY, Pieces, StreamLog


def _files(taken) -> list[str]:
    return [p.file for p in taken]


def test_the_handler_takes_every_piece_up_to_its_own_in_the_order_they_were_posted():
    pieces = Pieces()
    for n, name in enumerate("abcde"):
        pieces.note("tab-1", "stream-1", f"/up/{name}/audio.wav", arrived=100.0 + n)
    pieces.note("tab-2", "stream-9", "/up/x/audio.wav")
    taken = pieces.take("tab-1", "/up/c/audio.wav")
    assert _files(taken) == ["/up/a/audio.wav", "/up/b/audio.wav", "/up/c/audio.wav"]
    assert [p.arrived for p in taken] == [100.0, 101.0, 102.0]  # each as it arrived, not as it is taken
    assert _files(pieces.take("tab-1", "/up/e/audio.wav")) == ["/up/d/audio.wav", "/up/e/audio.wav"]  # they waited
    assert _files(pieces.take("tab-2", "/up/x/audio.wav")) == ["/up/x/audio.wav"]  # another tab's are its own
    assert _files(pieces.take("tab-1", "/up/f/audio.wav")) == ["/up/f/audio.wav"]  # not noted: no log in front
    assert _files(pieces.take(None, "/up/g/audio.wav")) == ["/up/g/audio.wav"]


def test_pieces_of_an_earlier_stream_left_over_are_not_heard_with_the_next_one():
    pieces = Pieces()
    pieces.note("tab", "first", "/up/a/audio.wav")  # the microphone stopped before this one was heard
    pieces.note("tab", "second", "/up/b/audio.wav")
    pieces.note("tab", "second", "/up/c/audio.wav")
    assert _files(pieces.take("tab", "/up/c/audio.wav")) == ["/up/b/audio.wav", "/up/c/audio.wav"]


def test_a_relative_path_is_matched_as_the_absolute_one_the_handler_gets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pieces = Pieces()
    pieces.note("tab", "s", "up/a/audio.wav")
    pieces.note("tab", "s", "up/b/audio.wav")
    assert _files(pieces.take("tab", str(tmp_path / "up/b/audio.wav"))) == [
        str(tmp_path / "up/a/audio.wav"), str(tmp_path / "up/b/audio.wav")]


def test_pieces_nobody_takes_are_not_kept_without_end():
    pieces = Pieces()
    for n in range(KEPT_PIECES + 50):
        pieces.note("tab", "s", f"/up/{n}/audio.wav")
    assert len(pieces.take("tab", f"/up/{KEPT_PIECES + 49}/audio.wav")) == KEPT_PIECES


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


def _post(n: int, session: str = "s1") -> dict:
    return {"data": [{"path": f"/tmp/gradio/{n}/audio.wav", "meta": {"_type": "gradio.FileData"}}, None],
            "event_data": None, "fn_index": 40, "session_hash": session}


def test_each_piece_posted_to_a_stream_is_noted_and_passed_on_unchanged(served):
    client, pieces = served
    for n in range(3):
        sent = json.dumps(_post(n)).encode()
        answered = client.post("/gradio_api/stream/event-7", content=sent)
        assert answered.content == sent  # the app read the whole body, as posted

    def in_parts():  # a body that arrives in several messages
        yield json.dumps(_post(3))[:20].encode()
        yield json.dumps(_post(3))[20:].encode()

    sent = json.dumps(_post(3)).encode()
    assert client.post("/gradio_api/stream/event-7", content=in_parts()).content == sent
    taken = pieces.take("s1", "/tmp/gradio/3/audio.wav")
    assert _files(taken) == [f"/tmp/gradio/{n}/audio.wav" for n in range(4)]
    assert {p.stream for p in taken} == {"event-7"}


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/gradio_api/stream/event-7/close", json.dumps(_post(0)).encode()),
    ("POST", "/anything/stream/event-7", json.dumps(_post(0)).encode()),  # not the guarded route
    ("POST", "/gradio_api/queue/join", json.dumps(_post(0)).encode()),
    ("POST", "/gradio_api/stream/event-7", b"not json at all"),
    ("POST", "/gradio_api/stream/event-7", b"[" * 60000),  # nested too deep for the parser
    ("POST", "/gradio_api/stream/event-7", b'{"data": [{"path": "/tmp/gradio/0/audio.wav"}]}'),
    ("POST", "/gradio_api/stream/event-7", json.dumps({**_post(0), "pad": "x" * MAX_BODY}).encode()),  # too big
    ("GET", "/gradio_api/stream/event-7", b""),
])
def test_other_requests_pass_through_unchanged_without_a_note(served, method, path, body):
    client, pieces = served
    answered = client.request(method, path, content=body)
    assert answered.status_code == 200 and answered.content == body
    assert _files(pieces.take("s1", "/tmp/gradio/0/audio.wav")) == ["/tmp/gradio/0/audio.wav"]
    assert pieces.take("s1", "/tmp/gradio/0/audio.wav")[0].stream == ""  # the fallback: nothing was noted


def test_a_piece_outside_gradios_uploads_is_not_read_and_a_broken_one_is_left_out(tmp_path, monkeypatch):
    import wave

    from interviewer.ui.app import _pieces
    from interviewer.ui.streams import Piece

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    good = tmp_path / "uploads" / "abc" / "audio.wav"
    broken = tmp_path / "uploads" / "def" / "audio.wav"
    outside = tmp_path / "elsewhere" / "abc" / "audio.wav"
    for path in (good, broken, outside):
        path.parent.mkdir(parents=True)
    for path in (good, outside):
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
            out.writeframes(b"\x01\x00" * 8000)
    broken.write_bytes(b"RIFF nothing")
    read = list(_pieces([Piece(str(p), "s", 1.0) for p in (outside, good, broken, tmp_path / "uploads")]))
    assert len(read) == 1 and read[0][1] == 1.0
    (rate, samples), _ = read[0]
    assert rate == 16000 and len(samples) == 8000
    assert os.path.exists(outside)  # left alone
