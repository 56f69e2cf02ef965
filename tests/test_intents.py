"""Reading what the candidate meant before anything is graded: the rules, and the fitted classifier on the real
embedder. The utterances here are in neither the tuning set the classifier was fitted on nor the test set."""

from __future__ import annotations

import numpy as np
import pytest

from interviewer.fakes import FakeEmbedder
from interviewer.intents import INTENTS, MODEL_FILE, IntentModel, IntentReader, read_intent, rule_features


@pytest.mark.parametrize(("said", "intent"), [
    ("I honestly don't know", "dont_know"),
    ("nah, next", "skip"),
    ("let's call it a day", "stop"),
    ("could you read the question out again", "repeat"),
    ("where would I even begin", "hint"),
    ("what does KV stand for here?", "clarify"),
    ("I don't know what you mean by prefill, could you clarify?", "clarify"),
    ("I'm not sure, but I think the reward model is trained on pairwise comparisons of answers from the SFT model",
     "answer"),
])
def test_the_rules_read_plain_requests(said, intent):
    assert read_intent(said).intent == intent


def test_a_long_answer_that_mentions_skipping_is_still_an_answer():
    said = ("The reward model learns from comparisons, and you could skip the reward model entirely with DPO, "
            "which optimises the policy directly on the preference pairs with a logistic loss on log ratios.")
    assert read_intent(said).intent == "answer"


def test_rule_features_have_one_shape_for_any_text():
    shapes = {rule_features(text).shape for text in ("", "skip", "a much longer answer " * 20, "what? " * 3)}
    assert len(shapes) == 1


def test_the_reader_keeps_to_the_rules_when_the_classifier_was_fitted_on_another_embedder():
    model = IntentModel.load()
    reader = IntentReader(FakeEmbedder(), model)
    assert model.embedder != FakeEmbedder.name and not reader.fitted
    assert reader("nah, next").intent == "skip"


@pytest.mark.parametrize("fault", ["raises", "nan"])
def test_an_embedder_that_fails_leaves_the_reading_to_the_rules_and_says_so(fault, caplog):
    model = IntentModel.load()

    class Failing(FakeEmbedder):
        name = model.embedder

        def embed(self, texts):
            if fault == "raises":
                raise RuntimeError("std::bad_alloc")
            return np.full((len(texts), model.weights.shape[1] - len(rule_features(""))), np.nan, np.float32)
    reader = IntentReader(Failing(), model)
    assert reader.fitted
    assert reader("nah, next").intent == "skip" and reader("let's call it a day").intent == "stop"
    assert "read by the rules alone" in caplog.text


def test_a_model_file_that_does_not_fit_the_intents_is_refused(tmp_path):
    with pytest.raises(ValueError, match="intents"):
        IntentModel(np.zeros((3, 10)), np.zeros(3), "x", 0.5)


@pytest.fixture(scope="module")
def reader(services):
    reader = services.intents
    assert reader.fitted, f"{MODEL_FILE} was not fitted on the embedder in use ({services.embedder.name})"
    return reader


@pytest.mark.real
@pytest.mark.parametrize(("said", "intent"), [
    ("I'm afraid that one is completely outside my experience", "dont_know"),
    ("hmm, sorry, I can't recall any of that", "dont_know"),
    ("could we try a question on another topic", "skip"),
    ("any chance of a little help with where to begin?", "hint"),
    ("sorry, my connection dropped, could you ask that once more", "repeat"),
    ("by throughput do you mean tokens per second for one user or for the whole server?", "clarify"),
    ("I think I've had enough practice for one day, let's finish", "stop"),
    ("it splits words into frequent subword pieces so rare words still get tokens", "answer"),
])
def test_the_fitted_classifier_reads_phrasings_no_rule_lists(reader, said, intent):
    reading = reader(said)
    assert reading.intent == intent, (said, reading)


@pytest.mark.real
def test_the_classifier_is_unsure_rather_than_wrong_on_a_bare_question_back(reader):
    reading = reader("the value model?")
    assert reading.intent in INTENTS and 0 < reading.probability <= 1
    assert reading.intent == "clarify" or not reading.confident


@pytest.mark.real
def test_a_terse_statement_read_as_an_answer_is_not_sent_to_the_llm(reader):
    # a bank key point read out as a whole answer: the classifier leans to "answer" without being sure (p 0.33),
    # and asking the LLM would hold the acknowledgement back by seconds
    statement = "KL divergence to the reference model should be tracked alongside the mean reward."
    reading = reader(statement)
    assert reading.intent == "answer" and reading.probability < reader._model.confident_at
    assert reading.confident
    asked = reader(statement.rstrip(".") + "?")  # asked as a question: never taken as an answer unread
    assert asked.intent != "answer" or not asked.confident
