"""The end-of-turn backend: Smart Turn v3.2 (pipecat, BSD-2-Clause), an int8 ONNX model run with onnxruntime.

Smart Turn hears the last 8 s of an utterance as Whisper log-mel features (80 bins × 800 frames of 10 ms) and
gives the probability that the speaker has finished. It judges how the speech ends (a falling pitch, a
trailing "and", "so", a drawn-out word), which a fixed pause cannot.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from interviewer.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

WINDOW_S = 8  # the model hears this much audio, the end of the turn; shorter audio is zero-padded in front


class SmartTurn:
    """Smart Turn v3.2 on the CPU. Thread-safe: every tab's listener may share one."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort
        from transformers import WhisperFeatureExtractor

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # one thread: it runs beside the recogniser on 2 cores
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        # chunk_length=8 sets Whisper's front end to 8 s windows (800 frames) instead of its usual 30 s.
        self._features = WhisperFeatureExtractor(chunk_length=WINDOW_S)
        self._lock = threading.Lock()  # the feature extractor keeps no state, but is not documented thread-safe
        log.info("turn model loaded from %s", path)

    def complete_probability(self, audio: np.ndarray) -> float:
        """P(the turn is complete) for 16 kHz float32 mono audio ending just after the last word."""
        samples = WINDOW_S * SAMPLE_RATE
        window = np.asarray(audio, np.float32)[-samples:]
        window = np.pad(window, (samples - len(window), 0))  # the end of the turn must sit at the window's end
        with self._lock:
            features = self._features(window, sampling_rate=SAMPLE_RATE, return_tensors="np", padding="max_length",
                                      max_length=samples, truncation=True, do_normalize=True).input_features
        output = self._session.run(None, {self._input: features.astype(np.float32)})[0]
        return float(np.asarray(output).reshape(-1)[0])


class WordsTurn:
    """Whether the words said so far make a finished answer, read from a small chat LLM: the probability that
    the candidate's message would end here (a full stop, a question or exclamation mark, or the end of the
    message) rather than go on. "... is trained on" gives about 0.00, "... trained on human preference
    comparisons" 0.2-0.8 with Qwen2.5-Coder-0.5B. Smart Turn hears how the speech sounds; this reads what was
    said, which is what a thinking pause in the middle of a sentence gives away when the voice does not.
    (LiveKit's turn detector works the same way, with a Qwen2.5-0.5B fine-tuned for it; this one is not.)

    Thread-safe: the model is the LLM backend's, with its lock, in a context of its own. The words of a turn grow
    stretch by stretch, so each call evaluates only the tokens after the prefix it shares with the call before.
    """

    def __init__(self, path: Path, *, threads: int | None = None, context_tokens: int = 2048) -> None:
        from interviewer.llm import LlamaCppLLM

        self._llm = LlamaCppLLM(path, context_tokens=context_tokens, threads=threads)
        self._ends = self._llm.message_end_tokens()
        self._limit = context_tokens - 8
        log.info("words model loaded from %s", path)

    def complete_probability(self, text: str) -> float:
        """P(the answer ends after these words); the recogniser's closing punctuation is taken off first, since
        Whisper ends every stretch with a full stop, finished or not."""
        tokens = self._llm.open_message_tokens(text.strip().rstrip(" .,;:!?…-—\"'"))
        if len(tokens) > self._limit:  # a very long answer: its end is what counts
            tokens = self._llm.open_message_tokens("") + tokens[-(self._limit // 2):]
        return float(self._llm.next_token_probabilities(tokens)[self._ends].sum())
