"""How the candidate spoke, from word timestamps: pace, filler words, long pauses, speaking time."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from interviewer.types import Word

FILLERS = ("um", "uh", "er", "erm", "ah", "hmm", "mm", "like", "you know", "i mean", "sort of", "kind of",
           "basically", "actually")
PACE = (120, 160)  # words per minute that listeners find comfortable
LONG_PAUSE_S = 2.0  # a silence between words at least this long counts as a long pause


@dataclass(frozen=True)
class Delivery:
    """Delivery of one spoken answer."""

    words: int
    speaking_s: float  # from the first word's start to the last word's end
    wpm: float
    fillers: int
    filler_words: dict[str, int]
    long_pauses: int
    longest_pause_s: float

    def to_dict(self) -> dict:
        return {**asdict(self), "advice": self.advice()}

    def advice(self) -> str:
        """One or two plain sentences of guidance."""
        tips = []
        if self.words >= 20 and self.wpm > PACE[1]:
            tips.append(f"You spoke at {self.wpm:.0f} words a minute; slowing towards {PACE[1]} helps clarity.")
        elif self.words >= 20 and self.wpm < PACE[0]:
            tips.append(f"You spoke at {self.wpm:.0f} words a minute; {PACE[0]}-{PACE[1]} sounds more confident.")
        if self.words and self.fillers / self.words > 0.05:
            tips.append(f"{self.fillers} filler words; a short silent pause works better than 'um'.")
        if self.long_pauses:
            tips.append(f"{self.long_pauses} long pause(s), the longest {self.longest_pause_s:.1f} s.")
        return " ".join(tips) or f"Good delivery: {self.wpm:.0f} words a minute, few fillers."


def delivery_of(words: tuple[Word, ...] | list[Word]) -> Delivery | None:
    """Delivery metrics for the recognised words of one answer; None when nothing was said."""
    if not words:
        return None
    speaking = max(words[-1].end - words[0].start, 1e-6)
    text = " " + " ".join(_clean(w.text) for w in words) + " "
    counts = {f: len(re.findall(rf"(?<= ){re.escape(f)}(?= )", text)) for f in FILLERS}
    counts = {f: n for f, n in counts.items() if n}
    gaps = [b.start - a.end for a, b in zip(words, words[1:], strict=False)]
    long = [g for g in gaps if g >= LONG_PAUSE_S]
    return Delivery(
        words=len(words), speaking_s=round(speaking, 2), wpm=round(60 * len(words) / speaking, 1),
        fillers=sum(counts.values()), filler_words=counts, long_pauses=len(long),
        longest_pause_s=round(max(gaps, default=0.0), 2),
    )


def _clean(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())
