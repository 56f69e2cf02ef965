"""The page's "Your own material" tab: its handler called directly, as the page calls it, with the real services
on the test profile (real embedder, real Chroma) and the scripted writer of test_prepare in place of the LLM."""

from __future__ import annotations

import pytest
from test_job import JOB, k8s_draft
from test_prepare import NOTES, Forbidden, ScriptedLLM, draft, services_with

from interviewer.session import SessionOptions
from interviewer.ui.material import prepare_material, progress_bar

pytestmark = pytest.mark.real


@pytest.fixture
def embedder(services):
    return services.embedder


def run(services, files=(), pasted="", job="", topic="wal-notes", count=2) -> list[tuple]:
    return list(prepare_material(services, list(files), pasted, job, topic, count))


def test_notes_uploaded_become_a_topic_with_a_bar_while_it_works(tmp_path, embedder):
    services = services_with(tmp_path, ScriptedLLM([draft()]))
    services.__dict__["embedder"] = embedder
    steps = run(services, files=[NOTES])
    bars = [status for status, *_ in steps[:-1]]
    assert "reading and embedding" in bars[0]
    assert any("Preparing: 0 of 2 questions" in b and "first question takes longest" in b for b in bars)
    assert any("Preparing: 1 of 2 questions" in b and " s left" in b and 'value="1"' in b for b in bars)
    status, files_note, job_note, topics = steps[-1]
    assert "Topic wal-notes is ready" in status and "2 of 2 written questions kept" in status
    assert ("Wal notes", "wal-notes") in topics.choices and not files_note and not job_note
    assert "wal-notes" in services.topic_titles()  # what the interview tab starts on


def test_a_pasted_job_description_with_a_bad_file_beside_it(tmp_path, embedder):
    services = services_with(tmp_path, ScriptedLLM([k8s_draft()]))
    services.__dict__["embedder"] = embedder
    (tmp_path / "empty.md").write_text("")
    status, files_note, job_note, topics = run(services, files=[tmp_path / "empty.md"], job=JOB.read_text(),
                                               topic="acme-ml", count=1)[-1]
    assert "empty.md: the file is empty" in files_note  # the CLI's words, beside the upload box
    assert "Topic acme-ml is ready" in status and "Build and maintain Kubernetes" in status
    assert "Align our chat models with RLHF" in status and "rlhf-" in status
    assert ("Acme ml", "acme-ml") in topics.choices and not job_note


@pytest.mark.parametrize(("given", "box", "message"), [
    ({"files": ["binary"]}, 1, "binary.txt: this looks like a binary file"),
    ({}, 1, "nothing to prepare from"),
    ({"job": "Benefits\n- Free lunch\n- A gym"}, 2, "no line states a skill or a duty"),
    ({"job": "Ce que vous ferez :\n- Expérience de l'alignement des modèles avec RLHF et des modèles de récompense "
             "pour les assistants de la société et pour les équipes de la clinique"}, 2, "does not look like English"),
])
def test_bad_input_is_answered_beside_its_box_before_any_work(tmp_path, given, box, message):
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01" * 200)
    given = {**given, "files": [tmp_path / "binary.txt" for _ in given.get("files", [])]}
    [outputs] = run(services_with(tmp_path, Forbidden()), **given)
    assert message in outputs[box] and not outputs[0]


def test_a_bad_topic_name_is_answered_in_the_status(tmp_path, embedder):
    services = services_with(tmp_path, Forbidden())
    services.__dict__["embedder"] = embedder
    status, *_ = run(services, files=[NOTES], topic="rlhf")[-1]
    assert "role=\"alert\"" in status and "'rlhf' already exists" in status


def test_the_bar_estimates_the_time_left_from_the_questions_written():
    assert "about 20 s left" in progress_bar(1, 3, "question 2 of 3", 10.0)
    assert "&lt;b&gt;" in progress_bar(0, 2, "from <b>.md", 0.0)  # a file name shows as text


def test_the_page_has_the_tab_and_its_prepare_endpoint(services):
    from interviewer.ui.app import build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=3))
    assert "prepare" in {fn.api_name for fn in demo.fns.values()}


def test_an_upload_in_a_real_browser_becomes_a_topic_to_pick(tmp_path, embedder):
    from selenium.webdriver.support.ui import WebDriverWait
    from servers import free_port
    from test_browser import chromium

    from interviewer.ui.app import app_kwargs, build_app

    services = services_with(tmp_path, ScriptedLLM([draft()]))
    services.__dict__["embedder"] = embedder
    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=3))
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs())
    driver = chromium(tmp_path / "profile")
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_elements("id", "start"))
        next(t for t in driver.find_elements("css selector", "button[role='tab']")
             if "Your own material" in t.text).click()
        wait.until(lambda d: d.find_elements("id", "material-prepare"))
        driver.find_element("css selector", "#material-files input[type='file']").send_keys(str(NOTES))
        wait.until(lambda d: NOTES.stem in d.find_element("id", "material-files").text)
        driver.find_element("css selector", "#material-topic textarea, #material-topic input").send_keys("wal-notes")
        driver.find_element("id", "material-prepare").click()
        wait.until(lambda d: "is ready" in d.find_element("id", "material-status").text)
        next(t for t in driver.find_elements("css selector", "button[role='tab']") if t.text == "Interview").click()
        driver.find_element("css selector", "#topic input").click()
        wait.until(lambda d: "Wal notes" in d.find_element("id", "topic").text + " ".join(
            o.text for o in d.find_elements("css selector", "ul.options li")))
        driver.get(f"http://127.0.0.1:{port}/")  # a page opened afterwards lists the new topic too
        wait.until(lambda d: d.find_elements("id", "start"))
        field = driver.find_element("css selector", "#topic input")
        field.click()
        field.send_keys("Wal")  # the list filtered as a user types
        wait.until(lambda d: "Wal notes" in d.find_element("id", "topic").text)
    finally:
        driver.quit()
        demo.close()
