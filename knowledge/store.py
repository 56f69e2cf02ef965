"""The knowledge store: the question bank in Chroma, ingested incrementally, retrieved by id, filter or text.

Each question is stored as two records that share its metadata: its question text (`ID#q`) and its model
answer (`ID#a`). A query by a question a user types matches the first kind, a query by an answer the second;
results are folded back to one hit per question. The whole question travels in the metadata, so a grade is
grounded in exactly what the store holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from interviewer.backends import Embedder
from interviewer.knowledge.schema import Question, topic_counts

COLLECTION = "questions"
KINDS = ("q", "a")


_LIVE: dict[str, Embedder] = {}  # embedders in this process, so Chroma's config round trip reuses them


@register_embedding_function
class ChromaEmbedding(EmbeddingFunction[Documents]):
    """Our embedder as a registered Chroma embedding function, so Chroma never picks (or downloads) its own."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        _LIVE[self._key(inner)] = inner

    @staticmethod
    def _key(inner: Embedder) -> str:
        return str(getattr(inner, "path", "") or inner.name)

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 (Chroma's parameter name)
        return list(self._inner.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "interviewer-local"

    def get_config(self) -> dict[str, Any]:
        return {"key": self._key(self._inner)}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbedding:
        inner = _LIVE.get(config["key"])
        if inner is None:  # a store reopened by another process: load the same model folder
            from interviewer.embed import SentenceEmbedder

            inner = SentenceEmbedder(Path(config["key"]))
        return ChromaEmbedding(inner)

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]


def open_client(path: Path):
    """A persistent Chroma client on disk, telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


def open_http_client(url: str):
    """A client of a Chroma server (`chroma run`), telemetry off; fails early, with the URL, if unreachable."""
    from urllib.parse import urlparse

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from interviewer.errors import BackendUnavailable

    parts = urlparse(url)
    try:
        return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000,
                                   ssl=parts.scheme == "https", settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as error:  # chromadb raises ValueError or httpx errors, depending on the failure
        raise BackendUnavailable(f"no Chroma server answered at {url}: {error}. Start one with "
                                 "`chroma run --path DIR`, or unset INTERVIEWER_CHROMA_URL.") from error


@dataclass(frozen=True)
class Hit:
    """A retrieved question and how close it was to the query (cosine similarity)."""

    question: Question
    similarity: float
    matched: str  # "q" (question text) or "a" (model answer)


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion changed."""

    added: int
    updated: int
    deleted: int
    unchanged: int


class KnowledgeStore:
    """Questions in a Chroma collection with cosine distance and our own embedding function."""

    def __init__(self, client, embedder: Embedder) -> None:
        self._embedder = embedder
        self._collection = client.get_or_create_collection(
            COLLECTION,
            embedding_function=ChromaEmbedding(embedder),
            configuration={"hnsw": {"space": "cosine"}},
        )

    def ingest(self, questions: Iterable[Question]) -> IngestReport:
        """Make the store hold exactly these questions, embedding only new or changed ones."""
        wanted = {q.id: q for q in questions}
        stored = self._stored_hashes()
        changed = [q for q in wanted.values() if stored.get(q.id) != q.content_hash()]
        removed = [qid for qid in stored if qid not in wanted]
        if removed:
            self._collection.delete(ids=[f"{qid}#{kind}" for qid in removed for kind in KINDS])
        for start in range(0, len(changed), 64):
            self._upsert(changed[start:start + 64])
        updated = sum(1 for q in changed if q.id in stored)
        return IngestReport(len(changed) - updated, updated, len(removed), len(wanted) - len(changed))

    def _stored_hashes(self) -> dict[str, str]:
        records = self._collection.get(where={"kind": "q"}, include=["metadatas"])
        return {meta["question_id"]: meta["hash"] for meta in records["metadatas"] or []}

    def _upsert(self, questions: Sequence[Question]) -> None:
        ids, documents, metadatas = [], [], []
        for q in questions:
            meta = {
                "question_id": q.id, "topic": q.topic, "level": q.level, "hash": q.content_hash(),
                "record": json.dumps(q.model_dump(mode="json")),
            }
            for kind, text in (("q", q.question), ("a", q.answer)):
                ids.append(f"{q.id}#{kind}")
                documents.append(text)
                metadatas.append({**meta, "kind": kind})
        embeddings = self._embedder.embed(documents)
        self._collection.upsert(ids=ids, documents=documents, metadatas=metadatas, embeddings=embeddings)

    def get(self, question_id: str) -> Question | None:
        """The question with this id, or None."""
        records = self._collection.get(ids=[f"{question_id}#q"], include=["metadatas"])
        metas = records["metadatas"] or []
        return _question(metas[0]) if metas else None

    def questions(self, topic: str | None = None, level: str | None = None) -> list[Question]:
        """Every stored question, optionally of one topic and level, sorted by id."""
        records = self._collection.get(where=_where(topic, level, kind="q"), include=["metadatas"])
        return sorted((_question(m) for m in records["metadatas"] or []), key=lambda q: q.id)

    def search(
        self, text: str, *, k: int = 5, topic: str | None = None, level: str | None = None,
        kind: str | None = None,
    ) -> list[Hit]:
        """The questions closest to free text (a typed question or an answer), best first, one hit each."""
        count = self._collection.count()
        if count == 0 or not text.strip():
            return []
        result = self._collection.query(
            query_embeddings=self._embedder.embed([text]),
            n_results=min(count, 2 * k),
            where=_where(topic, level, kind=kind),
            include=["metadatas", "distances"],
        )
        hits: dict[str, Hit] = {}
        for meta, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
            if meta["question_id"] not in hits:
                hits[meta["question_id"]] = Hit(_question(meta), 1.0 - float(distance), meta["kind"])
        return list(hits.values())[:k]

    def topics(self) -> dict[str, dict[str, int]]:
        """Question counts per topic and level."""
        return topic_counts(self.questions())


def _question(meta: dict) -> Question:
    return Question.model_validate(json.loads(meta["record"]))


def _where(topic: str | None, level: str | None, kind: str | None) -> dict | None:
    clauses = [{key: value} for key, value in (("topic", topic), ("level", level), ("kind", kind)) if value]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class PassageStore:
    """The passages of a topic prepared from the user's own material, in a Chroma collection of their own
    (`passages-TOPIC`). A passage's id is a hash of its text, so ingesting again embeds only new passages."""

    def __init__(self, client, embedder: Embedder, topic: str) -> None:
        self._embedder = embedder
        self._collection = client.get_or_create_collection(
            f"passages-{topic}", embedding_function=ChromaEmbedding(embedder),
            configuration={"hnsw": {"space": "cosine"}},
        )

    def ingest(self, passages: Sequence) -> IngestReport:
        """Make the collection hold exactly these passages (objects with id, source, index and text)."""
        wanted = {p.id: p for p in passages}
        stored = set(self._collection.get(include=[])["ids"])
        new = [p for pid, p in wanted.items() if pid not in stored]
        removed = sorted(stored - set(wanted))
        if removed:
            self._collection.delete(ids=removed)
        for start in range(0, len(new), 64):
            batch = new[start:start + 64]
            texts = [p.text for p in batch]
            self._collection.upsert(ids=[p.id for p in batch], documents=texts,
                                    metadatas=[{"source": p.source, "index": p.index} for p in batch],
                                    embeddings=self._embedder.embed(texts))
        return IngestReport(len(new), 0, len(removed), len(wanted) - len(new))

    def search(self, text: str, *, k: int = 3) -> list[tuple[str, float]]:
        """The ids of the passages closest to `text`, best first, with their cosine similarity."""
        count = self._collection.count()
        if count == 0 or not text.strip():
            return []
        result = self._collection.query(query_embeddings=self._embedder.embed([text]), n_results=min(count, k),
                                        include=["distances"])
        return [(pid, 1.0 - float(d)) for pid, d in zip(result["ids"][0], result["distances"][0], strict=True)]
