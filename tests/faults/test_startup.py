"""Start-up faults: a read-only data directory, a damaged model, a bad profile, a broken registry.

Each stops the command in its first seconds with one line that names what is wrong and the fix, before any
work is done: no traceback, nothing written, no server started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
from faultkit import no_traceback, own_copy

pytestmark = pytest.mark.real
NOBODY = 65534
# Runs this checkout's CLI with the virtual environment's packages from any Python 3.11, because the one the
# tests run under may live where an unprivileged user cannot reach it (a pyenv under /root).
BOOT = ("import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'interviewer'; "
        "runpy.run_module('interviewer.cli', run_name='__main__')")


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _python_for_nobody() -> str:
    for exe in dict.fromkeys(filter(None, (sys.executable, shutil.which("python3.11"), "/usr/bin/python3.11"))):
        try:
            probe = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
                                   preexec_fn=_as_nobody, capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if probe.stdout.strip() == "True":
            return exe
    pytest.skip("no Python 3.11 that an unprivileged user may run")


@pytest.fixture
def read_only_dir():
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    folder = Path(tempfile.mkdtemp(prefix="interviewer-ro-"))  # under /tmp, which every user can reach
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder)


@pytest.mark.parametrize("command", [("sessions",), ("history",), ("interview", "--text"), ("serve",),
                                     ("bank", "add", "knowledge/examples/vector-search.yaml")])
def test_a_read_only_data_directory_is_named_before_any_work(read_only_dir, command):
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(read_only_dir), "INTERVIEWER_PROFILE": "test",
           "HOME": str(read_only_dir)}
    done = subprocess.run([_python_for_nobody(), "-c", BOOT, sysconfig.get_paths()["purelib"], *command],
                          preexec_fn=_as_nobody, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=Path(__file__).parents[2])
    assert done.returncode == 2 and no_traceback(done), done.stderr
    assert f"The data directory {read_only_dir} is not writable" in done.stderr
    assert "INTERVIEWER_DATA_DIR" in done.stderr
    assert list(read_only_dir.iterdir()) == []  # nothing was even tried there (Chroma never opened)


def _truncated_gguf(models: Path) -> None:
    folder = own_copy(models, "qwen2.5-coder-0.5b-instruct-q4km")
    real = (folder / "model.gguf").resolve()
    (folder / "model.gguf").unlink()
    with real.open("rb") as source:
        (folder / "model.gguf").write_bytes(source.read(4 << 20))  # the first 4 MB of 491 MB


def _wrong_whisper_bytes(models: Path) -> None:
    folder = own_copy(models, "whisper-tiny-en")
    size = (folder / "model.bin").stat().st_size
    (folder / "model.bin").unlink()
    with (folder / "model.bin").open("wb") as out:  # the right size, other bytes
        out.truncate(size)


@pytest.mark.parametrize("damage, role", [(_truncated_gguf, "llm"), (_wrong_whisper_bytes, "stt")],
                         ids=["truncated-gguf", "whisper-wrong-bytes"])
def test_serve_refuses_to_start_on_a_damaged_model(cli, models_copy, damage, role):
    damage(models_copy)
    done = cli("serve", "--port", "1", env={"INTERVIEWER_MODELS_DIR": str(models_copy)})
    assert done.returncode == 2 and no_traceback(done), done.stderr
    assert f"The {role} model" in done.stderr and "is damaged" in done.stderr and "make models" in done.stderr
    assert "Running on" not in done.stdout + done.stderr


def test_a_text_interview_checks_only_what_it_uses(cli, models_copy):
    _truncated_gguf(models_copy)
    env = {"INTERVIEWER_MODELS_DIR": str(models_copy)}
    done = cli("interview", "--topic", "rlhf", "--text", "--questions", "1", stdin="an answer\n", env=env)
    assert done.returncode == 2 and no_traceback(done), done.stderr
    assert "The llm model" in done.stderr and "make models" in done.stderr and "Question 1" not in done.stdout
    _wrong_whisper_bytes(models_copy)  # typed answers need no recogniser: a damaged one does not stop them
    done = cli("interview", "--topic", "rlhf", "--text", "--questions", "1", "--json", stdin="an answer\n",
               env={**env, "INTERVIEWER_USE_LLM": "false"})
    assert done.returncode == 0, done.stderr


def test_an_unknown_profile_names_the_valid_ones(cli):
    done = cli("interview", "--profile", "huge", "--text", stdin="x\n")
    assert done.returncode == 2 and no_traceback(done)
    assert "unknown model profile 'huge'; choose one of default, fast, test, tiny" in done.stderr


def test_an_unexpected_error_is_one_line_and_a_log_with_the_traceback(cli, models_copy, tmp_path):
    (models_copy / "registry.yaml").write_text("profiles: {}\n")  # a registry without its models
    done = cli("interview", "--text", env={"INTERVIEWER_MODELS_DIR": str(models_copy)})
    assert done.returncode == 1 and no_traceback(done), done.stderr
    [line] = done.stderr.strip().splitlines()
    log = tmp_path / "data" / "logs" / "interviewer.log"
    assert line.startswith("error: something unexpected went wrong (KeyError") and str(log) in line
    assert "Traceback" in log.read_text() and "load_registry" in log.read_text()


def test_a_bad_setting_is_named(cli):
    done = cli("sessions", env={"INTERVIEWER_PORT": "eighty"})
    assert done.returncode == 2 and no_traceback(done)
    assert "INTERVIEWER_PORT" in done.stderr
