"""`make eval`: how well retrieval and grading work, measured on our own data and on public data.

Sections: retrieval (recall@1 by question text and by model answer, recall@3 on paraphrases, ingestion
time); grading agreement on our labelled answers (held-out third: Pearson, Spearman, QWK, MAE, and per
category); SemEval-2013 Task 7 two-way (AUC and macro-F1 per test split, threshold fitted on training
only); consistency and latency. Prints tables and writes data/eval.json.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from interviewer.audio import chunks_to_16k
from interviewer.conversation import Context, Dialogue
from interviewer.errors import BadInput
from interviewer.grader import EMPTY_VERDICTS, Reference
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.settings import REPO_ROOT, Settings
from interviewer.types import Grade
from interviewer.verdicts import VerifyOptions, made, marks, odds, share, verified_grade, verified_score
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


CHECKSET = REPO_ROOT / "tests" / "data" / "checkset"  # strangers' answers: a test set, never fitted on
TUNESET = REPO_ROOT / "tests" / "data" / "tuneset"  # strangers' answers to other questions: fitted on


def _order(key: str) -> str:
    """A fixed pseudo-random order (by hash), so samples are the same in every run and on every machine."""
    return hashlib.sha256(key.encode()).hexdigest()


class Judge:
    """The LLM's verdicts on an answer, obtained exactly as the conductor obtains them, and kept on disk by
    model and prompt (data/eval-cache/judge.jsonl), so a rerun only judges what changed."""

    def __init__(self, services: Services, *, cached_only: bool = False) -> None:
        self.cached_only = cached_only  # judge nothing new: measure on the answers already judged
        self.dialogue = services.dialogue
        if self.dialogue is None:
            raise SystemExit("the verified grade needs the LLM; unset INTERVIEWER_USE_LLM=0 or run with --quick")
        self.model = str(services.settings.llm_url or services.model_path("llm"))
        self.path = services.settings.data_dir / "eval-cache" / "judge.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cache: dict[str, list[dict]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut short by an interrupted run
                self.cache[row["key"]] = row["verdicts"]
        self.seconds: list[float] = []  # time of each call not served from the cache

    def verdicts(self, question: str, key_points: tuple[str, ...], answer: str, provisional: Grade,
                 ) -> tuple[dict, ...] | None:
        """The verdicts per key point, each read beside the answer's words closest to it in the `provisional`
        grade (None with `cached_only` when this answer was never judged)."""
        context = Context.of_answer(question, key_points, answer, provisional)
        messages = Dialogue.messages(context)
        slots = [s.forced for s in context.verdict_slots()]
        key = _order(json.dumps([self.model, [m.content for m in messages], slots]))
        if key not in self.cache and self.cached_only:
            return None
        if key not in self.cache:
            start = time.perf_counter()
            judgement = self.dialogue.judge(context, kind="answer")
            self.seconds.append(time.perf_counter() - start)
            self._remember(key, [dict(v) for v in judgement.verdicts])
        return tuple(self.cache[key])

    def _remember(self, key: str, value) -> None:
        self.cache[key] = value
        with self.path.open("a") as handle:
            handle.write(json.dumps({"key": key, "verdicts": value}) + "\n")

    def made(self, question: str, key_points: tuple[str, ...], answer: str, provisional: Grade, n: int,
             options: VerifyOptions) -> bool:
        """Whether the LLM, reading key point `n` alone as the conductor does before asking a follow-up on it,
        credits the answer with it (cached like the verdicts; False with `cached_only` when never read)."""
        context = Context.of_answer(question, key_points, answer, provisional)
        key = _order(json.dumps([self.model, "point", [m.content for m in Dialogue.messages(context)],
                                 context.verdict_slot(n).forced]))
        if key not in self.cache and self.cached_only:
            return False
        if key not in self.cache:
            self._remember(key, self.dialogue.point(context, n))
        return made(self.cache[key], provisional.points[n].strength, options)

    def follow_up(self, question, answer: str, provisional: Grade, options: VerifyOptions,
                  ) -> tuple[int, str] | None:
        """The follow-up the conductor asks on the instant grade: planned, then its point checked (and the next
        one's, see ConductorOptions.follow_up_checks)."""
        from interviewer.conductor import ConductorOptions
        from interviewer.planner import follow_up_for, points_made

        made = points_made(question, provisional, lambda n: self.made(question.question, tuple(question.key_points),
                                                                       answer, provisional, n, options),
                           ConductorOptions().follow_up_checks)
        return follow_up_for(question, provisional, made)

    def kind(self, question: str, key_points: tuple[str, ...], said: str) -> str:
        """The LLM's reading of an utterance's intent, cached like the verdicts (asked even with `cached_only`:
        only the few utterances the rules cannot read come here)."""
        context = Context(question, tuple(key_points), (), said)
        key = _order(json.dumps([self.model, "kind", [m.content for m in Dialogue.messages(context)]]))
        if key not in self.cache:
            self._remember(key, self.dialogue.judge(context).kind)
        return self.cache[key]


def _features(provisional: Grade, verdicts: tuple[dict, ...]) -> list[float]:
    """What the verified grade is made of, averaged over the key points: the LLM's log-odds of yes, the
    embedding strength, and the probability of a contradiction."""
    return [float(np.mean([odds(v) for v in verdicts])),
            float(np.mean([p.strength for p in provisional.points])),
            float(max(v["contradicts"] for v in verdicts))]


def semeval_rows() -> list[dict]:
    with SEMEVAL.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _semeval_scored(services: Services, rows: list[dict]) -> None:
    """Add to each row its closest reference answer, the plain cosine to it, and the instant grade on it."""
    embedder = services.embedder
    texts = list(dict.fromkeys([r["student_answer"] for r in rows] +
                               [t for r in rows for t in r["reference_answers"].split(" ||| ")]))
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    for row in rows:
        answer = vectors[row["student_answer"]]
        cosines = {t: float(vectors[t] @ answer) for t in row["reference_answers"].split(" ||| ")}
        row["reference"] = max(cosines, key=cosines.get)
        row["cosine"] = cosines[row["reference"]]
    references = [Reference.from_text(r["question"], r["reference"]) for r in rows]
    services.grader.warm(references)
    services.grader.warm_answers([r["student_answer"] for r in rows])
    for row, reference in zip(rows, references, strict=True):
        row["reference_key"] = reference
        row["grade"] = services.grader.grade(reference, row["student_answer"])
        row["provisional"] = row["grade"].coverage


def _semeval_verified(judge: Judge, row: dict, options: VerifyOptions) -> None:
    reference = row["reference_key"]
    verdicts = judge.verdicts(reference.question, reference.key_points, row["student_answer"], row["grade"])
    if verdicts is None:
        return
    row["features"] = _features(row["grade"], verdicts)
    row["verified"] = share(marks(row["grade"], verdicts, options), options)


def _two_way(train: list[dict], test: list[dict], signal: str) -> dict:
    """AUC, and macro-F1 at the threshold that is best on the training rows."""
    from sklearn.metrics import f1_score, roc_auc_score

    y_train = np.array([r["label"] == "correct" for r in train])
    x_train = np.array([r[signal] for r in train])
    candidates = np.unique(np.round(x_train, 3))
    threshold = max(candidates, key=lambda t: f1_score(y_train, x_train >= t, average="macro"))
    y, x = np.array([r["label"] == "correct" for r in test]), np.array([r[signal] for r in test])
    return {"auc": float(roc_auc_score(y, x)), "macro_f1": float(f1_score(y, x >= threshold, average="macro")),
            "threshold": float(threshold)}


def _three_way(train: list[dict], test: list[dict], columns) -> dict:
    """Accuracy and macro-F1 of a logistic regression over correct / contradictory / incorrect, fitted on the
    training rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    model = LogisticRegression(max_iter=1000).fit([columns(r) for r in train], [r["label"] for r in train])
    predicted = model.predict([columns(r) for r in test])
    truth = [r["label"] for r in test]
    return {"accuracy": float(accuracy_score(truth, predicted)),
            "three_way_f1": float(f1_score(truth, predicted, average="macro"))}


BASELINES = {"cosine": lambda r: [r["cosine"]], "provisional": lambda r: [r["provisional"]]}


def eval_semeval(services: Services, judge: Judge | None, options: VerifyOptions, *, train_n: int = 30,
                 test_n: int = 12) -> dict:
    """Two-way and three-way results on every test split: the plain cosine and the instant grade on every
    row, and on a fixed sample per split the verified grade beside both baselines on the same rows. Every
    threshold and regression is fitted on the corpus's training split (for the verified grade, on a fixed
    sample of it)."""
    if not SEMEVAL.exists():
        return {"skipped": f"{SEMEVAL} not found"}
    rows = semeval_rows()
    _semeval_scored(services, rows)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["corpus"], row["split"])].append(row)
    samples = {key: sorted(group, key=lambda r: _order(r["answer_id"]))[: train_n if key[1] == "training" else test_n]
               for key, group in groups.items()}
    if judge is not None:
        for key in sorted(samples, key=lambda k: k[1] != "training"):  # training first: the fit needs it
            for row in samples[key]:
                _semeval_verified(judge, row, options)
    result: dict = {}
    for (corpus, split), test in sorted(groups.items()):
        if split == "training":
            continue
        train = groups[(corpus, "training")]
        entry = {"n": len(test)}
        for name, columns in BASELINES.items():
            entry[name] = {**_two_way(train, test, name), **_three_way(train, test, columns)}
        if judge is not None:
            train_s, test_s = ([r for r in samples[key] if "features" in r]
                               for key in ((corpus, "training"), (corpus, split)))
            entry["sample"] = {"n": len(test_s), "train_n": len(train_s)}
            for name, columns in {**BASELINES, "verified": lambda r: r["features"]}.items():
                entry["sample"][name] = {**_two_way(train_s, test_s, name), **_three_way(train_s, test_s, columns)}
        result[f"{corpus}/{split}"] = entry
    if judge is not None:
        result["fit"] = fit_credit([r for k, s in samples.items() if k[1] == "training" for r in s])
    return result


def fit_credit(rows: list[dict]) -> dict:
    """The logistic credit of a point (bias, llm_weight, embedding_weight of VerifyOptions), refitted on the
    SemEval training sample: was the student's answer correct, from the LLM's log-odds and the embedding."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([r["features"][:2] for r in rows])
    y = np.array([r["label"] == "correct" for r in rows])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return {"n": len(rows), "bias": float(model.intercept_[0]), "llm_weight": float(model.coef_[0][0]),
            "embedding_weight": float(model.coef_[0][1])}


def load_checkset(folder: Path = CHECKSET) -> list[dict]:
    return [item for file in sorted(folder.glob("*.yaml")) for item in yaml.safe_load(file.read_text())]


def _cosine_scale(services: Services, items: list[dict]) -> tuple[float, float]:
    """The plain-cosine baseline as a 0-10 score: a straight line fitted on the tuning part of our own set."""
    xs = _cosines(services, [(i["question"].answer, i["answer"]) for i in items])
    slope, intercept = np.polyfit(xs, [i["score"] for i in items], 1)
    return float(slope), float(intercept)


def _cosines(services: Services, pairs: list[tuple[str, str]]) -> list[float]:
    """Plain all-MiniLM cosine between each model answer and answer (0 for an empty answer)."""
    texts = list(dict.fromkeys(t for pair in pairs for t in pair if t.strip()))
    vectors = dict(zip(texts, services.embedder.embed(texts), strict=True))
    return [float(vectors[a] @ vectors[b]) if b.strip() else 0.0 for a, b in pairs]


def _graded(services: Services, judge: Judge | None, items: list[dict], scale: tuple[float, float],
            options: VerifyOptions) -> None:
    """Each item's cosine baseline, instant grade and (with a judge) verified grade, all out of 10."""
    cosines = _cosines(services, [(i["question"].answer, i["answer"]) for i in items])
    services.grader.warm([i["question"] for i in items])
    services.grader.warm_answers([i["answer"] for i in items], [i["question"] for i in items])
    for item, cosine in zip(items, cosines, strict=True):
        question = item["question"]
        item["cosine"] = float(np.clip(scale[0] * cosine + scale[1], 0, 10))
        item["grade"] = services.grader.grade(question, item["answer"])
        item["provisional"] = item["grade"].score
        if judge is not None:
            if item["grade"].verdict in EMPTY_VERDICTS:
                item["verified"] = item["grade"].score
            else:
                verdicts = judge.verdicts(question.question, tuple(question.key_points), item["answer"], item["grade"])
                if verdicts is not None:
                    item["verdicts"] = verdicts
                    item["verified"] = verified_grade(item["grade"], verdicts, options).score


def _methods(items: list[dict]) -> list[str]:
    return [m for m in ("cosine", "provisional", "verified") if all(m in i for i in items)]


def _agreements(items: list[dict]) -> dict:
    """Each method's agreement with the labels; when only some items were verified, every method again on just
    those (`same_rows`), so the verified grade is always compared on the same answers."""
    found = {m: agreement([i["score"] for i in items], [i[m] for i in items]) for m in _methods(items)}
    judged = [i for i in items if "verified" in i]
    if judged and len(judged) < len(items):
        found["same_rows"] = {m: agreement([i["score"] for i in judged], [i[m] for i in judged])
                              for m in _methods(judged)}
    return found


def _by(items: list[dict], field: str) -> dict:
    groups = defaultdict(list)
    for item in items:
        groups[item[field]].append(item)
    return {name: {"n": len(rows), "label_mean": statistics.mean(r["score"] for r in rows),
                   **{m: statistics.mean(r[m] for r in rows) for m in ("cosine", "provisional")},
                   **({"verified_n": len(judged), "verified_label_mean": statistics.mean(r["score"] for r in judged),
                       "verified": statistics.mean(r["verified"] for r in judged)}
                      if (judged := [r for r in rows if "verified" in r]) else {})}
            for name, rows in sorted(groups.items())}


VERIFY_FITTED = ("bias", "llm_weight", "embedding_weight", "full_marks_at", "instant_weight")


def fit_verify(items: list[dict], start: VerifyOptions | None = None) -> dict:
    """The verified grade's credit and blend (VERIFY_FITTED of VerifyOptions) refitted on judged answers (the
    tuneset: strangers' answers to questions the check set does not use) for the least mean absolute error of
    the unrounded score; printed beside the shipped values, which are set from it by hand. The embedding's
    weight may not go below 0 (more evidence never lowers a point's credit): unbounded, the fit on 160 answers
    set it to -0.37 and did no better on questions it was not fitted on."""
    from scipy.optimize import minimize

    start = start or VerifyOptions()

    def trial(x) -> VerifyOptions:
        return replace(start, **dict(zip(VERIFY_FITTED, (float(v) for v in x), strict=True)))

    def loss(x) -> float:
        o = trial(x)
        if not (0.3 <= o.full_marks_at <= 1.2 and 0 <= o.instant_weight <= 1 and o.embedding_weight >= 0):
            return 1e9
        return float(np.mean([abs(verified_score(i["grade"], marks(i["grade"], i["verdicts"], o), o) - i["score"])
                              for i in items]))

    if not items:
        return {}
    shipped = [getattr(start, name) for name in VERIFY_FITTED]
    best = min((minimize(loss, np.array(x0, float), method="Nelder-Mead", options={"maxiter": 3000})
                for x0 in (shipped, [-2.0, 1.5, 1.0, 0.8, 0.2])), key=lambda r: r.fun)
    return {"n": len(items), **{k: round(float(v), 3) for k, v in zip(VERIFY_FITTED, best.x, strict=True)},
            "mae": round(float(best.fun), 3), "shipped_mae": round(loss(shipped), 3)}


def eval_grading(services: Services, judge: Judge | None, options: VerifyOptions, *, tune_n: int = 30,
                 heldout_n: int = 40) -> dict:
    """Our own labelled set (tuning part and held-out part) and the check set written by strangers, each
    with the plain cosine, the instant grade and the verified grade, out of 10."""
    store = services.store
    own = load_labelled()
    for item in own:
        item["question"] = store.get(item["question_id"])
    tune = [i for i in own if i["split"] == "tune"]
    heldout = [i for i in own if i["split"] == "heldout"]
    tune_sample = sorted(tune, key=lambda i: _order(i["question_id"] + i["answer"]))[:tune_n]
    heldout_sample = sorted(heldout, key=lambda i: _order(i["question_id"] + i["answer"]))[:heldout_n]
    check, tuneset = load_checkset(), load_checkset(TUNESET)
    for item in check + tuneset:
        item["question"] = store.get(item["question_id"])
    scale = _cosine_scale(services, tune)
    _graded(services, None, tune + heldout, scale, options)
    _graded(services, judge, check, scale, options)
    _graded(services, judge, tuneset, scale, options)
    _graded(services, judge, tune_sample, scale, options)
    _graded(services, judge, heldout_sample, scale, options)
    result = {"cosine_scale_fitted_on": "own set, tuning part", "cosine_scale": scale,
              "check": _agreements(check), "check_by_style": _by(check, "style"),
              "tuneset": _agreements(tuneset), "tuneset_by_style": _by(tuneset, "style"),
              "own_tune_sample": _agreements(tune_sample), "own_heldout": _agreements(heldout_sample),
              "own_heldout_all_instant": agreement([i["score"] for i in heldout], [i["provisional"] for i in heldout]),
              "own_heldout_by_category": _by(heldout, "category"),
              "own_tune_all_instant": agreement([i["score"] for i in tune], [i["provisional"] for i in tune])}
    if judge is not None:
        result["verify_fit_on_tuneset"] = fit_verify([i for i in tuneset if "verdicts" in i])
    times = []
    for item in check[:40]:
        start = time.perf_counter()
        services.grader.grade(item["question"], item["answer"])
        times.append(time.perf_counter() - start)
    result["instant_latency_ms"] = {"p50": 1000 * float(np.percentile(times, 50)),
                                    "p95": 1000 * float(np.percentile(times, 95))}
    result["consistent_over_10_repeats"] = _consistent(services, judge, [i for i in check if "verified" in i][:3],
                                                       options)
    return result


def _consistent(services: Services, judge: Judge | None, items: list[dict], options: VerifyOptions) -> dict:
    """The same answer graded 10 times, in each mode, gives one grade (the verified mode asks the LLM anew)."""
    instant = all(len({repr(services.grader.grade(i["question"], i["answer"]).to_dict()) for _ in range(10)}) == 1
                  for i in items)
    if judge is None:
        return {"instant": instant}
    verified = True
    for item in items:
        q = item["question"]
        context = Context.of_answer(q.question, q.key_points, item["answer"], item["grade"])
        seen = {verified_grade(item["grade"], judge.dialogue.judge(context, kind="answer").verdicts, options).score
                for _ in range(10)}
        verified &= len(seen) == 1
    return {"instant": instant, "verified": verified}

EXCHANGES = REPO_ROOT / "tests" / "data" / "conversation" / "exchanges.yaml"


def eval_conversation(services: Services, judge: Judge | None, options: VerifyOptions, *, replies: int = 8) -> dict:
    """On utterances written by strangers (tests/data/conversation, a test set): whether the interviewer
    reads what the candidate meant (intent accuracy, against treating everything as an answer, as before);
    whether the follow-up asks for a point the candidate had just made (on the instant and on the verified
    grade); whether a raised concept finds a stored question to probe; and, on a sample of LLM replies,
    whether any spoken sentence states a key point the candidate had not made."""
    from interviewer.conductor import related
    from interviewer.intents import read_intent
    from interviewer.planner import follow_up_for

    store = services.store
    items = yaml.safe_load(EXCHANGES.read_text())
    reader = services.intents
    truth, rules, classified, chosen = [], [], [], []
    asked_made = {"provisional": 0, "checked": 0, "verified": 0}
    followed = {"provisional": 0, "checked": 0, "verified": 0}
    confirmed = {"provisional": 0, "checked": 0}  # follow-ups on a point made that the verified grade confirms
    probes = found = 0
    for item in items:
        q = store.get(item["question_id"])
        said = item["says"]
        reading = reader(said)
        kind = reading.intent
        if not reading.confident and judge is not None:
            kind = judge.kind(q.question, tuple(q.key_points), said)
        truth.append(item["intent"])
        rules.append(read_intent(said).intent)
        classified.append(reading.intent)
        chosen.append(kind)
        if item["intent"] != "answer":
            continue
        made = set(item.get("covers") or [])
        grades = {"provisional": services.grader.grade(q, said)}
        if judge is not None and (verdicts := judge.verdicts(q.question, tuple(q.key_points), said,
                                                             grades["provisional"])) is not None:
            grades["verified"] = verified_grade(grades["provisional"], verdicts, options)
        targets = {mode: follow_up_for(q, grade) for mode, grade in grades.items()}
        if judge is not None:  # what the conductor asks: planned on the instant grade, its point checked first
            targets["checked"] = judge.follow_up(q, said, grades["provisional"], options)
        for mode, target in targets.items():
            if target is not None:
                followed[mode] += 1
                asked_made[mode] += (target[0] + 1) in made
                if mode in confirmed and "verified" in grades:  # the target: 0 of these
                    confirmed[mode] += ((target[0] + 1) in made
                                      and grades["verified"].points[target[0]].status == "covered")
        if item.get("mentions"):
            probes += 1
            terms = [term for term, _ in related(said, q, lambda text: [h.question for h in store.search(text, k=3)])]
            found += any(t.lower() in item["mentions"].lower() or item["mentions"].lower() in t.lower()
                         for t in terms)

    def accuracy(predicted: list[str]) -> float:
        return float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)]))

    per_intent = {intent: {"n": truth.count(intent),
                           "recall": float(np.mean([c == intent for t, c in zip(truth, chosen, strict=True)
                                                    if t == intent]))}
                  for intent in sorted(set(truth))}
    result = {"utterances": len(items), "intent_accuracy": accuracy(chosen), "rules_only_accuracy": accuracy(rules),
              "classifier_accuracy": accuracy(classified), "classifier_fitted": reader.fitted,
              "everything_an_answer_accuracy": accuracy(["answer"] * len(truth)), "per_intent": per_intent,
              "follow_ups": {m: {"asked": followed[m], "asked_for_a_point_just_made": asked_made[m]}
                             for m in followed if followed[m]},
              "follow_ups_on_a_point_made_and_confirmed_by_the_verified_grade": confirmed,
              "probes": {"answers_raising_a_concept": probes, "stored_question_found": found}}
    if judge is not None:
        result["replies"] = _reply_leaks(services, judge, [i for i in items if i["intent"] == "answer"][:replies],
                                         options)
    return result


def _reply_leaks(services: Services, judge: Judge, items: list[dict], options: VerifyOptions) -> dict:
    """LLM replies to answers, as the conductor asks for them (planned and guarded on the instant grade, before
    the verdicts). Each spoken sentence is checked against the points the candidate really did not make (the
    exchange's own labels), by content words and by embedding similarity (≥ 0.7 counts), and for praise of an
    answer whose verified grade is under 7."""
    from interviewer.conductor import REPLY_SENTENCES
    from interviewer.conversation import PRAISE, unsafe

    sentences = leaks_words = leaks_embedding = praised_weak = 0
    seconds = []
    for item in items:
        q = services.store.get(item["question_id"])
        provisional = services.grader.grade(q, item["says"])
        context = Context.of_answer(q.question, q.key_points, item["says"], provisional)
        target = judge.follow_up(q, item["says"], provisional, options)
        plan = "follow_up" if target else "move_on"
        made = set(item.get("covers") or [])
        unmade = [point for n, point in enumerate(q.key_points, 1) if n not in made]
        start = time.perf_counter()
        said = list(itertools.islice(judge.dialogue.reply(  # what the conductor says, on an instant grade
            context, plan, unsaid=provisional.not_covered, praise_allowed=False), REPLY_SENTENCES))
        seconds.append(time.perf_counter() - start)
        verdicts = judge.verdicts(q.question, tuple(q.key_points), item["says"], provisional)
        weak = (verified_grade(provisional, verdicts, options) if verdicts is not None else provisional).score < 7
        for sentence in said:
            sentences += 1
            leaks_words += bool(unsafe(sentence, unmade, praise_allowed=True, heard=item["says"]))
            praised_weak += weak and PRAISE.search(sentence) is not None
            if unmade:
                vectors = services.embedder.embed([sentence, *unmade])
                leaks_embedding += bool(max(vectors[1:] @ vectors[0]) >= 0.7)
    return {"replies": len(seconds), "sentences": sentences, "stating_an_unmade_point_by_words": leaks_words,
            "stating_an_unmade_point_by_embedding": leaks_embedding, "praise_for_a_weak_answer": praised_weak,
            "reply_s_p50": float(np.percentile(seconds, 50)) if seconds else None}


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


PREPARED = REPO_ROOT / "tests" / "data" / "prepare"
PREPARED_TOPIC = "wal-notes"


def eval_prepare(services: Services, judge: Judge | None, options: VerifyOptions, *, questions: int = 3) -> dict:
    """`prepare` on the shipped document (tests/data/prepare/write-ahead-log.md), run in data/eval-cache/prepare,
    whose journal makes a rerun do no LLM work: questions kept, kept on the first or second draft, key points
    the grounding check removed. Then the grader on answers to generated questions, written and labelled by
    a helper who never saw the grader (answers.yaml), against the questions they were written for (generated.yaml:
    one run's output, kept so the labels stay valid), with the cosine baseline and the instant grade beside
    it; and that helper's reading of whether the notes support each kept key point (review.yaml)."""
    from interviewer.knowledge.schema import load_bank
    from interviewer.prepare import read_journal, tally

    folder = services.settings.data_dir / "eval-cache" / "prepare"
    twin = Services(services.settings.model_copy(update={"data_dir": folder}))
    for shared in ("embedder", "llm", "grader"):  # the same models, loaded once; its own store
        twin.__dict__[shared] = getattr(services, shared)
    started = time.perf_counter()
    try:
        twin.prepare([PREPARED / "write-ahead-log.md"], PREPARED_TOPIC, questions=questions)
    except BadInput as error:  # no question passed: measured all the same, from the journal
        print(f"prepare kept no question: {error}", file=sys.stderr)
    outcomes = list(read_journal(folder / "prepared" / f"{PREPARED_TOPIC}.jsonl").values())
    kept = [o for o in outcomes if o.kept]
    result: dict = {"document": "write-ahead-log.md", **tally(outcomes),
                    "key_points_kept": sum(len(o.question["key_points"]) for o in kept),
                    "seconds": time.perf_counter() - started}
    frozen = load_bank(PREPARED / "generated.yaml")
    written = {q.question: q for q in frozen.questions}
    this_run = {o.question["question"] for o in kept}
    result["labelled_questions_written_again"] = f"{len(this_run & set(written))} of {len(written)}"
    review = yaml.safe_load((PREPARED / "review.yaml").read_text())
    points = [p for q in review for p in q["key_points"]]
    result["key_points_a_reader_found_unsupported"] = f"{sum(not p['supported'] for p in points)} of {len(points)}"
    if judge is not None:  # the grounding check as it is now, on the key points the reader judged
        from interviewer.prepare import SUPPORTED, grounding, shown

        supported = {p["point"]: p["supported"] for p in points}
        decided = []
        for question in frozen.questions:
            material = shown([source.text for source in question.sources])
            checked = grounding(services.dialogue, services.grader, question, material)
            decided += [(supported[p.point], p.status in SUPPORTED) for p in checked]
        result["grounding_on_reviewed"] = {
            "points": len(decided), "kept": sum(keep for _, keep in decided),
            "kept_unsupported": sum(keep and not fact for fact, keep in decided),
            "removed_supported": sum(fact and not keep for fact, keep in decided)}
    items = [{**i, "question": written[i["question"]]} for i in yaml.safe_load((PREPARED / "answers.yaml").read_text())]
    tune = [i for i in load_labelled() if i["split"] == "tune"]
    for item in tune:
        item["question"] = services.store.get(item["question_id"])
    _graded(services, judge, items, _cosine_scale(services, tune), options)
    result["grading"] = _agreements(items)
    return result


def _print_prepare(p: dict) -> None:
    print(f"\n## Questions prepared from {p['document']}\n")
    print("| measure | value |\n|---|---|")
    print(f"| questions kept, of those asked for | {p['kept']} of {p['asked_for']} ({p['planned']} written, those in "
          "place of a dropped one included) |")
    print(f"| kept on the first or second draft, of those written | {p['kept_within_two_drafts']} of {p['planned']} "
          "(target 80%) |")
    print(f"| key points removed by the grounding check | {p['key_points_removed']} "
          f"(kept {p['key_points_kept']}) |")
    print(f"| kept key points a reader found unsupported by the notes | {p['key_points_a_reader_found_unsupported']} |")
    print(f"| questions of the labelled set this run wrote again | {p['labelled_questions_written_again']} |")
    if "grounding_on_reviewed" in p:
        g = p["grounding_on_reviewed"]
        print(f"| the grounding check on those {g['points']} reviewed key points: kept; of them unsupported; "
              f"supported but removed | {g['kept']}; {g['kept_unsupported']}; {g['removed_supported']} |")
    print("\n| method | n | Pearson | Spearman | MAE |\n|---|---|---|---|---|")
    for method, m in p["grading"].items():
        if method != "same_rows":
            print(_row(method, m))


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
    if "grading" in results:
        _print_grading(results["grading"])
    if "speech" in results:
        sp = results["speech"]
        print(f"\n## Speech recognition on {sp['answers']} synthesised jargon-dense answers\n")
        print("| glossary hint | WER, lower case, no punctuation | WER, Whisper's English normaliser | target |")
        print("|---|---|---|---|")
        print(f"| without | {sp['wer_plain']:.3f} | {sp['wer_plain_normalised']:.3f} | ≤ 0.10 |")
        print(f"| with | {sp['wer_glossary_hint']:.3f} | {sp['wer_glossary_hint_normalised']:.3f} | ≤ 0.10 |")
    if "conversation" in results:
        _print_conversation(results["conversation"])
    if "prepare" in results and "skipped" not in results["prepare"]:
        _print_prepare(results["prepare"])
    if "semeval" in results and "skipped" not in results["semeval"]:
        _print_semeval(results["semeval"])


def _row(name: str, m: dict) -> str:
    return f"| {name} | {m['n']} | {m['pearson']:.3f} | {m['spearman']:.3f} | {m['mae']:.2f} |"


def _print_grading(g: dict) -> None:
    head = "| method | n | Pearson | Spearman | MAE |\n|---|---|---|---|---|"
    for title, key, target in (
            ("Check set (written by strangers; a test set, nothing fitted on it)", "check", "Spearman ≥ 0.80"),
            ("Own labelled set, fixed sample of the held-out third", "own_heldout", "Spearman ≥ 0.80"),
            ("Own labelled set, sample of the tuning part (fitted on)", "own_tune_sample", "")):
        print(f"\n## {title}\n\n{head}")
        for method, m in g[key].items():
            if method != "same_rows":
                print(_row(method, m))
        for method, m in g[key].get("same_rows", {}).items():
            print(_row(f"{method}, on the answers verified so far", m))
        if target:
            print(f"\ntarget: {target}")
    styles = g["check_by_style"]
    print("\n| check-set style | n | label mean | cosine | instant | verified (n, their label mean) |")
    print("|---|---|---|---|---|---|")
    for style, m in styles.items():
        verified = (f"{m['verified']:.1f} ({m['verified_n']}, {m['verified_label_mean']:.1f})"
                    if "verified" in m else "—")
        print(f"| {style} | {m['n']} | {m['label_mean']:.1f} | {m['cosine']:.1f} | {m['provisional']:.1f} | "
              f"{verified} |")
    print("\ntargets: excellent-paraphrase and asr-noisy within 1.5 of the label mean; confidently-wrong ≤ 2.5")
    if "verify_fit_on_tuneset" in g:
        print(f"\nthe verified grade refitted on the tuneset (shipped in VerifyOptions): {g['verify_fit_on_tuneset']}")
    print(f"\nconsistent over 10 repeats: {g['consistent_over_10_repeats']}; instant grade p50 "
          f"{g['instant_latency_ms']['p50']:.0f} ms, p95 {g['instant_latency_ms']['p95']:.0f} ms")


def _print_conversation(c: dict) -> None:
    print(f"\n## Conversation ({c['utterances']} utterances written by strangers; a test set)\n")
    print("| what the interviewer does | value |\n|---|---|")
    print(f"| reads the intent right (rules, then the LLM) | {c['intent_accuracy']:.3f} |")
    print(f"| the fitted classifier alone (no LLM) | {c['classifier_accuracy']:.3f} |")
    print(f"| rules alone | {c['rules_only_accuracy']:.3f} |")
    print(f"| baseline: everything is an answer (as before) | {c['everything_an_answer_accuracy']:.3f} |")
    modes = {"provisional": "on the instant grade", "verified": "on the verified grade",
             "checked": "on the instant grade, each one's point read alone first (what the interviewer asks)"}
    for mode, f in c["follow_ups"].items():
        print(f"| follow-ups {modes[mode]} asking for a point just made | "
              f"{f['asked_for_a_point_just_made']} of {f['asked']} |")
    confirmed = c["follow_ups_on_a_point_made_and_confirmed_by_the_verified_grade"]
    if "checked" in c["follow_ups"]:
        print(f"| of the follow-ups asked, those on a point just made that the verified grade confirms covered "
              f"(target 0) | {confirmed['checked']} (not read first: {confirmed['provisional']}) |")
    p = c["probes"]
    print(f"| answers raising another concept where a stored question was found to probe | "
          f"{p['stored_question_found']} of {p['answers_raising_a_concept']} |")
    if "replies" in c:
        r = c["replies"]
        print(f"| LLM reply sentences stating a point not made, by content words / by embedding | "
              f"{r['stating_an_unmade_point_by_words']} / {r['stating_an_unmade_point_by_embedding']} "
              f"of {r['sentences']} ({r['replies']} replies) |")
        print(f"| LLM reply sentences praising an answer whose verified grade is under 7 | "
              f"{r['praise_for_a_weak_answer']} of {r['sentences']} |")
    print("\n| intent | n | recall |\n|---|---|---|")
    for intent, m in c["per_intent"].items():
        print(f"| {intent} | {m['n']} | {m['recall']:.2f} |")


def _print_semeval(s: dict) -> None:
    print("\n## SemEval-2013 Task 7 (thresholds and regressions fitted on each corpus's training split)\n")
    print("All rows of each test split; 2-way AUC and macro-F1, 3-way accuracy and macro-F1.\n")
    print("| split | n | method | AUC | 2-way F1 | 3-way acc | 3-way F1 |\n|---|---|---|---|---|---|---|")
    for split, entry in s.items():
        if split == "fit":
            continue
        for method in BASELINES:
            m = entry[method]
            print(f"| {split} | {entry['n']} | {method} | {m['auc']:.3f} | {m['macro_f1']:.3f} | "
                  f"{m['accuracy']:.3f} | {m['three_way_f1']:.3f} |")
    if "fit" not in s:
        return
    print("\nThe verified grade on a fixed sample of each split, beside both baselines on the same rows "
          "(fitted on a fixed sample of the training split):\n")
    print("| split | n | method | AUC | 2-way F1 | 3-way acc | 3-way F1 |\n|---|---|---|---|---|---|---|")
    for split, entry in s.items():
        if split == "fit":
            continue
        sample = entry["sample"]
        for method in (*BASELINES, "verified"):
            m = sample[method]
            print(f"| {split} | {sample['n']} | {method} | {m['auc']:.3f} | {m['macro_f1']:.3f} | "
                  f"{m['accuracy']:.3f} | {m['three_way_f1']:.3f} |")
    print(f"\nlogistic credit refitted on the SemEval training sample: {s['fit']}")
    print("targets: 2-way macro-F1 ≥ 0.75 on every split, AUC ≥ 0.80 on sciEntsBank unseen questions, above cosine")


def main(argv: list[str] | None = None) -> None:
    """`make eval` (all of it), or `--quick` (no LLM, no SemEval), `--no-speech`, `--cached-only` (the verified
    grade only on answers judged in an earlier run)."""
    argv = sys.argv[1:] if argv is None else argv
    settings = Settings()
    services = Services(settings)
    quick = "--quick" in argv
    judge = None if quick else Judge(services, cached_only="--cached-only" in argv)
    options = VerifyOptions()
    results = {"retrieval": eval_retrieval(services)}
    results["semeval"] = {"skipped": "--quick"} if quick else eval_semeval(services, judge, options)
    results["grading"] = eval_grading(services, judge, options)
    results["conversation"] = eval_conversation(services, judge, options)
    results["prepare"] = {"skipped": "--quick"} if quick else eval_prepare(services, judge, options)
    if "--no-speech" not in argv:
        results["speech"] = eval_speech(services)
    if judge is not None and judge.seconds:
        results["verify_call_s"] = {"calls": len(judge.seconds), "p50": float(np.percentile(judge.seconds, 50)),
                                    "p95": float(np.percentile(judge.seconds, 95))}
    _print_tables(results)
    out = settings.data_dir / "eval.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
