"""Events of one tab firing together (the 1 s timer, the microphone stream, Submit, Skip): one outcome, no
exception, and a hands-free answer is never given twice or to the wrong question.

The page's own handlers are called from threads as Gradio calls them, on real backends (the LLM switched
off: it is not what is under test here)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from faultkit import chunks_of, drained, sharing, started_tab

from interviewer.audio import chunks_to_16k

pytestmark = pytest.mark.real
SPOKEN = "A reward model is trained on human preference comparisons between two answers."
TYPED = "The reward model learns which answer people prefer."


@pytest.fixture(scope="module")
def page(services):
    return sharing(services, use_llm=False)


@pytest.fixture(scope="module")
def spoken(services):
    speech = chunks_to_16k(services.tts.synthesize(SPOKEN))
    return np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(16_000 * 4, np.float32)])


def _hear_until_heard(page, tab, audio) -> int:
    """Stream the audio into the tab until the listener ends the turn; the number of pieces sent."""
    from interviewer.ui.app import hear_stream

    for n, chunk in enumerate(chunks_of(audio), 1):
        value, _ = hear_stream(page, chunk, tab)
        if isinstance(value, str):
            return n
    raise AssertionError("the answer was never heard")


def _together(*calls) -> list[BaseException]:
    """Run each call in its own thread, all released at once; the exceptions they raised."""
    gate, errors = threading.Barrier(len(calls)), []

    def run(call):
        gate.wait()
        try:
            call()
        except BaseException as error:  # noqa: BLE001 (collected, and the test fails on them)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def test_the_timer_takes_a_heard_answer_waiting_for_its_reply_once(page, spoken, ledger):
    """The stream heard an answer; before its reply ran, the answer time ran out. The timer submits those words
    (not an empty answer), and the reply that follows does not give them again to the next question."""
    from interviewer.ui.app import heard_reply, tick

    tab = started_tab(page)
    _hear_until_heard(page, tab, spoken)
    tab.deadline = time.time() - 1
    drained(tick(page, "", tab))
    drained(heard_reply(page, tab))
    answers = [t.answer for t in tab.interview.turns]
    assert len(answers) == 1 and "reward model" in answers[0].lower() and tab.interview.turns[0].timed_out
    assert tab.listening  # the next prompt is open, unanswered
    ledger.answers(1, len(answers))


class _Arrivals:
    """A tab's lock that counts the events waiting for it, so that a test can let them in only once all have
    arrived. Started threads may run late on a loaded machine; one that arrived after the first event had moved
    the interview on is a new event, rightly applied to the new prompt, not the race under test."""

    def __init__(self, lock, expected: int):
        self._lock, self._expected, self._count = lock, expected, 0
        self._all_in = threading.Event()
        lock.acquire()
        threading.Thread(target=self._open_when_all_in, daemon=True).start()

    def _open_when_all_in(self):
        self._all_in.wait(timeout=60)
        self._lock.release()

    def acquire(self, timeout: float = -1) -> bool:
        self._count += timeout != 0  # the timer tries without waiting: not counted
        if self._count >= self._expected:
            self._all_in.set()
        return self._lock.acquire(timeout=timeout)

    def release(self):
        self._lock.release()


@pytest.mark.parametrize("round_", range(4))
def test_timer_submit_skip_and_stream_at_once_have_one_outcome(page, spoken, round_, ledger):
    from interviewer.ui.app import answer, command, hear_stream, tick

    tab = started_tab(page)
    tab.deadline = time.time() - 1  # time is up as the candidate presses Submit, and Skip, with the mic on
    first = tab.interview.prompt
    pieces = chunks_of(spoken[: 16_000 * 2])
    # Submit twice and Skip wait for the tab; the timer never waits (it fires again a second later), so it acts
    # only where it finds the tab free, before or after them
    tab._lock = _Arrivals(tab._lock, expected=3)
    errors = _together(lambda: drained(answer(page, TYPED, tab)), lambda: drained(answer(page, TYPED, tab)),
                       lambda: drained(command(page, "skip", TYPED, tab)), lambda: drained(tick(page, TYPED, tab)),
                       lambda: [hear_stream(page, chunk, tab) for chunk in pieces])
    assert errors == []
    [turn] = tab.interview.turns  # exactly one of them acted, on the first question
    assert turn.question.id == first.question.id
    assert turn.skipped or turn.answer.startswith(TYPED)  # the timer adds what was said so far
    assert tab.listening and tab.interview.prompt != first and not tab.interview.pending
    ledger.answers(0 if turn.skipped else 1, 0 if turn.skipped else 1)


def test_the_timer_firing_while_the_stream_ends_the_turn_gives_the_answer_once(page, spoken, ledger):
    """The last piece of silence that ends a hands-free answer and the timer's time-up arrive together."""
    from interviewer.ui.app import hear_stream, heard_reply, tick

    for _ in range(3):
        tab = started_tab(page)
        pieces = chunks_of(spoken)
        for chunk in pieces[:-4]:  # all the speech, and some of the silence after it
            hear_stream(page, chunk, tab)
        tab.deadline = time.time() - 1

        def stream_rest(tab=tab, pieces=pieces):
            for chunk in pieces[-4:]:
                value, _ = hear_stream(page, chunk, tab)
                if isinstance(value, str):
                    drained(heard_reply(page, tab))

        errors = _together(stream_rest, lambda tab=tab: drained(tick(page, "", tab)))
        drained(heard_reply(page, tab))
        assert errors == []
        answers = [t.answer for t in tab.interview.turns]
        assert len(answers) == 1 and "reward model" in answers[0].lower(), answers
        ledger.answers(1, len(answers))
