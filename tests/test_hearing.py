"""Terms a recogniser misheard, put back before grading, by how they sound (espeak-ng, as Piper has it)."""

from __future__ import annotations

import pytest

from interviewer.grader import Grader, Reference
from interviewer.hearing import Hearing, question_terms
from interviewer.tts import espeak_sounds

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def hearing(services):
    questions = services.bank.questions
    return Hearing(espeak_sounds(), (t for q in questions for t in (q.question, q.answer, *q.key_points)),
                   (t for q in questions for t in q.glossary))


def mend(hearing, services, question_id: str, said: str):
    q = services.store.get(question_id)
    return hearing.mend(said, question_terms(q.question, q.answer, q.key_points, q.glossary))


@pytest.mark.parametrize(("question_id", "said", "meant"), [
    ("rlhf-kl-penalty", "we add a kale penalty so it stays near the reference", "we add a KL penalty so it"),
    ("long-context-rope-extension", "they raised the rope data to five hundred thousand", "raised the rope_theta to"),
    ("long-context-rope-extension", "or you bump rope data, the base", "bump rope_theta, the base"),
])
def test_a_term_heard_as_everyday_words_is_put_back(hearing, services, question_id, said, meant):
    mended = mend(hearing, services, question_id, said)
    assert meant in mended.text
    assert mended.heard_as and mended.heard_as[0][0] in said  # and said what was read as what


@pytest.mark.parametrize(("said", "meant"), [
    ("they raised the rope  data to five", "they raised the rope_theta to five"),  # two spaces: nothing left over
    ("the rope\r\ndata set", "the rope\r\ndata set"),  # words on two lines are not one term
])
def test_only_words_on_one_line_are_read_together(hearing, services, said, meant):
    assert mend(hearing, services, "long-context-rope-extension", said).text == meant


def test_a_question_of_the_users_own_has_its_acronyms_put_back(services):
    question = Reference.from_text("Why is there a KL penalty in RLHF?",
                                   "The KL penalty keeps the policy near the reference model, so it cannot game the "
                                   "reward model. It is applied per token.")
    grade = services.grader.grade(question, "the kale penalty keeps the policy near the reference model")
    assert any('"kale penalty" as KL penalty' in note for note in grade.notes)


def test_without_espeak_answers_are_graded_as_written(settings, monkeypatch, caplog):
    import interviewer.tts
    from interviewer.wiring import Services

    def broken():
        raise OSError("espeak-ng data missing")

    monkeypatch.setattr(interviewer.tts, "espeak_sounds", broken)
    services = Services(settings)
    assert services.hearing is None and "graded as written" in caplog.text
    assert services.grader.grade(services.store.get("rlhf-kl-penalty"), SPOKEN).notes == ()


def test_a_term_spelled_apart_is_joined_without_a_word_about_it(hearing, services):
    mended = mend(hearing, services, "hallucination-definition-causes", "because of the knowledge cut off")
    assert mended.text == "because of the knowledge cutoff" and mended.heard_as == ()


@pytest.mark.parametrize(("question_id", "said"), [
    ("hallucination-definition-causes", "Intrinsic hallucinations contradict the source."),  # not extrinsic
    ("gpt-family-open-weight-vs-closed", "Mixtral uses Apache 2.0."),  # a model of its own, not Mistral
    ("rlhf-kl-penalty", "The data says beta matters."),  # a common word alone is not the term "beta"
    ("rlhf-kl-penalty", "DPO has no reward model."),  # an acronym was written on purpose: not PPO
    # real words a typed answer means as written, each close in sound to one of the question's terms
    ("dpo-core-idea", "We optimise the policy parameters theta directly."),  # not beta
    ("gpt-family-gpt4o-omni", "Audio is mapped into the same latent space as text."),  # not latency
    ("constitutional-ai-vs-rlhf", "Human harmfulness labels are replaced by AI feedback."),  # not harmlessness
    ("kv-cache-basics", "It caves under long prompts because memory grows."),  # not KV
    ("serving-quantization-tradeoffs", "It stores weights in four or eight bits."),  # not INT4
    ("rope-theta-role", "Memory grows linearly with length."),  # not wavelength
    ("long-context-rope-extension", "They raise the base during continued training."),  # not continued pretraining
    ("long-context-rope-extension", "it uses rope. Data decides the rest"),  # "rope. Data" spans a full stop
    ("dpo-vs-ppo-tradeoffs", "it learns from the policy samples"),  # "the policy" is not on-policy
])
def test_words_that_only_sound_close_are_left_as_they_are(hearing, services, question_id, said):
    mended = mend(hearing, services, question_id, said)
    assert mended.text == said and mended.heard_as == ()


SPOKEN = ("so the kale penalty is there because the reward model is only trustworthy near the data it saw and "
          "without it pee pee oh drifts off and games the reward it is applied per token as beta times the log "
          "ratio of the policy over the frozen reference model and beta trades reward against drift")


def test_an_answer_with_misheard_terms_earns_what_it_meant(services):
    question = services.store.get("rlhf-kl-penalty")
    written = SPOKEN.replace("kale penalty", "KL penalty")
    heard = services.grader.grade(question, SPOKEN)
    as_written = Grader(services.embedder).grade(question, SPOKEN)  # no hearing: the vegetable is graded
    assert heard.score == services.grader.grade(question, written).score > as_written.score
    assert any('"kale penalty" as KL penalty' in note for note in heard.notes)
