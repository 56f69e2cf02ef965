"""Hands-free turn-taking: audio streams in, speech is transcribed segment by segment while the candidate
is still talking, and the turn ends after a pause long enough not to cut off someone thinking."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from interviewer.audio import SAMPLE_RATE
from interviewer.backends import SpeechToText
from interviewer.types import Transcript, Word


@dataclass(frozen=True)
class ListenOptions:
    """When a turn ends. Times in seconds."""

    end_pause_s: float = 1.8  # silence after speech that ends the answer
    segment_pause_s: float = 0.5  # silence that closes a stretch of speech, which is then transcribed at once
    min_words: int = 2  # fewer words than this is not an answer ("mhm", a cough)
    idle_keep_s: float = 2.0  # audio kept while nobody speaks


# Recognition runs beside the stream, never in it: Gradio keeps one waiting chunk per stream, so a handler
# busy transcribing for longer than a chunk lets the next chunk overwrite the one before, and speech is lost.
# One worker: the recogniser takes one call at a time anyway.
_RECOGNISER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe")


@dataclass
class TurnListener:
    """Feed 16 kHz mono samples as they arrive; `feed` returns the answer once the candidate has finished.

    Feeding only detects speech; each finished stretch is transcribed in the background, and the turn's
    transcript is put together when it ends (by then the stretches are normally long transcribed)."""

    stt: SpeechToText
    options: ListenOptions = field(default_factory=ListenOptions)
    hint: str = ""
    _audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _offset: int = 0  # absolute sample index of _audio[0]
    _stretches: list[Future] = field(default_factory=list)  # transcripts of the stretches, in order
    _last_speech_end: int | None = None  # absolute sample index
    _resampler: object = None  # a streaming resampler, so chunk edges add no clicks that sound like speech
    _rate: int = SAMPLE_RATE
    last_pause_s: float = 0.0  # the silence, in seconds, after the last word of the turn that just ended

    def feed(self, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Transcript | None:
        """Add mono audio (int16 or float, any rate); transcribe finished stretches of speech; return the whole
        answer once the turn has ended."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        audio = samples.astype(np.float32) / (32768.0 if samples.dtype == np.int16 else 1.0)
        if rate != SAMPLE_RATE:
            if self._resampler is None or self._rate != rate:
                import soxr

                self._resampler, self._rate = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32"), rate
            audio = self._resampler.resample_chunk(audio)
        self._audio = np.concatenate([self._audio, audio])
        pause = int(self.options.segment_pause_s * SAMPLE_RATE)
        spans = get_speech_timestamps(self._audio, VadOptions(min_silence_duration_ms=int(pause * 1000 / SAMPLE_RATE),
                                                              speech_pad_ms=100))
        closed = [s for s in spans if len(self._audio) - s["end"] >= pause]
        for span in closed:
            self._transcribe(span["start"], span["end"])
        if closed:
            cut = closed[-1]["end"]
            self._audio, self._offset = self._audio[cut:], self._offset + cut
        elif not spans and len(self._audio) > self.options.idle_keep_s * SAMPLE_RATE:
            drop = len(self._audio) - int(self.options.idle_keep_s * SAMPLE_RATE)
            self._audio, self._offset = self._audio[drop:], self._offset + drop
        still_speaking = any(s not in closed for s in spans)
        if self._last_speech_end is None or still_speaking:
            return None
        silence = self._offset + len(self._audio) - self._last_speech_end
        if silence < self.options.end_pause_s * SAMPLE_RATE:
            return None
        self.last_pause_s = silence / SAMPLE_RATE
        return self._finish()

    def _transcribe(self, start: int, end: int) -> None:
        audio, shift = self._audio[start:end].copy(), (self._offset + start) / SAMPLE_RATE
        self._stretches.append(_RECOGNISER.submit(self._recognise, audio, shift))
        self._last_speech_end = self._offset + end

    def _recognise(self, audio: np.ndarray, shift: float) -> Transcript:
        heard = self.stt.transcribe(audio, hint=self.hint)
        return replace(heard, words=tuple(Word(w.text, w.start + shift, w.end + shift, w.probability)
                                          for w in heard.words))

    def flush(self) -> Transcript | None:
        """Everything heard so far, ending the turn now (the answer time ran out mid-sentence)."""
        if len(self._audio):
            self._transcribe(0, len(self._audio))
        return self._finish()

    def _finish(self) -> Transcript | None:
        pending = self._stretches
        self.reset()
        stretches = [future.result() for future in pending]
        words = [word for heard in stretches for word in heard.words]
        text = " ".join(heard.text for heard in stretches if heard.text).strip()
        if len(words) < self.options.min_words:
            return None  # a cough or an "mhm": keep listening
        return Transcript(text=text, words=tuple(words), duration=words[-1].end)

    def reset(self) -> None:
        """Forget everything heard (a new turn, or the interviewer started speaking)."""
        self._audio, self._offset = np.zeros(0, np.float32), 0
        self._stretches, self._last_speech_end = [], None
