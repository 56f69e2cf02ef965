"""Reading the candidate's audio: any common format to 16 kHz mono float32, with clear errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from interviewer.errors import BadInput
from interviewer.types import AudioChunk

SAMPLE_RATE = 16_000
MAX_BYTES = 50 * 1024 * 1024  # an upload larger than this is refused before decoding


def read_audio(path: Path, *, max_seconds: float = 600.0) -> np.ndarray:
    """Decode a sound file (WAV, MP3, OGG, WebM, ...) into 16 kHz mono samples, or say what is wrong."""
    from faster_whisper.audio import decode_audio

    if not path.is_file():
        raise BadInput(f"no audio file at {path}")
    size = path.stat().st_size
    if size == 0:
        raise BadInput("the recording is empty; record again, or check the microphone is not muted")
    if size > MAX_BYTES:
        raise BadInput(f"the file is {size // 2**20} MB; recordings up to {MAX_BYTES // 2**20} MB are accepted")
    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as error:  # PyAV raises many kinds (InvalidDataError, ValueError, ...)
        # not named: the page hears a kept copy, whose name the candidate never gave (a new user was told of
        # "a4329e28-4.wav")
        raise BadInput(f"the recording is not a sound file we can read ({type(error).__name__}); "
                       "send WAV, MP3, OGG, FLAC or WebM audio") from error
    if samples.size == 0:
        raise BadInput("the recording holds no audio; record again, or check the microphone is not muted")
    if samples.size / SAMPLE_RATE > max_seconds:
        samples = samples[: int(max_seconds * SAMPLE_RATE)]  # the time limit applies: the rest is not heard
    return samples.astype(np.float32)


def chunks_to_16k(chunks: Iterable[AudioChunk]) -> np.ndarray:
    """Synthesised speech chunks joined and resampled to 16 kHz float32, ready for the recogniser."""
    chunks = list(chunks)
    return to_16k(np.concatenate([c.samples for c in chunks]), chunks[0].sample_rate)


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono int16 or float samples to 16 kHz float32, as the recogniser expects."""
    from math import gcd

    from scipy.signal import resample_poly

    audio = samples.astype(np.float32)
    if samples.dtype == np.int16:
        audio /= 32768.0
    if rate == SAMPLE_RATE:
        return audio
    common = gcd(rate, SAMPLE_RATE)
    return resample_poly(audio, SAMPLE_RATE // common, rate // common).astype(np.float32)
