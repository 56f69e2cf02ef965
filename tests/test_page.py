"""What one browser tab shows, turn by turn, without a browser: the progress panel, the grade's state, the
points' labels, the model answer once a question is over, and a follow-up that ran out of time. Pure logic on
the fake embedder, through the real turn pipeline (the conductor with the LLM switched off)."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from interviewer.conductor import Conductor, Graded
from interviewer.fakes import FakeEmbedder
from interviewer.grader import Grader
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.session import Interview, SessionOptions
from interviewer.types import AudioChunk, Transcript, Word
from interviewer.ui.tab import Tab, progress_html

WEAK = "It has something to do with rewards."


@pytest.fixture(scope="module")
def pool(tmp_path_factory, bank):
    store = KnowledgeStore(open_client(tmp_path_factory.mktemp("store")), FakeEmbedder())
    store.ingest(bank.questions)
    return store.questions(topic="rlhf")


@pytest.fixture
def tab(pool):
    """A tab with a started three-question interview, as `start` leaves it."""
    interview = Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), questions=3, level="mid",
                                                                       answer_seconds=120),
                          titles={"rlhf": "RLHF (reinforcement learning from human feedback)"})
    tab = Tab(interview=interview, conductor=Conductor(interview), voice=False)
    _run(tab, tab.conductor.said(interview.start()))
    return tab


def _run(tab: Tab, events) -> None:
    for event in events:
        tab.apply(event)
    tab.settle()


def _said(tab: Tab, text: str, **kw) -> None:
    tab.chat.append({"role": "user", "content": text})
    _run(tab, tab.conductor.heard(text, **kw))


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_the_panel_shows_the_question_number_level_topic_and_time_as_a_bar_and_a_number(tab):
    question = tab.interview.prompt.question
    panel = progress_html(tab, now=tab.deadline - 89.4)
    assert "Question 1 of 3" in _visible(panel) and f"Level: {question.level}" in panel
    assert "Topic: RLHF (reinforcement learning from human feedback)" in panel
    assert question.question in panel and "1:29 left for this answer" in panel
    bar = re.search(r'role="progressbar"[^>]*aria-valuenow="(\d+)"[^>]*>.*?width: (\d+)%', panel)
    assert bar and bar.groups() == ("89", "74")  # 89 s of 120 left: three quarters of the bar
    assert 'class="timebar ok"' in panel and 'class="timebar low"' in progress_html(tab, now=tab.deadline - 5)
    assert progress_html(Tab()) == ""


def test_a_weak_answer_shows_an_instant_grade_that_lists_no_point_a_follow_up_may_ask_for_until_it_is_over(tab):
    """A new user read the point a follow-up asked for off the grade just above it ("missed A KL penalty keeps
    the policy close to the supervised model", then "what keeps it from wandering far from where it started?"),
    pasted it back and was credited. While the question is open its grade lists only the points made; once it
    is over, every point with its label, and the model answer."""
    question = tab.interview.prompt.question
    _said(tab, WEAK)
    assert tab.interview.prompt.kind == "follow_up"  # the question is not over
    at = next(i for i, m in enumerate(tab.chat) if "/10" in m["content"])
    graded, grade = tab.chat[at]["content"], tab.interview.turns[-1].grade
    assert 'class="grade-state stands">Instant grade</span> not verified: the LLM is switched off' in graded
    not_made = [p.point for p in grade.points if p.status != "covered"]
    assert not_made and not any(point in graded for point in not_made)
    assert f"{len(not_made)} key points not made in full: listed once this question is over" in graded
    assert "Tip:" not in graded and "Model answer" not in graded  # each would give the follow-up's answer away
    panel = _visible(progress_html(tab))
    assert "Question 1 of 3 · follow-up" in panel and "Last answer:" in panel and "(instant, not verified)" in panel

    _said(tab, "I am not sure.")  # the follow-up answered: the question is over, and the first grade says it all
    assert tab.interview.prompt.question.id != question.id
    labels = re.findall(r'<span class="point (\w+)">(\w+)</span>', tab.chat[at]["content"])
    assert len(labels) == len(question.key_points) and ("missed", "missed") in labels
    assert all(word in {"covered", "partly", "missed", "contradicted"} for _, word in labels)
    assert all(point in tab.chat[at]["content"] for point in not_made) and "Tip:" in tab.chat[at]["content"]
    assert sum("<details><summary>Model answer" in m["content"] for m in tab.chat) == 1  # under the last grade


def test_a_follow_up_that_runs_out_of_time_empty_says_so_in_one_line_then_the_model_answer_opens(tab):
    """Time's up on an empty follow-up used to repeat the first answer's whole feedback word for word."""
    question = tab.interview.prompt.question
    _said(tab, WEAK)
    _said(tab, "", timed_out=True)
    assert tab.interview.prompt.question.id != question.id  # moved on
    first, second = [m["content"] for m in tab.chat if "/10" in m["content"]][-2:]
    assert second.startswith("Time's up.") and "as before: the follow-up added nothing new to grade" in second
    feedback = second.split("<details>")[0]
    assert "<span class=\"point" not in feedback and len(feedback) < len(first) / 2
    assert first.count("<span class=\"point") == len(question.key_points)  # the first answer's grade, in full
    assert "<details><summary>Model answer</summary>" in second and question.answer[:60] in second
    assert "<details>" not in first  # the model answer is shown once, under the question's last grade


def test_a_strong_answer_moving_on_gets_its_model_answer_under_the_grade(tab):
    question = tab.interview.prompt.question
    _said(tab, question.answer)
    assert tab.interview.prompt.question.id != question.id
    graded = next(m["content"] for m in tab.chat if "/10" in m["content"])
    assert graded.count("<details>") == 1 and "Question 2 of 3" in tab.chat[-1]["content"]


def test_the_verified_grade_replaces_the_instant_one_and_says_so(tab):
    _said(tab, WEAK)
    at = next(i for i, m in enumerate(tab.chat) if "/10" in m["content"])
    tab.apply(Graded(replace(tab.interview.turns[-1].grade, verified=True)))
    assert 'class="grade-state verified">Verified grade</span>' in tab.chat[at]["content"]
    assert "Instant grade" not in tab.chat[at]["content"]


def test_while_an_answer_is_graded_the_panel_stays_on_it_without_a_running_clock(tab):
    asked = tab.interview.prompt.text
    events = tab.conductor.heard(WEAK)
    tab.apply(next(events))  # the instant grade, before anything that follows
    panel = _visible(progress_html(tab))
    assert "Question 1 of 3" in panel and asked in panel and "Answer received: grading it" in panel
    assert "left for this answer" not in panel and "(instant, being checked)" in panel
    _run(tab, events)
    assert "left for this answer" in _visible(progress_html(tab))


def test_the_first_audio_of_a_line_the_llm_wrote_is_timed_apart_from_the_first_audio(tab):
    """The timings panel counts to the interviewer's first audio (the instant acknowledgement, from the bank)
    and, apart, to the first audio of a line the LLM wrote: the latency of a reply that reacts to the answer."""
    from interviewer.conductor import Spoken
    from interviewer.types import AudioChunk
    from interviewer.ui.app import _speak
    from interviewer.ui.tab import timings_markdown

    class Voice:
        def speak(self, text):
            yield AudioChunk(np.zeros(2205, np.int16), 22050)  # a tenth of a second

    class Services:  # what speaking needs of the page's services
        spoken = Voice()
        settings = None

    tab.voice, tab.timings = True, {"last_word": 0.0}
    tab.apply(Spoken("ack", "Thank you.", 90))
    list(_speak(tab, Services()))
    assert "first_audio" in tab.timings and "first_written_audio" not in tab.timings  # the bank's words
    tab.apply(Spoken("ack", "You named the reward model.", 91, written=True))
    list(_speak(tab, Services()))
    assert tab.timings["first_written_audio"] >= tab.timings["first_audio"]
    assert "first audio of a line the LLM wrote sent" in timings_markdown(tab.timings)


@pytest.mark.parametrize(("kind", "line"), [("finished", "Okay."), ("going on", "Uh-huh.")])
def test_the_nod_comes_as_the_voice_sounds_finished_before_the_reply(tab, kind, line):
    """Hands-free, the interviewer says "Okay." as soon as the candidate's voice sounds finished ("Uh-huh." where
    it only might be), before the answer's words are in; the reply follows as ever, and the timings panel counts
    the nod apart from the reply's first audio."""
    from interviewer.listening import TurnTiming
    from interviewer.ui.app import hear_stream, heard_reply
    from interviewer.ui.tab import timings_markdown

    said = []

    class Voice:
        def speak(self, text):
            said.append(text)
            yield AudioChunk(np.zeros(2205, np.int16), 22050)

        def prepare(self, lines):
            pass

    class Services:  # what the stream and the reply need of the page's services
        spoken = Voice()
        settings, grader = SimpleNamespace(nods=True), None

    class Listener:  # the hands-free listener: the voice sounds finished one piece before the words are in
        timing = None
        pieces = 0

        def feed(self, samples, rate, nods=False):
            assert nods  # the voice is on: the listener is told the page nods
            self.pieces += 1
            if self.pieces < 2:
                return None
            words = tuple(Word(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate(WEAK.split()))
            self.timing = TurnTiming(2.0, 2.5, 100.0, 101.2, "turn model")
            return Transcript(WEAK, words, words[-1].end)

        def nod_due(self):
            return kind if self.pieces == 1 else None

        def heard_so_far(self):
            return ""

    tab.voice, tab.to_speak = True, []  # the question has been said
    tab.listen_with(Listener())
    piece = (16000, np.zeros(8000, np.int16))
    mark, _ = hear_stream(Services(), piece, tab)
    assert isinstance(mark, str) and tab.heard is None  # the page's reply handler is woken: to nod
    nodded = list(heard_reply(Services(), tab))
    assert said == [line] and len(nodded) == 1 and nodded[0][6]  # one piece of audio: the nod
    assert not tab.chat[-1]["content"].startswith(line)  # said, not written: the chat shows the answer next
    mark, _ = hear_stream(Services(), piece, tab)
    assert tab.heard is not None and tab.timings["nod"] <= time.time()
    list(heard_reply(Services(), tab))
    assert said[1] == "Thank you." and len(said) > 2  # then the reply, its instant acknowledgement first
    assert said.count(line) == 1 and tab.timings["first_audio"] >= tab.timings["nod"]
    assert "the interviewer's nod" in timings_markdown(tab.timings)
    assert tab.nodded_at is None  # the next answer's nod is its own


def test_a_nod_is_left_out_when_it_would_come_late_or_out_of_place(tab):
    """No nod with the voice off or hushed, or the nods turned off in the settings (the listener is not told to
    nod); a nod that waited behind the last reply for too long, or whose prompt closed, is not said; one said at a
    pause the candidate went on from is not timed as the answer's."""
    from interviewer.listening import TurnTiming
    from interviewer.ui.app import NOD_LATE_S, _nods, hear_stream, heard_reply

    said = []

    class Voice:
        def speak(self, text):
            said.append(text)
            yield AudioChunk(np.zeros(2205, np.int16), 22050)

    class Services:
        spoken = Voice()
        settings = SimpleNamespace(nods=True)

    tab.voice, tab.hushed = False, False
    assert not _nods(tab, Services())
    tab.voice, tab.hushed = True, True
    assert not _nods(tab, Services())
    tab.hushed = False
    assert _nods(tab, Services())
    assert not _nods(tab, SimpleNamespace(settings=SimpleNamespace(nods=False)))  # INTERVIEWER_NODS=0
    for late in ((tab.prompt_key, time.monotonic() - NOD_LATE_S - 0.5), (("an older prompt",), time.monotonic())):
        tab.nod = (*late, "Okay.")
        assert list(heard_reply(Services(), tab)) == [] and said == [] and tab.nod is None

    class Broken:
        def speak(self, text):
            raise RuntimeError("piper gone")
            yield

    Services.spoken = Broken()  # a voice that fails on the nod: the handler goes on, the reply will say so
    tab.nod = (tab.prompt_key, time.monotonic(), "Okay.")
    assert list(heard_reply(Services(), tab)) == [] and tab.nodded_at is None
    Services.spoken = Voice()

    class Listener:  # the turn ends 3 s after a nod said at an earlier pause
        def feed(self, samples, rate, nods=False):
            self.timing = TurnTiming(5.0, 5.5, time.time(), time.time(), "turn model")
            return Transcript(WEAK, (Word("It", 0.0, 0.2), Word("has", 0.3, 0.5)), 0.5)

        def nod_due(self):
            return False

    tab.listen_with(Listener())
    tab.nodded_at = time.time() - 3.0
    hear_stream(Services(), (16000, np.zeros(8000, np.int16)), tab)
    assert tab.heard is not None and "nod" not in tab.timings and tab.nodded_at is None


def test_an_answer_begun_while_the_last_one_was_verified_keeps_its_listener(tab):
    """The reply comes before the verdicts, so the candidate may start on the next prompt while they are read:
    the listener made for that prompt (by the microphone's handler) holds the start of the answer and survives
    the end of the turn; one made for the prompt answered does not."""
    older, newer = object(), object()
    tab.listen_with(older)
    events = tab.conductor.heard(WEAK)
    for event in events:
        tab.apply(event)
        if tab.listening:  # the next prompt is open and said; the turn's last events are still to come
            break
    tab.listen_with(newer)  # as the microphone's handler does, the candidate answering already
    for event in events:
        tab.apply(event)
    tab.settle()
    assert tab.listener is newer and tab.deadline is not None


def test_a_listener_made_for_the_prompt_answered_is_dropped_with_it(tab):
    tab.listen_with(object())
    _said(tab, WEAK)
    assert tab.listening and tab.listener is None


def test_words_heard_while_the_candidate_talks_go_to_the_llm_prompt_once_each(tab, monkeypatch):
    from interviewer.ui.app import _prefill

    read = []
    monkeypatch.setattr(tab.conductor, "listening", read.append)

    class Listener:  # the hands-free listener, as far as the stream's handler asks it
        so_far = ""

        def heard_so_far(self):
            return self.so_far

    tab.listener = Listener()
    _prefill(tab)  # nothing transcribed yet: nothing to read
    Listener.so_far = "The reward model is trained"
    _prefill(tab)
    _prefill(tab)  # the next piece of audio, no new words: not read again
    Listener.so_far = "The reward model is trained on human comparisons."
    _prefill(tab)
    assert read == ["The reward model is trained", "The reward model is trained on human comparisons."]


def test_the_timings_panel_says_what_ended_a_hands_free_answer():
    """A slow turn end is explained: the voice, the words, or the thinking-pause limit decided it."""
    from interviewer.ui.tab import timings_markdown

    stages = {"last_word": 10.0, "turn_end": 13.2, "transcript": 13.3}
    assert "| end of the answer decided (the thinking-pause limit) | +3.20 s |" in \
        timings_markdown(stages, "thinking pause limit")
    assert "end of the answer decided (your words read as finished)" in timings_markdown(stages, "words")
    assert "| end of the answer decided | +3.20 s |" in timings_markdown(stages)  # typed: nothing to explain


class _Ear:
    """A hands-free listener that keeps what it is fed: each piece is known by its first sample."""

    def __init__(self) -> None:
        self.fed: list[int] = []
        self.timing = None

    def feed(self, samples, rate, nods=False):
        self.fed.append(int(samples[0]))
        return None

    def heard_so_far(self):
        return ""


def _piece(n: int):
    return 16000, np.full(8000, n, np.int16)


@pytest.fixture
def ears():
    made: list[_Ear] = []

    class Services:  # what the stream and the barge-in need of the page's services
        settings = SimpleNamespace(nods=False)

        def listener(self, hint=""):
            made.append(_Ear())
            return made[-1]

    return Services(), made


def test_a_barge_in_that_arrives_after_the_voice_ended_still_hears_the_words_said_over_it(tab, ears):
    """On a loaded machine the page's barge-in can reach the server after the voice's end by the server's clock:
    the answer is still heard from the words said over the voice, in order (a new user's first three seconds were
    lost this way). Without a barge-in, what was heard while the voice played is never heard as the answer."""
    from interviewer.ui.app import barge_in, hear_stream

    services, made = ears
    tab.conductor.listening = lambda words: None
    tab.speaking_until = time.time() + 100  # the interviewer is speaking
    for n in (1, 2):  # 1: silence, 2: the candidate starts over the voice
        hear_stream(services, _piece(n), tab)
    assert made == [] and len(tab.overheard) == 2
    tab.speaking_until = time.time() - 0.1  # the voice has ended, by this clock
    hear_stream(services, _piece(3), tab)
    assert [ear.fed for ear in made] == [[3]]  # heard as ever from here, while the words over the voice wait
    barge_in(services, tab)  # the page's word, late
    hear_stream(services, _piece(4), tab)
    assert made[-1].fed == [1, 2, 3, 4] and tab.listener is made[-1]  # all of it, in the order it was said
    assert not tab.overheard and not tab.after_voice
    hear_stream(services, _piece(5), tab)
    assert made[-1].fed == [1, 2, 3, 4, 5]


def test_without_a_barge_in_what_was_heard_over_the_voice_is_let_go(tab, ears):
    from interviewer.ui.app import hear_stream
    from interviewer.ui.tab import OVERHEARD_CHUNKS

    services, made = ears
    tab.conductor.listening = lambda words: None
    tab.speaking_until = time.time() + 100
    hear_stream(services, _piece(1), tab)
    tab.speaking_until = time.time() - 0.1
    for n in range(2, 2 + OVERHEARD_CHUNKS):
        hear_stream(services, _piece(n), tab)
    assert [ear.fed for ear in made] == [list(range(2, 2 + OVERHEARD_CHUNKS))]  # never the voice's time
    assert not tab.overheard and not tab.after_voice  # nor kept past the time a barge-in could take to arrive


def _posted(tmp_path, monkeypatch, session: str, arrivals: dict[int, float]) -> str:
    """Pieces n (a half second of samples n each) uploaded as Gradio uploads them and noted as `StreamLog` notes
    their posts, each arriving at its time; the file of the last, as the stream's handler is called with it."""
    import wave

    from interviewer.ui.streams import PIECES

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    for n, arrived in arrivals.items():
        path = tmp_path / "uploads" / f"piece{n}" / "audio.wav"
        path.parent.mkdir(parents=True)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
            out.writeframes(np.full(8000, n, np.int16).tobytes())
        PIECES.note(session, "stream", str(path), arrived)
    return str(path)


def test_pieces_handled_late_are_judged_by_when_they_arrived(tab, ears, tmp_path, monkeypatch):
    """The stream's handler fell behind while the interviewer spoke: the pieces posted then are still the
    voice's time, not the answer, when they are handled after it ended (the interviewer never hears itself)."""
    from interviewer.ui.app import hear_stream

    services, made = ears
    tab.conductor.listening = lambda words: None
    now = time.time()
    tab.speaking_until = now - 1.0  # by the time the handler is free, the voice has ended
    last = _posted(tmp_path, monkeypatch, "late-tab", {1: now - 2.5, 2: now - 2.0, 3: now - 0.5, 4: now - 0.2})
    hear_stream(services, last, tab, "late-tab")
    assert [ear.fed for ear in made] == [[3, 4]]  # only what arrived after the voice ended, in order
    assert [int(chunk[1][0]) for chunk in tab.overheard] == [1, 2]  # kept, in case a barge-in is on its way


def test_a_nod_on_the_way_through_a_late_batch_does_not_cost_the_pieces_after_it(tab, tmp_path, monkeypatch):
    from interviewer.ui.app import hear_stream

    fed = []

    class Listener:  # the voice sounds finished at the first piece; the candidate goes on
        timing = None

        def feed(self, samples, rate, nods=False):
            fed.append(int(samples[0]))

        def nod_due(self):
            return "finished" if fed == [1] else None

        def heard_so_far(self):
            return ""

    class Services:
        settings = SimpleNamespace(nods=True)

    tab.voice, tab.speaking_until = True, 0.0
    tab.conductor.listening = lambda words: None
    tab.listen_with(Listener())
    now = time.time()
    last = _posted(tmp_path, monkeypatch, "nod-tab", {1: now - 1.5, 2: now - 1.0, 3: now - 0.5})
    mark, _ = hear_stream(Services(), last, tab, "nod-tab")
    assert fed == [1, 2, 3] and ":nod:" in mark  # every piece heard, and the reply's handler is woken
    assert time.monotonic() - tab.nod[1] >= 1.4  # due when its piece arrived: too late to say now (NOD_LATE_S)


def test_a_backlog_from_the_voices_time_handled_after_a_barge_in_is_heard_as_its_last_seconds_only(
        tab, ears, tmp_path, monkeypatch):
    """The page's barge-in came on time but the stream's handler was behind: of the pieces posted while the voice
    played only the last OVERHEARD_CHUNKS are heard before the answer, as without a backlog."""
    from interviewer.ui.app import barge_in, hear_stream
    from interviewer.ui.tab import OVERHEARD_CHUNKS

    services, made = ears
    tab.conductor.listening = lambda words: None
    now = time.time()
    tab.speaking_until = now + 100  # the interviewer is speaking
    barge_in(services, tab)  # the page stopped the voice just now
    voice_time = {n: now - 10 + 0.5 * n for n in range(1, 16)}  # 7.5 s posted while the voice played
    last = _posted(tmp_path, monkeypatch, "backlog-tab", {**voice_time, 16: now + 0.5, 17: now + 1.0})
    hear_stream(services, last, tab, "backlog-tab")
    kept = list(range(16 - OVERHEARD_CHUNKS, 16))
    assert [ear.fed for ear in made] == [[*kept, 16, 17]]
