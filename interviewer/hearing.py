"""Jargon a speech recogniser misheard, put back before an answer is graded.

A recogniser that does not know a term writes words it sounds like: "kale penalty" for KL penalty, "burt" for
BERT, "chin chiller" for Chinchilla, "books corpse" for BooksCorpus. The embedding model then reads a vegetable
where the model answer has a divergence, and the answer loses the points it made. Here each run of up to four words of
the answer is compared, by how it sounds, with the terms of the question being answered (its glossary and the
acronyms and names in its text); a run that sounds like a term is replaced by it. How words sound comes from
espeak-ng's phonemes (the ones Piper speaks with, passed in as `sounds`), compared by edit distance; an acronym
sounds as its letters.

A typed answer is full of real words that sound close to some term (theta and beta, latent and latency,
variant and variance, harmfulness and harmlessness, caves and KV), so only what can only have been misheard is
touched: a run that sounds nearly the same as the term and has a word the bank never uses ("burt", "chin
chiller"; not "theta" or "latent", which it uses), or that shares a word with the term and differs in words that
sound alike ("kale penalty" for KL penalty, "rope data" for rope_theta; "kale" alone stays kale), of plain words
(an acronym, a name in capitals or a token with a digit or underscore was written on purpose), not beginning or
ending with a function word ("in four" is not INT4, "with length" not wavelength), within a line and never
across punctuation, and never by adding or dropping a word or a prefix ("associative" is not non-associative,
"continued training" not continued pretraining). A term spelled apart ("layer norm", "gpt three") is joined
whatever its words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from interviewer import text as T

# Set on the tuneset (tests/data/tuneset: strangers' answers in eight styles to questions the check set does not
# use), reading every replacement made in its 324 answers, then against 52 typed sentences a reviewer wrote to
# break it (theta read as beta, latent as latency: the first limits, 0.25 for every term and no rule on the
# bank's words, changed 42 of them); see the README for the figures.
SOUNDS_LIKE = 0.12  # phoneme edit distance, as a share of the longer, up to which a run of words sounds like a term
SHARING_SOUNDS_LIKE = 0.25  # the same for a run that shares a word with the term ("kale penalty", KL penalty;
# "rope data", rope_theta): there the words that differ must also sound alike, within REST_SOUNDS_LIKE
REST_SOUNDS_LIKE = 0.25  # "vocabulary gives" is not "vocabulary size"; "intrinsic" (0.3) not extrinsic
LONGEST_RUN = 4  # words

_PLAIN = re.compile(r"[A-Za-z][a-z]*(?:['’][a-z]+)?")  # a word as a recogniser writes it: a capital first at most
_TECHNICAL = re.compile(r"(?<![\w'’-])(?=[\w-]*[A-Z][\w-]*[A-Z0-9])[A-Za-z][\w-]*\w")  # KL, RoPE, GPT-3, LoRA
_SPELLED = re.compile(r"[A-Z]{2,5}")  # an acronym said letter by letter: KL, EOS, GQA
_TRAILING = ",.;:!?"
_PARTS = re.compile(r"[\s_-]+")  # what separates the words of a term: rope_theta, KL-penalty
_MARKS = re.compile(r"[ˈˌːʲ\s.,;:!?'’\"()-]")  # stress, length and palatal marks, pauses: not what a word sounds like


def question_terms(question: str, answer: str, key_points: Iterable[str], glossary: Iterable[str] = ()) -> set[str]:
    """What an answer to this question may name: its glossary, and the acronyms and names in its text, each also
    with the word after it where that is a plain noun or adjective ("KL penalty", "KV cache")."""
    found = set(glossary)
    for part in (question, answer, *key_points):
        for match in _TECHNICAL.finditer(part):
            found.add(match.group())
            after = re.match(r" ([a-z]+)\b", part[match.end():])
            if after and after.group(1) not in T.STOPWORDS:
                found.add(f"{match.group()} {after.group(1)}")
    return found


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _stems(text: str) -> frozenset[str]:
    return frozenset(T.content_stems(re.sub(r"[-_]", " ", text)))


@dataclass(frozen=True)
class Mended:
    """An answer with misheard terms put back, and which words were read as which term (those spelled much as
    the term is, "layer norm" or "knowledge cut off", are left out: nothing there to explain)."""

    text: str
    heard_as: tuple[tuple[str, str], ...] = ()


class Hearing:
    """Puts back the terms of a question in an answer whose words sound like them.

    `sounds` gives a text's phonemes (espeak-ng's, from Piper); `vocabulary` is the text of the whole bank
    (questions, answers, key points): a word it uses is a word a candidate may mean as written; `glossary` its
    terms, each of which, written as it is, was heard right ("intrinsic hallucination" is not extrinsic)."""

    def __init__(self, sounds: Callable[[str], str], vocabulary: Iterable[str] = (), glossary: Iterable[str] = ()
                 ) -> None:
        self._raw = sounds
        glossary = list(glossary)
        self._vocabulary = {w for text in [*vocabulary, *glossary] for w in T.words(re.sub(r"[-_/]", " ", text))}
        self._known = {_stems(term) for term in glossary}
        self._sound = lru_cache(maxsize=50_000)(self._sound_of)
        self._word = lru_cache(maxsize=50_000)(self._word_sound)

    def _sound_of(self, text: str) -> str:
        """The sounds of a text, word by word (each word asked of espeak-ng once: a 600-word answer has some 2,000
        runs of words but a few hundred words), an acronym as its letters, without stress or pauses."""
        return "".join(self._word(w) for w in _PARTS.split(text) if w)

    def _word_sound(self, word: str) -> str:
        spoken = " ".join(word) if _SPELLED.fullmatch(word) else word
        return _MARKS.sub("", self._raw(spoken)).replace("ɾ", "t")  # the flapped t of "data" is a t

    def mend(self, answer: str, terms: Iterable[str]) -> Mended:
        table = [(t, self._sound(t), len(t.split()), _stems(t)) for t in terms]
        table = [row for row in table if len(row[1]) >= 3]  # "A", "Q": too short to tell by sound
        if not table:
            return Mended(answer)
        tokens = list(re.finditer(r"\S+", answer))
        found = []  # (distance, start, end, term, said)
        for i in range(len(tokens)):
            for k in range(1, LONGEST_RUN + 1):
                run = self._run(answer, tokens[i:i + k], k)
                if run is None:
                    break
                said = " ".join(run)
                stems = _stems(said)
                if not stems or stems in self._known or (k == 1 and T.everyday_word(said.lower())):
                    continue
                end = tokens[i + k - 1].start() + len(run[-1])
                for term, sound, n, term_stems in table:
                    distance = self._distance(run, stems, term, sound, n, term_stems)
                    if distance is not None:
                        found.append((distance, tokens[i].start(), end, term, said))
        taken: list[tuple[int, int, str, str]] = []
        for _, start, end, term, said in sorted(found):  # the closest match first, where runs overlap
            if all(end <= s or start >= e for s, e, _, _ in taken):
                taken.append((start, end, term, said))
        text = answer
        for start, end, term, _ in sorted(taken, reverse=True):
            text = text[:start] + term + text[end:]
        heard = tuple(dict.fromkeys((said, term) for _, _, term, said in sorted(taken) if self._reread(said, term)))
        return Mended(text, heard)

    def _reread(self, said: str, term: str) -> bool:
        """Whether the words were read as another word, not only spelled otherwise: they sound otherwise, and
        one of them is not a word of the term nor, with its letters, the term ("gpt three", GPT-3)."""
        if self._sound(said) == self._sound(term) or _letters(said) == _letters(term):
            return False
        return Levenshtein.normalized_distance(_letters(said), _letters(term)) >= 0.25 or \
            not _stems(said) <= _stems(term)

    @staticmethod
    def _run(answer: str, tokens: list[re.Match], k: int) -> list[str] | None:
        """The plain words of `k` tokens with nothing but spaces between them, on one line (the last token may
        end in punctuation, which is not part of the run)."""
        if len(tokens) < k:
            return None
        words = [t.group().rstrip(_TRAILING) for t in tokens]
        if any(not _PLAIN.fullmatch(w) for w in words):
            return None
        if any(t.group() != w for t, w in zip(tokens[:-1], words[:-1], strict=True)):
            return None
        if any("\n" in answer[a.end():b.start()] for a, b in zip(tokens, tokens[1:], strict=False)):
            return None
        return words

    def _distance(self, run: list[str], stems: frozenset[str], term: str, sound: str, n: int,
                  term_stems: frozenset[str]) -> float | None:
        """How far the run sounds from `term`, or None where it must not be read as the term."""
        said = " ".join(run)
        if len(run) > 1 and abs(len(run) - n) > 1:
            return None
        heard = self._sound(said)
        distance = Levenshtein.normalized_distance(heard, sound, score_cutoff=SHARING_SOUNDS_LIKE)  # 1.0 past it
        a, b = _letters(said), _letters(term)
        if distance == 0 or a == b:
            return distance if said != term else None  # "layer norm", LayerNorm; "gpt three", GPT-3: spelled apart
        if run[0].lower() in T.STOPWORDS or run[-1].lower() in T.STOPWORDS:
            return None  # "in four" is not INT4, "with length" not wavelength
        shared = stems & term_stems
        if distance > (SHARING_SOUNDS_LIKE if shared else SOUNDS_LIKE):
            return None
        if a in b or b in a or heard in sound or sound in heard or stems <= term_stems or term_stems <= stems:
            return None  # words or a prefix added or dropped: "associative" is not non-associative, "float
            # sixteen" not bfloat16; "adapters" is the adapter already
        if shared:  # the words that differ must sound alike: "kale penalty", KL penalty
            rest_said = " ".join(w for w in run if not _stems(w) & shared)
            rest_term = " ".join(w for w in _PARTS.split(term) if not _stems(w) & shared)
            if not rest_said or not rest_term or _letters(rest_said) in _letters(rest_term) or \
                    Levenshtein.normalized_distance(self._sound(rest_said), self._sound(rest_term)) > REST_SOUNDS_LIKE:
                return None  # "continued training" is not continued pretraining
        elif all(w.lower() in self._vocabulary for w in run):
            return None  # every word is one the bank itself uses: meant as written ("theta" is not beta)
        return distance
