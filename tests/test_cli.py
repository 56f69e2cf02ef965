"""The terminal commands, run as a user runs them, including a whole interview with no network at all."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

pytestmark = pytest.mark.real
NETGUARD = Path(__file__).parent / "netguard.py"


@pytest.fixture(scope="module")
def run(settings):
    def run(*args: str, stdin: str = "", prefix: tuple[str, ...] = (), env: dict | None = None
            ) -> subprocess.CompletedProcess:
        base = {**os.environ, "INTERVIEWER_DATA_DIR": str(settings.data_dir), "INTERVIEWER_PROFILE": "test"}
        return subprocess.run([*prefix, sys.executable, *args], input=stdin, capture_output=True, text=True,
                              env={**base, **(env or {})}, timeout=300)
    return run


@pytest.fixture
def here(settings, monkeypatch, capsys):
    """The same commands run in this process: what a command does, where a process of its own is not what is
    tested (each start costs about 6 s of imports on 2 cores; the whole interviews with the LLM, the one behind
    the network guard and the commands that must load no model still start one)."""
    from interviewer.cli import main

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("INTERVIEWER_PROFILE", "test")

    def here(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return here


def test_a_whole_text_interview_from_stdin_prints_a_json_report_with_the_network_unavailable(run, tmp_path):
    log = tmp_path / "attempts.log"
    log.touch()
    # A fresh network namespace has no route anywhere; where unshare is unavailable the audit hook alone
    # refuses and records every non-loopback connection.
    prefix = ("unshare", "-n") if shutil.which("unshare") and os.geteuid() == 0 else ()
    done = run(str(NETGUARD), str(log), "-m", "interviewer.cli", "interview", "--topic", "rlhf", "--text",
               "--questions", "2", "--json", stdin="first answer\nsecond answer\n", prefix=prefix)
    assert done.returncode == 0, done.stderr
    assert log.read_text() == ""  # no connection or lookup was even attempted
    report = json.loads(done.stdout)
    assert [set(q) >= {"question", "answer", "score"} for q in report["questions"]] == [True, True]
    assert [q["answer"] for q in report["questions"]] == ["first answer", "second answer"]
    assert report["overall"] == sum(q["score"] for q in report["questions"]) / 2
    assert "Question 1 of 2" in done.stderr  # the conversation goes to stderr, the report to stdout
    # with each answer read from the pipe shown after its question (a new user's transcript had none)
    conversation = done.stderr
    assert conversation.index("Question 1 of 2") < conversation.index("> first answer") < \
        conversation.index("> second answer")


def test_fallbacks_in_a_text_interview_go_to_the_log_not_between_its_lines(run, settings):
    """A new user saw "WARNING: reply: the LLM's words were not used ..." printed in the middle of the typed
    interview. With the LLM server gone, every reply falls back to the bank's words: logged, counted at the end."""
    done = run("-m", "interviewer.cli", "interview", "--topic", "rlhf", "--text", "--questions", "1",
               stdin="The reward model scores answers and PPO tunes the policy against it.\n/end\n",
               env={"INTERVIEWER_LLM_URL": "http://127.0.0.1:9/v1"})  # nothing listens on port 9
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr + done.stdout and "Question 1 of 1" in done.stdout
    log = settings.data_dir / "logs" / "interviewer.log"
    assert "reply: the LLM's words were not used" in log.read_text()
    assert f"during the interview, such as the LLM running out of time and the bank's words said instead, went to " \
           f"the log: {log}" in done.stderr


def test_typed_at_a_terminal_the_llm_reads_each_question_while_the_candidate_types(settings, monkeypatch, capsys):
    """At a terminal (not a pipe) each open prompt goes to the LLM's prompt before the answer is read, so only
    the answer is left to evaluate when it comes, as in the page."""
    import builtins
    import io

    from interviewer import cli
    from interviewer.conductor import Conductor

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    read_ahead, answers = [], ["The policy is tuned against a reward model.", "/skip", "/end"]

    def listening(self, so_far):
        read_ahead.append((self.interview.prompt.text, so_far, self))

    def typed(prompt=""):
        text, _, conductor = read_ahead[-1]
        assert text == conductor.interview.prompt.text  # the prompt open now was read before the candidate types
        return answers.pop(0)

    monkeypatch.setattr(Conductor, "listening", listening)
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(builtins, "input", typed)
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("INTERVIEWER_PROFILE", "test")
    assert cli.main(["interview", "--topic", "rlhf", "--text", "--questions", "3"]) == 0
    assert not answers and len(read_ahead) == 3 and all(so_far == "" for _, so_far, _ in read_ahead)
    assert read_ahead[0][0] != read_ahead[1][0]  # each newly opened prompt is read (a follow-up, or the next question)
    assert "Question 1 of 3" in capsys.readouterr().out


def test_topics_and_models_as_json(here):
    topics = json.loads(here("topics", "--json").stdout)
    rlhf = next(t for t in topics if t["topic"] == "rlhf")
    assert rlhf["total"] == sum(rlhf["counts"].values()) >= 6 and rlhf["title"]
    done = here("models", "--json")
    models = json.loads(done.stdout)
    assert {m["role"] for m in models} == {"llm", "stt", "tts", "embedder", "turn", "words"}
    assert all(m["status"] == "ok" for m in models) and done.returncode == 0


def test_unknown_topic_is_a_clear_error(here):
    done = here("interview", "--topic", "astrology", "--text")
    assert done.returncode == 2 and "known topics" in done.stderr and "rlhf" in done.stderr


def test_missing_gguf_is_a_clear_error(here, tmp_path):
    done = here("models", "--model", str(tmp_path / "none.gguf"), "--json")
    assert done.returncode == 1
    llm = next(m for m in json.loads(done.stdout) if m["role"] == "llm")
    assert llm["status"] == "missing"


def test_grade_own_question_and_batch(here, tmp_path):
    question = "Why does a KV cache speed up decoding?"
    reference = ("It stores the keys and values of earlier tokens. Each new token then attends to the cache "
                 "instead of recomputing every earlier position.")
    good = "Because the keys and values of earlier tokens are cached, each new token only attends to them."
    done = here("grade", "--question", question, "--reference", reference, "--answer", good, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["score"] >= 5
    # too short to judge by its words: the grade says so, and how to have it read
    terse = here("grade", "--question", question, "--reference", reference, "--answer", "Cached K and V.")
    assert "confidence low" in terse.stdout and "--verify has the local LLM read the answer" in terse.stdout
    rows = [{"id": "a", "question": question, "reference": reference, "answer": good},
            {"id": "b", "question": question, "reference": reference, "answer": "Paris is in France."}]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = here("grade", "--batch", str(source), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "graded 2 rows" in done.stderr and "rows/s" in done.stderr
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in graded] == ["a", "b"] and graded[0]["answer"] == good
    assert graded[0]["score"] > graded[1]["score"]
    source.write_text('{"question": "q"}\n')
    bad = here("grade", "--batch", str(source))
    assert bad.returncode == 2 and "lack one of question, reference, answer" in bad.stderr


def test_topics_and_report_load_no_model(here, settings, tmp_path, monkeypatch):
    """Listing topics, showing a question and printing a report read files only: they work with no model on the
    machine (`bank show` had loaded the embedder and opened the store: 10 s on 2 cores)."""
    monkeypatch.setenv("INTERVIEWER_USE_LLM", "false")  # a session to report on (made in this process); the LLM
    monkeypatch.setattr("sys.stdin", io.StringIO("the reward model is trained on human rankings\n"))  # is not on
    done = here("interview", "--topic", "rlhf", "--text", "--questions", "1", "--json")  # trial here
    session = json.loads(done.stdout)["id"]
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(settings.data_dir), "INTERVIEWER_PROFILE": "test",
           "INTERVIEWER_MODELS_DIR": str(tmp_path)}  # an empty models folder: loading any model would fail
    for args in (["topics", "--json"], ["bank", "show", "rlhf-kl-penalty"], ["report", session]):
        listed = subprocess.run([sys.executable, "-m", "interviewer.cli", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert "Loading weights" not in listed.stderr
        if args[0] == "bank":
            assert "frozen reference model" in listed.stdout  # its model answer and key points, from the bank files
    assert "the reward model is trained on human rankings" in listed.stdout


def test_a_session_resumed_between_a_grade_and_its_next_line_says_that_line_once(here, services, monkeypatch):
    """Stopped after an answer was graded, before the follow-up was said: resuming says the follow-up, and only
    once (a new user saw it printed twice in a row)."""
    from interviewer.session import SessionOptions

    monkeypatch.setenv("INTERVIEWER_USE_LLM", "false")
    interview = services.new_interview(SessionOptions(topics=("rlhf",), questions=2))
    interview.start()
    interview.answer("Humans are involved somehow.")  # graded; what follows it not yet said
    assert interview.phase == "grade" and interview.plan().kind == "follow_up"
    asked = interview.plan().ask
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    done = here("resume", interview.id)
    assert done.returncode == 0 and done.stdout.count(asked) == 1, done.stdout
    assert f"(Resuming session {interview.id}: question 1 of 2.)" in done.stdout


def test_after_a_follow_up_the_terminal_gives_the_questions_score(here, services, monkeypatch):
    """A new user read "Your last answer, verified: 6/10" after a follow-up as the question's score (4/10)."""
    import re

    from interviewer.session import SessionOptions

    monkeypatch.setenv("INTERVIEWER_USE_LLM", "false")
    interview = services.new_interview(SessionOptions(topics=("rlhf",), questions=1))
    interview.start()
    question = interview.prompt.question
    interview.answer(question.answer.split(". ")[0] + ".")  # on the question, far from complete: a follow-up
    assert interview.plan().kind == "follow_up"
    monkeypatch.setattr("sys.stdin", io.StringIO(question.answer + "\n"))
    done = here("resume", interview.id, "--json")
    report = json.loads(done.stdout)["questions"][0]
    assert report["follow_up"] and not report["follow_up"]["skipped"] and report["score"] != report["first_score"]
    [line] = re.findall(r"\(The question scores (\d+)/10: your first answer's (\d+),", done.stderr)
    assert (int(line[0]), int(line[1])) == (report["score"], report["first_score"])


def test_output_read_by_a_reader_that_stops_early_ends_quietly(monkeypatch, capsys):
    """`interviewer topics | head -8` ended with "something unexpected went wrong (BrokenPipeError)"."""
    from interviewer.cli import main

    read, write = os.pipe()
    os.close(read)  # the reader has gone: the next write fails with EPIPE
    monkeypatch.setattr("sys.stdout", os.fdopen(write, "w", buffering=1))
    assert main(["topics"]) == 141
    assert "unexpected" not in capsys.readouterr().err


def test_grade_verify_reports_both_grades_and_each_statements_verdict(run, here, tmp_path):
    """`--verify` runs the LLM on the answer (the test profile's small model): the final score, the instant
    one beside it, and a verdict per statement; an empty answer has nothing to verify."""
    question = "Why does a KV cache speed up decoding?"
    reference = ("It stores the keys and values of earlier tokens. Each new token then attends to the cache "
                 "instead of recomputing every earlier position.")
    answer = "we keep the K and V tensors from previous steps around so the new token just looks them up"
    done = run("-m", "interviewer.cli", "grade", "--question", question, "--reference", reference,
               "--answer", answer, "--verify", "--json")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["verified"] is True and row["verification"] == ""
    assert isinstance(row["provisional_score"], int) and 0 <= row["score"] <= 10
    assert [s["statement"] for s in row["statements"]] == [p["point"] for p in row["points"]]
    assert len(row["statements"]) == 2
    for statement in row["statements"]:
        assert statement["verdict"] in {"yes", "partly", "no", "contradicts"}
        assert abs(sum(statement["probabilities"].values()) - 1) < 0.01
    rows = [{"id": "a", "question": question, "reference": reference, "answer": answer},
            {"id": "b", "question": question, "reference": reference, "answer": "  "}]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = here("grade", "--batch", str(source), "--out", str(out), "--verify")
    assert done.returncode == 0, done.stderr
    assert "graded 2 rows (verified)" in done.stderr
    first, empty = [json.loads(line) for line in out.read_text().splitlines()]
    assert first["verified"] is True and first["statements"][0]["verdict"]
    assert empty["verified"] is False and empty["score"] == 0 and "nothing to verify" in empty["verification"]


def test_a_typed_interview_prints_the_verified_grade_before_the_next_question():
    """The reply is still being printed when the LLM's check of the answer comes; printed after the next
    question, a new user could not tell which answer the verified grade was for. A "let me check" said before
    the check stays before it."""
    from interviewer.cli import _Shown
    from interviewer.conductor import CHECKING, Graded, Spoken
    from interviewer.types import Grade

    instant = Grade(3, "D", (), "Partly there.", "Say more.", "low")
    checked = Grade(7, "B", (), "Mostly there.", "Say more.", "medium", verified=True)
    printed: list[str] = []
    _Shown(printed.append)([Spoken("ack", "Thanks.", 1, instant), Spoken("ack", "You named the reward model.", 2),
                           Spoken("follow_up", "How is it trained?", 2), Graded(checked)])
    order = [next(i for i, line in enumerate(printed) if text in line)
             for text in ("Instant grade", "verified by the LLM: Score 7/10", "How is it trained?")]
    assert order == sorted(order) and "You named the reward model. How is it trained?" in printed[-1]

    printed.clear()  # the next question is a message of its own: the acknowledgement, the check, the question
    _Shown(printed.append)([Spoken("ack", "Thanks.", 1, instant), Spoken("ack", "You named the reward model.", 2),
                           Spoken("question", "Question 2 of 3. What is DPO?", 3), Graded(instant, "the LLM was busy")])
    assert [line.strip()[:14] for line in printed[1:]] == ["You named the ", "(For your last", "Your last answ",
                                                           "Question 2 of "]  # the instant grade, now in full

    printed.clear()
    _Shown(printed.append)([Spoken("ack", "Thanks.", 1, instant), Spoken("wait", CHECKING, 2), Graded(checked),
                           Spoken("close", "That's the end.", 3)])
    assert [line.strip()[:14] for line in printed[1:]] == [CHECKING[:14], "Your last answ", "That's the end"]


def test_a_typed_interview_lists_the_points_not_made_only_once_the_question_is_over():
    """A new user read the point a follow-up asked for off the grade printed just above it. The instant grade
    comes before the follow-up is chosen, so it lists only the points made; a grade printed while a follow-up
    may still come lists them once the question is over, before the next question or the close."""
    from interviewer.cli import _Shown
    from interviewer.conductor import CHECKING, Graded, Spoken
    from interviewer.types import Grade, PointResult

    points = (PointResult("The reward model is trained on human rankings.", "covered", "humans rank", 0.8),
              PointResult("A KL penalty keeps the policy near the reference model.", "missed", "", 0.1))
    instant = Grade(4, "D", points, "Weak answer: 1 of 2 key points made.", f"Next time: {points[1].point}", "low")
    checked = replace(instant, verified=True)
    printed: list[str] = []
    _Shown(printed.append, over=lambda: False)([Spoken("ack", "Thanks.", 1, instant),
                                                Spoken("follow_up", "What keeps it close?", 2), Graded(checked)])
    text = "\n".join(printed)
    assert points[0].point in text and points[1].point not in text and "Tip:" not in text
    assert "1 key point not made in full: listed once this question is over" in text

    printed.clear()  # the last question: the close waits for the check, which might yet call for a follow-up
    _Shown(printed.append, over=lambda: False)([Spoken("ack", "Thanks.", 1, instant), Spoken("wait", CHECKING, 2),
                                                Graded(checked), Spoken("close", "That's the end.", 3)])
    assert sum(points[1].point in line for line in printed) == 1  # listed once, in full, before the close
    rest = printed[-2].strip()
    assert rest.startswith("Your last answer (4/10), the rest of its grade:") and "That's the end." in printed[-1]
    assert points[0].point not in rest and "Tip:" in rest  # what was printed before is not printed again

    from interviewer.render import grade_text
    long = "The answer was long: only its first 600 words were graded."
    noted = grade_text(replace(checked, notes=(long, long), confidence_reason=long))
    assert noted.count(long) == 1  # the instant grade's note, the check's and the confidence reason were three

    printed.clear()  # the follow-up skipped: its turn has no grade of its own, and the next question ends it
    shown = _Shown(printed.append, over=lambda: False)
    shown([Spoken("ack", "Thanks.", 1, instant), Spoken("follow_up", "What keeps it close?", 2), Graded(checked)])
    assert not any(points[1].point in line for line in printed)
    shown([Spoken("ack", "Okay, let's skip that one.", 3), Spoken("question", "Question 2 of 2. What is DPO?", 3)])
    assert sum(points[1].point in line for line in printed) == 1 and "Question 2 of 2" in printed[-1]
