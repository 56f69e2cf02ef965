"""The embedder backend: a sentence-transformers model loaded from a local folder."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from pathlib import Path

import numpy as np

from interviewer.errors import BackendUnavailable

log = logging.getLogger(__name__)
PER_WAIT = 32  # texts one `wait_s` covers: a bulk call (the bank's first ingest) gets more time


class SentenceEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers folder) on the CPU, normalised output.

    The model runs on one worker thread of its own, so a call that hangs inside torch costs its caller
    `wait_s` (per 32 texts) and a clear error, not the whole turn; calls wait their turn in order.
    """

    def __init__(self, path: Path, *, wait_s: float = 30.0) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every command, for 0.1 s of loading
        self.name = path.name
        self.path = path
        self.wait_s = wait_s
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension())
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; an empty input gives an empty (0, dim) array. Raises BackendUnavailable when the
        model has not answered within its wait (busy far beyond normal, or stuck)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        wait = self.wait_s * math.ceil(len(texts) / PER_WAIT)
        job = self._worker.submit(self._encode, list(texts))
        try:
            return job.result(timeout=wait)
        except Late:
            log.warning("the embedding model has not answered %d text(s) after %.0f s", len(texts), wait)
            raise BackendUnavailable(
                f"the embedding model has not answered after {wait:.0f} s (the machine may be overloaded, or "
                "the model stuck). Try again in a moment; if it keeps happening, restart the interviewer."
            ) from None

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Batches are small on purpose: sentence-transformers pads a batch to its longest text, so a whole
        answer (about 250 tokens) batched with its sentences made grading a long answer 2-3 times slower.
        It sorts texts by length first, so bulk jobs lose little."""
        vectors = self._model.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.astype(np.float32)
