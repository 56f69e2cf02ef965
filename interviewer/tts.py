"""The text-to-speech backend: a Piper voice, streamed sentence by sentence."""

from __future__ import annotations

import io
import logging
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from pathlib import Path

import numpy as np

from interviewer.backends import TextToSpeech
from interviewer.errors import BackendUnavailable
from interviewer.types import AudioChunk

log = logging.getLogger(__name__)


class PiperTTS:
    """A Piper ONNX voice. `length_scale` above 1 speaks more slowly, below 1 faster. `variation` scales the
    voice's random variation of tone and timing: 1 as the voice was trained, 0 none (the same text then
    always gives the same samples)."""

    def __init__(self, model: Path, config: Path, *, length_scale: float = 1.0, variation: float = 1.0) -> None:
        from piper import PiperVoice, SynthesisConfig

        self._voice = PiperVoice.load(str(model), config_path=str(config))
        own = self._voice.config
        self._syn_config = SynthesisConfig(length_scale=length_scale, noise_scale=own.noise_scale * variation,
                                           noise_w_scale=own.noise_w_scale * variation)
        self.sample_rate = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence as soon as Piper has it (a generator)."""
        if not text.strip():
            return
        # The voice is shared between sessions: the lock is held while Piper makes one sentence, never across a
        # yield, so a caller that stops reading (a closed tab, an abandoned stream) cannot hold it forever.
        sentences = self._voice.synthesize(text, syn_config=self._syn_config)
        while True:
            with self._lock:
                chunk = next(sentences, None)
            if chunk is None:
                return
            yield AudioChunk(chunk.audio_int16_array.copy(), chunk.sample_rate)


class SpokenLines:
    """The interviewer's lines as audio, kept once synthesised, so likely next lines can be made ahead.

    `speak` streams a line sentence by sentence (from memory when it was prepared); `prepare` synthesises
    lines in a background thread, one sentence per call into Piper, so a line wanted now never waits
    behind more than one sentence of preparation.
    """

    def __init__(self, tts: TextToSpeech, capacity: int = 256, *, wait_s: float = 20.0) -> None:
        self._tts, self._capacity, self.wait_s = tts, capacity, wait_s
        self._done: OrderedDict[str, list[AudioChunk]] = OrderedDict()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="prepare-speech")
        # Sentences wanted now are made here, so a voice that hangs costs a tab `wait_s` and a message.
        self._speaking = ThreadPoolExecutor(4, thread_name_prefix="speak")

    @property
    def sample_rate(self) -> int:
        return self._tts.sample_rate

    def _get(self, text: str) -> list[AudioChunk] | None:
        with self._lock:
            if text in self._done:
                self._done.move_to_end(text)
                return self._done[text]
        return None

    def _put(self, text: str, chunks: list[AudioChunk]) -> None:
        with self._lock:
            self._done[text] = chunks
            while len(self._done) > self._capacity:
                self._done.popitem(last=False)

    def speak(self, text: str) -> Iterator[AudioChunk]:
        """The line's audio, one chunk per sentence, each as soon as it exists. Raises BackendUnavailable
        when the voice has not made the next sentence within `wait_s`."""
        ready = self._get(text)
        if ready is not None:
            yield from ready
            return

        def made():  # called on the worker from the start: a voice may also hang before its first sentence
            yield from self._tts.synthesize(text)

        chunks, pieces = [], made()
        while True:
            try:
                chunk = self._speaking.submit(next, pieces, None).result(timeout=self.wait_s)
            except Late:
                log.warning("the voice has not made a sentence of %.60r after %.0f s", text, self.wait_s)
                raise BackendUnavailable(f"the voice has not made a sentence after {self.wait_s:.0f} s "
                                         "(the machine may be overloaded, or the voice stuck)") from None
            if chunk is None:
                break
            chunks.append(chunk)
            yield chunk
        self._put(text, chunks)

    def prepare(self, lines: Iterable[str]) -> None:
        """Synthesise these lines in the background unless they are ready already."""
        for line in dict.fromkeys(lines):
            if line.strip() and self._get(line) is None:
                self._worker.submit(self._prepare, line)

    def _prepare(self, text: str) -> None:
        from interviewer.text import sentences

        if self._get(text) is not None:
            return
        try:
            chunks = [c for sentence in sentences(text) or [text] for c in self._tts.synthesize(sentence)]
        except Exception:  # noqa: BLE001 (a line made ahead is a head start; `speak` makes it, or says why not)
            log.exception("synthesising a line ahead failed: %.60s", text)
            return
        self._put(text, chunks)

    def wait(self) -> None:
        """Block until everything asked of `prepare` so far is done (for tests and the benchmark)."""
        self._worker.submit(lambda: None).result()


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


def espeak_sounds() -> Callable[[str], str]:
    """How a text sounds: its phonemes (American English) from the espeak-ng that Piper speaks with, asked for
    through Piper, under Piper's own lock, since espeak-ng keeps global state. No voice model is loaded."""
    from piper import PiperVoice
    from piper.config import PhonemeType, PiperConfig

    config = PiperConfig(num_symbols=0, num_speakers=1, sample_rate=22050, espeak_voice="en-us",
                         phoneme_id_map={}, phoneme_type=PhonemeType.ESPEAK)
    speaker = PiperVoice(session=None, config=config)  # phonemes only: no ONNX session is needed for them
    return lambda text: "".join("".join(sentence) for sentence in speaker.phonemize(text))
