"""Voice turns: the candidate's recording to a transcript with delivery metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interviewer.audio import read_audio
from interviewer.backends import SpeechToText
from interviewer.delivery import Delivery, delivery_of
from interviewer.errors import BadInput
from interviewer.types import Transcript

MIN_WORDS = 2  # fewer recognised words than this is not an answer (a cough, "mhm")


class NothingHeard(BadInput):
    """The recording held no speech: the turn stays open and nothing is recorded."""


@dataclass(frozen=True)
class Heard:
    """A recognised answer and how it was spoken."""

    transcript: Transcript
    delivery: Delivery | None


def hear(
    stt: SpeechToText, audio: Path | np.ndarray, *, glossary: tuple[str, ...] = (), max_seconds: float = 600.0
) -> Heard:
    """Transcribe an answer with the question's glossary as a spelling hint; silence or noise raise NothingHeard."""
    samples = read_audio(audio, max_seconds=max_seconds) if isinstance(audio, Path) else audio
    if samples.size == 0 or float(np.max(np.abs(samples))) < 1e-3:
        raise NothingHeard("I didn't catch that: the recording is silent. Check the microphone and try again.")
    hint = ("Glossary: " + ", ".join(glossary) + ".") if glossary else ""
    transcript = stt.transcribe(samples, hint=hint)
    if len(transcript.words) < MIN_WORDS:
        raise NothingHeard("I didn't catch that. Please say your answer again.")
    return Heard(transcript, delivery_of(transcript.words))

