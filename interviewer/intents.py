"""What the candidate meant by what they just said, before anything is graded: an answer, or talking back.

Cheap rules first. Each rule is a phrase family people use in a live interview; a rule is trusted only on
a short utterance, where the phrase is the whole point of it. What no rule settles with confidence (a
question back that may be a tentative answer, say) is left to the LLM with `confident=False`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from interviewer import text as T

Intent = Literal["answer", "clarify", "repeat", "skip", "hint", "dont_know", "stop"]
INTENTS: tuple[Intent, ...] = ("answer", "clarify", "repeat", "skip", "hint", "dont_know", "stop")
COMMAND_WORDS = 18  # a longer utterance is an answer unless it opens with a command

_PATTERNS: tuple[tuple[Intent, str], ...] = (
    ("stop", r"\b(let'?s|can we|could we|i('d| would) like to|i (want|need) to|i have to|time to)\s+(stop|end|finish|"
             r"wrap (it )?up|call it|quit)\b|\b(stop|end|finish|quit) (the|this) (interview|session)\b|"
             r"\bthat'?s (enough|all) for (today|now)\b|\bi'?m done for (today|now)\b|^\W*(stop|quit|exit)\W*$"),
    ("repeat", r"\b(repeat|say (that|it) again|come again|pardon|one more time|didn'?t (catch|hear|get) (that|it|the"
               r" question|what you said)|missed (that|it|the (question|last part|end))|what was the question|"
               r"(re-?)?read (it|that|the question) (again|out)|again,? please)\b"),
    ("hint", r"\b(hint|nudge|clue|pointers?|tip)\b|\bhelp me (out|get started|start)\b|\bwhere (do|should) i "
             r"(start|begin)\b|\bwhat should i (be )?(think(ing)?|focus(ing)?) (about|on)\b|\bpoint me\b"),
    ("skip", r"\bskip\b|^\W*(i'?ll |i will |let me |i'?d rather )?pass\b|\bpass on (this|that)\b|"
             r"\bnext (question|one)\b|\bmove on\b|\b(another|a different) (question|one)\b|"
             r"\bgo to the next\b"),
    ("clarify", r"\b(what|which) do you mean\b|\bdo you mean\b|\bwhen you say\b|\bare you asking\b|\bclarify\b|"
                r"\bnot sure what you mean\b|\b(don'?t|do not) (understand|get) (the|your|this) question\b|"
                r"\bwhat (is|are) (meant|you asking)\b|\bdo you want (me to|the|a)\b|\bshould i (talk|focus|"
                r"explain|cover|describe|go into|include)\b|\bis (this|the question|that) (about|asking)\b|"
                r"\bwhat(?:'s| is| are) (a |an |the )?[\w\- ]{1,30}\?\s*$|\bwhat exactly\b.*\?"),
    ("dont_know", r"\b(i\s*(do\s*not|don'?t|dont)\s*know|no idea|no clue|not sure|never heard|not familiar|"
                  r"can'?t remember|cannot remember|don'?t remember|draw(ing)? a blank|(mind|i'?m|i am|going) blank|"
                  r"haven'?t (learned|studied|"
                  r"seen|come across))\b"),
)
_RULES = tuple((intent, re.compile(pattern, re.IGNORECASE)) for intent, pattern in _PATTERNS)
# When an utterance matches several rules, the more specific request wins: "I don't know, any hint?" asks
# for the hint, "no idea, let's skip it" skips.
_PRECEDENCE: tuple[Intent, ...] = ("stop", "repeat", "hint", "skip", "clarify", "dont_know")


@dataclass(frozen=True)
class Reading:
    """The intent read from an utterance, and whether the rules are sure of it."""

    intent: Intent
    confident: bool


def read_intent(utterance: str) -> Reading:
    """The intent of what the candidate said while a question is open."""
    said = " ".join(utterance.split())
    words = T.words(said)
    if not words:
        return Reading("answer", True)  # silence: graded as no answer
    found = {intent for intent, rule in _RULES if rule.search(said)}
    short = len(words) <= COMMAND_WORDS
    opening = {intent for intent, rule in _RULES if rule.search(" ".join(said.split()[:8]))}
    if not short:
        found &= opening - {"dont_know"}  # a long answer may say "I'm not sure" along the way
        if "dont_know" in opening and T.is_dont_know(said):
            found.add("dont_know")
    if "dont_know" in found and len(T.content_stems(said)) >= 8 and not (found - {"dont_know"}):
        found.discard("dont_know")  # "I'm not sure, but I think the reward model ...": an attempt
    for intent in _PRECEDENCE:
        if intent in found:
            return Reading(intent, True)
    if said.rstrip().endswith("?") and short:
        return Reading("clarify", False)  # a question back, or a tentative answer: the LLM decides
    return Reading("answer", True)
