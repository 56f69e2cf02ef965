"""kill -9 of the page's server (`interviewer serve`, a real process on loopback) at each stage of a turn, then
the session resumed in a new tab of a fresh server: every answer given before the kill is in the session.

A fault point at each stage (tests/faults/stall.py, installed by the test, not the product) holds the
turn there, so the kill lands in that stage every time; the server that resumes one session is the next
stage's victim, so the five kills cost six starts."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from faultkit import reached
from servers import free_port, running, seed

from interviewer.storage import SessionStore

pytestmark = pytest.mark.real
HERE = Path(__file__).parent
FIRST = "A reward model is trained on human preference comparisons between answers."
SECOND = "PPO then optimises the policy against the reward model, with a KL penalty."
STAGES = ("grading", "synthesising", "transcribing", "phrasing", "verifying")
NEEDS_LLM = ("phrasing", "verifying")  # the other stages' servers run without it: quicker, and not under test


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


class Fleet:
    """One server at a time on one data directory; `respawn` starts the next after a kill."""

    def __init__(self, folder: Path, store: Path) -> None:
        self.folder = folder
        self.arm, self.reached = folder / "arm", folder / "reached"
        os.mkfifo(self.reached)
        self.data = seed(folder / "data", store)  # the bank already embedded
        self.env = {"INTERVIEWER_DATA_DIR": str(self.data), "INTERVIEWER_PROFILE": "test",
                    "INTERVIEWER_SPEECH_VARIATION": "0", "INTERVIEWER_VERIFY_SECONDS": "300",
                    "INTERVIEWER_REPLY_SECONDS": "300",  # so that under load the LLM still verifies and phrases
                    "BROWSER": "true", "GRADIO_TEMP_DIR": str(folder / "gr")}
        self.server, self._context, self.url = None, None, ""

    def respawn(self, *, llm: bool) -> None:
        self.arm.write_text("")
        port = free_port()
        command = [sys.executable, str(HERE / "stall.py"), str(self.arm), str(self.reached), "serve",
                   "--port", str(port), "--topic", "rlhf", "--questions", "3"]
        self._context = running(command, "Running on local URL", env={**self.env, "INTERVIEWER_USE_LLM": str(llm)})
        self.server, self.url = self._context.__enter__(), f"http://127.0.0.1:{port}/"

    def stall_at(self, stage: str, start) -> None:
        """Arm the stage, run `start` (which sends the request that reaches it), wait until the server is in
        that stage, and kill it there."""
        held = reached(self.arm, self.reached, stage, start, timeout=240)
        self.server.kill()  # kill -9
        self.server.wait(timeout=30)
        self._context.__exit__(None, None, None)
        if not held:  # leave the next case a fresh server
            self.respawn(llm=True)
            raise AssertionError(f"the server never reached {stage}")

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, seeded_store):
    fleet = Fleet(tmp_path_factory.mktemp("kill9"), seeded_store)
    fleet.respawn(llm=STAGES[0] in NEEDS_LLM)
    yield fleet
    fleet.close()


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_at_each_stage_of_a_turn_then_resume_in_a_new_tab(fleet, stage, services, tmp_path, ledger):
    from gradio_client import Client, handle_file

    from interviewer.tts import chunks_to_wav

    tab = Client(fleet.url, verbose=False)
    tab.predict(["rlhf"], "fresher", 3, 120, stage == "synthesising", api_name="/start")
    given = [FIRST] if stage in NEEDS_LLM else [FIRST, SECOND]  # the LLM's stages die on the first answer:
    if len(given) == 2:  # a whole LLM turn before it would cost a minute and test nothing more
        tab.predict(FIRST, api_name="/answer")
    store = SessionStore(fleet.data / "sessions.sqlite")
    session = store.sessions()[0]["id"]
    if stage == "transcribing":
        recording = tmp_path / "spoken.wav"
        recording.write_bytes(chunks_to_wav(services.tts.synthesize(SECOND)))
        fleet.stall_at(stage, lambda: tab.submit(handle_file(str(recording)), api_name="/voice_answer"))
    else:
        fleet.stall_at(stage, lambda: tab.submit(given[-1], api_name="/answer"))
    killed = store.load(session, services.questions(), services.grader)
    if stage == "transcribing":  # not heard yet: the recording itself is kept, to be heard on resume
        assert [t.answer for t in killed.turns] == [FIRST] and Path(killed.recording).read_bytes() == \
            recording.read_bytes()
    else:
        assert [t.answer for t in killed.turns] + ([killed.pending["answer"]] if killed.pending else []) == given

    following = STAGES[STAGES.index(stage) + 1:]  # this server is the next stage's victim
    fleet.respawn(llm=bool(following) and following[0] in NEEDS_LLM)
    chat, *_ = Client(fleet.url, verbose=False).predict(session, api_name="/resume")  # a new tab
    resumed = store.load(session, services.questions(), services.grader)
    kept = [t.answer for t in resumed.turns]
    shown = "\n".join(_text(m) for m in chat)
    if stage == "transcribing":  # heard on resume by the recogniser: its words, not the typed text
        words = set(re.findall(r"[a-z]+", kept[-1].lower()))
        assert kept[0] == FIRST and len(kept) == 2 and {"reward", "penalty"} <= words
        assert not Path(killed.recording).exists()  # heard, so no longer kept
        given = kept
    assert kept == given and all(answer in shown for answer in given)
    assert all(t.grade is not None for t in resumed.turns) and not resumed.pending
    assert resumed.prompt is not None and resumed.prompt.text in _text(chat[-1])  # asked what comes next
    ledger.answers(len(given), len(kept))
    store.close()
