"""The page's "Your own material" tab: files, pasted notes or a job description made into a topic by
`Services.prepare`, with a progress bar while the questions are written.

The handler is a generator: prepare runs in a worker thread and reports each question as it starts through a
queue, and the handler yields the bar after each report, so the page shows the count and the time left while
the LLM writes. A file or a job description that cannot be used is answered beside its box, in the words the
CLI uses, and the rest of what was given is still prepared.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from functools import partial
from html import escape as _escape
from pathlib import Path

from interviewer import documents as D
from interviewer.errors import BadInput, InterviewerError
from interviewer.prepare import covered_by, since_last_run
from interviewer.render import markdown_safe
from interviewer.wiring import Services

log = logging.getLogger(__name__)
_DONE = object()  # what the worker puts on the queue when prepare has returned or failed


def escape(text: str) -> str:
    """Text shown as text inside the page's HTML (never inside an attribute, so quotes may stay)."""
    return _escape(text, quote=False)


def progress_bar(done: int, total: int, what: str, elapsed_s: float) -> str:
    """The bar shown while questions are written: how many of how many, what is being done, and the time left
    estimated from the questions written so far (escaped: file names show as text)."""
    left = (f"about {elapsed_s / done * (total - done):.0f} s left" if 0 < done < total else
            "the first question takes longest (minutes on a CPU)" if done == 0 and total else "")
    return (f'<div class="progress-panel" role="status"><span class="step"><b>Preparing: {done} of {total} '
            f'questions</b></span><progress max="{max(total, 1)}" value="{done}">{done} of {total}</progress>'
            f'<span class="time">{escape(left)}</span><p class="asked">{escape(what)}</p></div>')


def _notes(messages: list[str]) -> str:
    return "\n".join(f"- {markdown_safe(m)}" for m in messages)


def _inputs(files, pasted: str, job_text: str) -> tuple[list, object, list[str], str]:
    """The documents that can be read, the job description (or None), and what is wrong with the others:
    one message per file or text beside the upload box, and one beside the job description's box."""
    documents, problems, job, job_problem = [], [], None, ""
    for path in files or []:
        try:
            documents.append(D.read(Path(path)))
        except BadInput as error:
            problems.append(str(error))
    if (pasted or "").strip():
        try:
            documents.append(D.from_text(pasted, "pasted notes"))
        except BadInput as error:
            problems.append(str(error))
    if (job_text or "").strip():
        try:
            job = D.job_description(job_text)
        except BadInput as error:
            job_problem = str(error)
    return documents, job, problems, job_problem


def prepare_material(services: Services, files, pasted: str, job_text: str, topic: str, count):
    """Prepare a topic from what was given; yields (status, notes beside the files, note beside the job
    description, the interview tab's topic list) as the work goes on. A stream: one yield per question."""
    import gradio as gr

    documents, job, problems, job_problem = _inputs(files, pasted, job_text)
    unchanged = gr.skip()  # the topic list stays as it is until a topic is ready
    if job_problem or (not documents and job is None):
        problems = problems or ([] if job_problem else ["nothing to prepare from: upload a file, paste your notes "
                                                         "or paste a job description"])
        yield "", _notes(problems), markdown_safe(job_problem), unchanged
        return
    updates: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["report"] = services.prepare(documents, (topic or "").strip(), questions=int(count or 0),
                                                 job=job, progress=lambda *step: updates.put(step))
        except InterviewerError as error:
            outcome["error"] = error
        except Exception as error:  # shown in a line; the traceback goes to the log file
            log.error("prepare from the page failed", exc_info=True)
            outcome["error"] = error
        finally:
            updates.put(_DONE)

    started = time.monotonic()
    threading.Thread(target=work, name="prepare", daemon=True).start()
    yield progress_bar(0, 0, "reading and embedding your material", 0.0), _notes(problems), "", unchanged
    while (step := updates.get()) is not _DONE:
        yield progress_bar(*step, time.monotonic() - started), _notes(problems), "", unchanged
    if "error" in outcome:
        error = outcome["error"]
        text = str(error) if isinstance(error, InterviewerError) else f"something unexpected went wrong ({error})"
        yield f'<div class="progress-panel" role="alert">{escape(text)}</div>', _notes(problems), "", unchanged
        return
    yield _ready(outcome["report"]), _notes([*problems]), "", gr.Dropdown(choices=_topic_choices(services))


def topics_now(services: Services):
    """The topic list as it stands, for a page just opened: topics prepared on another page since the server
    started are in it (the list the page was built with is not updated)."""
    import gradio as gr

    return gr.Dropdown(choices=_topic_choices(services))


def _topic_choices(services: Services) -> list[tuple[str, str]]:
    return [(title, slug) for slug, title in sorted(services.topic_titles().items())]


def _ready(report) -> str:
    """The message once the topic is written: what was kept, what each requirement got, and where it is."""
    summary = report.as_dict()
    lines = [f"<b>Topic {escape(report.topic)} is ready</b>: pick it in the Interview tab's topic list.",
             f"{summary['kept']} of {summary['planned']} written questions kept ({escape(since_last_run(summary))}), "
             f"{summary['key_points_removed']} key points removed as unsupported by your material."]
    for need in report.requirements:
        lines.append(f"Requirement “{escape(need['requirement'])}”: {escape(covered_by(need))}")
    lines += [f"Dropped: {escape(note)}" for note in summary["dropped"]]
    lines.append(f"The questions are in {escape(str(report.bank_file))}: review and edit them there.")
    return '<div class="progress-panel" role="status">' + "".join(f"<p>{line}</p>" for line in lines) + "</div>"


def material_tab(services: Services, topic_list) -> None:
    """The tab's controls and its Prepare button; `topic_list` is the interview tab's topic dropdown, given
    the new topic once it is ready."""
    import gradio as gr

    gr.Markdown("Questions, model answers and key points written from your own notes, papers or a job "
                "description. It runs on this machine and takes minutes per question on a CPU.")
    with gr.Row():
        with gr.Column():
            files = gr.File(label="Your files (Markdown, text, HTML or PDF)", file_count="multiple",
                            type="filepath", elem_id="material-files")
            pasted = gr.Textbox(label="Or paste your notes", lines=6, elem_id="material-text")
            files_note = gr.Markdown(elem_id="material-files-note")
        with gr.Column():
            job = gr.Textbox(label="A job description (optional): the bank's questions that match its requirements "
                                   "are included, and questions are written for the rest", lines=8,
                             elem_id="material-job")
            job_note = gr.Markdown(elem_id="material-job-note")
    with gr.Row():
        name = gr.Textbox(label="Topic name (lower case, hyphens), e.g. my-notes", elem_id="material-topic")
        count = gr.Number(8, label="Questions to write", precision=0, minimum=1, elem_id="material-count")
    go = gr.Button("Prepare", variant="primary", elem_id="material-prepare")
    status = gr.HTML(elem_id="material-status")
    go.click(partial(prepare_material, services), [files, pasted, job, name, count],
             [status, files_note, job_note, topic_list], api_name="prepare",
             concurrency_limit=1)  # one LLM per process: a second Prepare waits its turn in the queue
