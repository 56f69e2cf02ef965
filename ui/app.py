"""The interview page: pick a topic, answer each question in writing, see each grade at once, get a report.

Handlers are plain functions over the per-tab `Tab` held in `gr.State`, so tabs never share a session;
the backends behind them are loaded once per process and shared.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from interviewer.delivery import delivery_of
from interviewer.errors import InterviewerError
from interviewer.knowledge.schema import LEVELS
from interviewer.listening import ListenOptions, TurnListener
from interviewer.render import grade_markdown, history_text, report_markdown
from interviewer.report import build_report
from interviewer.session import Interview, Say, SessionOptions
from interviewer.voice import NothingHeard, hear
from interviewer.wiring import Services


@dataclass
class Tab:
    """What one browser tab holds: its interview, the conversation shown, and when the answer time ends."""

    interview: Interview | None = None
    chat: list[dict] = field(default_factory=list)
    deadline: float | None = None  # time.time() by which the current answer is submitted
    voice: bool = True  # speak the interviewer's lines
    to_speak: list[str] = field(default_factory=list)  # lines said since the last reply, not yet spoken
    speaking_until: float = 0.0  # time.time() until which the interviewer's audio plays: the mic is ignored
    timings: dict[str, float] = field(default_factory=dict)  # the last voice turn's stages, time.time() each
    listener: TurnListener | None = None  # hands-free listening for the open prompt

    @property
    def listening(self) -> bool:
        """Whether an answer to the current prompt is awaited."""
        return self.interview is not None and self.interview.phase == "listen"

    def show(self, said: list[Say]) -> None:
        for line in said:
            text = line.text if line.grade is None else f"{line.text}\n\n{grade_markdown(line.grade)}"
            self.chat.append({"role": "assistant", "content": text})
            self.to_speak.append(line.text)
        self.deadline = time.time() + self.interview.options.answer_seconds if self.listening else None
        self.listener = None  # a new prompt: listen afresh, with its glossary as the hint


def _outputs(tab: Tab, services: Services, text: str = ""):
    """chat, state, report (Markdown), download files, answer box, countdown, the interviewer's audio, timings."""
    report, files = "", None
    if tab.interview is not None and tab.interview.done:
        data = build_report(tab.interview)
        report = report_markdown(data)
        files = _export(services, data, report)
    speech = _speech(tab, services)
    if tab.timings:
        tab.timings["first_audio"] = time.time()
    return tab.chat, tab, report, files, text, _countdown(tab), speech, timings_markdown(tab.timings)


def timings_markdown(timings: dict[str, float]) -> str:
    """The last voice turn, stage by stage, in seconds from the end of the candidate's speech."""
    if "speech_end" not in timings:
        return ""
    start = timings["speech_end"]
    labels = (("speech_end", "end of speech detected"), ("transcript", "transcript final"),
              ("score", "score ready"), ("first_audio", "interviewer's first audio out"))
    rows = [f"| {label} | {timings[key] - start:+.2f} s |" for key, label in labels if key in timings]
    return "| stage | time |\n|---|---|\n" + "\n".join(rows)


def _speech(tab: Tab, services: Services):
    """What the interviewer just said, as (sample rate, samples) for the page to play; None when muted."""
    lines, tab.to_speak = tab.to_speak, []
    if not (tab.voice and lines):
        return None
    chunks = list(services.tts.synthesize(" ".join(lines)))
    if not chunks:
        return None
    samples = np.concatenate([c.samples for c in chunks])
    tab.speaking_until = time.time() + len(samples) / chunks[0].sample_rate + 0.5  # the mic never hears it
    return chunks[0].sample_rate, samples


def _export(services: Services, data: dict, markdown: str) -> list[str]:
    folder = services.settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"interview-{data['id']}.md", folder / f"interview-{data['id']}.json"
    md.write_text(markdown, encoding="utf-8")
    js.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return [str(md), str(js)]


def _countdown(tab: Tab) -> str:
    if tab.deadline is None:
        return ""
    left = max(0, int(tab.deadline - time.time()))
    return f"⏱ {left // 60}:{left % 60:02d} left for this answer"


def start(services: Services, seed: int, topics: str | list[str], level: str, questions: int, seconds: int,
          voice: bool):
    """Begin a new interview in this tab on one topic or a mix: a greeting and the first question."""
    tab = Tab(voice=bool(voice))
    try:
        chosen = (topics,) if isinstance(topics, str) else tuple(topics or ())
        options = SessionOptions(topics=chosen, level=level, questions=int(questions),
                                 answer_seconds=int(seconds), seed=seed)
        tab.interview = services.new_interview(options)
    except InterviewerError as error:
        tab.chat.append({"role": "assistant", "content": f"⚠️ {error}"})
        return _outputs(tab, services)
    tab.show(tab.interview.start())
    return _outputs(tab, services)


def resume(services: Services, session_id: str):
    """Continue an unfinished session (after a crash or a closed tab) in this tab."""
    tab = Tab()
    try:
        tab.interview = services.resume(session_id.strip())
    except InterviewerError as error:
        tab.chat.append({"role": "assistant", "content": f"⚠️ {error}"})
        return _outputs(tab, services)
    for turn in tab.interview.turns:
        tab.chat += [{"role": "assistant", "content": turn.prompt}, {"role": "user", "content": turn.answer or "…"}]
    tab.show(tab.interview.repeat() if not tab.interview.done else [])
    return _outputs(tab, services)


def answer(services: Services, text: str, tab: Tab | None):
    """Grade the typed answer and show the grade, then a follow-up, the next question or the close.

    An empty answer is not graded: the box keeps what was typed and the turn stays open.
    """
    tab = tab or Tab()
    if not tab.listening:
        tab.chat.append({"role": "assistant", "content": "Press **Start** to begin an interview."})
        return _outputs(tab, services, text)
    if not text.strip():
        tab.chat.append({"role": "assistant", "content": "I didn't get an answer. Type it and press Enter, "
                                                         "or use Skip."})
        return _outputs(tab, services, text)
    tab.chat.append({"role": "user", "content": text})
    tab.show(tab.interview.submit(text))
    return _outputs(tab, services)


def voice_answer(services: Services, recording: str | None, tab: Tab | None):
    """A spoken answer (push-to-talk recording or an uploaded file): transcribe it, then grade it.

    Silence, noise or an unreadable file leave the turn open with a message; nothing is recorded.
    """
    tab = tab or Tab()
    if not tab.listening:
        tab.chat.append({"role": "assistant", "content": "Press **Start** to begin an interview."})
        return _outputs(tab, services)
    if not recording:
        return _outputs(tab, services)
    question = tab.interview.prompt.question
    tab.timings = {"speech_end": time.time()}  # push-to-talk: the recording has just stopped
    try:
        heard = hear(services.stt, Path(recording), glossary=tuple(question.glossary),
                     max_seconds=tab.interview.options.answer_seconds)
    except InterviewerError as error:
        tab.chat.append({"role": "assistant", "content": f"⚠️ {error}"})
        tab.to_speak.append(str(error) if isinstance(error, NothingHeard) else "I couldn't use that recording.")
        return _outputs(tab, services)
    return _answered(services, tab, heard.transcript.text, heard.delivery.to_dict() if heard.delivery else None)


def hear_stream(services: Services, chunk, tab: Tab | None):
    """Hands-free: a piece of microphone audio every half second; the answer is graded when a pause ends it.

    Audio that arrives while the interviewer is speaking is dropped, so it never hears itself.
    """
    import gradio as gr

    nothing = (gr.skip(),) * 8
    if chunk is None or tab is None or not tab.listening:
        return nothing
    if time.time() < tab.speaking_until:
        tab.listener = None
        return nothing
    if tab.listener is None:
        question = tab.interview.prompt.question
        tab.listener = TurnListener(services.stt, ListenOptions(end_pause_s=services.settings.pause_seconds),
                                    hint="Glossary: " + ", ".join(question.glossary) + ".")
    rate, samples = chunk
    mono = samples.mean(axis=1).astype(samples.dtype) if samples.ndim == 2 else samples
    heard = tab.listener.feed(mono, rate)
    if heard is None:
        return nothing
    tab.timings = {"speech_end": time.time() - tab.listener.options.end_pause_s, "transcript": time.time()}
    delivery = delivery_of(heard.words)
    return _answered(services, tab, heard.text, delivery.to_dict() if delivery else None)


def _answered(services: Services, tab: Tab, text: str, delivery: dict | None):
    """Show a spoken answer with its delivery, grade it, and move on."""
    note = "" if not delivery else (f"\n\n*🎙 {delivery['wpm']:.0f} words/min · {delivery['fillers']} filler(s) · "
                                    f"{delivery['advice']}*")
    tab.chat.append({"role": "user", "content": text + note})
    tab.timings.setdefault("transcript", time.time())
    said = tab.interview.submit(text, delivery=delivery)
    tab.timings["score"] = time.time()
    tab.show(said)
    return _outputs(tab, services)


def command(services: Services, name: str, text: str, tab: Tab | None):
    """Skip, repeat, hint or end, for the current prompt."""
    tab = tab or Tab()
    if not tab.listening:
        return _outputs(tab, services, text)
    said = getattr(tab.interview, name)()
    tab.chat.append({"role": "user", "content": f"({name})"})
    if name == "hint" or name == "repeat":
        deadline = tab.deadline
        tab.show(said)
        tab.deadline = deadline  # a hint or a repeat does not restart the clock
        return _outputs(tab, services, text)
    tab.show(said)
    return _outputs(tab, services)


def tick(services: Services, text: str, tab: Tab | None):
    """Each second: the countdown, and when time is up, submit what was typed so far."""
    if tab is None or tab.deadline is None or time.time() < tab.deadline:
        import gradio as gr

        return gr.skip(), tab, gr.skip(), gr.skip(), gr.skip(), _countdown(tab) if tab else "", gr.skip(), gr.skip()
    heard = tab.listener.flush() if tab.listener else None  # hands-free: what was said so far counts
    if heard is not None:
        text = f"{text} {heard.text}".strip()
    tab.chat.append({"role": "user", "content": text or "(no answer)"})
    tab.show(tab.interview.time_up(text))
    return _outputs(tab, services)


def history_view(services: Services):
    """The history tab: scores over time as a table for the chart, and the text summary."""
    import pandas as pd

    history = services.sessions.history()
    frame = pd.DataFrame(history["scores"] or [], columns=["session", "started", "topic", "score"])
    frame["when"] = pd.to_datetime(frame["started"], unit="s")
    return frame, history_text(history)


def build_app(services: Services, defaults: SessionOptions):
    """The Gradio Blocks app for these services, with the session defaults pre-selected."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(services.settings.data_dir / "gradio-tmp"))
    import gradio as gr

    topics = sorted(services.topic_titles().items())
    with gr.Blocks(title="interviewer") as demo:
        gr.Markdown("# Mock interview\nEverything runs on this machine; nothing leaves it.")
        state = gr.State(None)
        with gr.Tab("Interview"):
            with gr.Row():
                topic = gr.Dropdown([(title, slug) for slug, title in topics], value=list(defaults.topics),
                                    multiselect=True, label="Topic (one, or several for a mix)")
                level = gr.Radio(list(LEVELS), value=defaults.level, label="Level")
                count = gr.Dropdown([3, 5, 7], value=defaults.questions if defaults.questions in (3, 5, 7) else 5,
                                    label="Questions", allow_custom_value=True)
                seconds = gr.Number(defaults.answer_seconds, label="Seconds per answer", precision=0)
                voice = gr.Checkbox(True, label="Speak the questions")
                go = gr.Button("Start", variant="primary", elem_id="start")
            countdown = gr.Markdown()
            chat = gr.Chatbot(label="Interview", height=480, elem_id="chat")
            speaker = gr.Audio(label="Interviewer", autoplay=True, interactive=False, elem_id="speaker")
            with gr.Row():
                live = gr.Audio(sources=["microphone"], streaming=True, elem_id="live-mic",
                                label="Hands-free: start the microphone once, then just talk; a pause of about two "
                                      "seconds ends each answer")
                mic = gr.Audio(sources=["microphone", "upload"], type="filepath",
                               label="Push to talk: record, then stop (or upload a recording)")
            text = gr.Textbox(label="Your answer", lines=4, placeholder="Type your answer, then Enter to submit")
            with gr.Row():
                send = gr.Button("Submit answer", variant="primary")
                buttons = {name: gr.Button(label) for name, label in
                           (("skip", "Skip"), ("repeat", "Repeat"), ("hint", "Hint"), ("end", "End interview"))}
            with gr.Accordion("Timings of the last voice turn", open=False):
                timings = gr.Markdown()
            report = gr.Markdown()
            files = gr.File(label="Download the report", file_count="multiple")
            with gr.Row():
                session_id = gr.Textbox(label="Resume a session (id from `interviewer sessions`)", scale=3)
                again = gr.Button("Resume", scale=1)
        with gr.Tab("History") as history_tab:
            plot = gr.LinePlot(x="when", y="score", color="topic", title="Score by session", y_lim=[0, 10])
            summary = gr.Markdown()

        outputs = [chat, state, report, files, text, countdown, speaker, timings]
        go.click(partial(start, services, defaults.seed), [topic, level, count, seconds, voice], outputs,
                 api_name="start")
        mic.stop_recording(partial(voice_answer, services), [mic, state], outputs, api_name=False)
        mic.upload(partial(voice_answer, services), [mic, state], outputs, api_name="voice_answer")
        live.stream(partial(hear_stream, services), [live, state], outputs, stream_every=0.5, time_limit=3600,
                    api_name=False)
        send.click(partial(answer, services), [text, state], outputs, api_name="answer")
        text.submit(partial(answer, services), [text, state], outputs, api_name=False)
        for name, button in buttons.items():
            button.click(partial(command, services, name), [text, state], outputs, api_name=name)
        again.click(partial(resume, services), [session_id], outputs, api_name="resume")
        gr.Timer(1.0).tick(partial(tick, services), [text, state], outputs, api_name=False)
        history_tab.select(partial(history_view, services), None, [plot, summary], api_name="history")
    return demo


def exposure_warning(host: str, password: str) -> str | None:
    """A warning when the page would be reachable beyond this machine without a password."""
    import ipaddress

    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local or password:
        return None
    return (f"WARNING: the page binds to {host}, reachable from other machines, and has no password. "
            "Anyone who can reach it can use it and read its sessions. Set INTERVIEWER_PASSWORD.")


def launch(services: Services, defaults: SessionOptions, *, block: bool = True):
    """Serve the page on the configured address (127.0.0.1 unless told otherwise)."""
    import sys

    settings = services.settings
    warning = exposure_warning(settings.host, settings.password)
    if warning:
        print("\n" + "!" * 100 + f"\n{warning}\n" + "!" * 100 + "\n", file=sys.stderr)
    services.store  # noqa: B018 (load models and the bank before the first visitor, not during)
    demo = build_app(services, defaults)
    demo.queue(default_concurrency_limit=settings.concurrency)
    demo.launch(server_name=settings.host, server_port=settings.port, inbrowser=block,
                prevent_thread_lock=not block, show_error=True,
                auth=(settings.username, settings.password) if settings.password else None)
    return demo
