"""The interview state machine through a harness: feed events, assert phases and what the interviewer says.

Pure logic on the fake embedder (a bag-of-words stand-in), except where marked real.
"""

from __future__ import annotations

import pytest

from interviewer.errors import BadInput
from interviewer.fakes import FakeEmbedder
from interviewer.grader import Grader
from interviewer.knowledge.schema import LEVELS, FollowUp
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.planner import Past
from interviewer.render import report_html, report_markdown
from interviewer.report import build_report
from interviewer.session import Interview, SessionOptions
from interviewer.storage import SessionStore
from interviewer.verdicts import BANDS, letter_for


@pytest.fixture(scope="module")
def store(tmp_path_factory, bank):
    store = KnowledgeStore(open_client(tmp_path_factory.mktemp("store")), FakeEmbedder())
    store.ingest(bank.questions)
    return store


@pytest.fixture
def pool(store):
    return store.questions(topic="rlhf")


@pytest.fixture
def questions(store):
    return {q.id: q for q in store.questions()}


@pytest.fixture
def make(pool):
    def make(**options) -> Interview:
        return Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), **options))
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


def test_a_topic_with_fewer_questions_than_asked_for_says_how_many_it_has(pool):
    """One's own notes may yield two questions: asking for five must not promise five and stop after two."""
    interview = Interview(pool[:2], Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), questions=5))
    said = interview.start()
    assert "2-question interview" in said[0].text and "Question 1 of 2" in said[1].text
    said = interview.submit(strong(interview))
    assert "Question 2 of 2" in said[-1].text


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
    assert interview.turns[0].decided_on == "provisional"  # no LLM verified it: the instant grade decided
    [(question, score)] = interview.question_scores()
    follow_grade = interview.turns[-1].grade.score
    assert question == first and score == round(interview.turns[0].grade.score + 0.5 * (follow_grade -
                                                                                          interview.turns[0].grade.score))
    # the report gives that score its own letter and band (it gave the follow-up's letter beside it)
    [q] = build_report(interview)["questions"]
    assert score != follow_grade and q["score"] == score
    assert q["letter"] == letter_for(score) != interview.turns[-1].grade.letter
    assert q["verdict"].startswith(next(words for floor, words in BANDS if score >= floor))


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
    # no follow-up on a point of an answer never given (a new user's empty time-out got one, then another)
    assert interview.prompt.kind == "main" and interview.number == 2
    assert "**Your answer:** (none: time ran out)" in report_markdown(build_report(interview))


def test_skip_on_the_last_question_ends_with_a_report(make):
    interview = make(questions=1)
    interview.start()
    said = interview.skip()
    assert kinds(said) == ["ack", "close"] and interview.done
    report = build_report(interview)
    assert report["questions"][0]["skipped"] and report["questions"][0]["score"] == 0 and report["complete"]
    assert "**Your answer:** (none: you skipped it)" in report_markdown(report)
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


def test_a_hint_on_a_follow_up_nudges_towards_its_own_point(make):
    """A new user asked for a hint on a follow-up about one key point and was given another point's follow-up."""
    interview = make(questions=1)
    interview.start()
    question = interview.prompt.question
    interview.submit(question.answer.split(". ")[0])
    assert interview.prompt.kind == "follow_up"
    asked = next(f for f in question.follow_ups if f.ask == interview.prompt.text)
    same = [f.ask for f in question.follow_ups if f.key_point == asked.key_point and f is not asked]
    point = question.key_points[asked.key_point - 1]
    terms = [t for t in question.glossary if t.lower() in point.lower() and t.lower() not in asked.ask.lower()]
    hints = [interview.hint()[0].text for _ in range(len(same) + len(terms) + 1)]
    assert hints == [f"Think about this: {ask}" for ask in same] + [
        f"Think about where {term} comes in." for term in terms] + [
        "Try to explain the mechanism step by step, and say why it matters in practice."]
    others = [f.ask for f in question.follow_ups if f.key_point != asked.key_point]
    assert others and not any(ask in hint for ask in others for hint in hints)


def test_a_hint_on_a_follow_up_names_a_term_of_its_point_and_never_states_the_point(pool):
    """Most key points have one follow-up: a new user's hint on one was the generic line."""
    from interviewer.conversation import STATES_AT
    from interviewer.planner import hint_for
    from interviewer.text import content_stems, word_share

    question = pool[0].model_copy(update={
        "key_points": ["Hugging Face generate applies temperature first, while llama.cpp applies it last.",
                       *pool[0].key_points[1:]],
        "follow_ups": [FollowUp(key_point=1, ask="Moving settings between inference engines, what do you check?")],
        "glossary": ["temperature", "llama.cpp", "KL penalty"]})
    asked = question.follow_ups[0].ask
    hints = [hint_for(question, n, asked) for n in range(3)]
    assert hints[:2] == ["Think about where temperature comes in.", "Think about where llama.cpp comes in."]
    assert hints[2].startswith("Try to explain")  # "KL penalty" is not in the point
    assert all(word_share(content_stems(question.key_points[0]), content_stems(h)) < STATES_AT for h in hints)


def test_same_seed_same_questions(make):
    a, b = make(seed=3), make(seed=3)
    a.start(), b.start()
    assert a.prompt.question.id == b.prompt.question.id


def test_earlier_sessions_favour_unseen_then_review_without_reading_out_the_point(pool):
    rlhf = [q for q in pool if q.level == "mid"]
    seen, weak = rlhf[0], rlhf[1]
    past = {q.id: Past(10, ()) for q in rlhf if q is not weak}
    past[weak.id] = Past(2, (weak.key_points[0],))
    interview = Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), level="mid"), past=past)
    said = interview.start()
    assert interview.prompt.question == weak  # every other mid question was mastered
    assert "Last time this one gave you trouble" in said[1].text
    assert weak.key_points[0] not in said[1].text and seen != weak
    past[weak.id] = Past(7, (weak.key_points[0],))  # a good answer with gaps is not called trouble
    said = Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), level="mid"), past=past).start()
    assert "Last time you scored 7 out of 10 on this one; let's make it complete this time." in said[1].text


def test_a_question_asked_before_but_never_answered_does_not_open_the_next_session(pool):
    first = Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), level="mid"))
    first.start()
    opened = first.prompt.question
    second = Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), level="mid"),
                       past={opened.id: Past(None)})
    second.start()
    assert second.prompt.question != opened


def test_unknown_level_names_the_choices(pool):
    with pytest.raises(BadInput, match="|".join(LEVELS)):
        SessionOptions(topics=("rlhf",), level="guru")
    with pytest.raises(BadInput, match="astrology"):
        Interview([], Grader(FakeEmbedder()), SessionOptions(topics=("astrology",)))


def test_resume_after_the_process_is_gone(pool, questions, tmp_path):
    db = tmp_path / "sessions.sqlite"
    first = SessionStore(db).attach(
        Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), questions=3, follow_ups=0)))
    first.start()
    first.submit(strong(first))
    open_prompt = first.prompt
    del first  # the process is gone; only the database remains
    again = SessionStore(db).load(next(iter(SessionStore(db).sessions()))["id"], questions, Grader(FakeEmbedder()))
    assert again.phase == "listen" and again.prompt == open_prompt and len(again.turns) == 1
    while not again.done:
        again.submit(strong(again))
    assert len({t.question.id for t in again.turns}) == 3
    assert SessionStore(db).sessions()[0]["status"] == "done"


def test_grade_comes_out_before_the_next_line(make):
    """`answer` grades and stops; `plan` says what is next without doing it; `advance` does it."""
    interview = make(questions=2)
    interview.start()
    said = interview.answer("Humans are involved somehow.")
    assert kinds(said) == ["grade"] and interview.phase == "grade" and interview.prompt is None
    with pytest.raises(BadInput):
        interview.skip()  # nothing is open between the grade and the next line
    plan = interview.plan()
    assert plan.kind == "follow_up" and interview.phase == "grade"
    said = interview.advance(plan)
    assert kinds(said) == ["follow_up"] and said[0].text == plan.ask and plan.ask
    assert interview.phase == "listen" and interview.prompt.kind == "follow_up"


def test_a_verified_grade_replaces_the_instant_one_and_decides(make):
    from dataclasses import replace

    interview = make(questions=2)
    interview.start()
    [graded] = interview.answer("Humans are involved somehow.")
    assert graded.grade.score < 8 and interview.turns[-1].verification == "pending"
    better = replace(graded.grade, score=9, verified=True)
    interview.verified(better)
    turn = interview.turns[-1]
    assert turn.grade == better and turn.provisional == graded.grade and turn.verified
    assert interview.plan().kind == "next"  # 9 needs no follow-up
    interview.advance()
    assert interview.turns[0].decided_on == "verified"


def test_an_unverified_grade_stands_with_its_reason(make):
    interview = make(questions=2)
    interview.start()
    [graded] = interview.answer("Humans are involved somehow.")
    interview.verified(None, "the model did not answer within 10 s")
    turn = interview.turns[-1]
    assert turn.grade == graded.grade and turn.verification == "not verified: the model did not answer within 10 s"


def test_talking_back_is_recorded_and_never_graded(make):
    interview = make(questions=2)
    interview.start()
    interview.clarify("What do you mean by reward?", "I mean the score the reward model gives.")
    interview.repeat()
    said = interview.dont_know("no idea")
    assert "hint" in said[0].text and interview.phase == "listen"  # the first time: an offer
    assert [e.kind for e in interview.exchanges] == ["ask", "clarify", "repeat", "dont_know"]
    assert interview.turns == []
    assert said[0].text.endswith("shall we move on to the next question?")
    said = interview.dont_know("still no idea")  # the second time: move on, scored 0, no follow-up
    assert kinds(said)[-1] == "question" and interview.turns[-1].grade.score == 0
    said = interview.dont_know("no idea either")  # on the last question there is no next one to offer
    assert said[0].text == "That's fine. Would you like a hint, or shall we finish here?"
    said = interview.dont_know("no")
    assert said[0].text == "No problem, let's finish here." and kinds(said)[-1] == "close"
    report = build_report(interview)
    assert [q["skipped"] for q in report["questions"]] == [True, True]
    assert "**Your answer:** (none: you said \"still no idea\" and moved on)" in report_markdown(report)
    assert "(none: you said &quot;no&quot; and moved on)" in report_html(report)


def test_the_session_list_does_not_count_a_skipped_question_as_answered(make, tmp_path):
    store = SessionStore(tmp_path / "sessions.sqlite")
    interview = store.attach(make(questions=3, follow_ups=0))
    interview.start()
    interview.submit(strong(interview))
    interview.skip()
    [row] = store.sessions()
    assert (row["answered"], row["skipped"], row["questions"], row["status"]) == (1, 1, 3, "open")


def test_an_answer_is_kept_before_it_is_graded(make, tmp_path, questions):
    db = tmp_path / "sessions.sqlite"
    interview = SessionStore(db).attach(make(questions=2))
    interview.start()

    class Crash(Exception):
        pass

    def crash(*_):
        raise Crash

    interview.grader.grade = crash  # the process dies while grading
    with pytest.raises(Crash):
        interview.answer("Rewards come from a model trained on human comparisons.")
    again = SessionStore(db).load(interview.id, questions, Grader(FakeEmbedder()))
    assert again.phase == "listen" and again.pending["answer"].startswith("Rewards come from")


def test_a_probe_asks_about_what_the_candidate_raised(make, pool, store):
    interview = make(questions=3)
    interview.start()
    interview.answer(strong(interview))
    other = next(q for q in store.questions(topic="dpo"))
    plan = interview.plan(related=[("DPO", other)])
    assert plan.kind == "probe" and plan.question == other
    said = interview.advance(plan)
    assert said[0].text.startswith("Question 2 of 3. You mentioned DPO.") and interview.prompt.question == other


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


def test_resume_between_grade_and_next_line(pool, questions, tmp_path):
    """Killed after the grade was saved but before the next line: resuming goes on to the next question."""
    db = tmp_path / "sessions.sqlite"
    first = SessionStore(db).attach(
        Interview(pool, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), questions=3, follow_ups=0)))
    first.start()
    first.answer(strong(first))
    del first
    again = SessionStore(db).load(SessionStore(db).sessions()[0]["id"], questions, Grader(FakeEmbedder()))
    assert again.phase == "grade" and len(again.turns) == 1
    said = again.advance()
    assert kinds(said) == ["question"] and "Question 2 of 3" in said[0].text and again.phase == "listen"


@pytest.mark.real
def test_scripted_five_question_interview(services):
    """Follow-up after a weak answer, harder after a strong one, no repeats, and a full report."""
    interview = services.new_interview(SessionOptions(topics=("rlhf",), level="fresher", questions=5))
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


def test_history_and_report_suggest_only_topics_the_candidate_chose(make, store, tmp_path):
    """A probe into another topic is scored in history under that topic, but practising it is never suggested,
    by history or by the report: the candidate did not choose it."""
    interview = SessionStore(tmp_path / "sessions.sqlite").attach(make(questions=2))
    interview.start()
    interview.answer(strong(interview))
    other = next(q for q in store.questions(topic="dpo"))
    interview.advance(interview.plan(related=[("DPO", other)]))
    interview.submit("")  # the probe into DPO scores 0, the weakest topic by far
    history = SessionStore(tmp_path / "sessions.sqlite").history()
    assert {row["topic"] for row in history["scores"]} == {"rlhf", "dpo"}
    assert history["suggestion"]["topic"] == "rlhf"
    report = build_report(interview)
    assert "Practise again: make interview TOPIC=rlhf" in report["next_steps"]


def test_history_counts_no_question_walked_away_from_and_no_point_a_follow_up_recovered(make, tmp_path):
    """A new user's abandoned session (time ran out on nothing said) was suggested for practice at 0.0/10, and
    "missed most often" counted a point they had made in the follow-up."""
    db = tmp_path / "sessions.sqlite"
    left = SessionStore(db).attach(make(questions=1))
    left.start()
    left.submit("", timed_out=True)
    assert SessionStore(db).history()["scores"] == [] and SessionStore(db).history()["weakest_points"] == []

    interview = SessionStore(db).attach(make(questions=1))
    interview.start()
    question = interview.prompt.question
    interview.submit("Humans are involved somehow.")
    assert interview.prompt.kind == "follow_up"
    point = question.key_points[next(f.key_point for f in question.follow_ups if f.ask == interview.prompt.text) - 1]
    assert point in {p["point"] for p in SessionStore(db).history()["weakest_points"]}  # missed, for now
    interview.submit(point)  # the follow-up answered with the point itself
    assert point not in {p["point"] for p in SessionStore(db).history()["weakest_points"]}
    assert len(SessionStore(db).history()["scores"]) == 1


def test_the_follow_up_asks_for_the_point_most_clearly_missed(pool):
    """Of the missed points with a prompt, the one the answer came least close to: a point listed first but made
    in other words (weak evidence, not none) is not asked for again; a contradiction comes before any of them."""
    from interviewer.planner import follow_up_for
    from interviewer.types import Grade, PointResult

    question = next(q for q in pool if len({f.key_point for f in q.follow_ups}) >= 2)
    first, second = list(dict.fromkeys(f.key_point for f in question.follow_ups))[:2]  # the bank's order
    ask = {f.key_point: f.ask for f in reversed(question.follow_ups)}

    def graded(**points) -> Grade:
        results = tuple(PointResult(p, "covered", strength=0.9) for p in question.key_points)
        results = tuple(PointResult(r.point, points[f"p{n}"][0], strength=points[f"p{n}"][1]) if f"p{n}" in points
                        else r for n, r in enumerate(results, 1))
        return Grade(3, "D", results, "", "", "low")

    said_in_other_words = graded(**{f"p{first}": ("missed", 0.45), f"p{second}": ("missed", 0.05)})
    assert follow_up_for(question, said_in_other_words) == (second - 1, ask[second])
    contradicted = graded(**{f"p{first}": ("missed", 0.05), f"p{second}": ("contradicted", 0.6)})
    assert follow_up_for(question, contradicted) == (second - 1, ask[second])
    assert follow_up_for(question, graded()) is None  # nothing missed: no follow-up


def test_the_report_describes_a_question_by_the_answer_its_score_comes_from():
    """A follow-up answer that graded lower (the candidate then said top-k and top-p "are the same thing") does
    not lower the question's score, so its points must not stand beside that score in the report."""
    from types import SimpleNamespace

    from interviewer.report import final_turn

    def turn(kind: str, score: int, skipped: bool = False):
        return SimpleNamespace(kind=kind, skipped=skipped, grade=SimpleNamespace(score=score))

    main = turn("main", 8)
    worse, better, same, skipped = turn("follow_up", 5), turn("follow_up", 9), turn("follow_up", 8), \
        turn("follow_up", 10, skipped=True)
    assert final_turn([main, worse]) is main
    assert final_turn([main, better]) is better
    assert final_turn([main, same]) is same  # graded with the first answer, it describes both
    assert final_turn([main, skipped]) is main
