"""Hands-free turn-taking on real audio: Piper speaks, the listener hears it arrive in half-second pieces.

Without a turn model the fixed pause decides (the fallback); the turn and words models' own tests are in
test_turn.py, and here fakes stand in for them where only the listener's decisions are under test."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from interviewer.audio import SAMPLE_RATE, chunks_to_16k
from interviewer.fakes import FakeTurnDetector, FakeWords
from interviewer.listening import ListenOptions, TurnListener

pytestmark = pytest.mark.real
CHUNK = SAMPLE_RATE // 2


def _speech(services, text: str) -> np.ndarray:
    return chunks_to_16k(services.tts.synthesize(text))


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def _feed(listener: TurnListener, audio: np.ndarray) -> list:
    """Feed audio in half-second pieces, as the browser streams it; the results, one per piece."""
    return [listener.feed(audio[i:i + CHUNK]) for i in range(0, len(audio), CHUNK)]


def test_a_thinking_pause_does_not_end_the_turn_but_a_long_one_does(services):
    listener = TurnListener(services.stt)
    first = _speech(services, "The reward model is trained on human comparisons.")
    second = _speech(services, "Then the policy is optimised with PPO.")
    results = _feed(listener, np.concatenate([_silence(0.5), first, _silence(1.0), second, _silence(1.0)]))
    assert all(r is None for r in results)  # a one-second pause to think: still listening
    results = _feed(listener, _silence(1.5))
    done = [r for r in results if r is not None]
    assert len(done) == 1
    words = re.findall(r"[a-z]+", done[0].text.lower())
    assert words[:4] == ["the", "reward", "model", "is"] and "policy" in words and "ppo" in words
    times = [w.start for w in done[0].words]
    assert times == sorted(times) and times[-1] > 4.0  # timings are positions in the whole answer


def test_a_cough_is_not_an_answer(services):
    listener = TurnListener(services.stt)
    burst = np.random.default_rng(1).normal(0, 0.3, SAMPLE_RATE // 4).astype(np.float32)
    results = _feed(listener, np.concatenate([_silence(0.5), burst, _silence(3.0)]))
    assert all(r is None for r in results)


def test_silence_alone_keeps_little_audio(services):
    listener = TurnListener(services.stt)
    assert all(r is None for r in _feed(listener, _silence(10)))
    assert len(listener._audio) <= 2.5 * SAMPLE_RATE


def test_time_up_mid_sentence_keeps_what_was_said(services):
    listener = TurnListener(services.stt)
    assert all(r is None for r in _feed(listener, np.concatenate([_silence(0.5), _speech(
        services, "Speculative decoding uses a small draft model to propose tokens")])))
    heard = listener.flush()
    assert heard is not None and "draft model" in heard.text.lower()


def test_speech_keeps_arriving_while_a_stretch_is_transcribed(services):
    """The page's stream keeps only one waiting chunk, so feeding must never wait on the recogniser: here it
    is held back until the whole answer has been fed, and nothing said meanwhile is lost."""
    import threading

    gate = threading.Event()

    class Held:
        def transcribe(self, audio, hint=""):
            assert gate.wait(20), "the recogniser was never released"
            return services.stt.transcribe(audio, hint=hint)

    listener = TurnListener(Held())
    first = _speech(services, "Rejection sampling keeps the best of several samples.")
    second = _speech(services, "The policy is then fine-tuned on them.")
    results = _feed(listener, np.concatenate([_silence(0.5), first, _silence(1.0), second, _silence(1.0)]))
    assert all(r is None for r in results) and len(listener._stretches) == 2  # both queued, none awaited
    assert listener.heard_so_far() == ""  # nothing transcribed yet, and asking does not wait
    gate.set()
    listener._stretches[-1].heard.result(timeout=60)
    so_far = re.findall(r"[a-z]+", listener.heard_so_far().lower())  # for the LLM's prompt, before the turn ends
    assert so_far[0] == "rejection" and so_far[-1] == "them"
    done = [r for r in _feed(listener, _silence(1.5)) if r is not None]
    assert len(done) == 1
    words = re.findall(r"[a-z]+", done[0].text.lower())
    assert "rejection" in words and "policy" in words and words[-1] == "them"


def _answer(services):
    first = _speech(services, "The reward model is trained on human comparisons.")
    return first, np.concatenate([_silence(0.5), first])


def test_a_finished_answer_ends_after_the_short_pause(services):
    turn = FakeTurnDetector(probability=0.99)
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=3.0), turn=turn)
    speech, audio = _answer(services)
    done = [r for r in _feed(listener, np.concatenate([audio, _silence(3.5)])) if r is not None]
    assert len(done) == 1 and "reward model" in done[0].text.lower()
    t = listener.timing
    said = 0.5 + len(speech) / SAMPLE_RATE  # where the speech really ends, in stream time
    assert t.reason == "turn model" and t.probability == 0.99
    assert said - 0.15 <= t.last_word_s <= said + 0.15  # the last word, from voice activity
    assert 0.4 <= t.decided_s - t.last_word_s < 0.4 + 0.5 + 0.05  # at the first piece after 0.4 s of silence
    assert t.decided_at <= t.transcript_at and t.last_word_at < t.decided_at
    heard = turn.heard[0]  # the model heard the answer, ending just after its last word
    assert len(heard) <= 8 * SAMPLE_RATE and abs(len(heard) - (t.last_word_s + 0.1) * SAMPLE_RATE) < 0.05 * SAMPLE_RATE


def test_an_unfinished_answer_waits_for_the_thinking_pause_limit(services):
    turn = FakeTurnDetector(probability=0.1)
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=2.5), turn=turn)
    _, audio = _answer(services)
    results = _feed(listener, np.concatenate([audio, _silence(2.0)]))
    assert all(r is None for r in results) and len(turn.heard) == 1  # asked once for this pause
    done = [r for r in _feed(listener, _silence(1.5)) if r is not None]
    assert len(done) == 1 and listener.timing.reason == "thinking pause limit"
    assert listener.timing.decided_s - listener.timing.last_word_s >= 2.5


@pytest.mark.parametrize(("before", "after"), [
    ("Then the policy is optimised with", "PPO and a KL penalty."),
    ("The reward model is fitted, and the policy is", "tuned with a KL penalty."),
])
def test_a_dangling_last_word_keeps_listening_whatever_the_model_says(services, before, after):
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=2.5),
                            turn=FakeTurnDetector(probability=0.99))
    part = _speech(services, before)
    results = _feed(listener, np.concatenate([_silence(0.5), part, _silence(2.0)]))
    assert all(r is None for r in results)
    rest = _feed(listener, np.concatenate([_speech(services, after), _silence(2.0)]))
    done = [r for r in rest if r is not None]
    assert len(done) == 1 and listener.timing.reason == "turn model"
    words = re.findall(r"[a-z]+", done[0].text.lower())
    assert "policy" in words and "penalty" in words  # one answer, both parts


def test_a_failing_turn_model_falls_back_to_the_fixed_pause_and_says_so(services, caplog):
    turn = FakeTurnDetector(fail=RuntimeError("onnx exploded"))
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, end_pause_s=1.8), turn=turn)
    _, audio = _answer(services)
    with caplog.at_level(logging.WARNING, logger="interviewer.listening"):
        results = _feed(listener, np.concatenate([audio, _silence(1.0)]))
        assert all(r is None for r in results)
        done = [r for r in _feed(listener, _silence(1.5)) if r is not None]
    assert len(done) == 1 and listener.timing.reason == "fixed pause"
    assert any("turn model failed" in r.message and "onnx exploded" in r.message for r in caplog.records)


def test_a_cough_is_not_an_answer_even_when_the_model_says_finished(services):
    listener = TurnListener(services.stt, turn=FakeTurnDetector(probability=1.0))
    burst = np.random.default_rng(1).normal(0, 0.3, SAMPLE_RATE // 4).astype(np.float32)
    audio = np.concatenate([_silence(0.5), burst, _silence(4.0)])
    assert all(listener.feed(audio[i:i + CHUNK]) is None and not listener.nod_due()  # nor worth a nod
               for i in range(0, len(audio), CHUNK))
    assert listener.timing is None


def test_the_stream_never_waits_long_for_the_words_that_confirm_a_finished_answer(services):
    """The page's stream keeps one waiting piece of audio: a handler busy for longer than a piece loses speech.
    When the turn model hears the answer as finished but its words are still being transcribed, each piece waits
    at most CONFIRM_WAIT_S for them; the turn ends, timed from where the voice finished, once they have come."""
    import threading
    import time

    from interviewer.listening import CONFIRM_WAIT_S

    gate = threading.Event()

    class Slow:
        def transcribe(self, audio, hint=""):
            assert gate.wait(20), "the recogniser was never released"
            return services.stt.transcribe(audio, hint=hint)

    listener = TurnListener(Slow(), ListenOptions(check_pause_s=0.4, max_pause_s=3.0),
                            turn=FakeTurnDetector(probability=0.99))
    speech, audio = _answer(services)
    waits, nods = [], []
    for i in range(0, len(audio) + 2 * SAMPLE_RATE, CHUNK):  # the answer, then two seconds of silence
        piece = audio[i:i + CHUNK] if i < len(audio) else _silence(0.5)
        began = time.perf_counter()
        assert listener.feed(piece, nods=True) is None  # its words are not in yet: the turn waits for them
        waits.append(time.perf_counter() - began)
        nods.append(listener.nod_due())
    assert max(waits) < CONFIRM_WAIT_S + 0.2
    # the interviewer may nod once, at the first piece after the voice sounded finished, not while it spoke; that
    # piece returned at once, without waiting for the words, so the nod is not held back by them
    assert nods.count("finished") == 1 and nods.count(None) == len(nods) - 1
    at = nods.index("finished")
    assert len(audio) - 0.5 * SAMPLE_RATE < (at + 1) * CHUNK <= len(audio) + 1.5 * SAMPLE_RATE
    assert waits[at] < 0.1 and max(waits[at + 1:]) >= CONFIRM_WAIT_S - 0.05
    gate.set()
    listener._stretches[-1].heard.result(timeout=60)
    done = listener.feed(_silence(0.5))
    assert done is not None and "reward model" in done.text.lower() and listener.timing.reason == "turn model"
    t = listener.timing
    assert 0.4 <= t.decided_s - t.last_word_s < 0.4 + 0.5 + 0.05  # where the voice said "finished"
    assert t.last_word_at < t.decided_at < t.transcript_at


def _settled(listener: TurnListener, audio: np.ndarray) -> list:
    """Like _feed, but after each piece the recogniser and the words model catch up, as they do when the audio
    arrives at the pace it is said (here it arrives as fast as it can be fed)."""
    out = []
    for i in range(0, len(audio), CHUNK):
        out.append(listener.feed(audio[i:i + CHUNK]))
        listener.settle()
    return out


def test_finished_words_end_a_turn_the_voice_was_unsure_of(services):
    words = FakeWords(probability=0.5)
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=3.0),
                            turn=FakeTurnDetector(probability=0.1), words=words)
    _, audio = _answer(services)
    done = [r for r in _settled(listener, np.concatenate([audio, _silence(3.5)])) if r is not None]
    assert len(done) == 1 and listener.timing.reason == "words"
    assert listener.timing.decided_s - listener.timing.last_word_s < 2.0  # not the 3 s thinking-pause limit
    assert "reward model" in words.read[-1].lower()  # it read the transcript


def test_unfinished_words_overrule_a_voice_that_sounds_finished(services):
    words = FakeWords(probability=0.001)
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=2.5),
                            turn=FakeTurnDetector(probability=0.99), words=words)
    part = _speech(services, "The reward model is trained to predict")  # no word on the dangling list ends it
    assert all(r is None for r in _settled(listener, np.concatenate([_silence(0.5), part, _silence(2.0)])))
    assert listener.nod_due() == "finished" and not listener.nod_due()  # the voice sounded finished: a nod, once
    words.probability = 0.5  # the sentence, once finished, reads finished
    rest = np.concatenate([_speech(services, "which reply people prefer."), _silence(1.5)])
    done = [r for r in _settled(listener, rest) if r is not None]
    assert len(done) == 1 and listener.timing.reason == "turn model"
    assert not listener.nod_due()  # the turn is over: no nod until the next one sounds finished
    assert "prefer" in done[0].text.lower() and "trained" in done[0].text.lower()  # one answer, both parts


def test_a_pause_the_answer_might_end_at_gets_an_uh_huh_once_and_one_mid_clause_nothing(services):
    """Where the voice sounds as if the answer might be finished, but not surely (P(finished) from
    going_on_above, under complete_above), the interviewer may say "uh-huh" at that pause, once; the turn goes on
    all the same. A pause that sounds unfinished gets nothing."""
    turn = FakeTurnDetector(probability=0.2)
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=3.0), turn=turn,
                            words=FakeWords(probability=0.01))  # the words never end the turn here

    def said(audio: np.ndarray) -> tuple[list, list]:
        done, nods = [], []
        for i in range(0, len(audio), CHUNK):
            done.append(listener.feed(audio[i:i + CHUNK], nods=True))
            nods.append(listener.nod_due())
            listener.settle()
        return done, nods

    done, nods = said(np.concatenate([_silence(0.5), _speech(services, "The reward model is trained on"),
                                      _silence(2.0)]))
    assert not any(done) and not any(nods)  # a mid-clause pause: no sound from the interviewer
    turn.probability = 0.7
    rest = _speech(services, "pairs of replies that people ranked.")
    done, nods = said(np.concatenate([rest, _silence(2.0)]))
    assert not any(done) and nods.count("going on") == 1 and nods.count(None) == len(nods) - 1
    assert nods.index("going on") >= len(rest) // CHUNK - 1  # at the pause, not while the candidate spoke
    done, nods = said(_silence(1.5))  # the thinking-pause limit ends it: one answer, no second nod
    assert [d for d in done if d is not None] and listener.timing.reason == "thinking pause limit"
    assert not any(nods)
    text = next(d for d in done if d is not None).text.lower()
    assert "trained" in text and "pairs" in text  # both stretches: one answer


def test_a_short_reply_is_not_overruled_by_the_words(services):
    """The words model reads the first few words of any message as unfinished ("I don't know" 0.002): a reply
    that short ends when the voice says so."""
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=3.0),
                            turn=FakeTurnDetector(probability=0.99), words=FakeWords(probability=0.001))
    done = [r for r in _settled(listener, np.concatenate([_silence(0.5), _speech(services, "I don't know."),
                                                          _silence(2.0)])) if r is not None]
    assert len(done) == 1 and listener.timing.reason == "turn model"


def test_a_failing_words_model_leaves_the_voice_to_decide_and_says_so(services, caplog):
    listener = TurnListener(services.stt, ListenOptions(check_pause_s=0.4, max_pause_s=3.0),
                            turn=FakeTurnDetector(probability=0.99), words=FakeWords(fail=RuntimeError("llama gone")))
    _, audio = _answer(services)
    with caplog.at_level(logging.WARNING, logger="interviewer.listening"):
        done = [r for r in _settled(listener, np.concatenate([audio, _silence(2.0)])) if r is not None]
    assert len(done) == 1 and listener.timing.reason == "turn model" and "reward model" in done[0].text.lower()
    assert any("words model could not read" in r.message and "llama gone" in r.message for r in caplog.records)
