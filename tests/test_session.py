"""The interview flow on the fake embedder: levels adapt, nothing repeats, the report adds up."""

from __future__ import annotations

import pytest

from interviewer.errors import BadInput
from interviewer.fakes import FakeEmbedder
from interviewer.grader import Grader
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.session import Interview, SessionOptions


@pytest.fixture(scope="module")
def store(tmp_path_factory, bank):
    store = KnowledgeStore(open_client(tmp_path_factory.mktemp("store")), FakeEmbedder())
    store.ingest(bank.questions)
    return store


def _interview(store, **options) -> Interview:
    return Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("rlhf",), **options))


def test_asks_n_distinct_questions_and_averages_scores(store):
    interview = _interview(store, questions=4, level="fresher")
    assert interview.current.level == "fresher"
    while not interview.done:
        interview.answer(interview.current.answer)  # the model answer itself
    report = interview.report()
    ids = [q["id"] for q in report["questions"]]
    assert len(ids) == 4 and len(set(ids)) == 4
    scores = [q["score"] for q in report["questions"]]
    assert report["overall"] == round(sum(scores) / 4, 1)
    with pytest.raises(BadInput):
        interview.answer("too late")


def test_level_goes_up_after_strong_and_down_after_weak(store):
    interview = _interview(store, questions=3, level="mid")
    first = interview.answer(interview.current.answer)
    assert first.grade.score >= 8
    assert interview.current.level == "senior"
    weak = interview.answer("")
    assert weak.grade.score == 0
    assert interview.current.level == "mid"


def test_same_seed_same_questions(store):
    a, b = _interview(store, seed=7), _interview(store, seed=7)
    assert a.current.id == b.current.id


def test_unknown_topic_names_the_known_ones(store):
    with pytest.raises(BadInput, match="rlhf"):
        Interview(store, Grader(FakeEmbedder()), SessionOptions(topics=("astrology",)))
    with pytest.raises(BadInput, match="fresher"):
        SessionOptions(topics=("rlhf",), level="guru")
