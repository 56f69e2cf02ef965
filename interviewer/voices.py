"""Scripted spoken answers for the voice benchmarks: bank answers read by Piper or by espeak-ng (a second,
very different voice), optionally with a thinking pause cut into the middle of a sentence."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass

import numpy as np

from interviewer.audio import SAMPLE_RATE, chunks_to_16k, to_16k
from interviewer.errors import BackendUnavailable

LEAD_S = 0.5  # silence before each answer, as a microphone hears the room before someone speaks
TAIL_S = 4.0  # silence after it: longer than any pause that ends a turn


@dataclass(frozen=True)
class Script:
    """One spoken answer as 16 kHz audio, with where its speech is (seconds into `audio`)."""

    text: str
    audio: np.ndarray
    last_word_s: float  # where the speech really ends
    pause_s: tuple[float, float] | None = None  # the thinking pause mid-sentence (start, end), if any


def _trim(audio: np.ndarray, level: float = 0.01) -> np.ndarray:
    loud = np.nonzero(np.abs(audio) > level)[0]
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio[:0]


def espeak_16k(text: str) -> np.ndarray:
    """espeak-ng's US English voice as 16 kHz float32; BackendUnavailable where it is not installed."""
    if shutil.which("espeak-ng") is None:
        raise BackendUnavailable("espeak-ng is not installed: `sudo apt-get install espeak-ng` (make bench does)")
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "--stdout", text], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        return to_16k(samples, w.getframerate())


def speak(services, voice: str, text: str) -> np.ndarray:
    """`text` read by "piper" (the interviewer's own voice model) or "espeak", trimmed of silence."""
    audio = chunks_to_16k(services.tts.synthesize(text)) if voice == "piper" else espeak_16k(text)
    return _trim(audio)


def answers(bank, count: int) -> list[str]:
    """Opening sentences of model answers, one question per topic in turn: 12-35 words of jargon each."""
    by_topic: dict[str, list[str]] = {}
    for q in bank.questions:
        sentences = re.split(r"(?<=[.!?])\s+", q.answer.strip())
        text = sentences[0]
        if len(text.split()) < 12 and len(sentences) > 1:
            text += " " + sentences[1]
        if 12 <= len(text.split()) <= 35:
            by_topic.setdefault(q.topic, []).append(text)
    out, n = [], 0
    while len(out) < count and any(len(v) > n for v in by_topic.values()):
        out += [v[n] for v in by_topic.values() if len(v) > n]
        n += 1
    return out[:count]


def whole(services, voice: str, text: str) -> Script:
    """The answer said in one go, then silence."""
    speech = speak(services, voice, text)
    audio = np.concatenate([_silence(LEAD_S), speech, _silence(TAIL_S)])
    return Script(text, audio, LEAD_S + len(speech) / SAMPLE_RATE)


def with_pause(services, voice: str, text: str, pause_s: float) -> Script:
    """The answer with a silence of `pause_s` cut in mid-flow, after a word about halfway through its first
    clause (never after punctuation): the speaker stops to think without having finished the sentence.

    The cut point is where the prefix ends when said alone, moved to the quietest 10 ms nearby (the gap
    between two words)."""
    speech = speak(services, voice, text)
    words = text.split()
    at = next((k for k in range(len(words) // 2, len(words) - 2) if not re.search(r"[,.;:!?]$", words[k - 1])),
              len(words) // 2)
    estimate = len(speak(services, voice, " ".join(words[:at])))
    frame = SAMPLE_RATE // 100
    lo, hi = max(frame, estimate - int(0.2 * SAMPLE_RATE)), min(len(speech) - frame, estimate + int(0.05 * SAMPLE_RATE))
    energy = [float(np.mean(speech[i:i + frame] ** 2)) for i in range(lo, hi, frame // 2)]
    cut = lo + int(np.argmin(energy)) * (frame // 2) + frame // 2 if energy else estimate
    audio = np.concatenate([_silence(LEAD_S), speech[:cut], _silence(pause_s), speech[cut:], _silence(TAIL_S)])
    start = LEAD_S + cut / SAMPLE_RATE
    return Script(text, audio, LEAD_S + (len(speech) / SAMPLE_RATE) + pause_s, (start, start + pause_s))


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)
