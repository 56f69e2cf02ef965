"""Follow-up phrasing: the LLM's wording is used only when it is a short question that gives nothing away."""

from __future__ import annotations

import jinja2
import pytest

from interviewer.fakes import FakeLLM
from interviewer.phrasing import FollowUpPhraser, render


def test_template_fills_every_value_and_refuses_missing_ones(question):
    text = render("follow_up.j2", question=question.question, missed=["point A", "point B"], ask="Why?")
    assert question.question in text and "- point A" in text and "- point B" in text
    with pytest.raises(jinja2.UndefinedError):
        render("follow_up.j2", question="q", missed=[])


def test_a_good_rephrasing_is_used(question):
    llm = FakeLLM("What keeps the tuned model from drifting too far from where it started?")
    phrase = FollowUpPhraser(lambda: llm)
    ask = question.follow_ups[0].ask
    assert phrase(question, [question.key_points[-1]], ask) == llm.reply
    assert question.question in llm.prompts[0][0].content


def test_a_leak_or_a_non_question_falls_back_to_the_bank(question):
    missed = question.key_points[-1]
    ask = question.follow_ups[0].ask
    assert FollowUpPhraser(lambda: FakeLLM(f"Did you know that {missed}?"))(question, [missed], ask) == ask
    assert FollowUpPhraser(lambda: FakeLLM("Great answer, well done."))(question, [missed], ask) == ask


def test_a_slow_llm_falls_back_to_the_bank(question):
    ask = question.follow_ups[0].ask
    slow = FollowUpPhraser(lambda: FakeLLM("What would happen without it? " * 3), budget_s=-1)
    assert slow(question, [question.key_points[0]], ask) == ask


def test_a_busy_llm_is_not_waited_for(question):
    llm = FakeLLM("What would happen without it?")
    llm.busy = True
    ask = question.follow_ups[0].ask
    assert FollowUpPhraser(lambda: llm)(question, [question.key_points[0]], ask) == ask
    assert llm.prompts == []  # not even asked
