"""Follow-up questions phrased by the LLM, within a time budget, with the bank's own prompt as fallback."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from interviewer import text as T
from interviewer.backends import LLM
from interviewer.errors import InterviewerError
from interviewer.knowledge.schema import Question
from interviewer.types import Message

PROMPTS = Path(__file__).parent / "prompts"


@cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(PROMPTS), undefined=StrictUndefined, keep_trailing_newline=True)


def render(name: str, **values) -> str:
    """Render a packaged prompt template; a missing value is an error, not an empty string."""
    return _templates().get_template(name).render(**values)


class FollowUpPhraser:
    """Calls the LLM to phrase a follow-up; falls back to the bank's prompt when slow, failing or leaky."""

    def __init__(self, get_llm: Callable[[], LLM], budget_s: float = 4.0, max_tokens: int = 60) -> None:
        self._get_llm, self.budget_s, self.max_tokens = get_llm, budget_s, max_tokens  # the LLM loads on first use

    def __call__(self, question: Question, missed: list[str], ask: str) -> str:
        prompt = render("follow_up.j2", question=question.question, missed=missed, ask=ask)
        deadline = time.monotonic() + self.budget_s
        llm = self._get_llm()
        if getattr(llm, "busy", False):
            return ask  # another candidate's call holds the model: waiting in line would blow the budget
        pieces = []
        try:
            for piece in llm.stream([Message("user", prompt)], max_tokens=self.max_tokens):
                pieces.append(piece)
                if time.monotonic() > deadline:
                    return ask
        except InterviewerError:
            return ask
        text = " ".join("".join(pieces).split()).strip().strip('"')
        return text if _acceptable(text, missed) else ask


def _acceptable(text: str, missed: list[str]) -> bool:
    """A usable follow-up: a question of sensible length that does not give a missed point away."""
    if not 15 <= len(text) <= 300 or "?" not in text:
        return False
    said = T.content_stems(text)
    for point in missed:
        wanted = T.content_stems(point)
        if wanted and len(wanted & said) / len(wanted) > 0.6:
            return False
    return True
