"""A user's own bank, exactly as the README documents it, runs end to end."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest
from servers import seed

from interviewer.settings import REPO_ROOT

EXAMPLE = REPO_ROOT / "knowledge" / "examples" / "vector-search.yaml"


def test_readme_shows_the_example_bank_verbatim():
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- example-bank -->\n```yaml\n(.*?)```\n<!-- /example-bank -->", readme, re.S)
    assert block and block.group(1) == EXAMPLE.read_text()


@pytest.mark.real
def test_bank_add_then_interview_on_the_new_topic(tmp_path, seeded_store, monkeypatch, capsys):
    # the LLM is off: the new topic's question, model answer and grade are on trial here; the LLM's part in an
    # interview is tested on the shipped bank (tests/test_cli.py), and here it only waits out its time limits.
    # The commands run in this process (a process of their own costs 6 s of imports; tests/test_cli.py runs
    # them as processes)
    from interviewer.cli import main

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(seed(tmp_path, seeded_store)))
    monkeypatch.setenv("INTERVIEWER_PROFILE", "test")
    monkeypatch.setenv("INTERVIEWER_USE_LLM", "false")
    capsys.readouterr()
    assert main(["bank", "add", str(EXAMPLE)]) == 0
    assert "added 1 questions in topic(s) vector-search" in capsys.readouterr().out
    good = ("Exact search compares the query with every vector, so it grows linearly with the data. An "
            "approximate index like HNSW only visits a small part of the vectors, trading some recall for "
            "much lower latency.")
    monkeypatch.setattr("sys.stdin", io.StringIO(good + "\n"))
    assert main(["interview", "--topic", "vector-search", "--text", "--questions", "1", "--json"]) == 0
    [graded] = json.loads(capsys.readouterr().out)["questions"]
    assert graded["id"] == "vector-search-ann-tradeoff" and graded["score"] >= 4
    assert main(["bank", "show", "vector-search-ann-tradeoff"]) == 0
    shown = capsys.readouterr().out
    assert "HNSW" in shown and "Key points:" in shown
    assert main(["bank", "show", "vector-search"]) == 0  # a topic: its questions' ids, for `grade --question-id`
    assert capsys.readouterr().out.split()[:2] == ["vector-search-ann-tradeoff", "mid"]
    assert main(["bank", "show", "vector"]) == 2 and "bank show TOPIC" in capsys.readouterr().err


@pytest.mark.real
def test_a_topic_added_by_another_process_is_offered_without_a_restart(tmp_path, seeded_store, services):
    """The page runs; in a terminal the user adds a bank (or prepares a topic). The running page offers the
    topic and interviews on it, without a restart; a bank file broken later leaves the bank it read standing."""
    from interviewer.session import SessionOptions
    from interviewer.wiring import Services

    data = seed(tmp_path / "data", seeded_store)
    page = Services(services.settings.model_copy(update={"data_dir": data}))
    page.__dict__["embedder"] = services.embedder  # the same model, loaded once
    assert "vector-search" not in page.topic_titles()
    assert not page.store.questions(topic="vector-search")
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(data), "INTERVIEWER_PROFILE": "test"}
    added = subprocess.run([sys.executable, "-m", "interviewer.cli", "bank", "add", str(EXAMPLE)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr
    assert page.topic_titles()["vector-search"] == "Vector search for retrieval"
    interview = page.new_interview(SessionOptions(topics=("vector-search",), questions=1, level="mid"))
    assert interview.pool and {q.id for q in interview.pool} == {"vector-search-ann-tradeoff"}
    (data / "banks" / "broken.yaml").write_text("topic: [unclosed")
    assert "vector-search" in page.topic_titles() and page.new_interview(
        SessionOptions(topics=("rlhf",), questions=1, level="mid")).pool


def test_bank_add_rejects_a_bad_file_with_located_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("level: mid", "level: wizard"))
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "interviewer.cli", "bank", "check", str(bad)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "bad.yaml:vector-search-ann-tradeoff:level" in done.stdout
