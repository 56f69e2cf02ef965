"""Shared fixtures: settings that write only under a temporary data directory, and real services."""

from __future__ import annotations

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


@pytest.fixture
def question(services):
    """The RLHF pipeline question from the shipped bank."""
    return next(q for q in services.bank.questions if q.topic == "rlhf" and q.level == "fresher")
