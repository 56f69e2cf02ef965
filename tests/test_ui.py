"""The page, served for real on loopback and driven through gradio_client as a browser tab would."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from interviewer.session import SessionOptions

pytestmark = pytest.mark.real


def _text(message: dict) -> str:
    """A chat message's text (gradio 6 sends content as a list of typed parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def _streamed_seconds(playlist: str) -> list[float]:
    """The lengths of the audio segments a streamed output sent, from its HLS playlist."""
    assert playlist.endswith(".m3u8")
    lines = Path(playlist).read_text().splitlines()
    return [float(line.split(":")[1].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(services):
    from interviewer.ui.app import app_kwargs, build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=3))
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_typed_interview_through_the_page(app):
    from gradio_client import Client

    client = Client(app, verbose=False)
    chat, report, files, box, countdown, audio, caption, timings = client.predict(["rlhf"], "fresher", 1, 90, False,
                                                                   api_name="/start")
    assert "Question 1 of 1" in _text(chat[-1]) and "1:29" in countdown or "1:30" in countdown
    chat, *_ = client.predict("", api_name="/hint")
    assert "Think about this" in _text(chat[-1])
    answered = 0
    while "overall score" not in _text(chat[-1]).lower() and answered < 8:
        job = client.submit("Humans rank the outputs, it is something about rewards.", api_name="/answer")
        chat, report, files, box, countdown, audio, caption, timings = job.result()
        answered += 1
        graded = next(_text(m) for m in reversed(chat) if "/10" in _text(m))
        first, *later = [output[3] for output in job.outputs()]  # the answer box: cleared once, then left alone
        assert "Score" in graded and first == "" and all(box == {"__type__": "update"} for box in later)
    assert 1 <= answered <= 2  # one question, with at most one follow-up
    assert "overall score" in _text(chat[-1]).lower()
    assert report.startswith("# Interview report") and "## Next steps" in report
    assert sorted(f.rsplit(".", 1)[-1] for f in files) == ["html", "json", "md"]
    page = Path(next(f for f in files if f.endswith(".html"))).read_text()
    assert page.startswith("<!DOCTYPE html>") and "Model answer:" in page and "Overall score" in page


def test_the_grade_is_shown_before_the_next_line(app):
    """The page sends the grade in its own update; the follow-up or next question comes in a later one."""
    from gradio_client import Client

    client = Client(app, verbose=False)
    client.predict(["rlhf"], "mid", 3, 120, False, api_name="/start")
    job = client.submit("Humans rank outputs and that is about it.", api_name="/answer")
    updates = [outputs[0] for outputs in job]
    assert len(updates) >= 2
    first, last = updates[0], job.result()[0]
    assert "/10" in _text(first[-1]) and len(last) > len(first)  # the grade alone, then what follows
    said = _text(last[-1])
    assert ("?" in said or "Question 2 of 3" in said) and "/10" not in said


def test_empty_answer_keeps_the_turn_open(app):
    from gradio_client import Client

    client = Client(app, verbose=False)
    client.predict(["rlhf"], "mid", 3, 120, False, api_name="/start")
    chat, report, files, box, countdown, audio, caption, timings = client.predict("   ", api_name="/answer")
    assert "didn't get an answer" in _text(chat[-1]) and "Question 1 of 3" in _text(chat[-2])


def test_tabs_do_not_share_a_session(app):
    from gradio_client import Client

    one, two = Client(app, verbose=False), Client(app, verbose=False)
    one.predict(["rlhf"], "mid", 3, 120, False, api_name="/start")
    chat, *_ = two.predict("an answer", api_name="/answer")  # this tab never pressed Start
    assert "Press **Start**" in _text(chat[-1])


def test_resume_in_a_new_tab(app, services):
    from gradio_client import Client

    first = Client(app, verbose=False)
    first.predict(["sampling"], "mid", 3, 120, False, api_name="/start")
    chat, *_ = first.predict("Temperature divides the logits before the softmax.", api_name="/answer")
    session = services.sessions.sessions()[0]
    assert session["topics"] == ["sampling"] and session["status"] == "open"
    from interviewer.ui.app import unfinished

    label = dict((value, label) for label, value in unfinished(services))[session["id"]]  # a page just opened
    assert label.startswith("sampling: 1 of 3 answered, started ")  # lists it to resume, by what it was
    chat, *_ = Client(app, verbose=False).predict(None, api_name="/resume")  # Resume pressed, nothing picked
    assert "pick an unfinished session in the list" in _text(chat[-1])
    chat, *_ = Client(app, verbose=False).predict(session["id"], api_name="/resume")
    assert "Temperature divides the logits" in "".join(_text(m) for m in chat)
    assert _text(chat[-1]) == _text(chat[-1]).strip() and "?" in _text(chat[-1])


def test_spoken_answer_is_transcribed_graded_and_answered_aloud(app, services, tmp_path):
    from gradio_client import Client, handle_file

    from interviewer.tts import chunks_to_wav

    client = Client(app, verbose=False)
    chat, report, files, box, countdown, audio, caption, timings = client.predict(["kv-cache"], "fresher", 3, 120, True,
                                                                api_name="/start")
    assert "Question 1 of 3" in caption  # the line being said, beside the player
    segments = _streamed_seconds(audio)  # the greeting and first question, spoken, a sentence at a time
    said = " ".join(_text(m) for m in chat)
    expected = sum(c.seconds for c in services.tts.synthesize(said))
    assert len(segments) >= 3 and abs(sum(segments) - expected) < 0.15 * expected
    question = services.store.get(next(q.id for q in services.bank.questions
                                       if q.question in _text(chat[-1])))
    recording = tmp_path / "answer.wav"
    recording.write_bytes(chunks_to_wav(services.tts.synthesize(question.answer)))
    chat, report, files, box, countdown, audio, caption, timings = client.predict(handle_file(str(recording)),
                                                                api_name="/voice_answer")
    heard = next(_text(m) for m in reversed(chat) if m["role"] == "user")
    assert "words/min" in heard and len(heard.split()) > 40
    graded = next(_text(m) for m in reversed(chat) if "/10" in _text(m))
    assert "Score" in graded and len(_streamed_seconds(audio)) >= 2  # the acknowledgement, then what is next
    assert "instant grade shown" in timings and "interviewer's first audio of the reply sent" in timings


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not audio at all" * 50, "not a sound file"),
])
def test_bad_recordings_get_a_clear_message_and_the_turn_stays_open(app, tmp_path, content, message):
    from gradio_client import Client, handle_file

    client = Client(app, verbose=False)
    client.predict(["rlhf"], "mid", 3, 120, False, api_name="/start")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    chat, *_ = client.predict(handle_file(str(bad)), api_name="/voice_answer")
    assert message in _text(chat[-1])
    assert ".wav" not in _text(chat[-1])  # the page hears a kept copy: its name means nothing to the candidate
    chat, *_ = client.predict("Now a typed answer instead.", api_name="/answer")
    assert any("/10" in _text(m) for m in chat)  # the same turn was still open


def test_binding_beyond_loopback_without_a_password_warns():
    from interviewer.ui.app import exposure_warning

    assert "INTERVIEWER_PASSWORD" in exposure_warning("0.0.0.0", "")
    assert exposure_warning("0.0.0.0", "s3cret") is None
    assert exposure_warning("127.0.0.1", "") is None and exposure_warning("localhost", "") is None


def test_a_password_keeps_strangers_out(services):
    from gradio_client import Client

    from interviewer.ui.app import app_kwargs, build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=3))
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs(), auth=("interviewer", "s3cret"))
    url = f"http://127.0.0.1:{port}/"
    try:
        with pytest.raises(Exception):  # noqa: B017 (gradio_client raises a bare ValueError here)
            Client(url, verbose=False)
        chat, *_ = Client(url, auth=("interviewer", "s3cret"), verbose=False).predict(
            ["rlhf"], "mid", 3, 120, False, api_name="/start")
        assert "Question 1 of 3" in _text(chat[-1])
    finally:
        demo.close()


def test_a_mix_of_topics(app, services):
    from gradio_client import Client

    client = Client(app, verbose=False)
    chat, *_ = client.predict(["rlhf", "dpo"], "mid", 3, 120, False, api_name="/start")
    titles = services.topic_titles()
    assert f"{titles['rlhf']} and {titles['dpo']}" in _text(chat[0])  # the topics' titles, not their ids
    mix = {q.question for q in services.bank.questions if q.topic in ("rlhf", "dpo")}
    assert any(q in _text(chat[-1]) for q in mix)


def test_history_is_a_table_in_local_time_with_a_list_of_missed_points(app, services):
    """After the typed interview above finished, the History tab lists it (date in this machine's local time,
    newest first) and the points missed most often as a list, not one run-on paragraph."""
    import datetime

    from gradio_client import Client

    history = services.sessions.history()
    assert history["scores"], "the typed interview earlier in this module saved a session"
    newest = max(history["scores"], key=lambda row: row["started"])
    plot, table, summary = Client(app, verbose=False).predict(api_name="/history")
    assert table["headers"] == ["date", "topic", "score", "session"]
    first = table["data"][0]
    assert first[0] == datetime.datetime.fromtimestamp(newest["started"]).strftime("%Y-%m-%d %H:%M")
    assert first[1] == newest["topic"] and abs(float(first[2]) - newest["score"]) < 0.06
    assert "**Missed most often**" in summary and "\n- " in summary
