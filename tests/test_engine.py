"""The interview state machine through a harness: feed events, assert phases and what the interviewer says.

Pure logic on the fake embedder (a bag-of-words stand-in), except where marked real.
"""

from __future__ import annotations

import pytest

from interviewer.errors import BadInput
from interviewer.fakes import FakeEmbedder
from interviewer.grader import Grader
from interviewer.knowledge.schema import LEVELS
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.planner import Past
from interviewer.report import build_report
from interviewer.session import Interview, SessionOptions
from interviewer.storage import SessionStore


@pytest.fixture(scope="module")
def store(tmp_path_factory, bank):
    store = KnowledgeStore(open_client(tmp_path_factory.mktemp("store")), FakeEmbedder())
    store.ingest(bank.questions)
    return store


@pytest.fixture
def make(store):
    def make(**options) -> Interview:
        return Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), **options))
    return make


def strong(interview: Interview) -> str:
    return interview.prompt.question.answer


def kinds(said) -> list[str]:
    return [s.kind for s in said]


def test_start_greets_and_listens_for_the_first_question(make):
    interview = make(level="fresher")
    said = interview.start()
    assert kinds(said) == ["greeting", "question"]
    assert interview.trace == ["configure", "next", "ask", "listen"]
    assert interview.prompt.question.level == "fresher" and "Question 1 of 5" in said[1].text
    with pytest.raises(BadInput, match="listen"):
        make().submit("before start")


def test_weak_answer_gets_a_follow_up_then_the_next_question(make):
    interview = make(questions=3)
    interview.start()
    first = interview.prompt.question
    said = interview.submit("It has something to do with rewards.")
    assert kinds(said) == ["grade", "follow_up"]
    assert interview.trace[-4:] == ["listen", "grade", "follow_up", "listen"]
    assert said[1].text in [f.ask for f in first.follow_ups]
    assert interview.prompt.kind == "follow_up" and interview.prompt.question == first
    said = interview.submit(first.answer)  # the follow-up recovers everything
    assert kinds(said) == ["grade", "question"]
    [(question, score)] = interview.question_scores()
    follow_grade = interview.turns[-1].grade.score
    assert question == first and score == round(interview.turns[0].grade.score + 0.5 * (follow_grade -
                                                                                          interview.turns[0].grade.score))


def test_strong_answer_moves_up_weak_moves_down_no_repeats(make):
    interview = make(questions=5, level="fresher", follow_ups=0)
    interview.start()
    levels = [interview.prompt.question.level]
    interview.submit(strong(interview))
    levels.append(interview.prompt.question.level)
    interview.submit("")
    levels.append(interview.prompt.question.level)
    assert levels == ["fresher", "mid", "fresher"]
    while not interview.done:
        interview.submit(strong(interview))
    ids = [t.question.id for t in interview.turns]
    assert len(ids) == 5 == len(set(ids))


def test_time_up_with_nothing_said_scores_zero_and_moves_on(make):
    interview = make(questions=2)
    interview.start()
    said = interview.submit("", timed_out=True)
    assert said[0].text.startswith("Time's up") and said[0].grade.score == 0
    assert interview.turns[-1].timed_out and interview.phase == "listen"


def test_skip_on_the_last_question_ends_with_a_report(make):
    interview = make(questions=1)
    interview.start()
    said = interview.skip()
    assert kinds(said) == ["ack", "close"] and interview.done
    report = build_report(interview)
    assert report["questions"][0]["skipped"] and report["questions"][0]["score"] == 0 and report["complete"]
    with pytest.raises(BadInput, match="over"):
        interview.skip()


def test_end_early_reports_only_what_was_answered(make):
    interview = make(questions=5, follow_ups=0)
    interview.start()
    interview.submit(strong(interview))
    said = interview.end()
    assert kinds(said) == ["close"] and interview.phase == "report"
    report = build_report(interview)
    assert len(report["questions"]) == 1 and not report["complete"]
    assert report["overall"] == report["questions"][0]["score"]


def test_repeat_and_hint_keep_the_turn_open_and_hints_are_recorded(make):
    interview = make(questions=1, follow_ups=0)
    interview.start()
    question = interview.prompt.question
    assert interview.repeat()[0].text == question.question
    hint = interview.hint()[0].text
    assert hint.startswith("Think about this") and question.answer not in hint
    interview.submit(strong(interview))
    assert build_report(interview)["questions"][0]["hints"] == 1


def test_same_seed_same_questions(make):
    a, b = make(seed=3), make(seed=3)
    a.start(), b.start()
    assert a.prompt.question.id == b.prompt.question.id


def test_earlier_sessions_favour_unseen_and_name_what_was_missed(store, bank):
    rlhf = [q for q in bank.questions if q.topic == "rlhf" and q.level == "mid"]
    seen, weak = rlhf[0], rlhf[1]
    past = {q.id: Past(10, ()) for q in rlhf if q is not weak}
    past[weak.id] = Past(2, (weak.key_points[0],))
    interview = Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), level="mid"), past=past)
    said = interview.start()
    assert interview.prompt.question == weak  # every other mid question was mastered
    assert f"Last time you missed this: {weak.key_points[0]}" in said[1].text
    assert seen != weak


def test_unknown_topic_or_level_names_the_choices(store):
    with pytest.raises(BadInput, match="rlhf"):
        Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("astrology",)))
    with pytest.raises(BadInput, match="|".join(LEVELS)):
        SessionOptions(topics=("rlhf",), level="guru")


def test_resume_after_the_process_is_gone(store, tmp_path):
    db = tmp_path / "sessions.sqlite"
    first = SessionStore(db).attach(
        Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), questions=3, follow_ups=0)))
    first.start()
    first.submit(strong(first))
    open_prompt = first.prompt
    del first  # the process is gone; only the database remains
    again = SessionStore(db).load(next(iter(SessionStore(db).sessions()))["id"], store, Grader(FakeEmbedder()))
    assert again.phase == "listen" and again.prompt == open_prompt and len(again.turns) == 1
    while not again.done:
        again.submit(strong(again))
    assert len({t.question.id for t in again.turns}) == 3
    assert SessionStore(db).sessions()[0]["status"] == "done"


def test_grade_comes_out_before_the_next_line(make):
    """`answer` grades and stops; `advance` then says what is next. The phraser runs only in `advance`."""
    calls = []
    interview = make(questions=2)
    interview.phrase = lambda question, missed, ask: calls.append(ask) or f"So, {ask}"
    interview.start()
    said = interview.answer("Humans are involved somehow.")
    assert kinds(said) == ["grade"] and interview.phase == "grade" and interview.prompt is None and not calls
    with pytest.raises(BadInput):
        interview.skip()  # nothing is open between the grade and the next line
    said = interview.advance()
    assert kinds(said) == ["follow_up"] and said[0].text.startswith("So, ") and len(calls) == 1
    assert interview.phase == "listen" and interview.prompt.kind == "follow_up"


@pytest.mark.parametrize("answer", ["strong", "Humans are involved somehow.", ""])
def test_likely_next_foresees_what_is_said(make, answer):
    """The lines prepared while the candidate talks include the acknowledgement and the next prompt that
    really follow, whatever the grade (strong: harder question; weak: follow-up; empty: easier question)."""
    interview = make(questions=3)
    interview.start()
    foreseen = interview.likely_next()
    said = interview.submit(strong(interview) if answer == "strong" else answer)
    assert said[0].text in foreseen and said[1].text in foreseen
    follow_ups_off = make(questions=3, follow_ups=0)
    follow_ups_off.start()
    foreseen = follow_ups_off.likely_next()
    assert all(line in foreseen for line in (s.text for s in follow_ups_off.submit(answer)))


def test_resume_between_grade_and_next_line(store, tmp_path):
    """Killed after the grade was saved but before the next line: resuming goes on to the next question."""
    db = tmp_path / "sessions.sqlite"
    first = SessionStore(db).attach(
        Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), questions=3, follow_ups=0)))
    first.start()
    first.answer(strong(first))
    del first
    again = SessionStore(db).load(SessionStore(db).sessions()[0]["id"], store, Grader(FakeEmbedder()))
    assert again.phase == "grade" and len(again.turns) == 1
    said = again.advance()
    assert kinds(said) == ["question"] and "Question 2 of 3" in said[0].text and again.phase == "listen"


@pytest.mark.real
def test_scripted_five_question_interview(services):
    """Follow-up after a weak answer, harder after a strong one, no repeats, and a full report."""
    interview = services.new_interview(SessionOptions(topics=("rlhf",), level="fresher", questions=5))
    interview.phrase = None  # the bank's own follow-up prompts: fast and deterministic
    interview.start()
    weak = interview.submit("Humans are involved somehow.")
    assert kinds(weak) == ["grade", "follow_up"]
    interview.submit("I am not sure.")
    level_before = interview.prompt.question.level
    harder = interview.submit(strong(interview))
    assert kinds(harder) == ["grade", "question"]
    assert LEVELS.index(interview.prompt.question.level) == min(LEVELS.index(level_before) + 1, 2)
    while not interview.done:
        interview.submit(strong(interview))
    report = build_report(interview)
    assert len({q["id"] for q in report["questions"]}) == 5
    for key in ("overall", "scoring", "strengths", "weaknesses", "next_steps"):
        assert report[key], key
    assert report["questions"][0]["follow_up"]["prompt"]
    for q in report["questions"]:
        assert {"question", "answer", "score", "covered", "missed", "model_answer"} <= set(q)
    assert report["overall"] == round(sum(q["score"] for q in report["questions"]) / 5, 1)
