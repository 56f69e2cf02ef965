"""Hands-free turn-taking: audio streams in, speech is transcribed stretch by stretch while the candidate is
still talking, and the turn ends when the candidate has finished, not merely paused.

Voice activity (faster-whisper's Silero VAD) marks the pauses. After a short silence a turn model (Smart Turn)
hears whether the speech sounds finished, and a words model reads whether what was said so far is: the voice
ends the turn when the words do not say otherwise ("... optimised with" is never an answer's end), and when the
voice is unsure, the words alone can end it once they are transcribed. Otherwise (a thinking pause mid-sentence)
listening goes on until a longer limit. Without a turn model, or when it fails, a fixed pause ends the turn;
without a words model, a list of words no answer ends on stands in for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace

import numpy as np

from interviewer.audio import SAMPLE_RATE
from interviewer.backends import SpeechToText, TurnDetector, WordsDetector
from interviewer.errors import BackendUnavailable
from interviewer.types import Transcript, Word

log = logging.getLogger(__name__)

VAD_PAD_S = 0.1  # the VAD widens each stretch of speech by this much on both sides; the last word ends before
CONFIRM_WAIT_S = 0.35  # the longest `feed` waits for the last stretch's words before the turn model's "finished"
# stands: past it, the words are looked at with the next piece of audio (half a second later), since the page's
# stream keeps one waiting piece and a handler busy for longer than that loses speech
TURN_CONTEXT_S = 8.0  # audio the turn model hears, ending at the last word
LEAD_S = 0.5  # audio before the turn's first word that the turn model hears too
NOD_FROM_S = 0.6  # speech before a pause shorter than this (a cough, an "mhm") gets no nod
# Words an answer cannot end on (all the words model has to go on where there is none): a speaker who stops after
# one of these is thinking, not finished. The forms of "be" joined them when a candidate's "... and the policy is"
# [thinks] was heard as finished by the turn model; an answer that does end on one ("yes, it is") waits for the
# thinking-pause limit, late but whole.
DANGLING = frozenset("""a an the and or but so because with without of to for from by into onto as than which
who whose whom where while if whether its their our your my his her such between via per um uh er
is are was were be been being""".split())


@dataclass(frozen=True)
class ListenOptions:
    """When a turn ends. Pauses are seconds of silence after the candidate's last word.

    The defaults come from `make bench` (the voice_turn figures in the README): Piper's and espeak-ng's voices
    reading bank answers, whole and with a 1-3 s thinking pause cut into a sentence."""

    check_pause_s: float = 0.4  # silence after which the turn model is asked whether the answer is finished
    max_pause_s: float = 3.2  # the longest thinking pause: the turn ends after this much silence regardless
    complete_above: float = 0.95  # the turn model's P(finished) above which the turn ends at check_pause_s
    # the turn model's P(finished) from which, under complete_above, the pause is one an answer could end at: the
    # interviewer says a listener's "uh-huh" there (`nod_due`). The model's even odds, not tuned; on the bench's
    # scripts it came after 31% of the finished answers and at 35% of the thinking pauses (README, The nod)
    going_on_above: float = 0.5
    end_pause_s: float = 1.8  # without a turn model (missing or failing), the silence that ends the answer
    segment_pause_s: float = 0.5  # silence that closes a stretch of speech, which is then transcribed at once
    min_words: int = 2  # fewer words than this is not an answer ("mhm", a cough)
    idle_keep_s: float = 2.0  # audio kept while nobody speaks
    transcribe_wait_s: float = 60.0  # how long the turn's end waits for the recogniser before saying it failed
    # The words model's P(the answer ends here), read once the pause's words are transcribed. At or above
    # words_finished_above the turn ends even though the voice was unsure; below words_unfinished_below the words
    # overrule a voice that sounds finished, for answers of words_veto_from words or more (the model reads the
    # first few words of any message as unfinished: "I don't know" 0.002, "Skip" 0.001).
    words_finished_above: float = 0.3
    words_unfinished_below: float = 0.01
    words_veto_from: int = 6


@dataclass(frozen=True)
class TurnTiming:
    """When a voice turn's stages happened. Stream times are seconds of audio since the turn began;
    clock times are time.time()."""

    last_word_s: float  # stream: the end of the last stretch of voice activity
    decided_s: float  # stream: how much audio had arrived when the turn was decided
    decided_at: float  # clock: when the turn was decided
    transcript_at: float  # clock: when every stretch had been transcribed
    reason: str  # what ended it: "turn model", "words", "thinking pause limit", "fixed pause" or "time up"
    probability: float | None = None  # the turn model's last P(finished), where it was asked

    @property
    def last_word_at(self) -> float:
        """The clock time of the last word: the decision, less the audio that had arrived after that word."""
        return self.decided_at - (self.decided_s - self.last_word_s)


# Recognition runs beside the stream, never in it: Gradio keeps one waiting chunk per stream, so a handler
# busy transcribing for longer than a chunk lets the next chunk overwrite the one before, and speech is lost.
# One worker: the recogniser takes one call at a time anyway.
_RECOGNISER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe")
_WORDS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="words")  # reads each stretch's words once heard


@dataclass
class _Stretch:
    """A stretch of speech sent to the recogniser: its audio is kept until the turn's transcript is made, so a
    stretch the recogniser failed on can be heard again."""

    audio: np.ndarray
    shift: float  # seconds into the turn where it starts
    heard: Future
    last_word: int = 0  # absolute sample index where its speech ends
    finished: Future | None = None  # (word count, the words model's P(finished)) for the turn up to its end


@dataclass
class TurnListener:
    """Feed 16 kHz mono samples as they arrive; `feed` returns the answer once the candidate has finished.

    Feeding detects speech and, at a pause, asks the turn model (a few tens of ms); each finished stretch is
    transcribed in the background, and the turn's transcript is put together when it ends (by then the
    earlier stretches are normally long transcribed)."""

    stt: SpeechToText
    options: ListenOptions = field(default_factory=ListenOptions)
    hint: str = ""
    turn: TurnDetector | None = None  # the turn model; None: the fixed pause decides
    words: WordsDetector | None = None  # the words model; None: the list of words no answer ends on stands in
    timing: TurnTiming | None = None  # the stages of the turn that just ended
    last_pause_s: float = 0.0  # the silence, in seconds, after the last word of the turn that just ended
    _audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _offset: int = 0  # absolute sample index of _audio[0]
    _recent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # the last 8.5 s, ends with _audio
    _stretches: list[_Stretch] = field(default_factory=list)  # the turn's stretches, in order
    _last_word: int | None = None  # absolute sample index where the last closed stretch's speech ended
    _turn_start: int | None = None  # absolute sample index of the turn's first speech
    _asked_at: int | None = None  # the last word the turn model was asked about (once per pause)
    _probability: float | None = None
    _turn_failed: bool = False
    _voice_end: tuple[int, float] | None = None  # where (stream sample, clock) the turn model said "finished",
    # while the words are awaited to confirm it
    _nodded: int | None = None  # the last word of the pause that has had its nod (see `nod_due`)
    _held: str = ""  # the turn's end could not be heard: "failed" (tried again at the next end) or "busy"
    # (the recogniser was still at it: the end is tried again as soon as it has finished)
    _resampler: object = None  # a streaming resampler, so chunk edges add no clicks that sound like speech
    _rate: int = SAMPLE_RATE

    def feed(self, samples: np.ndarray, rate: int = SAMPLE_RATE, *, nods: bool = False) -> Transcript | None:
        """Add mono audio (int16 or float, any rate); transcribe finished stretches of speech; return the whole
        answer once the turn has ended. `nods`: the caller nods when the voice sounds finished (see `nod_due`),
        so that piece returns at once rather than waiting for the words."""
        arrived = time.time()  # the clock time of the end of this audio, for the turn's timings
        self._append(self._to_16k(samples, rate))
        spans = self._speech_spans()
        end = len(self._audio)
        if spans:  # new speech: a "finished" heard before it no longer stands
            self._voice_end = None
            if self._turn_start is None:
                self._turn_start = self._offset + spans[0][0]
        if spans and spans[-1][1] >= end:
            self._held = ""
            return self._keep(spans, end)  # still speaking
        if self._held and not spans:
            if self._held == "busy" and all(s.heard.done() for s in self._stretches):
                return self._end("recogniser caught up", decided=self._offset + end, at=arrived)
            return self._keep(spans, end)  # the last end failed: tried again once the candidate speaks again
        if spans:
            self._last_word = self._offset + max(spans[-1][1] - int(VAD_PAD_S * SAMPLE_RATE), spans[-1][0])
        if self._last_word is None:
            return self._keep(spans, end)  # nothing said yet
        silence = (self._offset + end - self._last_word) / SAMPLE_RATE
        reason = self._decide(silence)
        if reason is None:  # once the turn model has heard this pause, its words are wanted now, not in a piece
            return self._keep(spans, end, now=self._asked_at == self._last_word)
        for start, stop in _join(spans, int(self.options.segment_pause_s * SAMPLE_RATE)):
            self._transcribe(start, stop)
        self._audio, self._offset = self._audio[end:], self._offset + end  # every stretch of it is sent
        self._held = ""
        decided, at = self._offset, arrived
        if reason == "turn model":
            if self._voice_end is None:
                self._voice_end = (decided, at)
                if nods and self._nod_worthy() and self._stretches and not self._stretches[-1].heard.done():
                    return None  # this piece returns at once, to let the caller nod (`nod_due`): the words, a
                    # second or more away on 2 cores, are awaited from the next one
            decided, at = self._voice_end  # the turn ended where the voice said so; the words only confirm it
            if self._unfinished() is not False:
                return None  # "... optimised with": the words say it is unfinished, whatever the voice says; or
                # they are still being transcribed, and are looked at again with the next piece of audio
        return self._end(reason, decided=decided, at=at)

    def nod_due(self) -> str | None:
        """What the interviewer may say at this pause, once: "finished" (an "okay") when the voice has just
        sounded finished and its words are still being transcribed, so the turn is most likely over but not yet
        ended; "going on" (an "uh-huh", a listener's sign to go on) when the voice sounded as if it might be
        finished (`going_on_above`) but not surely. Either also suits a pause the candidate goes on from (a
        listener's "okay" invites the speaker to go on too), so it needs no more than the voice; it needs some
        speech, though: a cough or an "mhm" gets none. None when nothing is due."""
        if not self._nod_worthy():
            return None
        if self._voice_end is not None:
            kind = "finished"
        elif (self._asked_at == self._last_word and self._probability is not None
              and self._probability >= self.options.going_on_above):
            kind = "going on"
        else:
            return None
        self._nodded = self._last_word
        return kind

    def _nod_worthy(self) -> bool:
        """Whether this pause may have a nod: none yet, and enough speech for one."""
        if self._nodded == self._last_word or self._turn_start is None or self._last_word is None:
            return False
        return (self._last_word - self._turn_start) / SAMPLE_RATE >= NOD_FROM_S

    def _unfinished(self) -> bool | None:
        """Whether the words so far say the answer is unfinished though the voice sounds finished: the words
        model reads them so (on an answer long enough for it to judge), or they end on a word no answer ends on
        ("the", "with", "and"). None while the last stretch is still being transcribed or read after
        CONFIRM_WAIT_S (the stream's handler must not wait longer): asked again with the next piece of audio."""
        if self._stretches:
            until = time.monotonic() + CONFIRM_WAIT_S  # one wait for both
            try:
                self._stretches[-1].heard.result(timeout=CONFIRM_WAIT_S)
                read = self._reading(max(0.0, until - time.monotonic()))
            except TimeoutError:
                return None
            except Exception:  # noqa: BLE001 (a failed stretch is tried again, and reported, by _heard)
                read = None
            if read is not None:
                count, probability = read
                if count >= self.options.words_veto_from and probability < self.options.words_unfinished_below:
                    log.debug("turn model says finished, but the words say not (P=%.3f): still listening", probability)
                    return True
        last = next((heard.words[-1].text for heard in reversed(self._heard()) if heard.words), "")
        word = last.lower().strip(" .,;:!?\"'")
        if word in DANGLING:  # Whisper ends a stretch with a full stop even mid-sentence: the word decides
            log.debug("turn model says finished, but the last word %r says not: still listening", last)
            return True
        return False

    def _words_finished(self) -> bool:
        """Whether the words model, having read every word up to the last one, says the answer has ended.
        Waits at most CONFIRM_WAIT_S for its reading (False while it is still to come: asked again with the next
        piece of audio)."""
        if not self._stretches or self._stretches[-1].last_word != self._last_word:
            return False  # the speech before this pause has not been sent to the recogniser yet
        try:
            read = self._reading(CONFIRM_WAIT_S)
        except TimeoutError:
            return False  # still to come
        if read is None or read[1] < self.options.words_finished_above:
            return False
        log.debug("the voice was unsure, the words say finished (P=%.3f, %d words)", read[1], read[0])
        return True

    def _reading(self, wait: float) -> tuple[int, float] | None:
        """The words model's (word count, P(finished)) for the turn up to its last stretch, waiting at most `wait`
        for it; None where there is none (no words model, or the stretch or the model failed: `_read` says
        which). Raises TimeoutError while it is still to come."""
        finished = self._stretches[-1].finished if self._stretches else None
        return None if finished is None else finished.result(timeout=wait)

    def _to_16k(self, samples: np.ndarray, rate: int) -> np.ndarray:
        audio = samples.astype(np.float32) / (32768.0 if samples.dtype == np.int16 else 1.0)
        if rate != SAMPLE_RATE:
            if self._resampler is None or self._rate != rate:
                import soxr

                self._resampler, self._rate = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32"), rate
            audio = self._resampler.resample_chunk(audio)
        return audio

    def _append(self, audio: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio, audio])
        keep = int((TURN_CONTEXT_S + LEAD_S) * SAMPLE_RATE)
        self._recent = np.concatenate([self._recent, audio])[-keep:]

    def _speech_spans(self) -> list[tuple[int, int]]:
        """Stretches of voice activity in the buffer, split at silences of check_pause_s or more."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        vad = VadOptions(min_silence_duration_ms=int(self.options.check_pause_s * 1000),
                         speech_pad_ms=int(VAD_PAD_S * 1000))
        return [(s["start"], s["end"]) for s in get_speech_timestamps(self._audio, vad)]

    def _keep(self, spans: list[tuple[int, int]], end: int, *, now: bool = False) -> None:
        """Still listening: transcribe the stretches a long enough pause has closed (`now`: every stretch that
        has ended), and drop what is done."""
        pause = int(self.options.segment_pause_s * SAMPLE_RATE)
        closed = [s for s in _join(spans, pause) if end - s[1] >= (0 if now else pause)]
        for start, stop in closed:
            self._transcribe(start, stop)
        if closed:
            cut = closed[-1][1]
            self._audio, self._offset = self._audio[cut:], self._offset + cut
        elif not spans and len(self._audio) > self.options.idle_keep_s * SAMPLE_RATE:
            drop = len(self._audio) - int(self.options.idle_keep_s * SAMPLE_RATE)
            self._audio, self._offset = self._audio[drop:], self._offset + drop
        return None

    def _decide(self, silence: float) -> str | None:
        """What ends the turn after this much silence, or None to keep listening."""
        o = self.options
        if self.turn is None or self._turn_failed:
            return "fixed pause" if silence >= o.end_pause_s else None
        if silence >= o.max_pause_s:
            return "thinking pause limit"
        if silence < o.check_pause_s:
            return None
        if self._asked_at != self._last_word:  # once per pause; its answer stands until the candidate speaks again
            self._asked_at = self._last_word
            self._probability = self._ask()
            if self._probability is None:
                return self._decide(silence)  # the model failed: the fixed pause decides from now on
            log.debug("turn model: P(finished)=%.2f after %.2f s of silence", self._probability, silence)
        if self._probability is not None and self._probability >= o.complete_above:
            return "turn model"
        return "words" if self._words_finished() else None

    def _ask(self) -> float | None:
        """The turn model's P(finished) for the turn so far, ending at the last word; None if it failed."""
        begin = self._offset + len(self._audio) - len(self._recent)  # absolute index of _recent[0]
        start = max(self._turn_start - int(LEAD_S * SAMPLE_RATE), begin) - begin
        stop = self._last_word + int(VAD_PAD_S * SAMPLE_RATE) - begin
        try:
            return float(self.turn.complete_probability(self._recent[start:stop]))
        except Exception as error:  # any failure of the model (onnxruntime raises its own kinds) must not lose the turn
            self._turn_failed = True
            log.warning("turn model failed (%s: %s); ending turns after a fixed %.1f s pause instead",
                        type(error).__name__, error, self.options.end_pause_s)
            return None

    def _transcribe(self, start: int, end: int) -> None:
        audio, shift = self._audio[start:end].copy(), (self._offset + start) / SAMPLE_RATE
        log.debug("stretch %.2f-%.2f s sent to the recogniser", shift, (self._offset + end) / SAMPLE_RATE)
        self._last_word = self._offset + max(end - int(VAD_PAD_S * SAMPLE_RATE), start)
        stretch = _Stretch(audio, shift, _RECOGNISER.submit(self._recognise, audio, shift), self._last_word)
        self._stretches.append(stretch)
        if self.words is not None:
            stretch.finished = _WORDS.submit(self._read, list(self._stretches))

    def _read(self, stretches: list[_Stretch]) -> tuple[int, float] | None:
        """The word count and the words model's P(finished) for the turn up to the last of `stretches`, once
        each is transcribed; None where one failed or the model did (the voice and the word list decide)."""
        try:  # a reading later than the thinking-pause limit decides nothing: this worker is not held longer
            texts = [s.heard.result(timeout=self.options.max_pause_s).text for s in stretches]
        except Exception as error:  # noqa: BLE001 (the recogniser's failures and delays are reported by _heard)
            log.debug("no words to read (%s)", type(error).__name__)
            return None
        try:
            text = _joined(texts)
            if not text:
                return None
            return len(text.split()), self.words.complete_probability(text)
        except Exception as error:  # noqa: BLE001 (any failure of the model must not lose the turn)
            log.warning("the words model could not read the answer so far (%s: %s)", type(error).__name__, error)
            return None

    def _recognise(self, audio: np.ndarray, shift: float) -> Transcript:
        began = time.perf_counter()
        heard = self.stt.transcribe(audio, hint=self.hint)
        log.debug("stretch at %.2f s (%.1f s of audio) transcribed in %.2f s: %d words", shift,
                  len(audio) / SAMPLE_RATE, time.perf_counter() - began, len(heard.words))
        return replace(heard, words=tuple(Word(w.text, w.start + shift, w.end + shift, w.probability)
                                          for w in heard.words))

    def _heard(self) -> list[Transcript]:
        """The transcripts of the turn's stretches, in order. A stretch the recogniser failed on is sent once
        more; if it fails again, or the recogniser takes longer than `transcribe_wait_s`, BackendUnavailable
        says so and every stretch is kept: heard at the turn's next end, or (when the recogniser was only
        slow) as soon as it has finished."""
        out = []
        for stretch in self._stretches:
            try:
                out.append(self._result(stretch))
            except Exception as error:  # noqa: BLE001 (whatever the recogniser raised, the audio is kept)
                if isinstance(error, BackendUnavailable):
                    raise
                log.warning("the recogniser failed on a stretch at %.2f s (%s: %s); trying it once more",
                            stretch.shift, type(error).__name__, error)
                stretch.heard = _RECOGNISER.submit(self._recognise, stretch.audio, stretch.shift)
                try:
                    out.append(self._result(stretch))
                except BackendUnavailable:
                    raise
                except Exception as again:  # noqa: BLE001
                    self._held = "failed"
                    log.exception("speech recognition failed twice; the turn's audio is kept")
                    raise BackendUnavailable(
                        f"speech recognition failed ({type(again).__name__}: {again}). What you said is kept and "
                        "heard again when you next pause; or type your answer") from again
        return out

    def heard_so_far(self) -> str:
        """The words of the turn's stretches transcribed so far, in order, up to the first one still being
        transcribed (or failed); never waits. What the LLM's prompt can be evaluated on while the candidate goes on."""
        texts = []
        for stretch in self._stretches:
            heard = stretch.heard
            if not heard.done() or heard.cancelled() or heard.exception() is not None:
                break
            texts.append(heard.result().text)
        return _joined(texts)

    def settle(self) -> None:
        """Wait until every stretch sent is transcribed and read: for measuring turn-taking in stream time, where
        audio is fed faster than it is said and the recogniser would otherwise always be behind."""
        for stretch in list(self._stretches):
            for job in (stretch.heard, stretch.finished):
                if job is not None:
                    with suppress(Exception):
                        job.result(timeout=self.options.transcribe_wait_s)

    def _result(self, stretch: _Stretch) -> Transcript:
        try:
            return stretch.heard.result(timeout=self.options.transcribe_wait_s)
        except TimeoutError as error:  # still running: the end is tried again once it has finished
            self._held = "busy"
            log.warning("the recogniser has not finished a stretch after %.0f s", self.options.transcribe_wait_s)
            raise BackendUnavailable(
                f"speech recognition has not finished after {self.options.transcribe_wait_s:.0f} s. What you said "
                "is kept and heard as soon as it has; or type your answer") from error

    def flush(self) -> Transcript | None:
        """Everything heard so far, ending the turn now (the answer time ran out mid-sentence)."""
        spans = self._speech_spans() if len(self._audio) else []
        if spans:
            self._last_word = self._offset + max(spans[-1][1] - int(VAD_PAD_S * SAMPLE_RATE), spans[-1][0])
        decided = self._offset + len(self._audio)
        if len(self._audio):
            self._transcribe(0, len(self._audio))
            self._audio, self._offset = self._audio[len(self._audio):], decided
        if self._last_word is None:
            self._last_word = decided
        return self._end("time up", decided=decided, at=time.time())

    def _end(self, reason: str, *, decided: int, at: float) -> Transcript | None:
        """Put the turn's transcript together; None (and keep listening) when it holds too few words. `decided`:
        the stream position at which the turn ended, which arrived at clock time `at`."""
        decided_at, last_word, probability = at, self._last_word, self._probability
        stretches = self._heard()  # raises, keeping the stretches, when the recogniser failed
        self.reset()
        words = [word for heard in stretches for word in heard.words]
        text = _joined(heard.text for heard in stretches)
        if len(words) < self.options.min_words:
            log.info("turn dropped (%s): %d word(s) is not an answer", reason, len(words))
            return None  # a cough or an "mhm": keep listening
        self.timing = TurnTiming(last_word / SAMPLE_RATE, decided / SAMPLE_RATE, decided_at, time.time(), reason,
                                 probability)
        self.last_pause_s = self.timing.decided_s - self.timing.last_word_s
        log.info("turn ended by %s %.2f s after the last word (P(finished)=%s); transcript %.2f s after the "
                 "decision: %d words", reason, self.last_pause_s,
                 "n/a" if probability is None else f"{probability:.2f}", self.timing.transcript_at - decided_at,
                 len(words))
        return Transcript(text=text, words=tuple(words), duration=words[-1].end)

    def reset(self) -> None:
        """Forget everything heard (a new turn, or the interviewer started speaking); stream time starts again."""
        self._audio, self._offset, self._recent = np.zeros(0, np.float32), 0, np.zeros(0, np.float32)
        self._stretches, self._last_word = [], None
        self._turn_start, self._asked_at, self._probability, self._held = None, None, None, ""
        self._voice_end, self._nodded = None, None


def _joined(texts: Iterable[str]) -> str:
    """The stretches' transcripts as one text, empty ones left out."""
    return " ".join(text for text in texts if text).strip()


def _join(spans: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Spans of speech joined across silences shorter than `gap` samples: the stretches worth transcribing."""
    joined: list[tuple[int, int]] = []
    for start, stop in spans:
        if joined and start - joined[-1][1] < gap:
            joined[-1] = (joined[-1][0], stop)
        else:
            joined.append((start, stop))
    return joined
