"""What to ask next: the first question at the chosen level, harder after strong answers and easier after
weak ones, never a repeat, and across sessions a preference for unseen questions and earlier weak spots."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from interviewer import text as T
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


def follow_up_for(question: Question, grade: Grade, made: frozenset[int] = frozenset()) -> tuple[int, str] | None:
    """The key point to follow up (0-based) and the bank's prompt for it: a contradicted point first, then, of
    the missed or partly made points that have a prompt, the one the answer came least close to (the weakest
    evidence, so the most clearly missed); None when nothing useful is missing. Points in `made` (0-based:
    found made since the grade was given) are not asked about.

    Taking the first missed point in the bank's order instead asked about a point the answer had made in other
    words in 14 of 62 follow-ups on tests/data/followup-tuning (a tuning set); the weakest one in 3 of 62. A
    rule, with nothing fitted: on the conversation test set the same change went from 17 of 49 to 5 of 49."""
    prompts: dict[int, str] = {}
    for follow_up in question.follow_ups:
        prompts.setdefault(follow_up.key_point, follow_up.ask)
    for wanted in (("contradicted",), ("missed", "partial")):
        found = [(p.strength, n) for n, p in enumerate(grade.points, 1)
                 if n in prompts and n - 1 not in made and p.status in wanted]
        if found:
            point = min(found)[1]
            return point - 1, prompts[point]
    return None


def points_made(question: Question, grade: Grade, made: Callable[[int], bool], readings: int,
                ) -> frozenset[int]:
    """The key points (0-based) found made when each follow-up, in turn, is checked before it is asked: the
    planned follow-up's point is read with `made` (False also when it could not be read), and while
    the answer turns out to make it, the next follow-up's point is read, up to `readings` of them."""
    found: set[int] = set()
    while len(found) < readings and (target := follow_up_for(question, grade, frozenset(found))) is not None:
        if not made(target[0]):
            break
        found.add(target[0])
    return frozenset(found)


def hint_for(question: Question, used: int, following_up: str = "") -> str:
    """A nudge towards a key point, never its content: the follow-up prompts, in order, then a generic one. On a
    follow-up (`following_up`, the follow-up's words) only the question's other follow-ups on the same key point
    (one on another point nudges away from what is asked: a new user asked for a hint on how cached blocks are
    evicted and was pointed at how they are shared), then the glossary terms its point names that the follow-up
    does not, one at a time (most points have one follow-up, and a new user's hint on one was the generic line)."""
    if following_up:
        point = next((f.key_point for f in question.follow_ups if f.ask == following_up), None)
        hints = [f"Think about this: {f.ask}" for f in question.follow_ups
                 if f.key_point == point and f.ask != following_up]
        said = question.key_points[point - 1] if point and 0 < point <= len(question.key_points) else ""
        hints += [f"Think about where {term} comes in." for term in question.glossary
                  if T.mentions(said, term) and not T.mentions(following_up, term)]
    else:
        hints = [f"Think about this: {f.ask}" for f in question.follow_ups]
    if used < len(hints):
        return hints[used]
    return "Try to explain the mechanism step by step, and say why it matters in practice."

