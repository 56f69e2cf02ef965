"""`make bench`'s recognition figures: word error rate and real-time factor of each Whisper model on answers
dense with jargon (opening sentences of the bank's model answers), without and with the question's glossary
as a hint, on Piper's voice and on espeak-ng's. Prints a table and writes data/speech-eval.json.

Run alone with `python -m interviewer.speech_eval`; models not installed are skipped and named.
"""

from __future__ import annotations

import json
import logging
import re
import time

import numpy as np

from interviewer.audio import SAMPLE_RATE
from interviewer.errors import InterviewerError
from interviewer.settings import Settings
from interviewer.voices import speak
from interviewer.wiring import Services

log = logging.getLogger(__name__)

MODELS = ("whisper-tiny-en", "whisper-base")
VOICES = ("piper", "espeak")
TARGETS = {"piper": 0.10, "espeak": 0.15}  # WER with the hint, issue 14


def jargon_answers(bank, count: int) -> list[tuple[str, str]]:
    """(answer text, glossary hint) for the questions with the most glossary terms, one per topic first."""
    seen, picked = set(), []
    for q in sorted(bank.questions, key=lambda q: -len(q.glossary)):
        if q.topic in seen and len(seen) < len({x.topic for x in bank.questions}):
            continue
        sentences = re.split(r"(?<=[.!?])\s+", q.answer.strip())
        picked.append((" ".join(sentences[:2]), "Glossary: " + ", ".join(q.glossary) + "."))
        seen.add(q.topic)
        if len(picked) == count:
            break
    return picked


def wer(truth: list[str], heard: list[str]) -> float:
    """Word error rate after Whisper's English normaliser ("decoder-only" and "decoder only" are one)."""
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    return float(jiwer.wer([norm(t) for t in truth], [norm(h) or "-" for h in heard]))


def evaluate(services: Services, count: int = 12) -> dict:
    """WER and real-time factor per model × voice × hint."""
    from interviewer.stt import WhisperSTT

    answers = jargon_answers(services.bank, count)
    audio = {}
    for voice in VOICES:
        try:
            audio[voice] = [np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), speak(services, voice, text)])
                            for text, _ in answers]
        except InterviewerError as error:
            log.warning("voice %s skipped: %s", voice, error)
    rows = []
    for model_id in MODELS:
        try:
            spec = services.registry.models[model_id]
            from interviewer import registry

            stt = WhisperSTT(registry.require(spec, services.settings.models_dir))
        except (KeyError, InterviewerError) as error:
            log.warning("model %s skipped: %s", model_id, error)
            continue
        for voice, clips in audio.items():
            for hinted in (False, True):
                heard, seconds = [], 0.0
                for (_, hint), clip in zip(answers, clips, strict=True):
                    began = time.perf_counter()
                    heard.append(stt.transcribe(clip, hint=hint if hinted else "").text)
                    seconds += time.perf_counter() - began
                length = sum(len(c) for c in clips) / SAMPLE_RATE
                rows.append({"model": model_id, "voice": voice, "hint": hinted, "answers": len(clips),
                             "wer": wer([t for t, _ in answers], heard), "rtf": seconds / length})
                log.info("%s", rows[-1])
    return {"rows": rows, "targets_wer_with_hint": TARGETS}


def table(results: dict) -> str:
    lines = ["| model | voice | glossary hint | WER | real-time factor | target (with hint) |",
             "|---|---|---|---|---|---|"]
    for r in results["rows"]:
        target = f"≤ {TARGETS[r['voice']]:.2f}" if r["hint"] else ""
        lines.append(f"| {r['model']} | {r['voice']} | {'with' if r['hint'] else 'without'} | {r['wer']:.3f} | "
                     f"{r['rtf']:.3f} | {target} |")
    return "\n".join(lines)


def main() -> None:
    settings = Settings()
    results = evaluate(Services(settings))
    print(table(results))
    out = settings.data_dir / "speech-eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
