"""Jargon a speech recogniser misheard, put back before an answer is graded.

A recogniser that does not know a term writes the everyday words it sounds like: "kale" for KL, "rope data" for
rope_theta, "burt" for BERT, "smooth quant" for SmoothQuant. The embedding model then reads a vegetable where
the model answer has a divergence, and the answer loses the points it made. Here each run of up to four plain
words of the answer is compared, by how it sounds, with the terms of the question being answered (its glossary
and the acronyms and names in its text); a run that sounds like a term is replaced by it. How words sound comes
from espeak-ng's phonemes (the ones Piper speaks with, passed in as `sounds`), compared by edit distance.

Only what a recogniser could have misheard is touched: plain words (an acronym, a name in capitals or a token
with a digit or underscore was written on purpose), never across punctuation, never a common English word on its
own ("data" is not beta), never a term the bank spells that way elsewhere ("Mixtral" is not Mistral,
"intrinsic hallucination" is not extrinsic), and never by adding or dropping words ("associative" is not
"non-associative", "the policy" is not "on-policy"). Terms the answer already uses as they are stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from interviewer import text as T

# Both limits were set on the tuneset (tests/data/tuneset: strangers' answers in eight styles to questions the
# check set does not use), reading every replacement made in its 324 answers: at these, the 40 answers in the
# style of a recogniser's transcript gained 0.5 of a mark in the instant grade (6.40 -> 6.88, labels 8.9), and
# the only changes in the other seven styles were spellings of the same term ("layer norm" -> LayerNorm).
SOUNDS_LIKE = 0.25  # phoneme edit distance, as a share of the longer, up to which a run of words sounds like a term
REST_SOUNDS_LIKE = 0.34  # the same for the words that differ, when the run and the term share a word ("kale
# penalty", KL penalty): "vocabulary gives" is not "vocabulary size" nor "left embedding" "non-embedding"
LONGEST_RUN = 4  # words

_PLAIN = re.compile(r"[A-Za-z][a-z'’]+|[a-z]")  # a word as a recogniser writes it: lower case, or a capital first
_TECHNICAL = re.compile(r"(?<![\w'’-])(?=[\w-]*[A-Z][\w-]*[A-Z0-9])[A-Za-z][\w-]*\w")  # KL, RoPE, GPT-3, LoRA
_TRAILING = ",.;:!?"
_MARKS = re.compile(r"[ˈˌːʲ\s.,;:!?'’\"()-]")  # stress, length and palatal marks, pauses: not what a word sounds like


def question_terms(question: str, answer: str, key_points: Iterable[str], glossary: Iterable[str] = ()) -> set[str]:
    """What an answer to this question may name: its glossary, and the acronyms and names in its text."""
    found = set(glossary)
    for part in (question, answer, *key_points):
        found.update(_TECHNICAL.findall(part))
    return found


def bank_terms(texts: Iterable[str], glossary: Iterable[str]) -> set[str]:
    """The terms the bank writes as they are, for `Hearing(known=...)`: its glossaries, and every word of its
    texts with a capital or a digit in it (names and acronyms: Mixtral, GPT-3)."""
    return set(glossary) | {w for text in texts for w in re.findall(r"[\w-]+", text)
                            if any(c.isupper() or c.isdigit() for c in w)}


def _respelled(said: str, term: str) -> bool:
    """Whether the words differ from the term in more than spelling: a quarter of their letters or more."""
    a, b = (re.sub(r"[^a-z0-9]", "", t.lower()) for t in (said, term))
    return Levenshtein.normalized_distance(a, b) >= 0.25


def _stems(text: str) -> frozenset[str]:
    return frozenset(T.content_stems(re.sub(r"[-_]", " ", text)))


@dataclass(frozen=True)
class Mended:
    """An answer with misheard terms put back, and which words were read as which term (those spelled much as
    the term is, "layer norm" or "optimiser state", are left out: nothing there to explain)."""

    text: str
    heard_as: tuple[tuple[str, str], ...] = ()


class Hearing:
    """Puts back the terms of a question in an answer whose words sound like them.

    `sounds` gives a text's phonemes (espeak-ng's, from Piper); `known` are the terms of the whole bank, each
    of which, written as it is, was heard right."""

    def __init__(self, sounds: Callable[[str], str], known: Iterable[str] = ()) -> None:
        self._raw = sounds
        self._known = {_stems(term) for term in known}
        self._sound = lru_cache(maxsize=50_000)(self._sound_of)

    def _sound_of(self, text: str) -> str:
        return _MARKS.sub("", self._raw(re.sub(r"[-_]", " ", text))).replace("ɾ", "t")  # flapped t: "data"

    def mend(self, answer: str, terms: Iterable[str]) -> Mended:
        table = [(t, self._sound(t), len(t.split()), _stems(t)) for t in terms]
        table = [row for row in table if len(row[1]) >= 3]  # "A", "Q": too short to tell by sound
        if not table:
            return Mended(answer)
        tokens = list(re.finditer(r"\S+", answer))
        found = []  # (distance, start, end, term, said)
        for i in range(len(tokens)):
            for k in range(1, LONGEST_RUN + 1):
                run = self._run(tokens[i:i + k], k)
                if run is None:
                    break
                said = " ".join(run)
                stems = _stems(said)
                if not stems or (k == 1 and T.everyday_word(said)):
                    continue
                for term, sound, n, term_stems in table:
                    distance = self._distance(said, stems, term, sound, n, term_stems)
                    if distance is not None:
                        found.append((distance, tokens[i].start(), tokens[i].start() + len(said), term, said))
        taken: list[tuple[int, int, str, str]] = []
        for _, start, end, term, said in sorted(found):  # the closest match first, where runs overlap
            if all(end <= s or start >= e for s, e, _, _ in taken):
                taken.append((start, end, term, said))
        text = answer
        for start, end, term, _ in sorted(taken, reverse=True):
            text = text[:start] + term + text[end:]
        heard = tuple(dict.fromkeys((said, term) for _, _, term, said in sorted(taken) if _respelled(said, term)))
        return Mended(text, heard)

    @staticmethod
    def _run(tokens: list[re.Match], k: int) -> list[str] | None:
        """The plain words of `k` tokens with only spaces between them (the last may end in punctuation)."""
        if len(tokens) < k:
            return None
        words = [t.group().rstrip(_TRAILING) for t in tokens]
        if any(not _PLAIN.fullmatch(w) for w in words):
            return None
        if any(t.group() != w for t, w in zip(tokens[:-1], words[:-1], strict=True)):
            return None
        return words

    def _distance(self, said: str, stems: frozenset[str], term: str, sound: str, n: int,
                  term_stems: frozenset[str]) -> float | None:
        """How far `said` sounds from `term`, or None where it must not be read as the term."""
        if len(said.split()) > 1 and abs(len(said.split()) - n) > 1:
            return None
        distance = Levenshtein.normalized_distance(self._sound(said), sound)
        if distance == 0:
            return 0.0 if said != term else None  # "layer norm", LayerNorm; "gpt three", GPT-3: spelled apart
        a, b = re.sub(r"[^a-z0-9]", "", said.lower()), re.sub(r"[^a-z0-9]", "", term.lower())
        if a == b:
            return distance  # "knowledge cut off", knowledge cutoff: the same letters
        heard = self._sound(said)
        if a in b or b in a or heard in sound or sound in heard or stems <= term_stems or term_stems <= stems:
            return None  # words or a prefix added or dropped: "associative" is not non-associative, "float
            # sixteen" not bfloat16; "adapters" is the adapter already
        if distance > SOUNDS_LIKE:
            return None
        if stems in self._known:
            return None  # a term of the bank, written as the bank writes it: heard right
        shared = stems & term_stems
        if shared:  # only the words that differ must sound alike: "kale penalty", KL penalty
            rest_said = " ".join(w for w in said.split() if not _stems(w) & shared)
            rest_term = " ".join(w for w in re.split(r"[\s_-]+", term) if not _stems(w) & shared)
            if not rest_said or not rest_term or \
                    Levenshtein.normalized_distance(self._sound(rest_said), self._sound(rest_term)) > REST_SOUNDS_LIKE:
                return None
        return distance
