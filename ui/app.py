"""The interview page: pick a topic, answer each question by typing, see each grade at once.

Handlers are plain functions over the per-tab `gr.State` that holds that tab's Interview, so tabs never
share a session; the backends behind them are shared and loaded once per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial

from interviewer.errors import InterviewerError
from interviewer.knowledge.schema import LEVELS
from interviewer.render import grade_markdown, report_markdown
from interviewer.session import Interview, SessionOptions
from interviewer.wiring import Services


@dataclass
class Tab:
    """What one browser tab holds: its interview and the conversation shown so far."""

    interview: Interview | None = None
    chat: list[dict] = field(default_factory=list)

    def say(self, content: str, role: str = "assistant") -> None:
        self.chat.append({"role": role, "content": content})


def _ask(tab: Tab) -> None:
    interview = tab.interview
    q = interview.current
    tab.say(f"**Question {interview.number} of {interview.options.questions}** ({q.topic}, {q.level})\n\n"
            f"{q.question}")


def start(services: Services, seed: int, topic: str, level: str, questions: int):
    """Begin a new interview in this tab: the chat shows a greeting and the first question."""
    tab = Tab()
    try:
        options = SessionOptions(topics=(topic,), level=level, questions=int(questions), seed=seed)
        tab.interview = Interview(services.store, services.grader, options)
    except InterviewerError as error:
        tab.say(f"⚠️ {error}")
        return tab.chat, tab, ""
    tab.say(f"Hello! {options.questions} questions on **{topic}**, starting at {level} level. "
            "Type your answer and press Enter.")
    _ask(tab)
    return tab.chat, tab, ""


def answer(services: Services, text: str, tab: Tab | None):
    """Grade the typed answer, show the grade, then the next question or the report.

    Returns the chat, the tab state, the report (Markdown, once the interview ends) and the new text of the
    answer box: cleared once graded, kept as it was when it could not be used.
    """
    tab = tab or Tab()
    if tab.interview is None or tab.interview.done:
        tab.say("Press **Start** to begin an interview.")
        return tab.chat, tab, "", text
    if not text.strip():
        tab.say("I didn't get an answer. Type it and press Enter.")
        return tab.chat, tab, "", text
    turn = tab.interview.answer(text)
    tab.say(text, role="user")
    tab.say(grade_markdown(turn.grade))
    if tab.interview.done:
        report = tab.interview.report()
        tab.say(f"That's all. **Overall: {report['overall']}/10.**")
        return tab.chat, tab, report_markdown(report), ""
    _ask(tab)
    return tab.chat, tab, "", ""


def build_app(services: Services, defaults: SessionOptions):
    """The Gradio Blocks app for these services, with the session defaults pre-selected."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(services.settings.data_dir / "gradio-tmp"))
    import gradio as gr

    topics = sorted(services.topic_titles().items())
    with gr.Blocks(title="interviewer") as demo:
        gr.Markdown("# Mock interview\nEverything runs on this machine; nothing leaves it.")
        with gr.Row():
            topic = gr.Dropdown([(title, slug) for slug, title in topics], value=defaults.topics[0],
                                label="Topic")
            level = gr.Radio(list(LEVELS), value=defaults.level, label="Level")
            count = gr.Dropdown([3, 5, 7], value=defaults.questions if defaults.questions in (3, 5, 7) else 5,
                                label="Questions")
            go = gr.Button("Start", variant="primary")
        chat = gr.Chatbot(label="Interview", height=520)
        text = gr.Textbox(label="Your answer", lines=4, placeholder="Type your answer, then Enter to submit")
        send = gr.Button("Submit answer")
        report = gr.Markdown()
        state = gr.State(None)

        go.click(partial(start, services, defaults.seed), [topic, level, count], [chat, state, report],
                 api_name="start")
        send.click(partial(answer, services), [text, state], [chat, state, report, text], api_name="answer")
        text.submit(partial(answer, services), [text, state], [chat, state, report, text], api_name=False)
    return demo


def launch(services: Services, defaults: SessionOptions, *, block: bool = True):
    """Serve the page on the configured address (127.0.0.1 unless told otherwise)."""
    services.store  # noqa: B018 (load models and the bank before the first visitor, not during)
    demo = build_app(services, defaults)
    settings = services.settings
    demo.launch(server_name=settings.host, server_port=settings.port, inbrowser=block,
                prevent_thread_lock=not block, show_error=True)
    return demo
