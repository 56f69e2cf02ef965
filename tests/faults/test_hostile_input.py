"""Hostile or careless input: huge answers, huge or booby-trapped bank files, path-like ids, symlinks.

Each is refused or cut with a message naming the file, field or limit; the memory and time such input takes
are bounded by resource limits on the process (it is killed if it goes past them), not by timing it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from faultkit import no_traceback

from interviewer.knowledge.schema import MAX_FILE_BYTES, load_bank
from interviewer.limits import MAX_ANSWER_CHARS
from interviewer.session import Interview, SessionOptions
from interviewer.settings import REPO_ROOT
from interviewer.storage import SessionStore

EXAMPLE = REPO_ROOT / "knowledge" / "examples" / "vector-search.yaml"
MEMORY = 1 << 30  # 1 GiB of address space: the bank checks need a few hundred MB
CPU_S = 60


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S))


def _bank_check(path: Path) -> subprocess.CompletedProcess:
    """`interviewer bank check PATH` in a process killed past 1 GiB of memory or a minute of CPU."""
    return subprocess.run([sys.executable, "-m", "interviewer.cli", "bank", "check", str(path)], capture_output=True,
                          text=True, preexec_fn=_bounded, timeout=300)


def _billion_laughs(path: Path) -> Path:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append("topic: laughs\ntitle: Laughs\nquestions: *i")
    path.write_text("\n".join(lines) + "\n")
    return path


def _deep(path: Path) -> Path:
    path.write_text("[" * 200_000 + "]" * 200_000)
    return path


def _five_mb(path: Path) -> Path:
    path.write_text("topic: big\ntitle: Big\nsummary: " + "x" * 5_000_000 + "\n")
    return path


@pytest.mark.parametrize("make, expected", [
    (_billion_laughs, "uses an alias (*a)"),
    (_deep, "nested too deeply"),
    (_five_mb, f"a topic file may have at most {MAX_FILE_BYTES:,}"),
], ids=["alias-bomb", "deep-nesting", "5-MB-file"])
def test_a_booby_trapped_bank_file_is_refused_in_bounded_memory(tmp_path, make, expected):
    bad = make(tmp_path / "trap.yaml")
    done = _bank_check(bad)
    assert done.returncode == 1 and no_traceback(done), done.stderr  # not killed by the limits, not crashed
    assert f"{bad}: " in done.stdout and expected in done.stdout


def _example(**changes) -> dict:
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update({k: v for k, v in changes.items() if k != "question"})
    data["questions"][0].update(changes.get("question", {}))
    return data


def test_path_like_ids_and_symlinks_are_refused_with_the_file_and_field(tmp_path):
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "ids.yaml").write_text(yaml.safe_dump(_example(question={"id": "../../x"})))
    (bank / "topic.yaml").write_text(yaml.safe_dump(_example(topic="../../etc/cron.d/x",
                                                             question={"id": "vector-search-two"})))
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(EXAMPLE.read_text())
    (bank / "linked.yaml").symlink_to(outside)
    problems = {(Path(p.file).name, p.question_id, p.field): p.message for p in load_bank(bank).problems}
    assert ("ids.yaml", "../../x", "id") in problems
    assert ("topic.yaml", "", "topic") in problems
    assert "symbolic link" in problems[("linked.yaml", "", "")]


@pytest.mark.real
def test_bank_add_of_a_hostile_bank_writes_nothing_anywhere(cli, tmp_path):
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "ids.yaml").write_text(yaml.safe_dump(_example(topic="../../../escape",
                                                           question={"id": "../../escape"})))
    (bank / "linked.yaml").symlink_to(EXAMPLE)
    _billion_laughs(bank / "laughs.yaml")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    done = cli("bank", "add", str(bank))
    assert done.returncode == 1 and no_traceback(done), done.stderr
    assert "ids.yaml:../../escape:id" in done.stdout and "linked.yaml: is a symbolic link" in done.stdout
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "data"))
    assert after == before and not (tmp_path / "data" / "banks").exists()


def test_the_session_keeps_an_answer_up_to_the_cap(services, tmp_path):
    store = SessionStore(tmp_path / "sessions.sqlite")
    interview = store.attach(Interview(services.store.questions(topic="rlhf"), services.grader,
                                       SessionOptions(topics=("rlhf",), questions=1, follow_ups=0)))
    interview.start()
    interview.submit("reward model " * 80_000)  # about 1 MB
    [turn] = interview.turns
    assert len(turn.answer) == MAX_ANSWER_CHARS and turn.answer == ("reward model " * 80_000)[:MAX_ANSWER_CHARS]
    [(stored,)] = store._run("SELECT length(answer) FROM turns")
    assert stored == MAX_ANSWER_CHARS


@pytest.mark.real
def test_a_huge_typed_answer_is_cut_with_a_message(cli, tmp_path, monkeypatch, capsys):
    huge = "A reward model scores answers. " * 3_000  # 93,000 characters on one line
    # The LLM is off: with it, this answer only waits out the verdict's and the reply's time limits (24 s of the
    # suite), fallbacks the slow-LLM fault tests already cover; the cut is made before the LLM reads anything.
    done = cli("interview", "--topic", "rlhf", "--text", "--questions", "1", "--json", stdin=huge + "\n",
               env={"INTERVIEWER_USE_LLM": "false"})
    assert done.returncode == 0, done.stderr
    assert f"only the first {MAX_ANSWER_CHARS:,} are kept" in done.stderr
    assert "the grade reads its first 600 words" in done.stdout  # the one limit of the grade, said once
    [graded] = json.loads(done.stdout)["questions"]
    assert graded["answer"] == huge[:MAX_ANSWER_CHARS]
    from interviewer.cli import main  # the same cut in `grade`, run in this process (a process costs 6 s)

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTERVIEWER_PROFILE", "test")
    capsys.readouterr()
    assert main(["grade", "--question", "What does a reward model do?", "--reference", "It scores answers.",
                 "--answer", huge, "--json"]) == 0
    out, err = capsys.readouterr()
    assert f"only the first {MAX_ANSWER_CHARS:,}" in err and json.loads(out)["score"] >= 0


def test_the_answer_cap_is_a_documented_setting():
    from interviewer.settings import Settings

    field = Settings.model_fields["max_answer_chars"]
    assert field.default == MAX_ANSWER_CHARS and "characters" in field.description
    readme = (REPO_ROOT / "README.md").read_text()
    assert "MAX_ANSWER_CHARS" in readme and f"{MAX_ANSWER_CHARS:,}" in readme
