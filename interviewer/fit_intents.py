"""`python -m interviewer.fit_intents`: fit the intent classifier on the tuning utterances and ship it.

Reads tests/data/intent-tuning/utterances.yaml (written for tuning by a helper who saw only the question bank;
the conversation set in tests/data/conversation is a test set and is never read here), embeds each utterance
with the embedder in use, fits a multinomial logistic regression over [embedding, rule features], reports its
five-fold cross-validated accuracy beside the rules alone, chooses the probability from which a reading is
trusted without the LLM, and writes interviewer/intent_model.npz.
"""

from __future__ import annotations

import sys

import numpy as np
import yaml

from interviewer.intents import INTENTS, MODEL_FILE, IntentModel, read_intent, rule_features
from interviewer.settings import REPO_ROOT, Settings

TUNING = REPO_ROOT / "tests" / "data" / "intent-tuning" / "utterances.yaml"
C = 4.0  # inverse regularisation strength: 4 and 16 tied in cross-validation, the stronger prior is kept
TRUSTED_ACCURACY = 0.97  # a reading is acted on alone where the cross-validated accuracy above it is at least this


def _fit(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=5000).fit(x, y)


def confident_at(probability: np.ndarray, correct: np.ndarray, accuracy: float = TRUSTED_ACCURACY) -> float:
    """The lowest probability from which the readings at or above it are right at least `accuracy` of the time."""
    for threshold in np.unique(np.round(probability, 2)):
        above = probability >= threshold
        if correct[above].mean() >= accuracy:
            return float(threshold)
    return 1.0


def main() -> None:
    from sklearn.model_selection import StratifiedKFold

    from interviewer.wiring import Services

    items = yaml.safe_load(TUNING.read_text())
    said = [" ".join(i["says"].split()) for i in items]
    y = np.array([INTENTS.index(i["intent"]) for i in items])
    embedder = Services(Settings()).embedder
    x = np.hstack([embedder.embed(said), np.stack([rule_features(s) for s in said])])
    predicted, probability = np.zeros(len(y), int), np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        p = _fit(x[train], y[train]).predict_proba(x[test])
        predicted[test], probability[test] = p.argmax(1), p.max(1)
    correct = predicted == y
    rules = np.mean([read_intent(s).intent == i["intent"] for s, i in zip(said, items, strict=True)])
    threshold = confident_at(probability, correct)
    model = _fit(x, y)
    fitted = IntentModel(model.coef_, model.intercept_, embedder.name, threshold)
    fitted.save(MODEL_FILE)
    print(f"{len(items)} tuning utterances; five-fold accuracy {correct.mean():.3f} (rules alone {rules:.3f}); "
          f"trusted from p ≥ {threshold:.2f} ({np.mean(probability >= threshold):.0%} of utterances, "
          f"{correct[probability >= threshold].mean():.3f} right there); written to {MODEL_FILE}")


if __name__ == "__main__":
    sys.exit(main())
