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
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

from interviewer.conductor import Conductor, Event, Graded
from interviewer.listening import TurnListener
from interviewer.render import grade_markdown, grade_state, markdown_safe, model_answer_markdown
from interviewer.session import Interview
from interviewer.types import Grade

_STAGES = (("last_word", "your last word"), ("turn_end", "end of the answer decided"),
           ("transcript", "transcript final"), ("provisional", "instant grade shown"),
           ("verified", "verified grade shown"), ("nod", "the interviewer's nod (“Okay.” or “Uh-huh.”) sent"),
           ("first_audio", "interviewer's first audio of the reply sent"),
           ("first_reply", "first sentence the LLM wrote"),
           ("first_written_audio", "first audio of a line the LLM wrote sent"))


OVERHEARD_CHUNKS = 10  # 5 s of the microphone's half-second pieces: a barge-in is decided, and its listener made,
# within 2 s of the first word


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
    to_speak: list[tuple[str, bool]] = field(default_factory=list)  # sentences said, not yet spoken, each with
    # whether the LLM wrote it
    speaking_until: float = 0.0  # time.time() until which the interviewer's audio plays: the mic is ignored
    hushed: bool = False  # the candidate spoke over the interviewer (barge-in): nothing more is spoken until the
    # next reply, and what the microphone heard while the interviewer spoke is heard as the answer's start
    overheard: deque = field(default_factory=lambda: deque(maxlen=OVERHEARD_CHUNKS))  # the microphone's last
    # pieces of audio while the interviewer spoke, kept in case the candidate is barging in
    after_voice: deque = field(default_factory=lambda: deque(maxlen=OVERHEARD_CHUNKS))  # the pieces heard since the
    # voice ended, while `overheard` is kept for a barge-in that arrives after that end
    timings: dict[str, float] = field(default_factory=dict)  # the last turn's stages, time.time() each
    ended_by: str = ""  # what ended the last hands-free answer (TurnTiming.reason); "" for typed or recorded ones
    listener: TurnListener | None = None  # hands-free listening for the open prompt
    listener_key: tuple | None = None  # the prompt it was made for
    caption: str = ""  # the line the interviewer is saying, shown beside the player
    heard: tuple[str, dict | None, tuple] | None = None  # a hands-free answer waiting for its reply, with the
    # prompt it answers (words, delivery, prompt key)
    problem: str = ""  # what went wrong while listening hands-free, to be shown by the next reply
    nod: tuple | None = None  # the candidate's voice sounded finished, or might have: a nod waits to be said (see
    # app._nod), with the prompt it is for, when it was due (time.monotonic()) and its line
    nodded_at: float | None = None  # when the nod of the answer being heard was sent (time.time())
    prefilled: str = ""  # the words of the answer being said that the LLM's prompt was last evaluated on
    _grade_at: int | None = None  # the chat message that shows the last answer's grade
    _ack: str = ""
    _shown: Graded | None = None  # the grade that message shows
    _turn_at: int = -1  # the interview turn it grades
    # the open question's earlier grade messages, listing only the points made (see _grade_message): (chat index,
    # turn index, grade shown, acknowledgement), each listed in full once the question is over
    _earlier: list[tuple[int, int, Graded, str]] = field(default_factory=list)
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

    def listen_with(self, listener: TurnListener) -> None:
        """Hear the answer to the open prompt with `listener` (made for it); hold `hearing`."""
        self.listener, self.listener_key = listener, self.prompt_key

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
                self._shown, self._turn_at = event, len(self.interview.turns) - 1
                self.chat[self._grade_at]["content"] = self._grade_message(event)
            return
        if event.grade is not None:
            if self._shown is not None:  # a follow-up's answer: the first answer's grade waits for the question's end
                self._earlier.append((self._grade_at, self._turn_at, self._shown, self._ack))
            self._ack = event.text
            self.chat.append({"role": "assistant", "content": ""})
            self._grade_at = len(self.chat) - 1
            self.apply(Graded(event.grade))
        elif self._group and self._group[0] == event.group:
            self.chat[self._group[1]]["content"] += " " + markdown_safe(event.text)
        else:
            self.chat.append({"role": "assistant", "content": markdown_safe(event.text)})
            self._group = (event.group, len(self.chat) - 1)
        self.to_speak.append((event.text, event.written))

    def _grade_message(self, shown: Graded, *, finished: bool = False, turn_at: int | None = None,
                       ack: str | None = None, last: bool = True) -> str:
        """The acknowledgement and the grade of turn `turn_at` (the last grade's by default). While its question is
        open, only the points made are listed: a follow-up may ask for any other (a new user read the point a
        follow-up asked for off the grade above it, and pasted it back). Once the question is over, every point,
        and under its `last` grade the model answer one click away. A follow-up that changed nothing says so in one
        line instead of repeating the first answer's feedback."""
        turns, at = self.interview.turns, self._turn_at if turn_at is None else turn_at
        turn = turns[at]
        model = turn.question.answer if finished and last else ""
        first = next((t for t in turns[:at] if t.question.id == turn.question.id and t.kind == "main"),
                     None) if turn.kind == "follow_up" else None
        if first is not None and _same(first.grade, shown.grade):
            body = (f"{grade_state(shown.grade, shown.note)}\n\n**Score {shown.grade.score}/10 · grade "
                    f"{shown.grade.letter}**, as before: the follow-up added nothing new to grade.")
            body += f"\n\n{model_answer_markdown(model)}" if model else ""
        else:
            body = grade_markdown(shown.grade, unverified=shown.note, model_answer=model, withhold=not finished)
        return f"{markdown_safe(self._ack if ack is None else ack)}\n\n{body}"

    def settle(self) -> None:
        """After a turn: a new open prompt gets its own answer time and a fresh listener; a hint, a repeat or a
        clarification keeps the clock running."""
        self._note_prompt()
        if self._shown is not None and (not self.listening or self.interview.prompt.question.id
                                        != self.interview.turns[self._turn_at].question.id):
            self.chat[self._grade_at]["content"] = self._grade_message(self._shown, finished=True)
            for at, turn_at, shown, ack in self._earlier:  # the question is over: its earlier grades in full
                self.chat[at]["content"] = self._grade_message(shown, finished=True, turn_at=turn_at, ack=ack,
                                                               last=False)
            self._shown, self._earlier = None, []  # its model answer is shown once
        if not self.listening:
            self.deadline = None
            return
        key = self.prompt_key
        if key != self._prompt:
            self._prompt = key
            self.deadline = time.time() + self.interview.options.answer_seconds
            with self.hearing:  # one made for this prompt already holds its answer (said while the turn ended)
                if self.listener_key != key:
                    self.listener, self.nod, self.nodded_at = None, None, None


def _same(one: Grade, other: Grade) -> bool:
    return (one.score, [(p.point, p.status) for p in one.points]) == \
        (other.score, [(p.point, p.status) for p in other.points])


def progress_html(tab: Tab, now: float | None = None) -> str:
    """Where the interview stands, for the panel above the chat: "Question 2 of 5", a follow-up or not, the
    question's level and topic, what is being asked, the last answer's score, and the answer time left as a bar
    and as a number (all escaped: bank text shows as text). Empty before a start."""
    interview = tab.interview
    if interview is None:
        return ""
    if interview.done:
        return '<div class="progress-panel" role="status"><b>Interview finished</b>: your report is below.</div>'
    prompt = interview.prompt
    if prompt is None and not interview.turns:
        return ""
    # between an answer and what follows, the panel stays on the prompt just answered
    question, kind, asked = ((prompt.question, prompt.kind, prompt.text) if prompt else
                             (interview.turns[-1].question, interview.turns[-1].kind, interview.turns[-1].prompt))
    step = f"Question {interview.number} of {interview.options.questions}"
    step += " · follow-up" if kind == "follow_up" else ""
    topic = interview.titles.get(question.topic, question.topic)
    parts = [f'<div class="progress-panel" role="status"><span class="step"><b>{step}</b></span>',
             f'<span class="level">Level: {escape(question.level)}</span>',
             f'<span class="topic">Topic: {escape(topic)}</span>',
             f'<p class="asked">{escape(asked)}</p>', _last_answer(interview)]
    if prompt is None:
        parts.append('<span class="time">Answer received: grading it</span>')
    elif tab.deadline is not None:
        total = max(1, interview.options.answer_seconds)
        left = max(0, min(total, int(tab.deadline - (time.time() if now is None else now))))
        clock = f"{left // 60}:{left % 60:02d}"
        urgency = "low" if left <= 10 else "mid" if left <= 30 else "ok"
        parts += [f'<div class="timebar {urgency}" role="progressbar" aria-label="Time left for this answer" '
                  f'aria-valuemin="0" aria-valuemax="{total}" aria-valuenow="{left}" aria-valuetext="{clock} left">'
                  f'<div class="timebar-fill" style="width: {100 * left / total:.0f}%"></div></div>',
                  f'<span class="time">{clock} left for this answer</span>']
    return "".join(parts) + "</div>"


def _last_answer(interview: Interview) -> str:
    """The last graded answer's score and which grade it is, so it stays in sight whatever the chat shows."""
    turn = next((t for t in reversed(interview.turns) if not t.skipped), None)
    if turn is None:
        return ""
    state = ("verified" if turn.verified else "instant, being checked" if turn.verification == "pending"
             else "instant, not verified")
    return (f'<span class="last">Last answer: <b>{turn.grade.score}/10 · grade {turn.grade.letter}</b> '
            f'({state})</span>')


ENDED_BY = {"turn model": "your voice sounded finished", "words": "your words read as finished",
            "thinking pause limit": "the thinking-pause limit", "fixed pause": "the fixed pause",
            "time up": "the answer time ran out", "recogniser caught up": "the recogniser caught up"}


def timings_markdown(timings: dict[str, float], ended_by: str = "") -> str:
    """The last turn, stage by stage, in seconds from the candidate's last word (or the moment a typed or
    recorded answer was sent), with what decided a hands-free answer had ended."""
    start = timings.get("last_word", timings.get("turn_end"))
    if start is None:
        return ""
    why = ENDED_BY.get(ended_by, ended_by)
    rows = [f"| {label}{f' ({why})' if key == 'turn_end' and why else ''} | {timings[key] - start:+.2f} s |"
            for key, label in _STAGES if key in timings]
    return "| stage | from your last word |\n|---|---|\n" + "\n".join(rows)
