"""The LLM failing at each place a turn calls it (reading the intent, verifying the grade, writing the reply):
raising an error of its own, running past its deadline, or returning garbage. Each time the candidate's
words are kept and graded, the interview goes on with the instant grade and the bank's words, and the
fallback is logged."""

from __future__ import annotations

import logging
import time

import pytest

from interviewer.conductor import Conductor, Graded, Spoken
from interviewer.conversation import Dialogue
from interviewer.errors import LLMTimeout
from interviewer.fakes import FakeEmbedder, FakeLLM
from interviewer.grader import Grader
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.session import Interview, SessionOptions

SITES = ("intent", "verify", "reply")
FAULTS = ("raises", "hangs", "garbage", "breaks_mid_reply")


class FaultyLLM(FakeLLM):
    """A model that behaves at one call site as told and well everywhere else."""

    def __init__(self, site: str, fault: str) -> None:
        super().__init__(reply="You named the reward model. What keeps the policy close to where it started?",
                         choices=self._choices)
        self.site, self.fault = site, fault

    @staticmethod
    def _choices(messages, slot):
        if slot.forced.strip() == "Kind:":
            return {o: float(o == " answer") for o in slot.options}
        return {o: float(o == " partly") for o in slot.options}

    def _misbehave(self, deadline: float | None):
        if self.fault == "raises":
            raise RuntimeError("llama_decode returned -3")  # a raw library error, not one of ours
        if self.fault == "hangs":
            time.sleep(max(0.0, (deadline or time.monotonic()) - time.monotonic()))
            raise LLMTimeout("the deadline passed")

    def choose(self, messages, slots, *, deadline=None):
        site = "intent" if slots[0].forced.strip() == "Kind:" else "verify"
        if site == self.site and self.fault in ("raises", "hangs"):
            self._misbehave(deadline)
        found = super().choose(messages, slots, deadline=deadline)
        if site == self.site and self.fault in ("garbage", "breaks_mid_reply"):
            return [{"maybe": 0.5}] * (len(slots) - 1)  # wrong options, and one slot short
        return found

    def stream(self, messages, *, max_tokens=256, deadline=None, assistant=""):
        if self.site != "reply":
            yield from super().stream(messages, max_tokens=max_tokens, deadline=deadline, assistant=assistant)
            return
        if self.fault in ("raises", "hangs"):
            self._misbehave(deadline)
        if self.fault == "garbage":
            yield from ("", " \ufffd\ufffd", "\n", "Reply:")
            return
        yield "You named the reward model. "
        raise RuntimeError("the server closed the connection")


@pytest.fixture(scope="module")
def store(tmp_path_factory, bank):
    store = KnowledgeStore(open_client(tmp_path_factory.mktemp("store")), FakeEmbedder())
    store.ingest(bank.questions)
    return store


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("site", SITES)
def test_the_llm_failing_anywhere_in_a_turn_loses_nothing(store, site, fault, caplog, ledger):
    interview = Interview(store.questions(topic="rlhf"), Grader(FakeEmbedder()),
                          SessionOptions(topics=("rlhf",), level="fresher", questions=3))
    interview.start()
    conductor = Conductor(interview, Dialogue(lambda: FaultyLLM(site, fault)))
    conductor.options = type(conductor.options)(verify_s=0.2, intent_s=0.2, reply_s=0.2)
    # a short question back is read by the LLM (the intent site); an answer is verified and replied to
    said = "is that the reward model?" if site == "intent" else "A reward model is trained on human rankings."
    asked = interview.prompt.text
    with caplog.at_level(logging.INFO, logger="interviewer"):
        out = list(conductor.heard(said))
    turn = interview.turns[-1]
    assert turn.answer == said and turn.prompt == asked  # the words are kept, as the answer to that question
    assert interview.phase == "listen" and interview.prompt is not None  # the interview goes on
    spoken = [e for e in out if isinstance(e, Spoken)]
    assert spoken and spoken[-1].text == interview.prompt.text  # the candidate hears what comes next
    graded = [e for e in out if isinstance(e, Graded)]
    if site == "verify":
        assert not turn.grade.verified and turn.verification.startswith("not verified")
        assert graded[-1].note == turn.verification  # and the page says why
    if site == "reply" and fault != "breaks_mid_reply":
        assert "\ufffd" not in " ".join(e.text for e in spoken)
    fallbacks = ("LLM", "verification", "dropped")
    assert any(any(word in r.getMessage() for word in fallbacks) for r in caplog.records), "the fallback is not logged"
    ledger.answers(1, int(turn.answer == said))
