"""The interview page: pick a topic, answer each question in writing, see each grade at once, get a report.

Handlers are plain functions over the per-tab `Tab` held in `gr.State`, so tabs never share a session;
the backends behind them are loaded once per process and shared.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from functools import partial
from pathlib import Path

from interviewer.delivery import delivery_of
from interviewer.errors import BadInput, InterviewerError
from interviewer.knowledge.schema import LEVELS
from interviewer.limits import cap_answer
from interviewer.render import history_markdown, markdown_safe, report_html, report_markdown
from interviewer.report import build_report
from interviewer.session import SessionOptions
from interviewer.tts import chunks_to_wav
from interviewer.ui.guard import PasswordGuard, check_exposure, discard_upload, exposure_warning
from interviewer.ui.streams import PIECES, StreamLog
from interviewer.ui.tab import Busy, Tab, progress_html, timings_markdown
from interviewer.voice import NothingHeard, hear
from interviewer.wiring import Services

__all__ = ["app_kwargs", "build_app", "exposure_warning", "launch"]
log = logging.getLogger(__name__)
# Push-to-talk recordings are heard here, so a recogniser that hangs costs the tab a message, not its handler.
_HEARING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hear-recording")
# Embedding ahead runs here, not on a daemon thread: the interpreter waits for it at exit, where a daemon thread
# inside torch would abort the process (it did, after a test, with "terminate called without an active exception").
_WARMING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-ahead")
# What the interviewer says at each kind of pause (TurnListener.nod_due; see `_nod`): "Okay." where the voice
# sounds finished (neutral, never praise), "Uh-huh." where it might be (heard, go on; Piper spells "Mm-hm." out
# as letters, "M H M" as Whisper heard it)
NODS = {"finished": "Okay.", "going on": "Uh-huh."}
NOD_LATE_S = 1.0  # a nod not said within this long of the voice sounding finished is left out
CACHE_SWEEP = (600, 3600)  # every 10 minutes, Gradio deletes the files it cached more than an hour ago


def _outputs(tab: Tab, services: Services, text: str | None = None, speech: bytes | None = None):
    """chat, state, report (Markdown), download files, answer box, countdown, a piece of the interviewer's
    audio (WAV bytes, streamed), its caption, timings. The answer box is set to `text`, or left as the
    candidate has it (None): a line spoken while they type never wipes what they typed."""
    import gradio as gr

    report, files = "", None
    if tab.interview is not None and tab.interview.done:
        data = build_report(tab.interview)
        report = report_markdown(data)
        files = _export(services, data, report)
    caption = f"🔊 *{markdown_safe(tab.caption)}*" if tab.caption else ""
    stages = {**(tab.conductor.timings if tab.conductor else {}), **tab.timings}
    box = gr.skip() if text is None else text
    return (tab.chat, tab, report, files, box, progress_html(tab), speech, caption,
            timings_markdown(stages, tab.ended_by))


def _speak(tab: Tab, services: Services, text: str | None = None):
    """Yield the page's outputs once per sentence waiting to be spoken, its audio attached, so the first plays
    while the rest is synthesised; once, without audio, when muted or when there is nothing to say."""
    lines, tab.to_speak = tab.to_speak, []
    spoken = False
    for line, written in lines if tab.voice and not tab.hushed else []:
        tab.caption = line
        try:
            for chunk in services.spoken.speak(line):
                if tab.hushed:
                    break  # the candidate is speaking over the interviewer: it stops (the line stays in the chat)
                if not len(chunk.samples):
                    continue  # nothing to play
                now = time.time()
                tab.speaking_until = max(tab.speaking_until, now) + chunk.seconds  # the mic never hears it
                tab.timings.setdefault("first_audio", now)
                if written:
                    tab.timings.setdefault("first_written_audio", now)
                spoken = True
                yield _outputs(tab, services, text, chunks_to_wav([chunk]))
        except Exception as error:  # noqa: BLE001 (the interview goes on in writing, whatever the voice did)
            log.exception("speech synthesis failed; this tab goes on without the interviewer's voice")
            tab.voice, tab.caption = False, ""
            tab.say(f"⚠️ The interviewer's voice failed ({type(error).__name__}: {error}); from here on its "
                    "lines are shown as text only. Start a new interview to try the voice again.")
            break
    if spoken and not tab.hushed:
        tab.speaking_until += 1.0  # the browser buffers a little before playing, and the room echoes
    else:
        yield _outputs(tab, services, text)


def _run(tab: Tab, services: Services, events, text: str | None = None):
    """Show and speak each event of the turn pipeline as it comes, then get ready for the next answer. The box
    is set to `text` by the first output only: what the candidate types while the reply is being written stays."""
    tab.hushed = False  # the candidate's turn is over: the interviewer may speak again
    try:
        for event in events:
            tab.apply(event)
            for output in _speak(tab, services, text):
                yield output
                text = None
    except InterviewerError as error:
        log.warning("turn stopped: %s", error)
        tab.say(f"⚠️ {error}")
        if tab.listening and tab.interview.pending:  # kept but not graded: back in the box, to submit again
            text = tab.interview.pending["answer"]
        yield from _speak(tab, services, text)
    tab.settle()  # at the end of the interview this opens the last question's model answer: shown by the last output
    if tab.listening:
        _prepare(tab, services)
    yield _outputs(tab, services, text)


def _prepare(tab: Tab, services: Services) -> None:
    """While the candidate answers, in the background: embed what the answer will be graded against, have the
    LLM read the question, and synthesise what the interviewer may say next."""
    _WARMING.submit(_warm, services, tab.interview.prompt.question)
    tab.conductor.listening("")
    if tab.voice:
        nods = list(NODS.values()) if services.settings.nods else []
        services.spoken.prepare([*nods, *tab.interview.likely_next()])


def _warm(services: Services, question) -> None:
    """Embed ahead what the next answer is graded against; a failure only costs that head start (logged)."""
    try:
        services.grader.warm([question])
    except Exception:  # noqa: BLE001 (grading embeds what it needs itself, and says so if it cannot)
        log.exception("embedding %s ahead of its answer failed", question.id)


def _export(services: Services, data: dict, markdown: str) -> list[str]:
    """The report as Markdown, JSON and printable HTML files in the data folder, for the page to offer."""
    folder = services.settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, content in (("md", markdown), ("json", json.dumps(data, indent=2)), ("html", report_html(data))):
        path = folder / f"interview-{data['id']}.{suffix}"
        path.write_text(content, encoding="utf-8")
        written.append(str(path))
    return written


def _not_started(tab: Tab, services: Services, text: str | None = None):
    tab.say("Press **Start** to begin an interview.")
    yield from _speak(tab, services, text)


def _busy(tab: Tab, services: Services, text: str | None = None):
    """Another event of this tab is being handled (a double click, the timer): this one changes nothing."""
    yield _outputs(tab, services, text)


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
        tab.say(f"⚠️ {error}")
        yield from _speak(tab, services)
        return
    tab.conductor = services.conductor(tab.interview)
    yield from _run(tab, services, tab.conductor.said(tab.interview.start()))


def resume(services: Services, session_id: str | None):
    """Continue an unfinished session (after a crash or a closed tab) in this tab: an answer that was kept
    but not graded is graded, a grade that was not verified is verified, then the open prompt is repeated.
    Nothing picked (the list gives None) is told what to do."""
    tab = Tab()
    try:
        if not (session_id or "").strip():
            raise BadInput("pick an unfinished session in the list (or type its id), then press Resume")
        tab.interview = services.resume(session_id.strip())
    except InterviewerError as error:
        tab.say(f"⚠️ {error}")
        yield from _speak(tab, services)
        return
    tab.conductor = services.conductor(tab.interview)
    for turn in tab.interview.turns:
        tab.say(turn.prompt)
        tab.say(turn.answer or "…", role="user")

    def events():
        yield from tab.conductor.resumed()
        if tab.listening:
            yield from tab.conductor.said(tab.interview.repeat())

    yield from _run(tab, services, events())


def _reply_to(tab: Tab, services: Services, said: str, *, delivery: dict | None = None, timed_out: bool = False,
              text: str | None = None):
    """The candidate said something while a prompt is open: show it, then everything that follows."""
    note = "" if not delivery else (f"\n\n*🎙 {delivery['wpm']:.0f} words/min · {delivery['fillers']} filler(s) · "
                                    f"{delivery['advice']}*")
    tab.chat.append({"role": "user", "content": markdown_safe(said or "(no answer)") + note})
    yield from _run(tab, services, tab.conductor.heard(said, timed_out=timed_out, delivery=delivery), text)


def answer(services: Services, text: str, tab: Tab | None):
    """A typed answer (or a typed "can you repeat that?"): its grade at once, then what comes next.

    An empty answer is not graded: the box keeps what was typed and the turn stays open.
    """
    tab = tab or Tab()
    try:
        with tab.owned():
            if not tab.listening:
                yield from _not_started(tab, services, text)
                return
            if not text.strip():
                tab.say("I didn't get an answer. Type it and press Enter, or use Skip.")
                yield from _speak(tab, services, text)
                return
            text, cut = cap_answer(text, services.settings.max_answer_chars)
            if cut:
                tab.say(f"✂️ {cut}")
            tab.timings, tab.ended_by = {"turn_end": time.time()}, ""
            yield from _reply_to(tab, services, text, text="")  # submitted: the box is cleared
    except Busy:
        yield from _busy(tab, services, text)


def voice_answer(services: Services, recording: str | None, tab: Tab | None):
    """A spoken answer (push-to-talk recording or an uploaded file): transcribe it, then as a typed one.

    Silence, noise or an unreadable file leave the turn open with a message; nothing is recorded.
    """
    tab, kept = tab or Tab(), None
    try:
        with tab.owned():
            if not tab.listening or not recording:
                yield from (_not_started(tab, services) if not tab.listening else _speak(tab, services))
                return
            question = tab.interview.prompt.question
            tab.timings, tab.ended_by = {"turn_end": time.time()}, ""  # push-to-talk: the recording has just stopped
            kept = services.keep_recording(tab.interview, Path(recording))
            wait_s = services.listen_options().transcribe_wait_s
            try:
                heard = _HEARING.submit(hear, services.stt, kept or Path(recording), glossary=tuple(question.glossary),
                                        max_seconds=tab.interview.options.answer_seconds).result(timeout=wait_s)
            except Late:
                log.warning("speech recognition has not finished a recording after %.0f s; it is kept", wait_s)
                tab.say(f"⚠️ Speech recognition has not finished after {wait_s:.0f} s. Your recording is kept in "
                        "this session: type your answer now, or resume the session later to have it heard.")
                yield from _speak(tab, services)
                return
            except InterviewerError as error:
                tab.interview.forget_recording()
                tab.say(f"⚠️ {error}")
                spoken = str(error) if isinstance(error, NothingHeard) else "I couldn't use that recording."
                tab.to_speak.append((spoken, False))
                yield from _speak(tab, services)
                return
            except Exception as error:  # noqa: BLE001 (the recogniser broke: the question stays open)
                tab.interview.forget_recording()
                log.exception("speech recognition failed on a recording")
                tab.say(f"⚠️ Speech recognition failed ({type(error).__name__}: {error}). The question is still "
                        "open: record your answer again, or type it.")
                yield from _speak(tab, services)
                return
            tab.timings["transcript"] = time.time()
            delivery = heard.delivery.to_dict() if heard.delivery else None
            yield from _reply_to(tab, services, heard.transcript.text, delivery=delivery)
            tab.interview.forget_recording()  # heard as a request ("repeat that"), not an answer: nothing to keep
    except Busy:
        yield from _busy(tab, services)
    finally:
        discard_upload(recording)
        if kept and not (tab.interview and tab.interview.recording == str(kept)):
            kept.unlink(missing_ok=True)  # heard (the answer is in the session now) or given up


def hear_stream(services: Services, chunk: str | tuple | None, tab: Tab | None, session: str | None = None):
    """Hands-free: a piece of microphone audio every half second, its file as the page's stream gives it (or
    (rate, samples)). While the candidate talks, the words heard so far go to the LLM's prompt; when the turn
    ends, the answer waits in the tab and the hidden `heard` box gets a new value, whose change event gives the
    reply.

    Pieces the stream passed over while this handler was busy (see ui/streams.py) are heard first, in order,
    each judged by when it arrived: `session` is the browser session they were posted in.

    Audio that arrives while the interviewer is speaking is not heard, so it never hears itself; its last
    seconds are kept, and heard as the start of the answer when the candidate barges in (see `barge_in`).
    """
    import gradio as gr

    nothing = gr.skip(), gr.skip()
    if chunk is None or tab is None:
        return nothing
    pieces = [(chunk, time.time())] if isinstance(chunk, tuple) else _pieces(PIECES.take(session, chunk))
    outcome = (0, nothing)
    for audio, arrived in pieces:  # every piece is heard, a nod or a problem on the way notwithstanding
        outcome = max(outcome, _hear_piece(services, tab, audio, arrived), key=lambda o: o[0])
    return outcome[1]


def _pieces(pieces):
    """Each piece's audio, (rate, samples), and when it arrived, in order. A file that is not one of Gradio's
    uploads (a folder of its upload folder, as its upload route makes them) is not read; one that cannot be read
    is logged and left out."""
    from gradio.processing_utils import audio_from_file
    from gradio.utils import get_upload_folder

    uploads = Path(get_upload_folder()).resolve()
    for piece in pieces:
        path = Path(piece.file).resolve()
        if path.parent.parent != uploads:
            log.warning("a stream piece outside the uploads was not read: %s", piece.file)
            continue
        try:
            yield audio_from_file(str(path)), piece.arrived
        except Exception as error:  # noqa: BLE001 (one bad piece must not stop the stream)
            log.warning("a stream piece could not be read (%s: %s): %s", type(error).__name__, error, piece.file)


HEARD, PROBLEM, NOD = 3, 2, 1  # what a piece brought, the strongest of a call's pieces answered


def _hear_piece(services: Services, tab: Tab, chunk, arrived: float) -> tuple[int, tuple | None]:
    """One piece of microphone audio, (rate, samples), that arrived at `arrived` (time.time()): what it brought
    (0, HEARD, PROBLEM or NOD) and, for any of those, the stream's outputs."""
    with tab.hearing:
        key = tab.prompt_key
        if tab.heard is not None:
            return 0, None
        if key is None or arrived < tab.speaking_until:  # the voice's time (until a barge-in stopped it)
            if key is None or not tab.hushed:  # a barge-in's listener is kept for what was said over the voice
                tab.listener = None
            tab.overheard.append(chunk)
            tab.after_voice.clear()
            return 0, None
        if tab.hushed and (tab.overheard or tab.after_voice):  # barged in: heard from what was said over the voice
            if tab.after_voice:  # the page's word came after the voice had ended by this clock: the listener
                tab.listener = None  # heard only what followed the voice, so a new one hears it all, in order
            pieces = [*tab.overheard, *tab.after_voice, chunk]
            tab.overheard.clear(), tab.after_voice.clear()
        else:
            pieces = [chunk]
            if tab.overheard:  # the voice has ended: what it overheard is kept a little longer, in case the page's
                tab.after_voice.append(chunk)  # barge-in is still on its way (it is late on a loaded machine)
                if len(tab.after_voice) == tab.after_voice.maxlen:
                    tab.overheard.clear(), tab.after_voice.clear()
        try:
            heard = None
            for piece in pieces:
                heard = heard or _feed(tab, services, piece)
        except InterviewerError as error:  # the recogniser failed; what was said is kept by the listener
            log.warning("hands-free listening: %s", error)
            tab.problem = str(error)
            return PROBLEM, (f"{tab.interview.id}:problem:{time.monotonic()}", tab)
        if heard is None:
            _prefill(tab)
            if _nods(tab, services) and (kind := tab.listener.nod_due()):  # `_feed` made the listener
                due = time.monotonic() - max(0.0, time.time() - arrived)  # at its piece: one heard late is late
                tab.nod = (key, due, NODS[kind])  # the reply's handler says it: this one must not wait
                return NOD, (f"{tab.interview.id}:nod:{due}", tab)
            return 0, None
        t = tab.listener.timing  # counted from the end of the candidate's voice activity, not from the decision
        tab.timings = {"last_word": t.last_word_at, "turn_end": t.decided_at, "transcript": t.transcript_at}
        if tab.nodded_at is not None and tab.nodded_at >= t.last_word_at:  # not one at a pause the answer went on from
            tab.timings["nod"] = tab.nodded_at
        tab.nodded_at = None
        tab.ended_by = t.reason
        delivery = delivery_of(heard.words)
        tab.heard = (heard.text, delivery.to_dict() if delivery else None, key)
        return HEARD, (f"{tab.interview.id}:{len(tab.interview.turns)}:{len(tab.interview.exchanges)}", tab)


def _prefill(tab: Tab) -> None:
    """The words transcribed so far, once more of them are, go to the LLM's reply prompt (evaluated in the
    background), so that when the answer ends only its last stretch is left to read."""
    so_far = tab.listener.heard_so_far() if tab.listener else ""
    if so_far and so_far != tab.prefilled:
        tab.prefilled = so_far
        tab.conductor.listening(so_far)


def barge_in(services: Services, tab: Tab | None) -> None:
    """The page heard the candidate speak over the interviewer (sustained speech on the microphone while the
    voice played; ui/page.js) and stopped the voice: nothing more is spoken until the next reply, and the
    answer is heard from its start, the seconds said over the voice included. The listener is made here, not
    in the stream's handler, which must never be busy for longer than a piece of audio."""
    if tab is None or not tab.listening:
        return
    listener = _listener(services, tab)
    with tab.hearing:
        # the voice's time ends now, or where it ended already when this word comes late (see `_hear_piece`)
        tab.hushed, tab.speaking_until = True, min(tab.speaking_until, time.time())
        if tab.listener is None:
            tab.listen_with(listener)
    log.info("barge-in: the candidate spoke over the interviewer; its voice stopped")


def _listener(services: Services, tab: Tab):
    """A hands-free listener for the open prompt, its question's glossary as the recogniser's spelling hint."""
    return services.listener(hint="Glossary: " + ", ".join(tab.interview.prompt.question.glossary) + ".")


def _feed(tab: Tab, services: Services, chunk):
    """One piece of microphone audio to the tab's listener (made for the open prompt when it has none)."""
    if tab.listener is None:
        tab.listen_with(_listener(services, tab))
    rate, samples = chunk
    mono = samples.mean(axis=1).astype(samples.dtype) if samples.ndim == 2 else samples
    return tab.listener.feed(mono, rate, nods=_nods(tab, services))


def _nods(tab: Tab, services: Services) -> bool:
    """Whether the interviewer nods at the candidate's pauses (an "okay" or an "uh-huh", see `_nod`): when its
    voice is on, and the settings have not turned the nods off."""
    return tab.voice and not tab.hushed and services.settings.nods


def heard_reply(services: Services, tab: Tab | None):
    """The reply to an answer heard hands-free: its grade, then what comes next. Before it, while the answer's
    last words are still being transcribed, the nod (see `_nod`)."""
    if tab is None or (tab.heard is None and not tab.problem and not tab.nod):
        import gradio as gr

        yield (gr.skip(),) * 9
        return
    try:
        with tab.owned():
            with tab.hearing:
                waiting, tab.heard = tab.heard, None
                problem, tab.problem = tab.problem, ""
                nod, tab.nod = tab.nod, None
            if nod and waiting is None and not problem:
                if nod[0] == tab.prompt_key and time.monotonic() - nod[1] <= NOD_LATE_S:
                    yield from _nod(tab, services, nod[2])
                else:  # this handler was busy with the last reply: a nod now would come out of the blue
                    log.info("a nod that could not be said within %.1f s was left out", NOD_LATE_S)
                return
            if problem:
                tab.say(f"⚠️ {problem}")
                yield from _speak(tab, services)
            if waiting is None:
                return
            said, delivery, key = waiting
            if key == tab.prompt_key:
                yield from _reply_to(tab, services, said, delivery=delivery)
            else:  # the prompt it answered was closed meanwhile (Skip, End, the timer took it)
                log.info("a hands-free answer heard for a prompt that is no longer open was dropped")
    except Busy:
        yield from _busy(tab, services)


def _nod(tab: Tab, services: Services, line: str):
    """What a listener says at a pause, as soon as the candidate's voice sounds finished ("Okay.") or as if it
    might be ("Uh-huh."), so they know at once they were heard, where the reply's first words wait for the
    answer's transcript (a second or more on 2 cores). Either suits both what may follow: a finished answer, and
    a pause the candidate goes on from (they are heard: the microphone is not muted for it, the browser's echo
    cancellation keeps the interviewer's voice out). Its audio was made ahead (`_prepare`)."""
    try:
        for chunk in services.spoken.speak(line):
            if tab.hushed or not tab.listening:
                break
            if len(chunk.samples):
                tab.nodded_at = time.time()
                yield _outputs(tab, services, None, chunks_to_wav([chunk]))
    except Exception:  # noqa: BLE001 (the nod is a courtesy: the reply, spoken by `_speak`, says if the voice broke)
        log.exception("the nod could not be said; the reply follows as usual")


def command(services: Services, name: str, text: str, tab: Tab | None):
    """Skip, repeat, hint or end, for the current prompt."""
    tab = tab or Tab()
    try:
        with tab.owned():
            if not tab.listening:
                yield from _speak(tab, services, text)
                return
            tab.say(f"({name})", role="user")
            said = getattr(tab.interview, name)()
            yield from _run(tab, services, tab.conductor.said(said), text if name in ("hint", "repeat") else "")
    except Busy:
        yield from _busy(tab, services, text)


def tick(services: Services, text: str, tab: Tab | None):
    """Each second: the countdown, and when time is up, submit what was typed (or said) so far."""
    import gradio as gr

    idle = (gr.skip(), tab, gr.skip(), gr.skip(), gr.skip(), progress_html(tab) if tab else "", gr.skip(),
            gr.skip(), gr.skip())
    if tab is None or tab.deadline is None or time.time() < tab.deadline:
        yield idle
        return
    try:
        with tab.owned(wait_s=0):
            if not tab.listening or tab.deadline is None or time.time() < tab.deadline:
                yield idle
                return
            try:
                spoken = _heard_so_far(tab)  # hands-free: what was said so far counts
            except InterviewerError as error:  # kept by the listener: heard at the next pause, not lost now
                log.warning("time up, but %s", error)
                tab.deadline = None
                tab.say(f"⚠️ Time is up, but {error}")
                yield from _speak(tab, services)
                return
            said = " ".join(part for part in (text.strip(), spoken) if part)
            tab.timings, tab.ended_by = {"turn_end": time.time()}, ""
            yield from _reply_to(tab, services, said, timed_out=True, text="")  # submitted: cleared
    except Busy:
        yield idle


def _heard_so_far(tab: Tab) -> str:
    """Time is up: the words of a hands-free answer waiting for its reply and of the one still being said."""
    with tab.hearing:
        waiting, tab.heard = tab.heard, None
        heard = tab.listener.flush() if tab.listener else None
    parts = [waiting[0] if waiting and waiting[2] == tab.prompt_key else "", heard.text if heard else ""]
    return " ".join(part for part in parts if part)


def history_view(services: Services):
    """The history tab: scores over time as a table for the chart, and the text summary."""
    import pandas as pd

    history = services.sessions.history()
    frame = pd.DataFrame(history["scores"] or [], columns=["session", "started", "topic", "score"])
    # the machine's local time: the page is served from the candidate's own computer
    frame["when"] = pd.to_datetime([datetime.datetime.fromtimestamp(t) for t in frame["started"]])
    table = pd.DataFrame({"date": frame["when"].dt.strftime("%Y-%m-%d %H:%M"), "topic": frame["topic"],
                          "score": frame["score"].round(1), "session": frame["session"]})
    return frame, table.iloc[::-1], history_markdown(history)


def _ffmpeg_on_path(folder: Path) -> None:
    """Gradio encodes streamed speech with an `ffmpeg` it finds on PATH. Where none is installed, put the one
    that ships inside imageio-ffmpeg there, under the name Gradio looks for."""
    import shutil

    if shutil.which("ffmpeg"):
        return
    import imageio_ffmpeg

    exe = Path(imageio_ffmpeg.get_ffmpeg_exe())
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / ("ffmpeg.exe" if os.name == "nt" else "ffmpeg")
    if not (link.exists() and link.resolve() == exe.resolve()):
        link.unlink(missing_ok=True)
        try:
            link.symlink_to(exe)
        except OSError:  # no symlinks here (Windows without the privilege): a copy does the same
            shutil.copy2(exe, link)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


_HERE = Path(__file__).parent
KEYS = ("Keys: Tab moves between controls, Enter submits the answer (Shift+Enter starts a new line), Alt+M starts "
        "or stops the hands-free microphone.")
# Opens the printable report the page offers (the .html among the report's files) in a new browser tab.
_OPEN_REPORT = """() => {
  const link = [...document.querySelectorAll('#report-files a')].find((a) => /[.]html$/.test(a.download || a.href));
  if (!link) return;
  const view = window.open('', '_blank');
  fetch(link.href).then((r) => r.text()).then((page) => {
    view.location = URL.createObjectURL(new Blob([page], {type: 'text/html'}));
  });
}"""


def build_app(services: Services, defaults: SessionOptions):
    """The Gradio Blocks app for these services, with the session defaults pre-selected."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(services.settings.data_dir / "gradio-tmp"))
    _ffmpeg_on_path(services.settings.data_dir / "bin")
    import gradio as gr

    with gr.Blocks(title="interviewer", delete_cache=CACHE_SWEEP) as demo:
        # the page's style and keyboard shortcut travel with the app, however it is launched
        gr.HTML("", js_on_load=(_HERE / "page.js").read_text(), page_css=(_HERE / "page.css").read_text(),
                elem_id="page-setup", padding=False)
        gr.Markdown(f"# Mock interview\nEverything runs on this machine; nothing leaves it. {KEYS}")
        state = gr.State(None)
        with gr.Tab("Interview"):
            topic_list, resumable = _interview_tab(services, defaults, state)
        with gr.Tab("Your own material"):  # its controls and handlers live in ui/material.py
            from interviewer.ui.material import material_tab, topics_now

            material_tab(services, topic_list)
        demo.load(partial(topics_now, services), None, topic_list, api_name=False)  # topics prepared since start-up
        demo.load(partial(_resumable, services), None, resumable, api_name=False)
        with gr.Tab("History") as history_tab:
            plot = gr.LinePlot(x="when", y="score", color="topic", title="Score by session", y_lim=[0, 10],
                               label="Score by session", elem_id="history-plot",  # a 24-hour clock, as the table
                               x_axis_format="%d %b %H:%M")  # (Vega's default had shown 04:45 for 16:45)
            scores = gr.Dataframe(headers=["date", "topic", "score", "session"], label="Sessions, newest first",
                                  interactive=False, elem_id="history-table")
            summary = gr.Markdown(elem_id="history-summary")
        history_tab.select(partial(history_view, services), None, [plot, scores, summary], api_name="history")
    return demo


def _interview_tab(services: Services, defaults: SessionOptions, state):
    """The interview's controls, in the order a keyboard reaches them: the settings and Start, where the
    interview stands, the chat, the answer box and its buttons, then voice, the report and resuming. Returns
    the topic dropdown (a topic prepared on the page is added to it)."""
    import gradio as gr

    topics = sorted(services.topic_titles().items())
    with gr.Accordion("Interview settings", open=True, elem_id="settings") as settings:
        with gr.Row():
            topic = gr.Dropdown([(title, slug) for slug, title in topics], value=list(defaults.topics),
                                multiselect=True, label="Topic (one, or several for a mix)", elem_id="topic")
            level = gr.Radio(list(LEVELS), value=defaults.level, label="Level", elem_id="level")
            count = gr.Dropdown(sorted({3, 5, 7, defaults.questions}), value=defaults.questions, label="Questions",
                                allow_custom_value=True, elem_id="questions")  # QUESTIONS=4 shows 4
            seconds = gr.Number(defaults.answer_seconds, label="Seconds per answer", precision=0, elem_id="seconds")
            voice = gr.Checkbox(True, label="Speak the questions", elem_id="voice")
    go = gr.Button("Start", variant="primary", elem_id="start")
    progress = gr.HTML(elem_id="progress", label="Where the interview stands")
    chat = gr.Chatbot(label="Interview", height=480, elem_id="chat")
    text = gr.Textbox(label="Your answer", lines=1, max_lines=12, elem_id="answer",
                      placeholder="Type your answer: Enter submits it, Shift+Enter starts a new line")
    with gr.Row(elem_id="commands"):
        send = gr.Button("Submit answer", variant="primary", elem_id="submit")
        buttons = {name: gr.Button(label, elem_id=name) for name, label in
                   (("skip", "Skip"), ("repeat", "Repeat"), ("hint", "Hint"), ("end", "End interview"))}
    with gr.Row():
        speaker = gr.Audio(label="Interviewer", autoplay=True, interactive=False, streaming=True,
                           elem_id="speaker", scale=2)
        caption = gr.Markdown(elem_id="caption")
    with gr.Row():
        live = gr.Audio(sources=["microphone"], streaming=True, type="filepath", elem_id="live-mic",
                        label="Hands-free (Alt+M): start the microphone once, then just talk; a short pause "
                              "after a finished answer ends it")
        mic = gr.Audio(sources=["microphone", "upload"], type="filepath", elem_id="push-mic",
                       label="Push to talk: record, then stop (or upload a WAV, MP3, OGG or FLAC recording)")
    with gr.Accordion("Voice turn timings", open=False):
        timings = gr.Markdown()
    report = gr.Markdown(elem_id="report")
    files = gr.File(label="Download the report (Markdown, JSON, printable HTML)", file_count="multiple",
                    elem_id="report-files")
    gr.Button("Open the printable report", elem_id="open-report").click(None, None, None, js=_OPEN_REPORT)
    with gr.Row():
        session_id = gr.Dropdown(choices=[], value=None, allow_custom_value=True, scale=3, elem_id="resume-id",
                                 label="Resume an unfinished session",
                                 info="Pick one (they are listed when the page opens), or type a session id")
        again = gr.Button("Resume", scale=1, elem_id="resume")

    outputs = [chat, state, report, files, text, progress, speaker, caption, timings]
    on_chat = {"show_progress_on": chat}  # a turn's spinner covers the chat only: the panel and answer box stay
    # An answer may be sent while the turn before is still pending: the reply opens the next prompt before the
    # last answer's verdicts are read. Gradio's default ("once") would drop that submission; the tab's own lock
    # (Tab.owned) takes the events of one tab in order, and drops one meant for a prompt already closed.
    anytime = {**on_chat, "trigger_mode": "multiple"}
    go.click(partial(start, services, defaults.seed), [topic, level, count, seconds, voice], outputs,
             api_name="start", **on_chat)
    for starts in (go, again):  # the settings fold away once an interview is under way, to leave it the screen
        starts.click(lambda: gr.Accordion(open=False), None, settings, queue=False, api_name=False)
    mic.stop_recording(partial(voice_answer, services), [mic, state], outputs, api_name=False, **anytime)
    mic.upload(partial(voice_answer, services), [mic, state], outputs, api_name="voice_answer", **anytime)
    heard = gr.Textbox(visible="hidden", label="Answer heard hands-free")  # which answer was just heard
    barged = gr.Button("The candidate spoke over the interviewer", visible="hidden", elem_id="barge-in")
    barged.click(partial(barge_in, services), [state], None, queue=False, api_name=False)  # by ui/page.js
    def hear_live(chunk, tab, request):
        return hear_stream(services, chunk, tab, request.session_hash if request else None)

    hear_live.__annotations__ = {"request": gr.Request}  # how Gradio knows to pass the request (a string hint,
    # as `from __future__ import annotations` makes it, would not resolve: gradio is imported in this function)
    live.stream(hear_live, [live, state], [heard, state], stream_every=0.5, time_limit=3600, api_name=False)
    heard.change(partial(heard_reply, services), [state], outputs, api_name=False, **on_chat)
    send.click(partial(answer, services), [text, state], outputs, api_name="answer", **anytime)
    text.submit(partial(answer, services), [text, state], outputs, api_name=False, **anytime)
    for name, button in buttons.items():
        button.click(partial(command, services, name), [text, state], outputs, api_name=name, **anytime)
    again.click(partial(resume, services), [session_id], outputs, api_name="resume", **on_chat)
    gr.Timer(1.0).tick(partial(tick, services), [text, state], outputs, api_name=False, show_progress="hidden")
    return topic, session_id


def unfinished(services: Services) -> list[tuple[str, str]]:
    """The sessions not finished, newest first, as (label, id): a new user who reloaded the page mid-interview
    found it blank, and the id it asked for came from a terminal command."""
    import datetime

    rows = [r for r in services.sessions.sessions() if r["status"] == "open"][:20]
    return [(f"{', '.join(r['topics'])}: {r['answered']} of {r['questions']} answered"
             f"{f', {n} skipped' if (n := r['skipped']) else ''}, started "
             f"{datetime.datetime.fromtimestamp(r['started']).strftime('%Y-%m-%d %H:%M')} ({r['id']})", r["id"])
            for r in rows]


def _resumable(services: Services):
    """The resume list of a page just opened."""
    import gradio as gr

    return gr.Dropdown(choices=unfinished(services), value=None)

def app_kwargs() -> dict:
    """What the page's web app is made with, wherever it is served: the password guard on the routes Gradio's
    login leaves open, and the log of the microphone's pieces of audio (see ui/streams.py)."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(PasswordGuard), Middleware(StreamLog)]}


def launch(services: Services, defaults: SessionOptions, *, block: bool = True):
    """Serve the page on the configured address (127.0.0.1 unless told otherwise), once every model it uses
    has been verified. Beyond loopback without a password it refuses, unless `insecure` is set."""
    import sys

    settings = services.settings
    warning = check_exposure(settings)
    if warning:
        print("\n" + "!" * 100 + f"\n{warning}\n" + "!" * 100 + "\n", file=sys.stderr)
    services.check_models(services.roles_needed(voice=True))
    services.store  # noqa: B018 (load models and the bank before the first visitor, not during)
    services.warm_up(voice=True)
    demo = build_app(services, defaults)
    demo.queue(default_concurrency_limit=settings.concurrency)
    demo.launch(server_name=settings.host, server_port=settings.port, inbrowser=block,
                prevent_thread_lock=not block, show_error=True, max_file_size=settings.max_upload_mb * 2**20,
                auth=(settings.username, settings.password) if settings.password else None,
                app_kwargs=app_kwargs())
    return demo
