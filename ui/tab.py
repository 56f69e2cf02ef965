"""One browser tab's state, and how the turn pipeline's events become the chat it shows. No gradio here.

A tab has one owner at a time: every handler that changes it runs under `Tab.owned()`, so the timer and the
buttons never act on the same turn at once, and an event that waited while another one moved the interview
on (a double click, Skip pressed while an answer was graded) is dropped rather than applied to the next
prompt. The microphone stream, which must never wait long, holds only `Tab.hearing`: the listener and the
answer it heard are touched under that lock alone.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from interviewer.conductor import Conductor, Event, Graded
from interviewer.listening import TurnListener
from interviewer.render import grade_markdown, markdown_safe
from interviewer.session import Interview

_STAGES = (("last_word", "your last word"), ("turn_end", "end of the answer decided"),
           ("transcript", "transcript final"), ("provisional", "instant grade shown"),
           ("verified", "verified grade shown"), ("first_audio", "interviewer's first audio sent"),
           ("first_reply", "first sentence the LLM wrote"))


class Busy(Exception):
    """The tab is handling another event; this one is not needed twice."""


@dataclass
class Tab:
    """What one browser tab holds: its interview, the conversation shown, and when the answer time ends."""

    interview: Interview | None = None
    conductor: Conductor | None = None
    chat: list[dict] = field(default_factory=list)
    deadline: float | None = None  # time.time() by which the current answer is submitted
    voice: bool = True  # speak the interviewer's lines
    to_speak: list[str] = field(default_factory=list)  # sentences said, not yet spoken
    speaking_until: float = 0.0  # time.time() until which the interviewer's audio plays: the mic is ignored
    timings: dict[str, float] = field(default_factory=dict)  # the last turn's stages, time.time() each
    listener: TurnListener | None = None  # hands-free listening for the open prompt
    caption: str = ""  # the line the interviewer is saying, shown beside the player
    heard: tuple[str, dict | None, tuple] | None = None  # a hands-free answer waiting for its reply, with the
    # prompt it answers (words, delivery, prompt key)
    problem: str = ""  # what went wrong while listening hands-free, to be shown by the next reply
    _grade_at: int | None = None  # the chat message that shows the last answer's grade
    _ack: str = ""
    _group: tuple[int, int] | None = None  # (group, chat index) of the message being spoken
    _prompt: tuple | None = None  # the open prompt the deadline was set for
    _open: tuple | None = None  # the prompt key last seen, and when it changed (time.monotonic())
    _opened_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hearing: threading.Lock = field(default_factory=threading.Lock)  # the listener and `heard`

    @property
    def listening(self) -> bool:
        """Whether an answer to the current prompt is awaited."""
        return self.interview is not None and self.interview.phase == "listen"

    @property
    def prompt_key(self) -> tuple | None:
        """Which prompt is open: (question number, kind, text), None when none is."""
        if not self.listening:
            return None
        prompt = self.interview.prompt
        return self.interview.number, prompt.kind, prompt.text

    @contextmanager
    def owned(self, *, wait_s: float = 60.0):
        """Hold the tab for one event; raise Busy when another holds it for longer than `wait_s`, or when
        the one it waited for put a new prompt (this event was meant for the one before)."""
        arrived = time.monotonic()
        if not self._lock.acquire(timeout=wait_s):
            raise Busy
        try:
            if self._opened_at > arrived:
                raise Busy
            yield self
        finally:
            self._lock.release()

    def say(self, text: str, role: str = "assistant") -> None:
        """A message of the page itself (not the interview's), shown as text."""
        self.chat.append({"role": role, "content": markdown_safe(text)})

    def _note_prompt(self) -> None:
        """Mark when the open prompt changed (closed by an answer, or a new one put): events that arrived before
        that were meant for the one before."""
        key = self.prompt_key
        if key != self._open:
            self._open, self._opened_at = key, time.monotonic()

    def apply(self, event: Event) -> None:
        """Show one event of the turn pipeline, and queue what is to be spoken."""
        self._note_prompt()
        if isinstance(event, Graded):
            if self._grade_at is not None:
                note = f"\n\n*The instant grade stands: {event.note}.*" if event.note else ""
                shown = f"{markdown_safe(self._ack)}\n\n{grade_markdown(event.grade)}{note}"
                self.chat[self._grade_at]["content"] = shown
            return
        if event.grade is not None:
            self._ack = event.text
            self.chat.append({"role": "assistant", "content": ""})
            self._grade_at = len(self.chat) - 1
            self.apply(Graded(event.grade))
        elif self._group and self._group[0] == event.group:
            self.chat[self._group[1]]["content"] += " " + markdown_safe(event.text)
        else:
            self.chat.append({"role": "assistant", "content": markdown_safe(event.text)})
            self._group = (event.group, len(self.chat) - 1)
        self.to_speak.append(event.text)

    def settle(self) -> None:
        """After a turn: a new open prompt gets its own answer time and a fresh listener; a hint, a repeat or a
        clarification keeps the clock running."""
        self._note_prompt()
        if not self.listening:
            self.deadline = None
            return
        key = self.prompt_key
        if key != self._prompt:
            self._prompt = key
            self.deadline = time.time() + self.interview.options.answer_seconds
            self.listener = None


def timings_markdown(timings: dict[str, float]) -> str:
    """The last turn, stage by stage, in seconds from the candidate's last word (or the moment a typed or
    recorded answer was sent)."""
    start = timings.get("last_word", timings.get("turn_end"))
    if start is None:
        return ""
    rows = [f"| {label} | {timings[key] - start:+.2f} s |" for key, label in _STAGES if key in timings]
    return "| stage | from your last word |\n|---|---|\n" + "\n".join(rows)
