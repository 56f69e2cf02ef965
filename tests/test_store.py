"""The knowledge store on a real Chroma database and the real MiniLM embedder."""

from __future__ import annotations

import pytest

from interviewer.knowledge.store import KnowledgeStore, open_client

pytestmark = pytest.mark.real


class CountingEmbedder:
    """The real embedder, counting how many texts it embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture
def fresh(tmp_path, services):
    embedder = CountingEmbedder(services.embedder)
    return tmp_path / "store", embedder


def test_persists_across_a_restart_and_retrieves(fresh, bank):
    path, embedder = fresh
    store = KnowledgeStore(open_client(path), embedder)
    report = store.ingest(bank.questions)
    assert report.added == len(bank.questions) and report.unchanged == 0
    del store
    reopened = KnowledgeStore(open_client(path), embedder)
    q = bank.questions[5]
    assert reopened.get(q.id) == q
    assert reopened.get("no-such-id") is None
    assert {x.id for x in reopened.questions(topic="rlhf", level="senior")} == {
        x.id for x in bank.questions if x.topic == "rlhf" and x.level == "senior"
    }
    top = reopened.search(q.question, k=3)
    assert top[0].question.id == q.id and top[0].matched == "q"
    filtered = reopened.search(q.question, k=3, topic="sampling")
    assert all(hit.question.topic == "sampling" for hit in filtered)


def test_ingestion_is_incremental(fresh, bank):
    path, embedder = fresh
    store = KnowledgeStore(open_client(path), embedder)
    store.ingest(bank.questions)
    embedded = embedder.texts
    again = store.ingest(bank.questions)
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    assert embedder.texts == embedded  # nothing re-embedded

    edited = bank.questions[0].model_copy(update={"question": bank.questions[0].question + " Be brief."})
    changed = store.ingest([edited, *bank.questions[1:-1]])
    assert (changed.updated, changed.deleted, changed.added) == (1, 1, 0)
    assert embedder.texts == embedded + 2  # the one edited question: its question and answer records
    assert store.get(edited.id).question.endswith("Be brief.")
    assert store.get(bank.questions[-1].id) is None
