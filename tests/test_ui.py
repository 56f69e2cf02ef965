"""The page, served for real on loopback and driven through gradio_client as a browser tab would."""

from __future__ import annotations

import socket

import pytest

from interviewer.session import SessionOptions

pytestmark = pytest.mark.real


def _text(message: dict) -> str:
    """A chat message's text (gradio 6 sends content as a list of typed parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(services):
    from interviewer.ui.app import build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=3))
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_typed_interview_through_the_page(app, question):
    from gradio_client import Client

    client = Client(app, verbose=False)
    chat, report = client.predict("rlhf", "fresher", 3, api_name="/start")
    assert "Question 1 of 3" in _text(chat[-1])
    for n in range(3):
        asked = _text(chat[-1])
        chat, report, box = client.predict("I am not sure, something about rewards.", api_name="/answer")
        assert chat[-3]["role"] == "user"
        assert "Score" in _text(chat[-2]) and "/10" in _text(chat[-2])
        assert box == ""
        if n < 2:
            assert f"Question {n + 2} of 3" in _text(chat[-1]) and _text(chat[-1]) != asked
    assert "Overall" in _text(chat[-1])
    assert report.startswith("# Interview report")


def test_tabs_do_not_share_a_session(app):
    from gradio_client import Client

    one, two = Client(app, verbose=False), Client(app, verbose=False)
    one.predict("rlhf", "mid", 3, api_name="/start")
    chat, _, _ = two.predict("an answer", api_name="/answer")  # this tab never pressed Start
    assert "Press **Start**" in _text(chat[-1])
