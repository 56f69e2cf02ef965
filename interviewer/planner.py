"""What to ask next: the first question at the chosen level, harder after strong answers and easier after
weak ones, never a repeat, and across sessions a preference for unseen questions and earlier weak spots."""

from __future__ import annotations

import random
from dataclasses import dataclass

from interviewer.knowledge.schema import LEVELS, Question
from interviewer.types import Grade

STRONG = 8  # a score from which the next question is one level harder
WEAK = 4  # a score up to which the next question is one level easier


@dataclass(frozen=True)
class Past:
    """What earlier sessions tell the planner about one question."""

    last_score: int | None  # None: asked before but never answered
    missed: tuple[str, ...] = ()  # key points missed the last time it was answered


def next_level(level: str, score: int) -> str:
    """Harder after a strong answer, easier after a weak one, the same otherwise."""
    index = LEVELS.index(level)
    if score >= STRONG:
        index = min(index + 1, len(LEVELS) - 1)
    elif score <= WEAK:
        index = max(index - 1, 0)
    return LEVELS[index]


def pick_question(
    pool: list[Question], asked: set[str], level: str, past: dict[str, Past], seed: int
) -> Question | None:
    """The next question: nearest the wanted level; never asked before, then weak or unanswered ones (for
    review), then strong ones; ties by seed."""
    fresh = [q for q in pool if q.id not in asked]
    if not fresh:
        return None

    def rank(q: Question) -> tuple[int, int, int]:
        distance = abs(LEVELS.index(q.level) - LEVELS.index(level))
        history = past.get(q.id)
        familiarity = 0 if history is None else 2 if (history.last_score or 0) >= STRONG else 1
        return distance, familiarity, 0

    best = min(rank(q) for q in fresh)
    choices = sorted((q for q in fresh if rank(q) == best), key=lambda q: q.id)
    return random.Random(f"{seed}:{len(asked)}").choice(choices)


def follow_up_for(question: Question, grade: Grade) -> tuple[int, str] | None:
    """The key point to follow up (0-based) and the bank's prompt for it: a contradicted point first, then
    the first missed or partly made one that has a prompt; None when nothing useful is missing."""
    status = {i + 1: p.status for i, p in enumerate(grade.points)}
    for wanted in (("contradicted",), ("missed", "partial")):
        for follow_up in question.follow_ups:
            if status.get(follow_up.key_point) in wanted:
                return follow_up.key_point - 1, follow_up.ask
    return None


def hint_for(question: Question, used: int) -> str:
    """A nudge towards a key point, never its content: the follow-up prompts, in order, then a generic one."""
    prompts = [f.ask for f in question.follow_ups]
    if used < len(prompts):
        return f"Think about this: {prompts[used]}"
    return "Try to explain the mechanism step by step, and say why it matters in practice."
