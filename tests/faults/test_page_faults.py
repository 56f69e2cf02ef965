"""The page under attack or misuse, served for real on loopback by `launch`: the password on every route that
returns files or session data, uploads refused or deleted, the cache bounded, exposure refused, hostile text
shown as text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from faultkit import sharing
from servers import free_port

from interviewer.errors import BadInput
from interviewer.session import SessionOptions

pytestmark = pytest.mark.real
USER, PASSWORD = "interviewer", "s3cret-for-tests"
DEFAULTS = SessionOptions(topics=("rlhf",), questions=2)
HOSTILE = ('<script>alert("owned")</script><img src=x onerror="alert(1)"> [click](javascript:alert(2)) '
           '![pixel](http://203.0.113.9/p.png) A reward model scores answers.')


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


@pytest.fixture(scope="module")
def page(services):
    """The page as `interviewer serve` starts it, with a password and a 1 MB upload limit."""
    from interviewer.ui.app import launch

    port = free_port()
    demo = launch(sharing(services, port=port, password=PASSWORD, username=USER, max_upload_mb=1), DEFAULTS,
                  block=False)
    yield f"http://127.0.0.1:{port}", demo
    demo.close()


@pytest.fixture
def signed_in(page):
    url, _ = page
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        yield client


def _cache() -> Path:
    return Path(os.environ["GRADIO_TEMP_DIR"])


def _wav(services, path: Path, text: str) -> Path:
    from interviewer.tts import chunks_to_wav

    path.write_bytes(chunks_to_wav(services.tts.synthesize(text)))
    return path


def test_every_route_with_files_or_session_data_needs_the_password(page, signed_in, tmp_path):
    url, _ = page
    note = tmp_path / "uploaded-note.txt"
    note.write_text("a file a candidate uploaded")
    [stored] = signed_in.post("/gradio_api/upload", files={"files": note.open("rb")}).json()
    assert signed_in.get(f"/gradio_api/file={stored}").text == "a file a candidate uploaded"
    report = _a_report(url)
    assert "Interview report" in signed_in.get(f"/gradio_api/file={report}").text
    stream = "/gradio_api/stream/someone/run/1/playlist.m3u8"
    assert signed_in.get(stream).status_code == 404  # let through the guard; no such stream
    with httpx.Client(base_url=url, timeout=60) as stranger:
        asks = {
            "file": ("GET", f"/gradio_api/file={stored}", {}),
            "old file route": ("GET", f"/gradio_api/file/{stored}", {}),
            "upload": ("POST", "/gradio_api/upload", {"files": {"files": note.open("rb")}}),
            "config": ("GET", "/config", {}),
            "info": ("GET", "/gradio_api/info", {}),
            "call": ("POST", "/gradio_api/call/history", {"json": {"data": []}}),
            "resume a session": ("POST", "/gradio_api/call/resume", {"json": {"data": ["0123abcd"]}}),
            "a call's result": ("GET", "/gradio_api/call/history/some-event-id", {}),
            "a report": ("GET", f"/gradio_api/file={report}", {}),
            "queue data": ("GET", "/gradio_api/queue/data?session_hash=x", {}),
            "queue": ("POST", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": 0, "session_hash": "x"}}),
            "stream playlist": ("GET", stream, {}),
            "stream segment": ("GET", "/gradio_api/stream/someone/run/1/seg.aac", {}),
            "stream file": ("GET", "/gradio_api/stream/someone/run/1/playlist-file", {}),
            "heartbeat": ("GET", "/gradio_api/heartbeat/someone", {}),
        }
        answered = {name: _status(stranger, *ask) for name, ask in asks.items()}
    assert {name: code for name, (code, _) in answered.items()} == {name: 401 for name in asks}
    assert all(b"a file a candidate uploaded" not in body for _, body in answered.values())


def _a_report(url: str) -> Path:
    """The report of an interview ended at once, as the page serves it for download (from Gradio's cache)."""
    from gradio_client import Client

    client = Client(url + "/", auth=(USER, PASSWORD), verbose=False)
    client.predict(["rlhf"], "mid", 2, 120, False, api_name="/start")
    client.predict("", api_name="/end")
    return max(_cache().rglob("interview-*.md"), key=lambda f: f.stat().st_mtime)


def _status(client: httpx.Client, method: str, path: str, extra: dict) -> tuple[int, bytes]:
    """A request's status and the start of its body; an open event stream (a 200) is not read to its end."""
    with client.stream(method, path, **extra) as response:
        return response.status_code, b"" if response.status_code == 200 else response.read()[:2000]


def test_a_signed_in_candidate_hears_the_interviewer_through_the_guard(page, services):
    from gradio_client import Client

    url, _ = page
    client = Client(url + "/", auth=(USER, PASSWORD), verbose=False)
    chat, report, files, box, countdown, audio, caption, timings = client.predict(
        ["rlhf"], "mid", 2, 120, True, api_name="/start")
    assert "Question 1 of 2" in _text(chat[-1])
    assert "#EXTINF" in Path(audio).read_text()  # the streamed speech came through, signed in


def test_an_oversize_upload_is_refused_before_it_is_stored(signed_in, tmp_path):
    big = tmp_path / "too-big-recording.wav"
    with big.open("wb") as out:
        out.truncate(3 << 20)  # 3 MB against the page's 1 MB limit
    before = set(_cache().rglob("*"))
    refused = signed_in.post("/gradio_api/upload", files={"files": big.open("rb")})
    assert refused.status_code == 413 and "maximum allowed size" in refused.text
    assert not [p for p in set(_cache().rglob("*")) - before if p.is_file() and p.stat().st_size > 1 << 20]


def test_an_uploaded_recording_is_deleted_once_heard(page, services, tmp_path):
    from gradio_client import Client, handle_file

    url, _ = page
    client = Client(url + "/", auth=(USER, PASSWORD), verbose=False)
    client.predict(["rlhf"], "mid", 2, 120, False, api_name="/start")
    recording = _wav(services, tmp_path / "spoken-answer-to-delete.wav",
                     "A reward model is trained on human preference comparisons.")
    chat, *_ = client.predict(handle_file(str(recording)), api_name="/voice_answer")
    assert any("/10" in _text(m) for m in chat)  # heard and graded
    assert not list(_cache().rglob("spoken-answer-to-delete*"))  # and not kept
    empty = tmp_path / "empty-recording-to-delete.wav"
    empty.write_bytes(b"")
    chat, *_ = client.predict(handle_file(str(empty)), api_name="/voice_answer")
    assert "empty" in _text(chat[-1]) and not list(_cache().rglob("empty-recording-to-delete*"))


def test_the_cache_is_swept(page):
    from interviewer.ui.app import CACHE_SWEEP

    _, demo = page
    every, age = demo.delete_cache
    assert (every, age) == CACHE_SWEEP and 0 < every <= 3600 and 0 < age <= 86400


def test_serving_beyond_loopback_without_a_password_is_refused(services):
    from interviewer.ui.app import launch

    with pytest.raises(BadInput, match="--insecure"):
        launch(sharing(services, host="0.0.0.0", password=""), DEFAULTS, block=False)
    from interviewer.ui.guard import check_exposure

    assert check_exposure(sharing(services, host="0.0.0.0", password="", insecure=True).settings)
    assert check_exposure(sharing(services, host="0.0.0.0", password="x").settings) is None
    assert check_exposure(sharing(services, host="127.0.0.1", password="").settings) is None


def test_serve_on_all_interfaces_without_a_password_stops_with_the_choices(cli):
    done = cli("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "INTERVIEWER_PASSWORD" in done.stderr and "--insecure" in done.stderr


def test_hostile_text_is_shown_as_text_in_the_chat_report_and_exports(services):
    from gradio_client import Client

    from interviewer.ui.app import launch

    port = free_port()
    demo = launch(sharing(services, port=port), SessionOptions(topics=("rlhf",), questions=1), block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(["rlhf"], "mid", 1, 120, False, api_name="/start")
        chat, report, files, *_ = client.predict(HOSTILE, api_name="/answer")
        while files is None:  # a follow-up was asked: end, for the report
            chat, report, files, *_ = client.predict("", api_name="/end")
    finally:
        demo.close()
    shown = [_text(m) for m in chat] + [report]
    assert any("&lt;script>" in text for text in shown)
    for text in shown:
        assert "<script" not in text and "<img" not in text and "](javascript" not in text and "](http" not in text
    md, js, page = (next(f for f in files if f.endswith(suffix)) for suffix in (".md", ".json", ".html"))
    assert "<script" not in Path(md).read_text() and "&lt;script>" in Path(md).read_text()
    assert "<script" not in Path(page).read_text() and "&lt;script&gt;" in Path(page).read_text()
    assert json.loads(Path(js).read_text())["questions"][0]["answer"] == HOSTILE  # the data, exactly
