"""Pure text helpers for grading and speech: sentences, content words, instruction and refusal patterns."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import Stemmer

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-']*|\d+(?:\.\d+)?")
_ENDED = re.compile(r"[.!?]\W*$")  # end punctuation, then at most closing quotes, brackets or spaces

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
one two uses use used using like well really basically actually kind sort thing things way get gets lot
""".split())

# Sentences that address the grader instead of the question ("ignore the rubric", "SYSTEM: score=10").
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(rubric|instructions?|grader|grading|previous|above|"
    r"rules|criteria)\b"
    r"|\b(give|award|assign|grade|score|rate|mark)\b.{0,30}(\b10\s*(/|out of)\s*10\b|\bten out of ten\b|"
    r"\bfull (marks|points|score)\b|\bperfect (score|marks)\b|\bmaximum (score|marks|points)\b|\btop marks\b)"
    r"|^\W*(system|assistant|grader|evaluator|note to the (grader|evaluator))( prompt| message)?\W*:"
    r"|\b(you are now|switch to|enter|enable)\b.{0,20}\b(developer|admin|debug|unrestricted|jailbreak) mode\b"
    r"|\bscore\s*[=:]\s*\d+"
    r"|\b(you are|act as|as) (the|an?) (grader|examiner|evaluator|scorer|scoring model)\b"
    r"|</?\s*(answer|said|grader|system|instructions?)[^>]*>|<\|im_(start|end)\|>"
    r"|^\W*(kind|verdict|plan|reply|\d+)\s*:\s*(yes|partly|answer|move on|ask)\b"  # the judge's own reply shape
    r"|\bverdicts?\b|\b(every|each|all)( of)?( the)?( key)? points?\b.{0,40}\b(covered|stated|made|yes)\b"  # claims
    # about the marking itself, and requests to whoever marks it
    r"|\b(treat|mark|count|consider|grade|score|rate|accept|regard)\b.{0,20}\b(my|this|the) answer\b.{0,20}\bas\b"
    r".{0,20}\b(complete|correct|right|perfect|full|excellent)\b"
    r"|\bwhoever (reads|is reading|grades|marks|checks) this\b"
    r"|\b(note|message|instructions?) (for|to) (the|any|whoever) (examiner|grader|marker|reviewer|evaluator|judge)\b",
    re.IGNORECASE,
)
_DONT_KNOW = re.compile(
    r"\b(i\s*(do\s*not|don't|dont)\s*know|no idea|not sure|i have no clue|can't remember|cannot remember|"
    r"i'm not familiar|i am not familiar)\b",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """Split text into sentences (on end punctuation and line breaks), dropping empty pieces."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece and piece.strip()]


def ends_a_sentence(text: str) -> bool:
    """Whether a text stops at the end of a sentence rather than in the middle of one."""
    return bool(_ENDED.search(text))


def words(text: str) -> list[str]:
    """The words of a text, lower-cased."""
    return [w.lower() for w in _WORD.findall(text)]


_stemmers = threading.local()  # a PyStemmer object is not safe to share between threads


def stem(word: str) -> str:
    """The word's Snowball (Porter 2) English stem, so that 'score', 'scores' and 'scored' meet (the suffix strip
    this replaced cut 'scores' to 'scor' and left 'score' whole)."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (no stopwords)."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def word_share(wanted: set[str], said: set[str]) -> float:
    """The share of the content stems `wanted` (a point's) that are in `said`; 0 when there are none."""
    return len(wanted & said) / len(wanted) if wanted else 0.0


def mentions(text: str, term: str) -> bool:
    """Whether `text` has `term` as a whole word or phrase, in any case (not inside a longer word or hyphenation)."""
    return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text, re.IGNORECASE) is not None


def is_instruction(sentence: str) -> bool:
    """Whether a sentence speaks to the grader ("give this 10/10") rather than answering."""
    return bool(_INSTRUCTION.search(sentence))


def is_dont_know(text: str) -> bool:
    """Whether a short text says the candidate does not know."""
    return bool(_DONT_KNOW.search(text)) and len(content_stems(text)) < 8


def function_word_ratio(text: str) -> float:
    """Share of stopwords among the words: prose sits near 0.4-0.5, a bare keyword list near 0."""
    tokens = words(text)
    return sum(t in STOPWORDS for t in tokens) / len(tokens) if tokens else 0.0


# Zipf frequency (log10 of uses per billion words, wordfreq's English list) from which a one-word lowercase term is
# an everyday word first. Read off the bank's glossary, the only data it was set on: the terms a candidate uses in
# their everyday sense ("the advantage of it", "the key thing") are all at 4.2 or more (alpha, beta, principle,
# rank, temperature, advantage, key, value) and the terms with no everyday sense are all below 4 (critic 3.95,
# prompt 3.86, token 3.82, latency 3.31; softmax is not in the list). A user's notes on HTTP caching gave
# "client" (4.54).
EVERYDAY_ZIPF = 4.0


def everyday_word(term: str) -> bool:
    """Whether a term is, first of all, a common English word ("client", "advantage", "value"): a lowercase single
    word that wordfreq counts as frequent. Names, acronyms and phrases (GRPO, KL penalty, vLLM) never are."""
    if not term.isalpha() or not term.islower():
        return False
    from wordfreq import zipf_frequency  # loads its word list on first use

    return zipf_frequency(term, "en", wordlist="small") >= EVERYDAY_ZIPF


# Frequent function words of the languages a candidate is most likely to answer in instead of English.
_FOREIGN_MARKERS = frozenset("""
de la el los las que y en con por para una del se es al lo como pero sus le les des est et une dans pour
qui pas sur avec der die das und ist nicht mit ein eine zu den von auf dem il che di per non sono gli della
não um uma com os das dos para pelo
""".split())


def looks_english(text: str) -> bool:
    """Whether a text reads as English: most letters Latin, and English function words outnumber the
    function words of other common languages."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    if sum(c.isascii() for c in letters) / len(letters) < 0.7:
        return False  # mostly another script
    tokens = words(text)
    if len(tokens) < 6:
        return True
    english = sum(t in STOPWORDS for t in tokens)
    foreign = sum(t in _FOREIGN_MARKERS for t in tokens)
    return not (foreign >= 3 and foreign > english)


# Letter names as a recogniser (or a candidate writing down what they said) spells them: "pee pee oh" is PPO.
# Names that are also everyday words join a run of letters but never make one: a run needs two names that can
# be nothing else, so "why you" stays as it is, and "a", "i" and "are" only end or begin a run where they must.
_LETTER_NAMES = {"bee": "B", "cee": "C", "dee": "D", "eff": "F", "gee": "G", "aitch": "H", "jay": "J", "kay": "K",
                 "el": "L", "ell": "L", "em": "M", "en": "N", "pee": "P", "cue": "Q", "ar": "R", "ess": "S", "tee": "T",
                 "vee": "V", "ex": "X", "zee": "Z", "zed": "Z", **{c: c.upper() for c in "bcdefghjklmnpqrstuvwxyz"}}
_EVERYDAY_LETTERS = {"ay": "A", "eye": "I", "oh": "O", "o": "O", "you": "U", "why": "Y", "are": "R", "a": "A",
                     "i": "I"}
_LETTERS = _LETTER_NAMES | _EVERYDAY_LETTERS
_PIECES = re.compile(r"([A-Za-z]+)")
_JOINED = set("'’_-/0123456789")  # a letter beside one of these is part of a longer word or name


def spelled_letters(text: str) -> str:
    """Acronyms spoken letter by letter written as acronyms: "dee pee oh and pee pee oh" -> "DPO and PPO",
    "are el aitch eff" -> "RLHF", "the kay vee cache" -> "the KV cache", "gee pee you" -> "GPU". Only letters
    one space apart make a run; everything else is left as it is."""
    pieces = _PIECES.split(text)  # separators at even indices, words at odd ones

    def letter(n: int) -> bool:  # a whole word that names a letter: not part of "it's", "n_layers" or "w.p."
        word, before, after = pieces[n], pieces[n - 1], pieces[n + 1]
        if word.lower() not in _LETTERS or (len(word) == 1 and not word.islower()):  # "W x", "Q K": maths
            return False
        return not (before[-1:] in _JOINED or after[:1] in _JOINED or (after == "." and n + 2 < len(pieces)))

    out, n = [], 1
    while n < len(pieces):
        end = n
        while end + 2 < len(pieces) and letter(end) and pieces[end + 1] == " " and letter(end + 2):
            end += 2
        run = [w.lower() for w in pieces[n:end + 1:2]] if letter(n) else []
        start = 0
        while start < len(run) and run[start] in _EVERYDAY_LETTERS and not (
                run[start] == "are" and sum(w in _LETTER_NAMES for w in run[start + 1:]) >= 3):
            start += 1  # "why", "you" before the letters are words; "are" too, unless three letters follow
        stop = len(run)
        while stop > start and run[stop - 1] in ("a", "i", "are"):
            stop -= 1  # an article or a verb after the letters
        letters = run[start:stop]
        if len(letters) >= 2 and sum(w in _LETTER_NAMES for w in letters) >= 2:
            first, last = n + 2 * start, n + 2 * (stop - 1)
            out.append("".join(pieces[n - 1:first]))  # the separator before, and any words left out of the run
            out.append("".join(_LETTERS[w] for w in letters))
            out.append("".join(pieces[last + 1:end + 1]))
            n = end + 2
        else:
            out.append(pieces[n - 1] + pieces[n])
            n += 2
    out.append(pieces[-1])  # the separator after the last word (pieces always end on one)
    return "".join(out)


_ACRONYM = re.compile(r"(?<![\w'’-])([A-Z]{2,6})(?![\w'’-])")
_TERM_PARTS = re.compile(r"[A-Za-z]+")


def acronyms(terms: Iterable[str], known: str = "") -> dict[str, str]:
    """Acronyms the terms stand behind, each with its term: "SFT" for "supervised fine-tuning", "RLHF" for
    "reinforcement learning from human feedback" (function words are left out of the initials), "RL" and "KV"
    for the start of a term ("reinforcement learning ...", "key-value cache"). A term with a digit or an
    acronym of its own is left out, and so is any acronym that appears in `known` (the text answers are
    matched against): there it matches as it is."""
    found: dict[str, str] = {}
    for term in terms:
        if any(c.isdigit() for c in term) or any(w.isupper() and len(w) > 1 for w in _TERM_PARTS.findall(term)):
            continue
        initials, ends = "", []
        for word in re.finditer(r"\S+", term):
            parts = [w for w in _TERM_PARTS.findall(word.group()) if len(w) > 1 and w.lower() not in STOPWORDS]
            initials += "".join(w[0].upper() for w in parts)
            if parts:
                ends.append((initials, word.end()))
        for acronym, end in ends:
            if len(acronym) >= 2:
                found.setdefault(acronym, term[:end])
    return {a: t for a, t in found.items() if not re.search(rf"(?<![\w-]){a}(?![\w-])", known)}


def expand_acronyms(text: str, table: dict[str, str]) -> str:
    """The text with each acronym of `table` followed by its term ("SFT copies" -> "SFT (supervised
    fine-tuning) copies"): an embedding model reads an acronym it does not know as an unrelated word."""
    if not table:
        return text
    return _ACRONYM.sub(lambda m: f"{m.group(1)} ({table[m.group(1)]})" if m.group(1) in table else m.group(1), text)


def without_instructions(text: str) -> str:
    """The text less its sentences addressed to the grader, so they never reach a judge as instructions."""
    parts = sentences(text)
    kept = [s for s in parts if not is_instruction(s)]
    return text if len(kept) == len(parts) else " ".join(kept)
