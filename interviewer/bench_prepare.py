"""`make bench`, part three: `prepare` on documents nobody here wrote, with the configured model.

The material is the READMEs of libraries this project installs, read from their installed package metadata, so
it is on every machine that runs the interviewer, two at a time: llama-cpp-python and faster-whisper (about
5,300 words, some ten printed pages of prose, lists and code: the end-to-end figure), then sentence-transformers
and rich (about 3,300 words), so that the share that passes rests on more than one pair of documents. Each run,
in a temporary data directory, writes INTERVIEWER_BENCH_PREPARE_QUESTIONS questions (3 unless set; each costs
minutes on 2 cores) and reports the seconds per question (p50, p95), the whole run end to end, the share of the
questions written (those asked for and any written in place of a dropped one) that passed the checks on the
first or second draft (issue 16's target: 80%), how many were kept, and the key points the grounding check
removed; the share is also given over both runs. The figures go under "prepare" in data/bench.json, beside the
other parts' figures.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from interviewer.errors import BadInput
from interviewer.settings import Settings
from interviewer.wiring import Services

MATERIALS = (("llama_cpp_python", "faster_whisper"), ("sentence_transformers", "rich"))  # whose READMEs, by run
TOPIC = "bench-readmes"


def material(folder: Path, sources: tuple[str, ...]) -> list[Path]:
    """The installed READMEs of these distributions, each written to a Markdown file in `folder`."""
    files = []
    for name in sources:
        text = importlib.metadata.metadata(name).get_payload() or ""
        path = folder / f"{name.replace('_', '-')}-readme.md"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def bench_prepare(settings: Settings, questions: int, sources: tuple[str, ...] = MATERIALS[0]) -> dict:
    """The figures of one `prepare` run on these READMEs, read from its journal (so a run that kept nothing still
    counts)."""
    from interviewer import documents as D
    from interviewer.prepare import read_journal, tally

    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        folder = Path(tmp)
        files = material(folder, sources)
        words = sum(len(path.read_text(encoding="utf-8").split()) for path in files)
        passages = sum(len(D.read(path).passages()) for path in files)
        services = Services(settings.model_copy(update={"data_dir": folder / "data"}))
        services.store, services.llm  # noqa: B018 (models and the bank load before the clock starts)
        started = time.perf_counter()
        try:
            services.prepare(files, TOPIC, questions=questions)
        except BadInput as error:  # no question passed: measured all the same
            print(f"prepare kept no question: {error}")
        total = time.perf_counter() - started
        outcomes = list(read_journal(folder / "data" / "prepared" / f"{TOPIC}.jsonl").values())
    seconds = [o.seconds for o in outcomes if o.seconds]
    counts = tally(outcomes)
    model = settings.llm_model if settings.llm_url else services.model_path("llm").parent.name
    return {"model": model, "words": words, "files": [path.name for path in files], "passages": passages, **counts,
            "kept_within_two_drafts_share": counts["kept_within_two_drafts"] / len(outcomes) if outcomes else None,
            "seconds_per_question": {"p50": float(np.percentile(seconds, 50)) if seconds else None,
                                     "p95": float(np.percentile(seconds, 95)) if seconds else None},
            "end_to_end_s": total}


def table(p: dict) -> str:
    def fmt(x) -> str:
        return "–" if x is None else f"{x:.0f}"

    share = p["kept_within_two_drafts_share"]
    return "\n".join([
        f"prepare: {p['planned']} questions from {', '.join(p['files'])} ({p['words']} words, {p['passages']} "
        f"passages), {p['model']}",
        "| measure | value | target |", "|---|---|---|",
        f"| seconds per question p50 / p95 | {fmt(p['seconds_per_question']['p50'])} / "
        f"{fmt(p['seconds_per_question']['p95'])} s | |",
        f"| end to end ({p['asked_for']} questions asked for, {p['planned']} written) | {fmt(p['end_to_end_s'])} s | |",
        f"| questions kept, of {p['asked_for']} asked for | {p['kept']} ({p['replacements']} written from another "
        "passage in place of a dropped one) | |",
        f"| passed the checks on the first or second draft | {p['kept_within_two_drafts']} of {p['planned']}"
        f" ({'–' if share is None else f'{share:.0%}'}) | ≥ 80% |",
        f"| key points removed by the grounding check | {p['key_points_removed']} | |",
        *(f"| dropped | {note} | |" for note in p["dropped"]),
    ])


def pooled(runs: list[dict]) -> dict:
    """The runs' questions taken together: how many were written, and passed on the first or second draft."""
    written = sum(run["planned"] for run in runs)
    within_two = sum(run["kept_within_two_drafts"] for run in runs)
    return {"planned": written, "kept_within_two_drafts": within_two,
            "kept_within_two_drafts_share": within_two / written if written else None}


def main() -> None:
    settings = Settings()
    questions = int(os.environ.get("INTERVIEWER_BENCH_PREPARE_QUESTIONS", "3"))
    runs = [bench_prepare(settings, questions, sources) for sources in MATERIALS]
    both = pooled(runs)
    print("\n\n".join(table(run) for run in runs))
    share = both["kept_within_two_drafts_share"]
    print(f"\nboth runs: {both['kept_within_two_drafts']} of {both['planned']} written questions passed the checks on "
          f"the first or second draft ({'–' if share is None else f'{share:.0%}'}; target ≥ 80%)")
    result = {"runs": runs, "both": both}
    out = settings.data_dir / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = json.loads(out.read_text()) if out.is_file() else {}
    out.write_text(json.dumps({**figures, "prepare": result}, indent=2, default=str))
    print(f"\nwritten to {out} (under \"prepare\")")


if __name__ == "__main__":
    main()
