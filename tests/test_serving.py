"""The same app against real serving engines on loopback: llama.cpp's server and a Chroma server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from servers import free_port, running

from interviewer.errors import BackendUnavailable
from interviewer.knowledge.store import KnowledgeStore, open_http_client
from interviewer.llm_http import OpenAICompatibleLLM
from interviewer.registry import load_registry, require
from interviewer.types import Message

pytestmark = pytest.mark.real


class Capital(BaseModel):
    city: str


@pytest.fixture(scope="module")
def llm_server(settings):
    model = require(load_registry(settings.models_dir).for_profile("test")["llm"], settings.models_dir)
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "2048", "--model_alias", "qwen-0.5b"]
    with running(command, "Uvicorn running on"):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    port = free_port()
    command = [str(Path(sys.executable).with_name("chroma")), "run",
               "--path", str(tmp_path_factory.mktemp("chroma")), "--host", "127.0.0.1", "--port", str(port)]
    with running(command, "listening on"):
        yield f"http://127.0.0.1:{port}"


def test_chat_stream_and_json_over_http(llm_server):
    llm = OpenAICompatibleLLM(llm_server, "qwen-0.5b")
    question = [Message("user", "What is the capital of France? Answer in one word.")]
    whole = llm.chat(question, max_tokens=8)
    assert "paris" in whole.lower()
    assert "".join(llm.stream(question, max_tokens=8)) == whole
    answer = llm.chat_json([Message("user", "What is the capital of France?")], Capital, max_tokens=30)
    assert "paris" in answer.city.lower()


def test_a_turn_is_judged_and_answered_by_the_server(llm_server, question):
    """The same turn pipeline over HTTP: verdicts through the server's JSON mode, the reply streamed."""
    from interviewer.conversation import VERDICTS, Context, Dialogue

    dialogue = Dialogue(lambda: OpenAICompatibleLLM(llm_server, "qwen-0.5b"))
    context = Context(question.question, tuple(question.key_points), said=question.answer)
    dialogue.prefill(context)  # nothing to do over HTTP, and no error
    judgement = dialogue.judge(context, kind="answer")
    assert len(judgement.verdicts) == len(question.key_points)
    for verdict in judgement.verdicts:  # one verdict chosen per point, with certainty
        assert set(verdict) == set(VERDICTS) and sorted(verdict.values()) == [0.0, 0.0, 0.0, 1.0]
    said = list(dialogue.reply(context, "move_on", unsaid=[], praise_allowed=True))
    assert said and all(len(s) < 400 for s in said)
    # the server is asked to continue the words begun for the model: they are said once
    assert said[0].startswith("You talked about ") and said[0].count("You talked about") == 1


def test_unreachable_server_is_a_clear_error():
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}/v1", "any", timeout_s=5)
    with pytest.raises(BackendUnavailable, match="INTERVIEWER_LLM_URL"):
        llm.chat([Message("user", "hello")])


def test_store_on_a_chroma_server(chroma_server, services, bank):
    store = KnowledgeStore(open_http_client(chroma_server), services.embedder)
    report = store.ingest(bank.questions)
    assert report.added == len(bank.questions)
    again = store.ingest(bank.questions)
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    reopened = KnowledgeStore(open_http_client(chroma_server), services.embedder)
    q = bank.questions[7]
    assert reopened.get(q.id) == q
    assert reopened.search(q.question, k=1, topic=q.topic)[0].question.id == q.id
    assert {x.id for x in reopened.questions(topic="dpo")} == {x.id for x in bank.questions if x.topic == "dpo"}


def test_unreachable_chroma_is_a_clear_error():
    with pytest.raises(BackendUnavailable, match="chroma run"):
        open_http_client(f"http://127.0.0.1:{free_port()}")
