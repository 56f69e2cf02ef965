"""A model file of each role missing, truncated or corrupt (the right size, other bytes): at start-up the page
refuses to serve with the model, the problem and `make models`; mid-session (damaged after start-up, before the
model was first loaded) the turn goes on without it, says so, and keeps every answer.

A model already loaded is in memory: damage to its file after that changes nothing until the next start."""

from __future__ import annotations

import logging

import pytest
from faultkit import chat_text, drained, own_copy, sharing, started_tab

from interviewer.errors import ModelCorrupt, ModelMissing
from interviewer.wiring import Services

pytestmark = pytest.mark.real
ROLES = ("embedder", "llm", "stt", "tts", "turn", "words")
ANSWER = "A reward model is trained on human preference comparisons."


def _damage(models, spec, how: str) -> None:
    """Damage the largest file of a model in a models copy: delete it, cut it, or overwrite its bytes."""
    folder = own_copy(models, spec.id)
    biggest = max(spec.files, key=lambda f: f.size)
    path = folder / biggest.path
    path.unlink()
    if how == "truncated":
        path.write_bytes(b"\0" * min(4096, biggest.size // 2))
    elif how == "corrupt":
        with path.open("wb") as out:
            out.truncate(biggest.size)  # the right size, none of the right bytes


@pytest.mark.parametrize("how", ["missing", "truncated", "corrupt"])
@pytest.mark.parametrize("role", ROLES)
def test_a_damaged_model_of_each_role_at_start_up(settings, models_copy, role, how, caplog):
    services = Services(settings.model_copy(update={"models_dir": models_copy}))
    spec = services.registry.for_profile("test")[role]
    _damage(models_copy, spec, how)
    if role == "turn":  # hands-free answers then end after the fixed pause: the page still serves
        services.check_models(services.roles_needed(voice=True))
        with caplog.at_level(logging.WARNING, logger="interviewer"):
            assert services.turn is None
        assert "no turn model" in caplog.text and spec.id in caplog.text
        return
    if role == "words":  # the voice and a word list decide instead (the test profile's LLM is the same file, so
        # the page would refuse to start for the LLM's sake: only the listener's side is checked here)
        with caplog.at_level(logging.WARNING, logger="interviewer"):
            assert services.words is None
        assert "no words model" in caplog.text and spec.id in caplog.text
        return
    expected = ModelMissing if how == "missing" else ModelCorrupt
    with pytest.raises(expected) as refused:
        services.check_models(services.roles_needed(voice=True))  # what `launch` checks before serving
    message = str(refused.value)
    assert f"The {role} model {spec.id}" in message and "make models" in message
    assert ("is not installed" if how == "missing" else "is damaged") in message


@pytest.fixture
def damaged_later(services, settings, models_copy):
    """The page's services on a models copy, started (bank, store and embedder loaded); `damage(role)` then
    damages that role's model before it was first loaded."""
    services.store  # noqa: B018

    def damage(role: str) -> Services:
        twin = sharing(services, models_dir=models_copy, use_llm=role == "llm")  # the LLM only where it is tested
        for name in {"llm": ("llm", "dialogue"), "stt": ("stt",), "tts": ("tts", "spoken")}[role] + ("registry",):
            twin.__dict__.pop(name, None)
        _damage(models_copy, twin.registry.for_profile("test")[role], "corrupt")
        return twin

    return damage


def test_the_llm_damaged_mid_session_leaves_the_instant_grade_and_the_banks_words(damaged_later, caplog, ledger):
    from interviewer.ui.app import answer

    page = damaged_later("llm")
    tab = started_tab(page)
    with caplog.at_level(logging.INFO, logger="interviewer"):
        drained(answer(page, ANSWER, tab))
    [turn] = tab.interview.turns
    assert turn.answer == ANSWER and turn.verification.startswith("not verified: the model failed (The llm model")
    shown = chat_text(tab)
    assert "Instant grade" in shown and "not verified: the model failed" in shown and tab.listening
    assert "verification of" in caplog.text
    ledger.answers(1, len(tab.interview.turns))


def test_the_recogniser_damaged_mid_session_is_named_and_typing_still_works(damaged_later, services, tmp_path,
                                                                           ledger):
    from interviewer.tts import chunks_to_wav
    from interviewer.ui.app import answer, voice_answer

    page = damaged_later("stt")
    tab = started_tab(page)
    recording = tmp_path / "answer.wav"
    recording.write_bytes(chunks_to_wav(services.tts.synthesize(ANSWER)))
    drained(voice_answer(page, str(recording), tab))
    assert "The stt model" in chat_text(tab) and "make models" in chat_text(tab) and tab.interview.turns == []
    drained(answer(page, ANSWER, tab))
    assert [t.answer for t in tab.interview.turns] == [ANSWER]
    ledger.answers(1, len(tab.interview.turns))


def test_the_voice_damaged_mid_session_leaves_the_interview_in_writing(damaged_later, ledger):
    from interviewer.ui.app import answer

    page = damaged_later("tts")
    tab = started_tab(page, voice=True)
    assert "The interviewer's voice failed (ModelCorrupt: The tts model" in chat_text(tab) and not tab.voice
    drained(answer(page, ANSWER, tab))
    assert [t.answer for t in tab.interview.turns] == [ANSWER] and tab.listening
    ledger.answers(1, len(tab.interview.turns))
