"""`make eval`: how well retrieval and grading work, measured on our own data and on public data.

Sections: retrieval (recall@1 by question text and by model answer, recall@3 on paraphrases, ingestion
time); grading agreement on our labelled answers (held-out third: Pearson, Spearman, QWK, MAE, and per
category); SemEval-2013 Task 7 two-way (AUC and macro-F1 per test split, threshold fitted on training
only); consistency and latency. Prints tables and writes data/eval.json.
"""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from interviewer.audio import chunks_to_16k
from interviewer.grader import Reference
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.settings import REPO_ROOT, Settings
from interviewer.wiring import Services

GRADED = REPO_ROOT / "tests" / "data" / "graded"
PARAPHRASES = REPO_ROOT / "tests" / "data" / "paraphrases"
SEMEVAL = REPO_ROOT.parent / "shared" / "data" / "semeval2013-task7" / "semeval2013_3way.tsv"


def split_of(item: dict) -> str:
    """A fixed third of the labelled answers is held out from any tuning: chosen by a hash of the text."""
    digest = hashlib.sha256(f"{item['question_id']}|{item['answer']}".encode()).digest()
    return "heldout" if digest[0] % 3 == 0 else "tune"


def load_labelled() -> list[dict]:
    items = []
    for file in sorted(GRADED.glob("*.yaml")):
        for item in yaml.safe_load(file.read_text()):
            items.append({**item, "answer": item.get("answer") or "", "split": split_of(item)})
    return items


def agreement(labels: list[float], predicted: list[float]) -> dict:
    """Pearson, Spearman, quadratic weighted kappa and mean absolute error."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import cohen_kappa_score

    y, p = np.array(labels, float), np.array(predicted, float)
    return {
        "n": len(y),
        "pearson": float(pearsonr(y, p)[0]),
        "spearman": float(spearmanr(y, p)[0]),
        "qwk": float(cohen_kappa_score(y.astype(int), np.rint(p).astype(int), weights="quadratic",
                                       labels=list(range(11)))),
        "mae": float(np.mean(np.abs(y - p))),
    }


def eval_grading(services: Services) -> dict:
    items = load_labelled()
    store, grader = services.store, services.grader
    times = []
    for item in items:
        start = time.perf_counter()
        grade = grader.grade(store.get(item["question_id"]), item["answer"])
        times.append(time.perf_counter() - start)
        item["predicted"], item["confidence"] = grade.score, grade.confidence
    result = {}
    for split in ("tune", "heldout"):
        chosen = [i for i in items if i["split"] == split]
        result[split] = agreement([i["score"] for i in chosen], [i["predicted"] for i in chosen])
    per_category = defaultdict(list)
    for i in items:
        if i["split"] == "heldout":
            per_category[i["category"]].append(i)
    result["heldout_by_category"] = {
        cat: {"n": len(rows), "label_mean": statistics.mean(r["score"] for r in rows),
              "predicted_mean": statistics.mean(r["predicted"] for r in rows),
              "mae": statistics.mean(abs(r["score"] - r["predicted"]) for r in rows)}
        for cat, rows in sorted(per_category.items())
    }
    result["heldout_by_confidence"] = {  # does the grader know when it may be wrong?
        level: {"n": len(rows), "mae": statistics.mean(abs(r["score"] - r["predicted"]) for r in rows)}
        for level in ("high", "medium", "low")
        if (rows := [i for i in items if i["split"] == "heldout" and i["confidence"] == level])
    }
    result["latency_p50_ms"] = 1000 * float(np.percentile(times, 50))
    result["latency_p95_ms"] = 1000 * float(np.percentile(times, 95))
    sample = items[:20]
    result["consistent_over_10_repeats"] = all(
        len({grader.grade(store.get(i["question_id"]), i["answer"]).to_dict().__repr__() for _ in range(10)}) == 1
        for i in sample
    )
    return result


def semeval_rows() -> list[dict]:
    with SEMEVAL.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def semeval_signal(services: Services, row: dict) -> float:
    """The grader's continuous coverage of the best-matching reference answer."""
    best = 0.0
    for reference in row["reference_answers"].split(" ||| "):
        grade = services.grader.grade(Reference.from_text(row["question"], reference), row["student_answer"])
        best = max(best, grade.coverage)
    return best


def eval_semeval(services: Services) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    if not SEMEVAL.exists():
        return {"skipped": f"{SEMEVAL} not found"}
    groups: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    rows = semeval_rows()
    references = [Reference.from_text(row["question"], text) for row in rows
                  for text in row["reference_answers"].split(" ||| ")]
    services.grader.warm(references)
    services.grader.warm_answers([row["student_answer"] for row in rows])
    for row in rows:
        groups[(row["corpus"], row["split"])].append((semeval_signal(services, row), int(row["label"] == "correct")))
    result = {}
    for corpus in sorted({c for c, _ in groups}):
        train = np.array(groups[(corpus, "training")])
        candidates = np.unique(np.round(train[:, 0], 3))
        threshold = max(candidates, key=lambda t: f1_score(train[:, 1], train[:, 0] >= t, average="macro"))
        for (c, split), rows in sorted(groups.items()):
            if c != corpus or split == "training":
                continue
            data = np.array(rows)
            result[f"{corpus}/{split}"] = {
                "n": len(rows), "threshold": float(threshold),
                "auc": float(roc_auc_score(data[:, 1], data[:, 0])),
                "macro_f1": float(f1_score(data[:, 1], data[:, 0] >= threshold, average="macro")),
            }
    return result


def eval_retrieval(services: Services) -> dict:
    questions = services.bank.questions
    with tempfile.TemporaryDirectory() as tmp:
        return _eval_retrieval(KnowledgeStore(open_client(Path(tmp)), services.embedder), questions)


def _eval_retrieval(store: KnowledgeStore, questions: list) -> dict:
    start = time.perf_counter()
    store.ingest(questions)
    ingest_s = time.perf_counter() - start
    start = time.perf_counter()
    store.ingest(questions)
    reingest_s = time.perf_counter() - start
    by_question = np.mean([store.search(q.question, k=1)[0].question.id == q.id for q in questions])
    by_answer = np.mean([store.search(q.answer, k=1)[0].question.id == q.id for q in questions])
    paraphrases = [p for f in sorted(PARAPHRASES.glob("*.yaml")) for p in yaml.safe_load(f.read_text())]

    def at3(kind: str | None) -> float:
        return float(np.mean([p["id"] in [h.question.id for h in store.search(p["text"], k=3, kind=kind)]
                              for p in paraphrases]))

    return {"questions": len(questions), "ingest_s": ingest_s, "reingest_unchanged_s": reingest_s,
            "recall@1_question_text": float(by_question), "recall@1_model_answer": float(by_answer),
            "paraphrases": len(paraphrases), "recall@3_paraphrase": at3(None),
            "recall@3_paraphrase_question_records_only": at3("q"),
            "recall@3_paraphrase_answer_records_only": at3("a")}


def eval_speech(services: Services, count: int = 24) -> dict:
    """Word error rate on synthesised answers dense with jargon, without and with the glossary hint."""
    import jiwer

    questions = sorted(services.bank.questions, key=lambda q: -len(q.glossary))[:count]
    normalise = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                               jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    truth, plain, hinted = [], [], []
    for q in questions:
        text = " ".join(q.key_points[:2])
        audio = np.concatenate([np.zeros(8000, np.float32), chunks_to_16k(services.tts.synthesize(text))])
        truth.append(text)
        plain.append(services.stt.transcribe(audio).text)
        hinted.append(services.stt.transcribe(audio, hint="Glossary: " + ", ".join(q.glossary) + ".").text)

    def wer(hypotheses: list[str]) -> float:
        return float(jiwer.wer(truth, hypotheses, reference_transform=normalise, hypothesis_transform=normalise))

    def wer_whisper_normalised(hypotheses: list[str]) -> float:
        """WER after the Whisper paper's English normaliser, as ASR leaderboards report it: "fifteen percent"
        and "15%", "decoder-only" and "decoder only", "normalised" and "normalized" count as the same words."""
        from whisper_normalizer.english import EnglishTextNormalizer

        norm = EnglishTextNormalizer()
        return float(jiwer.wer([norm(t) for t in truth], [norm(h) for h in hypotheses]))

    return {"answers": len(truth), "wer_plain": wer(plain), "wer_glossary_hint": wer(hinted),
            "wer_plain_normalised": wer_whisper_normalised(plain),
            "wer_glossary_hint_normalised": wer_whisper_normalised(hinted)}


def _print_tables(results: dict) -> None:
    r = results["retrieval"]
    print("## Retrieval\n\n| measure | value | target |\n|---|---|---|")
    print(f"| recall@1, question text ({r['questions']} questions) | {r['recall@1_question_text']:.3f} | ≥ 0.95 |")
    print(f"| recall@1, model answer | {r['recall@1_model_answer']:.3f} | ≥ 0.95 |")
    print(f"| recall@3, paraphrased questions ({r['paraphrases']}), question and answer records | "
          f"{r['recall@3_paraphrase']:.3f} | |")
    print(f"| recall@3, paraphrased questions, question records only | "
          f"{r['recall@3_paraphrase_question_records_only']:.3f} | |")
    print(f"| recall@3, paraphrased questions, answer records only | "
          f"{r['recall@3_paraphrase_answer_records_only']:.3f} | |")
    print(f"| ingest whole bank | {r['ingest_s']:.2f} s | |")
    print(f"| re-ingest, nothing changed | {r['reingest_unchanged_s']:.3f} s | < 1 s |")
    g = results["grading"]
    print("\n## Grading agreement, own labelled set\n\n| split | n | Pearson | Spearman | QWK | MAE |")
    print("|---|---|---|---|---|---|")
    for split in ("tune", "heldout"):
        m = g[split]
        print(f"| {split} | {m['n']} | {m['pearson']:.3f} | {m['spearman']:.3f} | {m['qwk']:.3f} | {m['mae']:.2f} |")
    print("\n| held-out category | n | label mean | grader mean | MAE |\n|---|---|---|---|---|")
    for cat, m in g["heldout_by_category"].items():
        print(f"| {cat} | {m['n']} | {m['label_mean']:.1f} | {m['predicted_mean']:.1f} | {m['mae']:.2f} |")
    print("\n| held-out, grader's confidence | n | MAE |\n|---|---|---|")
    for level, m in g["heldout_by_confidence"].items():
        print(f"| {level} | {m['n']} | {m['mae']:.2f} |")
    print(f"\nconsistent over 10 repeats: {g['consistent_over_10_repeats']}; "
          f"latency p50 {g['latency_p50_ms']:.1f} ms, p95 {g['latency_p95_ms']:.1f} ms")
    if "speech" in results:
        sp = results["speech"]
        print(f"\n## Speech recognition on {sp['answers']} synthesised jargon-dense answers\n")
        print("| glossary hint | WER, lower case, no punctuation | WER, Whisper's English normaliser | target |")
        print("|---|---|---|---|")
        print(f"| without | {sp['wer_plain']:.3f} | {sp['wer_plain_normalised']:.3f} | ≤ 0.10 |")
        print(f"| with | {sp['wer_glossary_hint']:.3f} | {sp['wer_glossary_hint_normalised']:.3f} | ≤ 0.10 |")
    s = results["semeval"]
    if "skipped" not in s:
        print("\n## SemEval-2013 Task 7, 2-way (threshold fitted on training)\n")
        print("| split | n | AUC | macro-F1 |\n|---|---|---|---|")
        for split, m in s.items():
            print(f"| {split} | {m['n']} | {m['auc']:.3f} | {m['macro_f1']:.3f} |")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    settings = Settings()
    services = Services(settings)
    results = {"retrieval": eval_retrieval(services)}
    results["grading"] = eval_grading(services)
    results["speech"] = eval_speech(services)
    results["semeval"] = {"skipped": "--quick"} if "--quick" in argv else eval_semeval(services)
    _print_tables(results)
    out = settings.data_dir / "eval.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
