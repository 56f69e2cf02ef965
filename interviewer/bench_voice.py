"""`make bench`'s turn-taking figures: scripted spoken answers streamed through TurnListener as a browser
sends them, with the fixed pause and with the turn model, in the same run.

- late end: how long after a finished answer's last word the turn was decided (stream time);
- cut-off rate: the share of answers with a 1-3 s thinking pause mid-sentence that ended at the pause;
- latency: last word → turn decided → transcript final, in wall-clock time, with chunks sent at the pace of
  speech (a chunk leaves once its audio has been spoken), on a quiet machine and with a CPU hog on every core;
- lost words: the share of the answer's words missing from the transcript, quiet and under that hog;
- nods: what the interviewer would say at each pause before the turn ends ("okay" where the voice sounds
  finished, "uh-huh" where it might be; see TurnListener.nod_due), after finished answers and at thinking pauses.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import time
from collections import Counter
from contextlib import contextmanager

import numpy as np

from interviewer.audio import SAMPLE_RATE
from interviewer.listening import ListenOptions, TurnListener
from interviewer.voices import Script, answers, whole, with_pause

log = logging.getLogger(__name__)

PAUSES_S = (1.0, 1.5, 2.0, 2.5, 3.0)  # thinking pauses, in turn


def listener_for(services, mode: str, hint: str, options: ListenOptions | None = None) -> TurnListener:
    """"fixed": the old fixed pause alone; "smart": the turn and words models with the settings' pauses."""
    options = options or services.listen_options()
    smart = mode == "smart"
    return TurnListener(services.stt, options, hint=hint, turn=services.turn if smart else None,
                        words=services.words if smart else None)


def stream(listener: TurnListener, script: Script, *, chunk_s: float = 0.5, paced: bool = False) -> dict:
    """Feed a script in `chunk_s` pieces until the turn ends; paced: each piece once its audio has been said."""
    step, began = int(chunk_s * SAMPLE_RATE), time.time()
    heard, nods = None, []
    for at in range(0, len(script.audio), step):
        if paced:
            time.sleep(max(0.0, began + (at + step) / SAMPLE_RATE - time.time()))
        heard = listener.feed(script.audio[at:at + step], nods=True)  # as the page, its voice on
        if heard is not None:
            break
        if kind := listener.nod_due():
            nods.append(((at + step) / SAMPLE_RATE, kind))  # stream time: the end of the piece it came with
        if not paced:  # in stream time the recogniser and the words model keep up, as they do when paced
            listener.settle()
    t = listener.timing if heard is not None else None
    out = {"ended": heard is not None, "text": heard.text if heard else "", "reason": t.reason if t else "never",
           "decided_s": t.decided_s if t else None, "nods": nods}
    if t and paced:
        said = began + script.last_word_s
        out |= {"to_decided_s": t.decided_at - said, "to_transcript_s": t.transcript_at - said}
    return out


def missing_words(reference: str, heard: str) -> float:
    """The share of the reference's words (lower case, letters and digits) that the transcript lacks."""
    def bag(text: str) -> Counter:
        return Counter(re.findall(r"[a-z0-9]+", text.lower()))

    want = bag(reference)
    return sum((want - bag(heard)).values()) / max(1, sum(want.values()))


def _spin() -> None:
    while True:
        pass


@contextmanager
def cpu_hog():
    """A busy loop on every core while the block runs."""
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 2)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.join()


def _p(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def measure_stream_time(services, scripts: list[tuple[str, str]], voices: tuple[str, ...], modes: tuple[str, ...],
                        options: ListenOptions | None = None) -> dict:
    """Late end and cut-off rate per mode (unpaced: both are measured in stream time, so pace does not matter)."""
    out = {}
    for mode in modes:
        late, cut, runs = [], [], 0
        after, during, nod_s = [], [], []  # the nod after each finished answer, at each thinking pause: its kind
        for voice in voices:
            for n, (text, hint) in enumerate(scripts):
                done = whole(services, voice, text)
                r = stream(listener_for(services, mode, hint, options), done)
                late.append(r["decided_s"] - done.last_word_s if r["ended"] else float("inf"))
                nod = next(((at, kind) for at, kind in r["nods"] if at > done.last_word_s), None)
                after.append(nod[1] if nod else None)
                if nod:
                    nod_s.append(nod[0] - done.last_word_s)
                paused = with_pause(services, voice, text, PAUSES_S[n % len(PAUSES_S)])
                r = stream(listener_for(services, mode, hint, options), paused)
                cut.append(r["ended"] and r["decided_s"] < paused.pause_s[1])
                during.append(next((kind for at, kind in r["nods"] if paused.pause_s[0] < at <= paused.pause_s[1]),
                                   None))
                runs += 1
                log.info("%s %s #%d: late end %.2f s, paused one %s", mode, voice, n, late[-1],
                         "cut off" if cut[-1] else "heard out")
        out[mode] = {"late_end_s": {"p50": _p(late, 50), "p95": _p(late, 95)},
                     "cut_off_rate": float(np.mean(cut)), "paused_answers": runs,
                     "nods": {"after_finished": _shares(after), "at_thinking_pause": _shares(during),
                              "after_finished_s": {"p50": _p(nod_s, 50), "p95": _p(nod_s, 95)}}}
    return out


def _shares(kinds: list[str | None]) -> dict:
    """The share of answers that got each kind of nod, and none."""
    return {str(kind): kinds.count(kind) / len(kinds) for kind in ("finished", "going on", None)} if kinds else {}


def measure_latency(services, scripts: list[tuple[str, str]], mode: str, *, load: bool = False,
                    chunk_s: float = 0.5) -> dict:
    """Wall-clock latency from the last word and lost words, paced like real speech, on Piper's voice."""
    decided, transcript, lost = [], [], []
    runs = [(text, hint, whole(services, "piper", text)) for text, hint in scripts]  # synthesised before any hog
    with cpu_hog() if load else _nothing():
        for text, hint, script in runs:
            r = stream(listener_for(services, mode, hint), script, chunk_s=chunk_s, paced=True)
            if r["ended"]:
                decided.append(r["to_decided_s"])
                transcript.append(r["to_transcript_s"])
            lost.append(missing_words(text, r["text"]))
    return {"last_word_to_turn_end_s": {"p50": _p(decided, 50), "p95": _p(decided, 95)},
            "last_word_to_transcript_s": {"p50": _p(transcript, 50), "p95": _p(transcript, 95)},
            "missing_words": float(np.mean(lost)), "answers": len(runs)}


@contextmanager
def _nothing():
    yield


def bench_turn_taking(services, *, count: int = 24, paced: int = 8) -> dict:
    """The voice_turn figures except the reply's first audio (which bench.bench_voice_turn adds)."""
    scripts = [(text, "") for text in answers(services.bank, count)]
    try:
        from interviewer.voices import espeak_16k

        espeak_16k("test")
        voices = ("piper", "espeak")
    except Exception as error:  # no espeak-ng: Piper's voice only, said in the figures
        log.warning("second voice unavailable (%s); turn-taking measured on Piper's voice only", error)
        voices = ("piper",)
    out = {"voices": list(voices), "scripted_answers": len(scripts),
           "by_mode": measure_stream_time(services, scripts, voices, ("fixed", "smart"))}
    for mode in ("fixed", "smart"):
        out["by_mode"][mode]["quiet"] = measure_latency(services, scripts[:paced], mode)
    out["by_mode"]["smart"]["under_load"] = measure_latency(services, scripts[:paced], "smart", load=True)
    smart = out["by_mode"]["smart"]
    out |= {"cut_off_rate": smart["cut_off_rate"], "late_end_s": {"p50": smart["late_end_s"]["p50"]},
            "lost_words_under_load": smart["under_load"]["missing_words"],
            "missing_words_quiet": smart["quiet"]["missing_words"]}
    return out
