"""Shared fixtures: settings that write only under a temporary data directory, and real services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from interviewer.settings import REPO_ROOT, Settings
from interviewer.wiring import Services

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The test model profile, the checkout's models, a fresh data directory, and a voice without random
    variation, so synthesised answers (and what the recogniser makes of them) are the same every run."""
    return Settings(data_dir=tmp_path_factory.mktemp("data"), models_dir=REPO_ROOT / "models", profile="test",
                    speech_variation=0)


@pytest.fixture(scope="session")
def services(settings) -> Services:
    """Real backends, loaded once for the whole run."""
    return Services(settings)


@pytest.fixture(scope="session")
def bank(services):
    return services.bank


@pytest.fixture(scope="session")
def question(services):
    """The RLHF pipeline question from the shipped bank."""
    return next(q for q in services.bank.questions if q.topic == "rlhf" and q.level == "fresher")


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory) -> Path:
    """A Chroma store holding the shipped bank, built once by a real `interviewer` run that then exits. A test
    that runs the command in a data directory of its own copies it there (`seed`): otherwise every such process
    embeds the whole bank again first (about 10 s each on 2 cores)."""
    data = tmp_path_factory.mktemp("seed")
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(data), "INTERVIEWER_PROFILE": "test"}
    subprocess.run([sys.executable, "-m", "interviewer.cli", "interview", "--topic", "rlhf", "--text"], input="",
                   env=env, capture_output=True, text=True, timeout=600, check=True)  # no answer: it stops at once
    return data / "store"

