"""The text-to-speech backend: a Piper voice, streamed sentence by sentence."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from interviewer.types import AudioChunk


class PiperTTS:
    """A Piper ONNX voice. `length_scale` above 1 speaks more slowly, below 1 faster."""

    def __init__(self, model: Path, config: Path, *, length_scale: float = 1.0) -> None:
        from piper import PiperVoice, SynthesisConfig

        self._voice = PiperVoice.load(str(model), config_path=str(config))
        self._syn_config = SynthesisConfig(length_scale=length_scale)
        self.sample_rate = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence as soon as Piper has it (a generator)."""
        if not text.strip():
            return
        # The voice is shared between sessions; a closed generator releases the lock on exit.
        with self._lock:
            for chunk in self._voice.synthesize(text, syn_config=self._syn_config):
                yield AudioChunk(chunk.audio_int16_array.copy(), chunk.sample_rate)


def chunks_to_wav(chunks: Iterable[AudioChunk]) -> bytes:
    """Join audio chunks into the bytes of one mono 16-bit WAV file."""
    chunks = list(chunks)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(chunks[0].sample_rate if chunks else 22050)
        for chunk in chunks:
            out.writeframes(np.asarray(chunk.samples, dtype=np.int16).tobytes())
    return buffer.getvalue()
