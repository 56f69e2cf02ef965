"""`interviewer prepare --job-description`: requirements read from a job description, matched to the bank's
questions in the real Chroma store with the real embedder, questions written (by a scripted writer, as in
test_prepare) for the requirement no bank question covers, and an interview on the result whose report names
the requirement each question covered."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from test_prepare import Forbidden, ScriptedLLM, services_with

from interviewer import documents as D
from interviewer import prepare as P
from interviewer.cli import main
from interviewer.errors import BadInput
from interviewer.render import report_html, report_markdown
from interviewer.session import SessionOptions

DATA = Path(__file__).parent / "data" / "prepare"
JOB = DATA / "job-description.md"
K8S_ANSWER = ("Kubernetes runs the training jobs as pods that the scheduler places on nodes with free GPUs, "
              "which it learns from the device plugin that each node runs and advertises. A job asks for GPUs "
              "in its resource limits, and the scheduler will not place it on a node that lacks them, so two "
              "jobs never share a card by accident. Helm charts keep the manifests of the cluster's services as "
              "versioned templates with values per environment, so an upgrade is a reviewed change that can be "
              "rolled back with one command. Maintaining the cluster means draining nodes before upgrades, "
              "watching for pods stuck in pending because no node has room, and keeping drivers and the plugin "
              "at versions that match the images the jobs run.")
K8S_POINTS = ["The scheduler places a pod only on a node with the GPUs its resource limits ask for.",
              "Each node's device plugin advertises its GPUs to the cluster.",
              "Helm charts keep manifests as versioned templates that can be rolled back.",
              "Nodes are drained before they are upgraded."]


@pytest.fixture
def embedder(services):
    return services.embedder


def k8s_notes(folder: Path) -> Path:
    """The candidate's own notes, given beside the description: what the written questions stand on (the
    description only names Kubernetes, and a point must be stated in its passages)."""
    notes = folder / "k8s-notes.md"
    notes.write_text(f"# Running GPU jobs on Kubernetes\n\n{K8S_ANSWER}\n")
    return notes


def k8s_draft() -> dict:
    return {"question": "How does Kubernetes decide where a GPU training job runs ({n})?", "answer": K8S_ANSWER,
            "key_points": K8S_POINTS,
            "follow_ups": [{"key_point": 3, "ask": "How would you roll back a broken release of a service?"}],
            "glossary": ["Kubernetes", "Helm chart", "device plugin"]}


def test_requirements_are_the_lines_that_state_a_skill_or_a_duty():
    bullets = JOB.read_text()
    assert D.requirements(bullets) == [
        "Align our chat models with RLHF: train reward models on human preference comparisons and tune policies "
        "with PPO",
        "Design the tokenization of our multilingual training corpus and explain its effect on cost",
        "Build and maintain Kubernetes clusters and Helm charts for our GPU training jobs"]
    numbered = "Requirements:\n1. 3+ years of experience with PyTorch\n2) Solid understanding of attention\n\nPerks\n" \
               "* Strong coffee and a bike shed"
    assert D.requirements(numbered) == ["3+ years of experience with PyTorch", "Solid understanding of attention"]
    # under the role's headings a bullet is a requirement in any words (a new user's two lines were dropped)
    plain = ("## What you will do\n- Serve LLMs with low latency on our GPU cluster\n\n## What we are looking for\n"
             "- 3+ years of Python and PyTorch in production\n\n## Benefits\n- Remote-friendly, 30 days of holiday\n"
             "\nOur office has a rooftop garden and a gym\n")
    assert D.requirements(plain) == ["Serve LLMs with low latency on our GPU cluster",
                                     "3+ years of Python and PyTorch in production"]
    prose = ("We are a company in Lisbon that makes search engines for lawyers. You will train reward models and "
             "run RLHF on our chat models. You should have a deep understanding of how tokenizers split text. "
             "Experience with Kafka is a plus. We offer flexible hours. Apply by sending your CV to our team.")
    assert D.requirements(prose) == ["You will train reward models and run RLHF on our chat models",
                                     "You should have a deep understanding of how tokenizers split text",
                                     "Experience with Kafka is a plus"]


def test_questions_are_written_for_the_requirements_the_notes_are_about_closest_first():
    """A new user's two written questions went to the first two requirements in the description, from notes about
    something else, and the requirement the notes were about got none."""
    from interviewer.documents import Passage
    from interviewer.prepare import MATCH_AT, covered_by, plan_requirements

    def passage(n: int) -> Passage:
        return Passage(f"p{n}", "notes.md", n, f"passage {n}")

    near = {"Build ranking models for product search": [(passage(1), MATCH_AT - 0.12)],
            "Run A/B tests": [(passage(2), MATCH_AT - 0.2)],
            "Keep our Postgres feature store fast: design indexes": [(passage(3), MATCH_AT + 0.02),
                                                                      (passage(4), MATCH_AT - 0.1)],
            "Experience with Kubernetes": [(passage(5), MATCH_AT + 0.3)]}
    slots = plan_requirements(list(near), 3, ["mid", "senior"], near.__getitem__)
    assert [(s.requirement, s.level, [p.id for p in s.passages]) for s in slots] == [
        ("Experience with Kubernetes", "mid", ["p5"]),
        ("Keep our Postgres feature store fast: design indexes", "mid", ["p3"]),  # not the far passage beside it
        ("Experience with Kubernetes", "senior", ["p5"])]
    need = {"requirement": "Run A/B tests", "bank": [], "written": [], "notes": False, "notes_given": True}
    assert "your notes say too little about it" in covered_by(need)
    assert "give your notes on it" in covered_by({**need, "notes_given": False})


def test_the_match_threshold_separates_the_requirements_it_was_fitted_on(services):
    pairs = yaml.safe_load((DATA / "requirements.yaml").read_text())["pairs"]
    topic_of = {q.id: q.topic for q in services.bank.questions}
    found = P.match([p["requirement"] for p in pairs],
                    lambda text: [(h.question.id, h.similarity) for h in services.store.search(text, k=6)])
    for pair in pairs:
        topics = {topic_of[qid] for qid, _ in found[pair["requirement"]]}
        if pair["topic"] == "none":
            assert not topics, pair
        else:
            assert pair["topic"] in topics, (pair, topics)


def test_a_requirement_the_notes_are_closer_to_than_the_bank_is_written_from_the_notes():
    """A new user's "designing HTTP caching with our CDN" was covered by the bank's question on LLM prompt caching
    (0.51) while their notes on HTTP caching (0.58) went unused."""
    from interviewer.prepare import MATCH_AT

    bank = {"HTTP caching with our CDN": [("kv-cache-prompt-caching", MATCH_AT + 0.09)],
            "Fine-tune LLMs with RLHF": [("rlhf-kl-penalty", MATCH_AT + 0.2), ("rlhf-ppo", MATCH_AT + 0.1)],
            "Tune slow Postgres queries": [("kv-cache-memory-levers", MATCH_AT - 0.06)]}
    notes = {"HTTP caching with our CDN": MATCH_AT + 0.16, "Fine-tune LLMs with RLHF": MATCH_AT + 0.15,
             "Tune slow Postgres queries": MATCH_AT - 0.2}
    found = P.match(list(bank), bank.__getitem__, notes.__getitem__)
    assert found == {"HTTP caching with our CDN": [],  # left to the notes: plan_requirements writes for it
                     "Fine-tune LLMs with RLHF": bank["Fine-tune LLMs with RLHF"],  # the bank is closer: kept
                     "Tune slow Postgres queries": []}
    assert P.match(list(bank), bank.__getitem__)["HTTP caching with our CDN"]  # no notes: the bank's question


def test_a_requirement_left_to_the_notes_keeps_the_banks_questions_when_none_is_written(tmp_path, embedder,
                                                                                         seeded_store):
    """The notes are closer to the RLHF requirement than the bank's questions are, so it is written for from
    them; the question written fails the grounding check (its points are not in the notes), and the bank's
    questions cover the requirement after all."""
    notes = tmp_path / "rlhf-notes.md"
    notes.write_text("# Aligning our chat models\n\nWe align our chat models with RLHF: we train reward models on "
                     "human preference comparisons, and we tune the policies with PPO against those reward models. "
                     "The preference comparisons come from our annotators, who pick the better of two replies.\n")
    services = services_with(tmp_path, ScriptedLLM([k8s_draft()]), seeded_store)  # points the notes never state
    services.__dict__["embedder"] = embedder
    report = services.prepare([notes], "acme-ml", questions=1, levels=["mid"], job=D.job_description(str(JOB)))
    rlhf, tokens, _ = report.requirements
    assert report.dropped and rlhf["notes"] and not rlhf["written"]  # written for from the notes, and dropped
    assert rlhf["bank"] and tokens["bank"]  # the bank's questions stand in
    assert {i["covers"] for i in yaml.safe_load(report.bank_file.read_text())["include"]} >= {rlhf["requirement"]}


def test_a_job_description_becomes_a_topic_of_bank_and_written_questions(tmp_path, embedder, monkeypatch, capsys,
                                                                          seeded_store):
    llm = ScriptedLLM([k8s_draft()])
    services = services_with(tmp_path, llm, seeded_store)
    services.__dict__["embedder"] = embedder
    report = services.prepare([k8s_notes(tmp_path)], "acme-ml", questions=2, levels=["mid", "senior"],
                              job=D.job_description(str(JOB)))
    rlhf, tokens, k8s = report.requirements
    bank = {q.id: q for q in services.bank.questions}
    assert bank[rlhf["bank"][0]].topic == "rlhf" and not rlhf["written"]  # the closest first
    assert {bank[qid].topic for qid in rlhf["bank"]} <= {"rlhf", "dpo"}  # preference tuning, either way
    assert bank[tokens["bank"][0]].topic == "tokens" and not tokens["written"]
    assert not k8s["bank"] and len(k8s["written"]) == 2 and len(llm.prompts) == 2  # one per level
    assert "The question is for a role that asks for: Build and maintain Kubernetes" in llm.prompts[0][1].content
    assert report.as_dict()["uncovered"] == []

    data = yaml.safe_load(report.bank_file.read_text())
    assert data["include"] == [{"id": qid, "covers": need["requirement"]} for need in (rlhf, tokens)
                               for qid in need["bank"]]  # by reference: the bank's text is not copied
    assert all(q["covers"] == k8s["requirement"] for q in data["questions"])
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTERVIEWER_PROFILE", "test")
    assert main(["bank", "check", str(report.bank_file)]) == 0, capsys.readouterr().out
    pool = [q for q in services.bank.questions if q.topic == "acme-ml"]
    assert len(pool) == len(rlhf["bank"]) + len(tokens["bank"]) + 2
    probes = services.conductor(services.new_interview(SessionOptions(topics=("acme-ml",), questions=1))).search(
        "A reward model learns from human preference comparisons and PPO tunes the policy against it.")
    assert probes and not {q.id for q in probes} & {*rlhf["bank"], *(q.id for q in pool)}  # never the same twice

    monkeypatch.setenv("INTERVIEWER_USE_LLM", "false")  # the interview as typed, in this process (6 s less)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{K8S_ANSWER}\n" * len(pool)))
    capsys.readouterr()
    assert main(["interview", "--topic", "acme-ml", "--text", "--questions", str(len(pool)), "--level", "mid",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    covered = [q["covers"] for q in result["questions"]]
    assert sorted(covered) == sorted(q.covers for q in pool) and set(covered) == set(D.requirements(JOB.read_text()))
    written = [q for q in result["questions"] if q["covers"] == k8s["requirement"]]
    assert all(q["score"] >= 7 for q in written)  # the written questions are graded on their own model answer
    for page in (report_markdown(result), report_html(result)):
        assert page.count("Covers the requirement:") == len(pool) and "Build and maintain Kubernetes" in page


def test_a_requirement_nothing_covers_gets_no_question_written_from_the_description_alone(
        tmp_path, embedder, monkeypatch, capsys, seeded_store):
    """The description names Kubernetes and states nothing about it: a question written from it (as the 1.5B
    model did) asks about the candidate's experience, with a made-up answer and other requirement lines as its
    key points. Nothing is written; the report says to give notes on it."""
    services = services_with(tmp_path, Forbidden(), seeded_store)  # the LLM is never asked
    services.__dict__["embedder"] = embedder
    report = services.prepare([], "acme-ml", questions=2, levels=["mid"], job=D.job_description(str(JOB)))
    rlhf, tokens, k8s = report.requirements
    assert rlhf["bank"] and tokens["bank"] and not k8s["bank"] and not k8s["written"] and not report.outcomes
    assert "give your notes on it beside the description" in P.covered_by(k8s)
    assert P.covered_by(rlhf) == ", ".join(rlhf["bank"])
    assert report.as_dict()["uncovered"] == [k8s["requirement"]]

    only_k8s = tmp_path / "k8s-job.md"
    only_k8s.write_text("Requirements:\n- Build and maintain Kubernetes clusters and Helm charts for GPU jobs\n")
    monkeypatch.setattr("interviewer.cli._services", lambda settings: services)
    assert main(["prepare", "--job-description", str(only_k8s), "--topic", "acme-k8s"]) == 2
    assert "give your notes on them beside it" in capsys.readouterr().err


def test_a_rerun_from_the_command_line_reuses_everything_and_bank_check_finds_a_bad_include(
        tmp_path, embedder, monkeypatch, capsys, seeded_store):
    services = services_with(tmp_path, ScriptedLLM([k8s_draft()]), seeded_store)
    services.__dict__["embedder"] = embedder
    notes = k8s_notes(tmp_path)
    first = services.prepare([notes], "acme-ml", questions=1, levels=["mid"], job=D.job_description(str(JOB)))
    again = services_with(tmp_path, Forbidden())  # the second run goes through the command line
    again.__dict__["embedder"] = embedder
    monkeypatch.setattr("interviewer.cli._services", lambda settings: again)
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    assert main(["prepare", str(notes), "--job-description", str(JOB), "--topic", "acme-ml", "--questions", "1",
                 "--levels", "mid", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["reused"] == 1 and second["requirements"] == first.requirements and second["uncovered"] == []
    assert main(["prepare", str(notes), "--job-description", str(JOB), "--topic", "acme-ml", "--questions", "1",
                 "--levels", "mid"]) == 0  # the next step finds the topic in this data directory, not the default one
    assert f"`INTERVIEWER_DATA_DIR={tmp_path / 'data'} make interview TOPIC=acme-ml`" in capsys.readouterr().out
    assert main(["prepare", "--job-description", "Benefits:\n- Free lunch", "--topic", "acme-ml"]) == 2
    assert "no line states a skill or a duty" in capsys.readouterr().err

    data = yaml.safe_load(first.bank_file.read_text())
    data["include"][0]["id"] = "rlhf-no-such-question"
    first.bank_file.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["bank", "check", str(first.bank_file)]) == 1
    assert "acme-ml:rlhf-no-such-question:include: names a question that is in no bank" in capsys.readouterr().out


@pytest.mark.parametrize(("value", "message"), [
    ("", "the job description is empty"),
    ("   \n\n  ", "the job description is empty"),
    ("jd.md", "jd.md: no such file"),
    ("About us:\nWe are a friendly team in a sunny town.\n\nBenefits\n- Free lunch on Fridays",
     "no line states a skill or a duty of the role"),
    ("Ce que vous ferez :\n- Expérience de l'alignement des modèles avec RLHF et des modèles de récompense pour "
     "les assistants de la société\n- Connaissance de la tokenisation des corpus multilingues et de son coût "
     "pour les équipes", "the job description does not look like English"),
])
def test_a_bad_job_description_gets_a_clear_message(value, message):
    with pytest.raises(BadInput, match=message):
        D.job_description(value)


def test_a_bad_job_description_file_is_named(tmp_path):
    (tmp_path / "empty.md").write_text("")
    with pytest.raises(BadInput, match="empty.md: the file is empty"):
        D.job_description(str(tmp_path / "empty.md"))
    (tmp_path / "perks.txt").write_text("Benefits\n- Free lunch\n- A gym\n")
    with pytest.raises(BadInput, match="perks.txt: no line states a skill"):
        D.job_description(str(tmp_path / "perks.txt"))
