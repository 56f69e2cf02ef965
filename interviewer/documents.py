"""The user's own material as plain text in passages: Markdown, plain text, HTML and PDF files.

A passage is a run of whole paragraphs of about a spoken answer's length, the unit that is embedded into
the store, retrieved for a generated question and cited by it. Its id is a hash of its text, so preparing
a changed file again touches only the passages that changed. Every refusal names the file and says what
to do; nothing here calls a model.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from interviewer import text as T
from interviewer.errors import BadInput

MAX_DOCUMENT_MB = 20  # a file larger than this is refused before it is read
MAX_DOCUMENT_WORDS = 60_000  # about 120 pages; more is refused (split the material into several topics)
MIN_DOCUMENT_WORDS = 40  # fewer words than this cannot carry a question and its model answer
PASSAGE_WORDS = (60, 180)  # a passage is at least this long (unless the document is shorter) and at most
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".rst": "text",
            ".html": "html", ".htm": "html", ".pdf": "pdf"}


@dataclass(frozen=True)
class Passage:
    """A stretch of a document: its id (a hash of its text), the file it came from and where in it."""

    id: str
    source: str
    index: int
    text: str


@dataclass(frozen=True)
class Document:
    """A file's text, its name as the user knows it, and a hash of the text."""

    source: str
    text: str

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def passages(self) -> list[Passage]:
        return [Passage(passage_id(chunk), self.source, n, chunk) for n, chunk in enumerate(split(self.text))]


def passage_id(text: str) -> str:
    return "p" + hashlib.sha256(text.encode()).hexdigest()[:12]


def from_text(text: str, source: str = "pasted text") -> Document:
    """Pasted text as a document, checked like a file."""
    return _checked(source, text)


def read(path: Path) -> Document:
    """A file's text, or BadInput naming the file and what to do."""
    return _checked(path.name, _file_text(path))


def _file_text(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    name = path.name
    if kind is None:
        known = ", ".join(sorted(SUFFIXES))
        raise BadInput(f"{name}: this kind of file cannot be read ({path.suffix or 'no extension'}); give one of "
                       f"{known}, or paste its text")
    if not path.is_file():
        raise BadInput(f"{name}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"{name}: the file is empty; give a file with the material to be asked about")
    if size > MAX_DOCUMENT_MB * 2**20:
        raise BadInput(f"{name}: {size / 2**20:.0f} MB is more than the {MAX_DOCUMENT_MB} MB a document may have; "
                       "split it, or give only the chapters you want to be asked about")
    raw = path.read_bytes()
    if kind == "pdf":
        text = _pdf_text(name, raw)
    else:
        if b"\x00" in raw[:8192]:
            raise BadInput(f"{name}: this looks like a binary file, not {kind}; give the document as text, "
                           "Markdown, HTML or PDF")
        try:
            decoded = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        text = _html_text(decoded) if kind == "html" else decoded
    return text


def _pdf_text(name: str, raw: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not raw.startswith(b"%PDF"):
        raise BadInput(f"{name}: this is not a PDF (it does not start with %PDF); save it as PDF again or give "
                       "its text")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadInput(f"{name}: the PDF is protected by a password; save a copy without the password and "
                           "give that")
        pages = [page.extract_text() or "" for page in reader.pages]
    except BadInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise BadInput(f"{name}: the PDF cannot be read ({error}); save it as PDF again or give its text") from error
    except Exception as error:  # pypdf raises many kinds on damaged files (and on encryption it cannot open)
        raise BadInput(f"{name}: the PDF cannot be read ({type(error).__name__}: {error}); save it again or "
                       "give its text") from error
    text = "\n\n".join(pages)
    if not T.words(text):
        raise BadInput(f"{name}: the PDF holds no text (a scan of pages?); give a PDF with selectable text, or "
                       "run it through OCR first")
    return text


def _html_text(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "noscript", "template", "head", "nav", "footer"]):
        hidden.decompose()
    return soup.get_text("\n")


def _checked(name: str, text: str) -> Document:
    text = _normalise(text)
    count = len(T.words(text))
    if count < MIN_DOCUMENT_WORDS:
        raise BadInput(f"{name}: only {count} word{'s' * (count != 1)} of text; a question needs at least "
                       f"{MIN_DOCUMENT_WORDS} (give the whole notes, not a title)")
    if count > MAX_DOCUMENT_WORDS:
        raise BadInput(f"{name}: {count:,} words is more than the {MAX_DOCUMENT_WORDS:,} a document may have; "
                       "split it into several topics")
    if not T.looks_english(text):
        raise BadInput(f"{name}: the text does not look like English; questions and grading work on English "
                       "material only")
    return Document(name, text)


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00ad", "")
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)  # words hyphenated across lines (PDFs)
    text = re.sub(r"[ \t\f\v]+", " ", text)
    return re.sub(r"\n\s*\n\s*", "\n\n", text).strip()


def split(text: str) -> list[str]:
    """Whole paragraphs joined into passages of PASSAGE_WORDS; a paragraph longer than the maximum is cut
    at sentence ends."""
    low, high = PASSAGE_WORDS
    pieces: list[str] = []
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph.split()) <= high:
            pieces.append(paragraph)
            continue
        current: list[str] = []
        for sentence in T.sentences(paragraph):
            if current and len(" ".join([*current, sentence]).split()) > high:
                pieces.append(" ".join(current))
                current = []
            current.append(sentence)
        if current:
            pieces.append(" ".join(current))
    passages: list[str] = []
    heading = ""
    for piece in pieces:
        if piece.startswith("#") and len(piece.split()) <= 12:  # a Markdown heading belongs to what follows
            heading = f"{heading}\n{piece}".strip()
            continue
        if heading:
            piece, heading = f"{heading}\n{piece}", ""
        if passages and (len(passages[-1].split()) < low or len(piece.split()) < low // 3) \
                and len(f"{passages[-1]} {piece}".split()) <= high:
            passages[-1] = f"{passages[-1]}\n{piece}"
        else:
            passages.append(piece)
    if heading and passages:
        passages[-1] = f"{passages[-1]}\n{heading}"
    elif heading:
        passages.append(heading)
    return passages


MAX_REQUIREMENTS = 20  # a job description yields at most this many requirements (the first ones, in order)
_BULLET = re.compile(r"^\s*(?:[-*•·▪‣–]|\d{1,2}[.)]|\(?[a-z][.)])\s+")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s+.*|[^.!?]{2,60}:|[A-Z][A-Z &/'-]{2,60})\s*$")
_SECTION = re.compile(r"^(#{1,6}\s*)?(what you('ll| will) (do|bring|need)|what we('re| are) looking for|"
                      r"(key )?(requirements|responsibilities|qualifications|skills)|(must|nice) to have|"
                      r"about (you|the role)|the role|your role|who you are|you have|you bring)\b", re.I)
# Sections of a job description that describe the employer, the offer or the process, not the role's work.
_ELSEWHERE = re.compile(r"\b(about (us|the (company|team))|who we are|benefits|perks|what we offer|we offer|"
                        r"compensation|salary|pay|location|how to apply|apply|equal opportunit\w*|diversity)\b",
                        re.IGNORECASE)
# Words by which a line states a skill the role needs or a duty it carries.
_ROLE = re.compile(r"\b(experience[ds]?|knowledge|familiar\w*|understand\w*|proficien\w*|expert\w*|skill\w*|"
                   r"abilit\w*|able to|background|hands-on|fluen\w*|degree|responsib\w*|you will|you'll|"
                   r"build\w*|design\w*|develop\w*|deploy\w*|implement\w*|maintain\w*|optimi[sz]\w*|train\w*|"
                   r"fine-tun\w*|evaluat\w*|own\w*|lead\w*|ship\w*|scal\w*|writ\w+|work(ing)? with|"
                   r"must|required|requirements?|nice to have|bonus|plus|strong|solid|deep)\b", re.IGNORECASE)


def requirements(text: str) -> list[str]:
    """The lines of a job description that state a skill the role needs or a duty it carries, in order.

    A bullet is one requirement and a prose paragraph gives one per sentence; a line counts when it names a
    skill or a duty ("experience with", "you will build", ...) or stands in a list under a heading about the
    role. Headings, and whatever stands under a heading about the employer, the offer or how to apply, do not.
    Pure: no model, no I/O."""
    found: list[str] = []
    aside = False  # under a heading about the employer, the offer or the process
    role = False  # under a heading about the role ("What you will do", "What we are looking for")
    for raw in _normalise(text).split("\n"):
        line = raw.strip()
        if not line:
            continue
        bullet = bool(_BULLET.match(line))
        if not bullet and _is_heading(line):
            aside = bool(_ELSEWHERE.search(line))
            role = not aside and bool(_SECTION.match(line.strip("#*_ :")))
            continue
        if aside:
            continue
        pieces = [_BULLET.sub("", line)] if bullet else T.sentences(line)
        for piece in pieces:
            piece = " ".join(piece.split()).strip(" ;,.")
            # a bullet under the role's heading is a requirement in any words ("Serve LLMs with low latency",
            # "3+ years of Python"); elsewhere a line must say it states a skill or a duty
            if 3 <= len(T.words(piece)) <= 40 and (bullet and role or _ROLE.search(piece)) \
                    and not _ELSEWHERE.search(piece):
                found.append(piece)
    return list(dict.fromkeys(found))[:MAX_REQUIREMENTS]


def _is_heading(line: str) -> bool:
    """A Markdown heading, a line ending in a colon or in capitals, or a short line without an end stop that
    names a section ("What you'll do") or states no skill ("Benefits")."""
    if _HEADING.match(line):
        return True
    short = len(line.split()) <= 6 and not line.rstrip().endswith((".", "!", "?"))
    return short and bool(_SECTION.match(line) or not _ROLE.search(line))


def job_description(value: str) -> Document:
    """A job description given as a file's path or as its text, checked: not empty, English, and with lines
    that state what the role needs. BadInput says which of these failed and what to do."""
    value = (value or "").strip()
    if "\n" not in value and len(value) < 500 and Path(value).is_file():
        name, text = Path(value).name, _normalise(_file_text(Path(value)))
    elif value and not any(c.isspace() for c in value) and Path(value).suffix.lower() in SUFFIXES:
        raise BadInput(f"{Path(value).name}: no such file; give the job description's file, or paste its text")
    else:
        name, text = "the job description", _normalise(value)
    if not T.words(text):
        raise BadInput(f"{name}: the job description is empty; paste its text or give its file")
    if len(T.words(text)) > MAX_DOCUMENT_WORDS:
        raise BadInput(f"{name}: more than the {MAX_DOCUMENT_WORDS:,} words a document may have; give only the "
                       "job description itself")
    if not T.looks_english(text):
        raise BadInput(f"{name}: the job description does not look like English; questions and grading work on "
                       "English material only")
    if not requirements(text):
        raise BadInput(f"{name}: no line states a skill or a duty of the role; give the job description's list "
                       "of requirements or responsibilities (e.g. '- Experience with RLHF')")
    return Document(name, text)
