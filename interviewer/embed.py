"""The embedder backend: a sentence-transformers model loaded from a local folder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class SentenceEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers folder) on the CPU, normalised output."""

    def __init__(self, path: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = path.name
        self.path = path
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; an empty input gives an empty (0, dim) array.

        Batches are small on purpose: sentence-transformers pads a batch to its longest text, so a whole
        answer (about 250 tokens) batched with its sentences made grading a long answer 2-3 times slower.
        It sorts texts by length first, so bulk jobs lose little.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.astype(np.float32)
