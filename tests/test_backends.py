"""Every real adapter on its real (smallest useful) model."""

from __future__ import annotations

import io
import re
import wave

import numpy as np
import pytest
from pydantic import BaseModel, Field

from interviewer.audio import to_16k
from interviewer.tts import chunks_to_wav
from interviewer.types import Message

pytestmark = pytest.mark.real


class Capital(BaseModel):
    city: str
    confidence: int = Field(description="0 to 10")


def test_llm_answers_under_a_json_schema_and_repeats_itself(services):
    messages = [Message("system", "Answer in JSON."), Message("user", "What is the capital of France?")]
    first = services.llm.chat_json(messages, Capital, max_tokens=40)
    assert isinstance(first, Capital) and "paris" in first.city.lower()
    assert services.llm.chat_json(messages, Capital, max_tokens=40) == first
    sampled = services.llm.chat_json(messages, Capital, max_tokens=40, temperature=0.7)  # prepare's redrafts
    assert services.llm.chat_json(messages, Capital, max_tokens=40, temperature=0.7) == sampled  # the seed holds


def test_a_line_break_the_grammar_let_into_a_string_does_not_cost_the_reply():
    """llama-cpp-python's grammar from a JSON schema lets a raw line break into a string; a strict parser refused
    the draft (the bench lost one question's first try to it, in every run)."""
    from interviewer.errors import BadModelOutput
    from interviewer.llm import parse_json_reply

    assert parse_json_reply('{"city": "Paris\nFrance", "confidence": 9}', Capital).city == "Paris\nFrance"
    with pytest.raises(BadModelOutput):
        parse_json_reply('{"city": "Paris", "confidence": ', Capital)


def test_llm_streams_the_same_text_it_returns(services):
    messages = [Message("user", "Say the word hello and nothing else.")]
    whole = services.llm.chat(messages, max_tokens=8)
    assert "".join(services.llm.stream(messages, max_tokens=8)) == whole
    assert "hello" in whole.lower()


def test_llm_is_busy_while_a_call_runs_but_not_for_a_prefill(services):
    """`busy` tells a reply whether it would queue behind another tab's call; a prefill gives way, so it must not
    count."""
    import threading
    import time

    llm = services.llm
    long = [Message("user", "Count from one to two hundred in words, separated by commas.")]
    assert not llm.busy
    pieces = llm.stream(long, max_tokens=200)
    next(pieces)  # generating, in its worker, holding the model
    assert llm.busy
    pieces.close()  # the reader leaves: the worker stops at the next token and lets go before close returns,
    assert not llm.busy  # so the next reply (a sentence was dropped, the next one is asked for) does not see it
    prefill = threading.Thread(target=llm.prefill, args=(long * 12,))  # a long prompt: several chunks to evaluate
    prefill.start()
    seen = []
    while prefill.is_alive():
        seen.append(llm.busy)
        time.sleep(0.005)
    prefill.join()
    assert seen and not any(seen)


def test_warm_up_loads_every_model_and_the_llm_reads_its_instructions_before_the_first_answer(settings, question,
                                                                                               tmp_path):
    """What the page does before its first visitor: the first answer then waits for no model to load, and its
    prompt's standing instructions (the same for every question) are already evaluated."""
    import threading

    from interviewer.conversation import Context, Dialogue
    from interviewer.llm import CHUNK
    from interviewer.wiring import Services

    services = Services(settings.model_copy(update={"data_dir": tmp_path}))  # models not loaded by other tests
    services.warm_up(voice=True)
    for thread in threading.enumerate():
        if thread.name == "warm-up":
            thread.join()
    assert {"llm", "stt", "turn", "words", "spoken"} <= set(vars(services))  # loaded (cached on the services)
    context = Context(question.question, tuple(question.key_points), said="A reward model is trained on choices.")
    services.dialogue.judge(context, kind="answer")  # the first call on this model since it loaded
    llm, messages = services.llm, Dialogue.messages(context)
    instructions = len(llm.prompt_tokens(messages[:1]))
    # the verdicts are read from whole CHUNKs of the prompt (see LLM._sync): at most one more is evaluated again
    assert instructions > 100 and llm.last_evaluated < len(llm.prompt_tokens(messages)) - instructions + CHUNK


def test_a_model_that_will_not_load_at_warm_up_is_logged_and_the_page_still_starts(settings, tmp_path, caplog):
    from interviewer.wiring import Services

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a model at all")
    services = Services(settings.model_copy(update={"model": bad, "data_dir": tmp_path}))
    services.warm_up(voice=False)
    assert "the llm model did not load ahead of the first interview" in caplog.text and "GGUF" in caplog.text


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def test_piper_speaks_and_whisper_hears_the_same_words(services):
    sentence = "The reward model is trained on human preferences. Then the policy is optimised."
    chunks = list(services.tts.synthesize(sentence))
    assert len(chunks) == 2  # streamed: one chunk per sentence
    assert all(c.sample_rate == services.tts.sample_rate and c.seconds > 0.5 for c in chunks)
    with wave.open(io.BytesIO(chunks_to_wav(chunks))) as wav:
        rate, pcm = wav.getframerate(), np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    padded = np.concatenate([np.zeros(8000, np.float32), to_16k(pcm, rate)])
    transcript = services.stt.transcribe(padded)
    assert _words(transcript.text) == _words(sentence.replace("optimised", "optimized")) or \
        _words(transcript.text) == _words(sentence)
    assert [w.text.strip(".,").lower() for w in transcript.words][:3] == ["the", "reward", "model"]
    assert all(a.end <= b.start + 0.01 for a, b in zip(transcript.words, transcript.words[1:], strict=False))


def test_whisper_does_not_drop_the_end_of_a_prompted_answer(services):
    """Heard through Chromium's microphone path, this answer made tiny.en, prompted with the glossary, stop at
    "and the policy is" and drop "then optimised with PPO" (without the prompt it heard everything)."""
    from pathlib import Path

    audio = np.load(Path(__file__).parent / "data" / "prompt-stops-early.npy")  # 16 kHz float32, as streamed
    hint = "Glossary: supervised fine-tuning, RLHF, rejection sampling, best-of-n, reward model, PPO, Llama 2-Chat."
    words = _words(services.stt.transcribe(audio, hint=hint).text)
    assert words[1:5] == ["reward", "model", "is", "trained"] and words[-2:] == ["with", "ppo"]
    assert words[-3].startswith(("optimis", "optimiz"))  # "optimised" is said; either spelling is heard right
    assert words.count("policy") == 1  # the rest is appended once, not the whole answer again


def test_embedder_puts_paraphrases_closer_than_unrelated_text(services):
    a, b, c = services.embedder.embed([
        "How does a KV cache speed up decoding?",
        "Why does caching keys and values make generation faster?",
        "What is the capital of Peru?",
    ])
    assert a @ b > a @ c + 0.3
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-4
