"""The speech-to-text backend: faster-whisper (CTranslate2) with word timestamps."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from interviewer.errors import BadInput
from interviewer.types import Transcript, Word


class WhisperSTT:
    """A local Whisper model on the CPU, int8. The VAD filter drops silence before decoding."""

    def __init__(self, path: Path, *, threads: int = 0) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                   local_files_only=True)
        self._lock = threading.Lock()

    def transcribe(self, audio: Path | np.ndarray, *, hint: str = "") -> Transcript:
        """Transcribe a file or 16 kHz float32 samples; `hint` (glossary terms) steers the spelling."""
        source = str(audio) if isinstance(audio, Path) else audio.astype(np.float32)
        try:
            with self._lock:
                segments, info = self._model.transcribe(
                    source,
                    language="en",
                    beam_size=1,
                    word_timestamps=True,
                    vad_filter=True,
                    condition_on_previous_text=False,
                    initial_prompt=hint or None,
                )
                segments = [s for s in segments if not _invented(s)]
        except (ValueError, RuntimeError, OSError) as error:  # PyAV's errors derive from these
            raise BadInput(f"could not read this audio ({error}); send a WAV, MP3, OGG or WebM file") from error
        words = tuple(
            Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for s in segments for w in (s.words or []) if w.word.strip()
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        return Transcript(text=text, words=words, duration=float(info.duration))


def _invented(segment) -> bool:
    """Whisper's usual tells of text made up from near-silence or noise ("Thank you for watching.")."""
    if segment.no_speech_prob > 0.6 and segment.avg_logprob < -0.7:
        return True  # the model itself doubts there was speech
    if segment.compression_ratio > 2.4:
        return True  # the same words over and over
    return segment.avg_logprob < -1.2  # too unsure to be worth grading
