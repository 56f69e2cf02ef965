"""The speech-to-text backend: faster-whisper (CTranslate2) with word timestamps."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from interviewer.audio import SAMPLE_RATE, read_audio
from interviewer.errors import BadInput
from interviewer.types import Transcript, Word


class WhisperSTT:
    """A local Whisper model on the CPU, int8. The VAD filter drops silence before decoding."""

    retries = 2  # times the speech after the last recognised word may be decoded again
    tail_s = 1.0  # voice activity this long after the last word means the recogniser stopped early

    def __init__(self, path: Path, *, threads: int = 0) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                   local_files_only=True)
        self._lock = threading.Lock()

    def transcribe(self, audio: Path | np.ndarray, *, hint: str = "") -> Transcript:
        """Transcribe a file or 16 kHz float32 samples; `hint` (glossary terms) steers the spelling.

        With a prompt, Whisper sometimes ends its output at a pause and drops the rest of the speech (a known
        failure of prompted decoding). When voice activity goes on well past the last word, the rest is
        transcribed again on its own and appended."""
        samples = read_audio(audio, max_seconds=math.inf) if isinstance(audio, Path) else audio.astype(np.float32)
        texts, words, start = [], [], 0.0
        for _ in range(self.retries + 1):
            heard = self._decode(samples[int(start * SAMPLE_RATE):], hint, shift=start)
            texts += [heard.text] if heard.text else []
            words += heard.words
            if not heard.words or not self._spoken_after(samples, words[-1].end):
                break
            start = words[-1].end
        return Transcript(text=" ".join(texts).strip(), words=tuple(words), duration=len(samples) / SAMPLE_RATE)

    def _spoken_after(self, samples: np.ndarray, seconds: float) -> bool:
        """Whether voice activity goes on for `tail_s` or more after this time (the decoder stopped early)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        rest = samples[int(seconds * SAMPLE_RATE):]
        if len(rest) < self.tail_s * SAMPLE_RATE:
            return False  # too little audio left to hold a missed stretch: no need to look
        spans = get_speech_timestamps(rest, VadOptions(speech_pad_ms=100))
        return bool(spans) and spans[-1]["end"] >= self.tail_s * SAMPLE_RATE

    def _decode(self, samples: np.ndarray, hint: str, *, shift: float = 0.0) -> Transcript:
        try:
            with self._lock:
                segments, _ = self._model.transcribe(
                    samples,
                    language="en",
                    beam_size=1,
                    word_timestamps=True,
                    vad_filter=True,
                    condition_on_previous_text=False,
                    initial_prompt=hint or None,
                )
                segments = [s for s in segments if not _invented(s)]
        except (ValueError, RuntimeError) as error:
            raise BadInput(f"could not read this audio ({error}); send a WAV, MP3, OGG, FLAC or WebM file") from error
        words = tuple(
            Word(w.word.strip(), float(w.start) + shift, float(w.end) + shift, float(w.probability))
            for s in segments for w in (s.words or []) if w.word.strip()
        )
        return Transcript(text=" ".join(s.text.strip() for s in segments).strip(), words=words)


def _invented(segment) -> bool:
    """Whisper's usual tells of text made up from near-silence or noise ("Thank you for watching.")."""
    if segment.no_speech_prob > 0.6 and segment.avg_logprob < -0.7:
        return True  # the model itself doubts there was speech
    if segment.compression_ratio > 2.4:
        return True  # the same words over and over
    return segment.avg_logprob < -1.2  # too unsure to be worth grading
