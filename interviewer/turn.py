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
