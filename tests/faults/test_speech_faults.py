"""The recogniser, the voice and the embedder failing at each place the page calls them: raising a raw library
error, hanging past the wait, or returning garbage (no words, no audio, NaN vectors). Each time the candidate
is told what happened, the tab stays usable, nothing said or typed before is lost, and the fallback is logged.

The page's handlers run in-process on the real backends, one method of one backend broken at a time."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from faultkit import Broken, chat_text, chunks_of, drained, sharing, started_tab

from interviewer.audio import chunks_to_16k
from interviewer.listening import ListenOptions, TurnListener
from interviewer.types import AudioChunk, Transcript

pytestmark = pytest.mark.real
FIRST = "A reward model is trained on human preference comparisons."
SECOND = "Then the policy is optimised against it with PPO."


@pytest.fixture(scope="module")
def page(services):
    """The page's services without the LLM (not under test here), with a fresh voice cache."""
    from interviewer.tts import SpokenLines

    services.stt, services.tts, services.turn  # noqa: B018 (loaded, so the twin shares them)
    twin = sharing(services, use_llm=False)
    twin.__dict__["spoken"] = SpokenLines(services.tts)
    return twin


def _speech(services, text: str, tail_s: float = 4.0) -> np.ndarray:
    audio = chunks_to_16k(services.tts.synthesize(text))
    return np.concatenate([np.zeros(8000, np.float32), audio, np.zeros(int(16_000 * tail_s), np.float32)])


def _stream(page, tab, audio) -> list:
    """Stream audio into the tab as the microphone does, running the reply whenever the heard box changes."""
    from interviewer.ui.app import hear_stream, heard_reply

    for chunk in chunks_of(audio):
        value, _ = hear_stream(page, chunk, tab)
        if isinstance(value, str):
            drained(heard_reply(page, tab))
    return [t.answer for t in tab.interview.turns]


def _wav(services, path, text: str):
    from interviewer.tts import chunks_to_wav

    path.write_bytes(chunks_to_wav(services.tts.synthesize(text)))
    return str(path)


# the recogniser --------------------------------------------------------------------------------------------

def _no_words(audio, *, hint=""):
    return Transcript(text="", words=())


def _kept(page, tab) -> list[Path]:
    """The copies of this tab's recordings kept in the data directory until they are heard."""
    return list((page.settings.data_dir / "recordings").glob(f"{tab.interview.id}-*"))


@pytest.mark.parametrize("mode", ["raises", "garbage"])
def test_a_recording_the_recogniser_fails_on_leaves_the_question_open(page, services, tmp_path, monkeypatch, mode,
                                                                     caplog, ledger):
    from interviewer.ui.app import answer, voice_answer

    tab = started_tab(page)
    drained(answer(page, FIRST, tab))  # an answer before the fault
    asked = tab.interview.prompt
    monkeypatch.setattr(page.stt, "transcribe", Broken(page.stt.transcribe, mode, garbage=_no_words))
    with caplog.at_level(logging.INFO, logger="interviewer"):
        drained(voice_answer(page, _wav(services, tmp_path / "answer.wav", SECOND), tab))
    said = chat_text(tab)
    if mode == "raises":
        assert "Speech recognition failed (RuntimeError" in said and "record your answer again, or type it" in said
        assert "speech recognition failed on a recording" in caplog.text
    else:
        assert "I didn't catch that" in said
    assert tab.listening and tab.interview.prompt == asked  # the same question is still open
    assert not tab.interview.pending and not _kept(page, tab)  # given up
    monkeypatch.undo()
    drained(answer(page, SECOND, tab))
    assert [t.answer for t in tab.interview.turns] == [FIRST, SECOND]
    ledger.answers(2, len(tab.interview.turns))


def test_a_recording_the_recogniser_hangs_on_is_kept_and_the_tab_answers_at_once(page, services, tmp_path, monkeypatch,
                                                                                 caplog, ledger):
    from interviewer.ui.app import answer, voice_answer

    tab = started_tab(page)
    monkeypatch.setattr(page, "listen_options", lambda: ListenOptions(transcribe_wait_s=2.0))
    monkeypatch.setattr(page.stt, "transcribe", Broken(page.stt.transcribe, "hangs", hang_s=8.0))
    with caplog.at_level(logging.INFO, logger="interviewer"):
        drained(voice_answer(page, _wav(services, tmp_path / "answer.wav", SECOND), tab))
    said = chat_text(tab)
    assert "has not finished after 2 s" in said and "Your recording is kept in this session" in said
    assert "has not finished a recording after 2 s; it is kept" in caplog.text
    saved = page.sessions.load(tab.interview.id, page.questions(), page.grader)
    assert tab.listening and saved.recording == tab.interview.recording and Path(saved.recording).is_file()
    drained(answer(page, FIRST, tab))  # the tab is not held by the hung recogniser: typing answers
    assert [t.answer for t in tab.interview.turns] == [FIRST]
    ledger.answers(1, len(tab.interview.turns))


def test_a_recording_is_in_the_session_while_it_is_heard_and_gone_once_it_is_an_answer(page, services, tmp_path,
                                                                                      monkeypatch, ledger):
    """A crash while the recogniser works loses nothing: the session holds a copy of the recording until its
    words are the answer (the kill -9 case in test_server_kill resumes from it)."""
    from interviewer.ui.app import voice_answer

    tab = started_tab(page)
    seen, real = [], page.stt.transcribe

    def watching(audio, **kwargs):
        saved = page.sessions.load(tab.interview.id, page.questions(), page.grader)
        seen.append(saved.recording and Path(saved.recording).read_bytes())
        return real(audio, **kwargs)

    monkeypatch.setattr(page.stt, "transcribe", watching)
    recording = _wav(services, tmp_path / "answer.wav", FIRST)
    spoken = Path(recording).read_bytes()
    drained(voice_answer(page, recording, tab))
    assert seen == [spoken]  # kept, byte for byte, while it was heard
    assert len(tab.interview.turns) == 1 and not tab.interview.pending
    assert not _kept(page, tab)  # an answer now: the copy is gone
    ledger.answers(1, len(tab.interview.turns))


@pytest.mark.parametrize("mode", ["raises", "hangs"])
def test_a_hands_free_answer_survives_the_recogniser_failing_at_the_turn_end(page, services, monkeypatch, mode,
                                                                            caplog, ledger):
    """The recogniser fails (twice: the first try and the retry) or is still busy when the turn ends: the page
    says so, the listener keeps what was said, and once the recogniser works again the candidate's next pause
    hears all of it: the first sentence too."""
    tab = started_tab(page)
    wait = 3.0 if mode == "hangs" else 30.0  # long enough for the real recogniser on a loaded machine
    tab.listener = TurnListener(page.stt, ListenOptions(transcribe_wait_s=wait), turn=services.turn)
    broken = Broken(page.stt.transcribe, mode, times=2 if mode == "raises" else 1, hang_s=10.0)
    monkeypatch.setattr(page.stt, "transcribe", broken)
    with caplog.at_level(logging.INFO, logger="interviewer"):
        assert _stream(page, tab, _speech(services, FIRST)) == []  # not heard yet, and not given as empty
    said = chat_text(tab)
    assert ("speech recognition failed (RuntimeError" if mode == "raises" else "has not finished after 3 s") in said
    assert "What you said is kept" in said and tab.listening
    assert "the turn's audio is kept" in caplog.text or "has not finished" in caplog.text
    monkeypatch.undo()
    if mode == "raises":  # heard at the next pause, with what is said next
        [heard] = _stream(page, tab, _speech(services, SECOND))
        assert "policy" in heard.lower()
    else:  # heard as soon as the recogniser has caught up, with no need to say anything again
        from interviewer.listening import _RECOGNISER

        _RECOGNISER.submit(lambda: None).result()  # the slow call has finished
        [heard] = _stream(page, tab, np.zeros(16_000, np.float32))
    assert "reward model" in heard.lower(), heard  # the first sentence was not lost
    ledger.answers(1, int("reward model" in heard.lower()))


def test_time_up_while_the_recogniser_fails_keeps_the_words_for_the_next_pause(page, services, monkeypatch, ledger):
    from interviewer.ui.app import hear_stream, tick

    tab = started_tab(page)
    tab.listener = TurnListener(page.stt, ListenOptions(transcribe_wait_s=30.0), turn=services.turn)
    speech = _speech(services, FIRST, tail_s=0)
    for chunk in chunks_of(speech):
        hear_stream(page, chunk, tab)
    monkeypatch.setattr(page.stt, "transcribe", Broken(page.stt.transcribe, "raises", times=2))
    tab.deadline = 0.0
    drained(tick(page, "", tab))
    assert "Time is up, but speech recognition failed" in chat_text(tab)
    assert tab.interview.turns == [] and tab.listening and tab.deadline is None  # nothing given in its place
    monkeypatch.undo()
    [heard] = _stream(page, tab, _speech(services, SECOND))
    assert "reward model" in heard.lower() and "policy" in heard.lower()
    ledger.answers(1, 1)


# the voice -------------------------------------------------------------------------------------------------

def _silent_chunks(text):
    yield AudioChunk(np.zeros(0, np.int16), 22050)


@pytest.mark.parametrize("mode", ["raises", "hangs", "garbage"])
def test_a_failing_voice_leaves_the_interview_in_writing(page, services, monkeypatch, mode, caplog, ledger):
    from interviewer.ui.app import answer

    tab = started_tab(page, voice=True)
    drained(answer(page, FIRST, tab))
    monkeypatch.setattr(page.tts, "synthesize", Broken(page.tts.synthesize, mode, garbage=_silent_chunks,
                                                       hang_s=4.0))
    monkeypatch.setattr(page.spoken, "wait_s", 1.0)
    page.spoken._done.clear()
    with caplog.at_level(logging.INFO, logger="interviewer"):
        out = drained(answer(page, SECOND, tab))
    turns = [t.answer for t in tab.interview.turns]
    assert turns == [FIRST, SECOND] and tab.listening  # graded, and the next prompt is open
    assert out[6] is None  # nothing to play
    if mode == "raises":
        assert "The interviewer's voice failed (RuntimeError" in chat_text(tab) and not tab.voice
        assert "speech synthesis failed" in caplog.text
    if mode == "hangs":  # the tab is told within the wait, not after the voice comes back
        assert "the voice has not made a sentence after 1 s" in chat_text(tab) and not tab.voice
        assert "shown as text only" in chat_text(tab) and "speech synthesis failed" in caplog.text
    monkeypatch.undo()
    ledger.answers(2, len(turns))


def test_a_line_made_ahead_that_fails_is_logged_and_made_when_wanted(page, services, monkeypatch, caplog):
    monkeypatch.setattr(page.tts, "synthesize", Broken(page.tts.synthesize, "raises", times=1))
    line = "A line nobody has asked for yet, made ahead."
    with caplog.at_level(logging.INFO, logger="interviewer"):
        page.spoken.prepare([line])
        page.spoken.wait()
    assert "synthesising a line ahead failed" in caplog.text
    assert sum(c.seconds for c in page.spoken.speak(line)) > 1  # made when it is wanted


# the embedder ----------------------------------------------------------------------------------------------

def _nan_vectors(texts):
    return np.full((len(texts), 384), np.nan, np.float32)


@pytest.mark.parametrize("mode", ["raises", "hangs"])
def test_grading_that_fails_keeps_the_answer_and_puts_it_back_in_the_box(page, services, monkeypatch, caplog, ledger,
                                                                          mode):
    """The embedder raises, or hangs past its wait, when the answer's intent is read and when it is graded:
    the intent is read by the rules, and the answer is kept, in the box and in the session."""
    from interviewer.ui.app import answer

    tab = started_tab(page)
    drained(answer(page, FIRST, tab))
    if mode == "raises":
        monkeypatch.setattr(page.embedder, "embed", Broken(page.embedder.embed, "raises"))
    else:  # every call hangs inside the model for 3 s; each caller waits 1 s
        monkeypatch.setattr(page.embedder, "_encode", Broken(page.embedder._encode, "hangs", hang_s=3.0, times=2))
        monkeypatch.setattr(page.embedder, "wait_s", 1.0)
    with caplog.at_level(logging.INFO, logger="interviewer"):
        out = drained(answer(page, f"{SECOND} Something new to embed: it {mode}.", tab))
    # a hang's calls answer in the end: a failure reported means the wait ended it, not the model
    failure = "RuntimeError" if mode == "raises" else "BackendUnavailable: the embedding model has not answered"
    assert f"grading failed ({failure}" in chat_text(tab) and "Your answer is kept" in chat_text(tab)
    assert "intent read by the rules alone: the embedder failed" in caplog.text
    assert out[4] == f"{SECOND} Something new to embed: it {mode}."  # back in the box, to submit again
    assert tab.listening and tab.interview.pending["answer"] == out[4]
    saved = page.sessions.load(tab.interview.id, page.questions(), page.grader)
    assert saved.pending["answer"] == out[4]  # and in the session, for a resume
    assert "grading the answer to" in caplog.text
    monkeypatch.undo()
    drained(answer(page, out[4], tab))
    assert [t.answer for t in tab.interview.turns] == [FIRST, out[4]]
    ledger.answers(2, len(tab.interview.turns))


def test_nan_vectors_from_the_embedder_do_not_stop_the_interview(page, services, monkeypatch, ledger):
    from interviewer.ui.app import answer

    tab = started_tab(page)
    monkeypatch.setattr(page.embedder, "embed", Broken(page.embedder.embed, "garbage", garbage=_nan_vectors))
    drained(answer(page, FIRST + " Garbage vectors come back for this one.", tab))
    monkeypatch.undo()
    said = chat_text(tab)
    turns = tab.interview.turns
    if turns:  # graded on what could be read: a score in range, not NaN
        assert 0 <= turns[0].grade.score <= 10 and "nan" not in said.lower()
    else:
        assert "grading failed" in said and tab.interview.pending
    assert tab.listening
    ledger.answers(1, len(turns) or int(bool(tab.interview.pending)))


def test_embedding_ahead_and_the_search_for_probes_failing_are_logged_and_cost_nothing(page, services, monkeypatch,
                                                                                      caplog, ledger):
    from interviewer.ui.app import _warm, answer

    tab = started_tab(page)
    question = tab.interview.prompt.question
    page.grader._cache.clear()  # nothing embedded ahead yet
    monkeypatch.setattr(page.embedder, "embed", Broken(page.embedder.embed, "raises", times=1))
    with caplog.at_level(logging.INFO, logger="interviewer"):
        _warm(page, question)
        monkeypatch.setattr(page.store, "search", Broken(page.store.search, "raises"))
        drained(answer(page, FIRST + " It relates to DPO too.", tab))
    assert f"embedding {question.id} ahead of its answer failed" in caplog.text
    assert "no probe this time" in caplog.text
    assert len(tab.interview.turns) == 1 and tab.listening
    ledger.answers(1, len(tab.interview.turns))


# hostile audio -------------------------------------------------------------------------------------------

def test_ten_minutes_of_noise_get_a_clear_message_in_bounded_memory(page, tmp_path, ledger):
    """A 10-minute recording of loud noise (9.6 MB at 8 kHz, under the upload limit): only the answer time's
    worth is heard, nothing is graded, the question stays open, and the memory it takes stays bounded."""
    import tracemalloc
    import wave

    from interviewer.ui.app import answer, voice_answer

    noise = tmp_path / "ten-minutes-of-noise.wav"
    samples = np.random.default_rng(7).normal(0, 8000, 8000 * 600).clip(-32768, 32767).astype(np.int16)
    with wave.open(str(noise), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    del samples
    tab = started_tab(page)
    drained(answer(page, FIRST, tab))
    asked = tab.interview.prompt
    tracemalloc.start()
    try:
        drained(voice_answer(page, str(noise), tab))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MB"  # 10 minutes decoded whole would be 38 MB at 16 kHz
    assert "I didn't catch that" in chat_text(tab) and tab.interview.prompt == asked
    drained(answer(page, SECOND, tab))  # the page goes on
    assert [t.answer for t in tab.interview.turns] == [FIRST, SECOND]
    ledger.answers(2, len(tab.interview.turns))


def test_a_hands_free_answer_the_recogniser_hears_no_words_in_is_not_graded(page, services, monkeypatch, ledger):
    """The recogniser returns no words for speech at the turn end (garbage): nothing is graded as an empty
    answer, the question stays open, and the answer said again is heard and graded as usual."""
    tab = started_tab(page)
    tab.listener = TurnListener(page.stt, ListenOptions(transcribe_wait_s=30.0), turn=services.turn)
    monkeypatch.setattr(page.stt, "transcribe", Broken(page.stt.transcribe, "garbage", garbage=_no_words))
    assert _stream(page, tab, _speech(services, FIRST)) == []  # not graded as an empty answer
    assert tab.listening and tab.interview.pending is None
    monkeypatch.undo()
    [heard] = _stream(page, tab, _speech(services, FIRST))
    assert "reward model" in heard.lower() and tab.interview.turns[0].grade is not None
    ledger.answers(0, 0)
