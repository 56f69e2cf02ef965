"""Smart Turn, the real model, on Piper's voice: a finished sentence sounds finished, a trailing word does not.
The words model, the real one, on transcripts: a finished answer reads finished, one cut mid-sentence does not."""

from __future__ import annotations

import numpy as np
import pytest

from interviewer.audio import SAMPLE_RATE, chunks_to_16k

pytestmark = pytest.mark.real


def _said(services, text: str) -> np.ndarray:
    speech = chunks_to_16k(services.tts.synthesize(text))
    return np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), speech])


def test_a_finished_sentence_sounds_finished_and_a_trailing_um_does_not(services):
    turn = services.turn
    assert turn is not None, "the turn model is part of the test profile: run `make models PROFILE=test`"
    finished = turn.complete_probability(_said(services, "The reward model is trained on human comparisons."))
    trailing = turn.complete_probability(_said(services, "The policy is then optimised with, um,"))
    assert finished > 0.5 > trailing


def test_only_the_last_eight_seconds_count(services):
    turn = services.turn
    audio = _said(services, "The reward model is trained on human comparisons.")
    window = np.concatenate([np.zeros(8 * SAMPLE_RATE - len(audio), np.float32), audio])
    noise = np.random.default_rng(0).normal(0, 0.2, 5 * SAMPLE_RATE).astype(np.float32)
    alone, after_noise = turn.complete_probability(window), turn.complete_probability(np.concatenate([noise, window]))
    assert alone == pytest.approx(after_noise, abs=1e-6)
    assert turn.complete_probability(np.concatenate([window[-SAMPLE_RATE:], noise])) != pytest.approx(alone, abs=1e-3)


def test_a_profile_without_a_turn_model_falls_back_and_says_so(settings, tmp_path, caplog):
    import logging
    import shutil

    from interviewer.wiring import Services

    models = tmp_path / "models"
    models.mkdir()
    text = (settings.models_dir / "registry.yaml").read_text()
    (models / "registry.yaml").write_text(text)
    shutil.rmtree(models / "smart-turn-v3.2-cpu", ignore_errors=True)  # nothing assembled here: it is missing
    with caplog.at_level(logging.WARNING, logger="interviewer.wiring"):
        assert Services(settings.model_copy(update={"models_dir": models})).turn is None
    assert any("no turn model" in r.message and "make models" in r.message for r in caplog.records)


# --- the words model: the real one (Qwen2.5-Coder-0.5B), reading transcripts ---------------------------------

FINISHED_AND_CUT = [  # a whole answer, and where a thinking pause falls in it (mid-clause, no closing word)
    ("It keeps the policy close to the reference model.", "It keeps the policy close to the"),
    ("Because without it the policy would exploit the reward model and drift into gibberish.",
     "Because without it the policy would"),
    ("Earlier tokens' keys and values are kept in memory, so generation does not recompute them.",
     "Earlier tokens' keys and values are kept in memory, so generation does not"),
]


@pytest.mark.parametrize(("whole", "cut"), FINISHED_AND_CUT)
def test_the_words_model_reads_a_finished_answer_from_one_cut_mid_sentence(services, whole, cut):
    from interviewer.listening import ListenOptions

    words = services.words
    assert words is not None, "the words model is part of the test profile: run `make models PROFILE=test`"
    o = ListenOptions()
    finished, unfinished = words.complete_probability(whole), words.complete_probability(cut)
    assert finished >= 0.1 > o.words_unfinished_below > unfinished, (finished, unfinished)
    assert words.complete_probability(cut + ".") == pytest.approx(unfinished)  # Whisper's full stop is no end


def test_the_words_model_evaluates_only_what_was_added(services):
    """The words of a turn grow stretch by stretch: a call reuses the tokens of the call before."""
    words = services.words
    words.complete_probability("It keeps the policy close to the reference model.")
    held = words._llm._llama.n_tokens
    grown = words.complete_probability("It keeps the policy close to the reference model. So the reward cannot")
    assert words._llm._llama.n_tokens > held and grown < 0.01
    words._llm._llama.reset()  # the same words read from nothing agree
    assert words.complete_probability("It keeps the policy close to the reference model. So the reward cannot") \
        == pytest.approx(grown, abs=1e-3)


def test_a_profile_without_a_words_model_falls_back_and_says_so(settings, tmp_path, caplog):
    import logging

    import yaml

    from interviewer.wiring import Services

    models = tmp_path / "models"
    models.mkdir()
    registry = yaml.safe_load((settings.models_dir / "registry.yaml").read_text())
    registry["profiles"]["test"].pop("words")
    (models / "registry.yaml").write_text(yaml.safe_dump(registry))
    with caplog.at_level(logging.WARNING, logger="interviewer.wiring"):
        assert Services(settings.model_copy(update={"models_dir": models})).words is None
    assert any("no words model" in r.message and "thinking-pause limit" in r.message for r in caplog.records)
