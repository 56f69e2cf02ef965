"""Voice turns on the real models: Piper speaks, faster-whisper hears, the grader grades."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from interviewer.audio import chunks_to_16k
from interviewer.delivery import delivery_of
from interviewer.tts import chunks_to_wav
from interviewer.types import Word
from interviewer.voice import NothingHeard, hear


def test_delivery_metrics_from_word_timings():
    words = [Word(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate("so um the cache you know stores keys".split())]
    words.append(Word("again", 10.0, 10.4))  # after a long pause
    d = delivery_of(words)
    assert d.words == 9 and d.filler_words == {"um": 1, "you know": 1} and d.fillers == 2
    assert d.long_pauses == 1 and d.longest_pause_s == pytest.approx(10.0 - 3.9)
    assert d.wpm == pytest.approx(60 * 9 / 10.4, abs=0.1)
    assert "long pause" in d.advice()
    assert delivery_of([]) is None


def _spoken(services, text: str) -> np.ndarray:
    audio = chunks_to_16k(services.tts.synthesize(text))
    return np.concatenate([np.zeros(8000, np.float32), audio])


@pytest.mark.real
def test_spoken_round_trip_grades_the_good_answer_higher(services, question):
    poor = "I think it is about making the model nicer to people somehow, with some feedback."
    heard_good = hear(services.stt, _spoken(services, question.answer), glossary=tuple(question.glossary))
    heard_poor = hear(services.stt, _spoken(services, poor))
    good = services.grader.grade(question, heard_good.transcript.text).score
    bad = services.grader.grade(question, heard_poor.transcript.text).score
    assert good >= 8 and good >= bad + 4
    assert 100 < heard_good.delivery.wpm < 250


@pytest.mark.real
def test_silence_and_noise_are_not_answers(services):
    with pytest.raises(NothingHeard, match="didn't catch"):
        hear(services.stt, np.zeros(16000 * 3, np.float32))
    noise = np.random.default_rng(0).normal(0, 0.05, 16000 * 3).astype(np.float32)
    with pytest.raises(NothingHeard, match="didn't catch"):
        hear(services.stt, noise)


@pytest.mark.real
def test_say_and_transcribe_commands(settings, tmp_path):
    # the same audio every run (no random variation of the voice): the commands are under test, not how often
    # tiny.en mishears a voice that varies ("small, breath model" in one run in a few)
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(settings.data_dir), "INTERVIEWER_PROFILE": "test",
           "INTERVIEWER_SPEECH_VARIATION": "0"}
    cli = [sys.executable, "-m", "interviewer.cli"]
    wav = tmp_path / "q.wav"
    sentence = "Speculative decoding uses a small draft model. The target model verifies the tokens."
    said = subprocess.run([*cli, "say", sentence, "-o", str(wav)], env=env, capture_output=True, text=True)
    assert said.returncode == 0 and wav.read_bytes()[:4] == b"RIFF"
    done = subprocess.run([*cli, "transcribe", str(wav), "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "draft model" in result["text"].lower() and result["words"][0]["start"] >= 0
    assert result["delivery"]["words"] == len(result["words"])
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    failed = subprocess.run([*cli, "transcribe", str(bad)], env=env, capture_output=True, text=True)
    assert failed.returncode == 2 and "not a sound file" in failed.stderr


def test_wav_of_chunks_is_valid():
    from interviewer.types import AudioChunk

    wav = chunks_to_wav([AudioChunk(np.zeros(100, np.int16), 22050), AudioChunk(np.ones(50, np.int16), 22050)])
    assert wav[:4] == b"RIFF" and len(wav) == 44 + 2 * 150


def test_spoken_lines_stream_by_sentence_and_prepare_ahead(services):
    """A line streams one chunk per sentence; a prepared line plays from memory, sounding the same length."""
    from interviewer.tts import SpokenLines

    class Counting:  # the real voice, counting what it is asked to synthesise
        def __init__(self, tts):
            self.tts, self.sample_rate, self.texts = tts, tts.sample_rate, []

        def synthesize(self, text):
            self.texts.append(text)
            yield from self.tts.synthesize(text)

    voice = Counting(services.tts)
    lines = SpokenLines(voice)
    said = "Question 2 of 3. What does the KL penalty do in RLHF?"
    chunks = list(lines.speak(said))
    assert len(chunks) == 2 and all(c.samples.size for c in chunks)  # one per sentence
    assert [c.samples.size for c in lines.speak(said)] == [c.samples.size for c in chunks] and len(voice.texts) == 1
    ahead = "Thanks, that's partly there. Let's look at the reward model next."
    lines.prepare([ahead, ahead, ""])
    lines.wait()
    assert voice.texts[1:] == ["Thanks, that's partly there.", "Let's look at the reward model next."]
    prepared = sum(c.seconds for c in lines.speak(ahead))
    direct = sum(c.seconds for c in services.tts.synthesize(ahead))
    assert len(voice.texts) == 3 and abs(prepared - direct) < 0.1 * direct
