"""Pure rendering of grades, reports and questions as text (terminal) and Markdown (page, export)."""

from __future__ import annotations

from interviewer.knowledge.schema import Question
from interviewer.types import Grade

_MARK = {"covered": "+", "partial": "~", "missed": "-", "contradicted": "!"}
_ICON = {"covered": "✅", "partial": "🟡", "missed": "❌", "contradicted": "⛔"}
LABEL = {"covered": "covered", "partial": "partly", "missed": "missed", "contradicted": "contradicted"}


def grade_text(grade: Grade) -> str:
    """A grade as a few lines for the terminal."""
    lines = [f"Score {grade.score}/10 ({grade.letter}), confidence {grade.confidence}. {grade.verdict}"]
    for p in grade.points:
        arrow = "<- the answer says the opposite:" if p.status == "contradicted" else "<-"
        evidence = f'  {arrow} "{_clip(p.evidence)}"' if p.evidence else ""
        lines.append(f"  [{_MARK[p.status]}] {LABEL[p.status]:<12} {p.point}{evidence}")
    lines.extend(f"Changed: {change}" for change in grade.changes)
    lines.append(f"Tip: {grade.tip}")
    lines.extend(f"Note: {note}" for note in grade.notes)
    if grade.confidence_reason:
        lines.append(f"Why the confidence is {grade.confidence}: {grade.confidence_reason}")
    return "\n".join(lines)


def markdown_safe(text: str) -> str:
    """Text to show inside Markdown exactly as text: no HTML tag (`<` becomes `&lt;`) and no link or image
    (`](` loses its meaning), so an answer, a bank field or a model's reply can never run script in the page or
    load anything from elsewhere. Applying it twice gives the same result as once."""
    return text.replace("<", "&lt;").replace("](", "]\\(")


def grade_markdown(grade: Grade) -> str:
    """A grade as Markdown for the page (its texts shown as text: see markdown_safe)."""
    state = "verified by the LLM" if grade.verified else "instant grade, being checked"
    lines = [f"**Score {grade.score}/10 ({grade.letter})** · {state} · confidence {grade.confidence}", "",
             grade.verdict, ""]
    for p in grade.points:
        said = "the answer says the opposite: " if p.status == "contradicted" else ""
        evidence = f' — {said}*"{_clip(p.evidence)}"*' if p.evidence else ""
        lines.append(f"- {_ICON[p.status]} **{LABEL[p.status]}**: {p.point}{evidence}")
    if grade.changes:
        lines += ["", "**What the check changed:**"] + [f"- {change}" for change in grade.changes]
    lines += ["", f"**Tip:** {grade.tip}"]
    lines.extend(f"> {note}" for note in grade.notes)
    return markdown_safe("\n".join(lines))


def _overall(report: dict) -> str:
    if report["overall"] is None:
        return "No answers were given, so there is no score"
    return f"Overall score: {report['overall']}/10 over {len(report['questions'])} question(s)"


def report_text(report: dict) -> str:
    """The end-of-session summary for the terminal."""
    lines = ["", _overall(report)]
    for i, q in enumerate(report["questions"], 1):
        lines.append(f"  {i}. {q['score']:>2}/10  {q['question']}")
    for title, key in (("Strengths", "strengths"), ("To work on", "weaknesses"), ("Next steps", "next_steps")):
        if report.get(key):
            lines += [f"{title}:"] + [f"  - {item}" for item in report[key]]
    if report.get("id"):
        lines.append(f"Full report: interviewer report {report['id']}")
    return "\n".join(lines)


def report_markdown(report: dict) -> str:
    """The whole session as a Markdown document: each question, answer, grade and model answer (every text in
    it shown as text: see markdown_safe)."""
    lines = [f"# Interview report: {', '.join(report['topics'])}", "",
             f"**{_overall(report)}**, starting level {report['level']}.", "", f"*{report.get('scoring', '')}*", ""]
    for title, key in (("Strengths", "strengths"), ("To work on", "weaknesses"), ("Next steps", "next_steps")):
        if report.get(key):
            lines += [f"## {title}", ""] + [f"- {item}" for item in report[key]] + [""]
    for i, q in enumerate(report["questions"], 1):
        flags = [label for label, on in (("skipped", q.get("skipped")), ("time ran out", q.get("timed_out")),
                                         (f"{q.get('hints')} hint(s)", q.get("hints"))) if on]
        lines += [f"## {i}. {q['question']}", "",
                  f"*{q['topic']} · {q['level']}* · **{q['score']}/10 ({q['letter']})** · {q['verdict']}"
                  + (f" · {', '.join(flags)}" if flags else ""), "",
                  f"**Your answer:** {q['answer'] or '(nothing)'}", ""]
        if q.get("delivery"):
            d = q["delivery"]
            lines += [f"**Delivery:** {d['wpm']:.0f} words/min · {d['fillers']} filler(s) · "
                      f"{d['long_pauses']} long pause(s) · {d['speaking_s']:.0f} s · {d.get('advice', '')}", ""]
        if q.get("follow_up"):
            f = q["follow_up"]
            lines += [f"**Follow-up:** {f['prompt']}", "", f"**Your answer:** {f['answer'] or '(skipped)'}", ""]
        lines += [f"- {_ICON[p['status']]} **{LABEL[p['status']]}**: {p['point']}" for p in q["points"]]
        lines += ["", f"**Tip:** {q['tip']}", "", f"**Model answer:** {q['model_answer']}", ""]
    return markdown_safe("\n".join(lines))


def history_text(history: dict) -> str:
    """Progress across sessions for the terminal."""
    import datetime

    lines = ["Scores by session and topic:"]
    for row in history["scores"]:
        when = datetime.datetime.fromtimestamp(row["started"]).strftime("%Y-%m-%d %H:%M")
        lines.append(f"  {when}  {row['session']}  {row['topic']:<22} {row['score']:.1f}/10")
    if history["weakest_points"]:
        lines += ["Most often missed:"] + [f"  {p['missed']}x  {p['point']}" for p in history["weakest_points"]]
    if history["suggestion"]:
        s = history["suggestion"]
        lines.append(f"Suggested next: {s['topic']} (last {s['last_score']:.1f}/10): {s['command']}")
    if len(lines) == 1:
        lines.append("  (no sessions yet)")
    return "\n".join(lines)


def history_markdown(history: dict) -> str:
    """Progress across sessions for the page: the points missed most often and what to practise next, as a
    list (the scores themselves are in the table and chart beside it)."""
    lines = []
    if history["weakest_points"]:
        lines += ["**Missed most often**", ""]
        lines += [f"- {markdown_safe(p['point'])} ({p['missed']}×)" for p in history["weakest_points"]]
    if history["suggestion"]:
        s = history["suggestion"]
        lines += ["", f"**Practise next:** {markdown_safe(s['topic'])} (last score {s['last_score']:.1f}/10): "
                      f"`{s['command']}`"]
    return "\n".join(lines) or "No sessions yet: your scores will appear here after your first interview."


def question_text(question: Question) -> str:
    """A bank question with its model answer, key points and follow-ups."""
    lines = [f"{question.id} ({question.topic}, {question.level})", "", question.question, "",
             "Model answer:", question.answer, "", "Key points:"]
    lines += [f"  {i}. {p}" for i, p in enumerate(question.key_points, 1)]
    lines += ["", "Follow-ups:"] + [f"  (point {f.key_point}) {f.ask}" for f in question.follow_ups]
    lines += ["", "Glossary: " + ", ".join(question.glossary), "References:"]
    lines += [f"  - {r}" for r in question.references]
    return "\n".join(lines)


def _clip(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
