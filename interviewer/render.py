"""Pure rendering of grades, reports and questions as text (terminal), Markdown (page, export) and a printable
HTML report."""

from __future__ import annotations

from interviewer.knowledge.schema import Question
from interviewer.types import Grade, PointResult

_MARK = {"covered": "+", "partial": "~", "missed": "-", "contradicted": "!"}
_ICON = {"covered": "✅", "partial": "🟡", "missed": "❌", "contradicted": "⛔"}
LABEL = {"covered": "covered", "partial": "partly", "missed": "missed", "contradicted": "contradicted"}


def withheld(grade: Grade) -> str:
    """What stands for the key points a grade does not list while its question is open: a follow-up may ask for
    any of them, and a new user read the point a follow-up asked for off the grade just above it, pasted it back
    and was credited. Empty when every point was made."""
    hidden = len(grade.not_covered)
    if not hidden:
        return ""
    them = "them" if hidden > 1 else "it"
    return (f"{hidden} key point{'s' * (hidden > 1)} not made in full: listed once this question is over, since a "
            f"follow-up may ask for {them}.")


def _shown_points(grade: Grade, withhold: bool):
    return [p for p in grade.points if p.status == "covered"] if withhold else list(grade.points)


def _point_line(p: PointResult) -> str:
    """One key point of a grade for the terminal: its mark, its label, the point and the words that earned it."""
    arrow = "<- the answer says the opposite:" if p.status == "contradicted" else "<-"
    evidence = f'  {arrow} "{_clip(p.evidence)}"' if p.evidence else ""
    return f"  [{_MARK[p.status]}] {LABEL[p.status]:<12} {p.point}{evidence}"


def grade_text(grade: Grade, *, withhold: bool = False) -> str:
    """A grade as a few lines for the terminal; with `withhold` (its question still open) only the points made
    are listed, without the changes or the tip, which name the others (see `withheld`)."""
    lines = [f"Score {grade.score}/10 ({grade.letter}), confidence {grade.confidence}. {grade.verdict}"]
    lines += [_point_line(p) for p in _shown_points(grade, withhold)]
    if withhold:
        lines += [f"  {left}"] if (left := withheld(grade)) else []
    else:
        lines.extend(f"Changed: {change}" for change in grade.changes)
        lines.append(f"Tip: {grade.tip}")
    notes = list(dict.fromkeys(grade.notes))  # a note the instant grade and the check both made is said once
    lines.extend(f"Note: {note}" for note in notes)
    if grade.confidence_reason and grade.confidence_reason not in notes:
        lines.append(f"Why the confidence is {grade.confidence}: {grade.confidence_reason}")
    return "\n".join(lines)


def held_back_text(grade: Grade) -> str:
    """What `grade_text(grade, withhold=True)` left out, for the terminal once the question is over: the points
    not made, the changes and the tip (a new user read the whole grade printed twice, score and notes included,
    when the question ended)."""
    lines = [_point_line(p) for p in grade.points if p.status != "covered"]
    lines.extend(f"Changed: {change}" for change in grade.changes)
    lines.append(f"Tip: {grade.tip}")
    return "\n".join(lines)


def verified_text(provisional: Grade, final: Grade, unverified: str = "") -> str:
    """`grade --verify` in the terminal: the instant grade in full, then the verified grade, whose "Changed:" lines
    compare the two (a new user saw "No longer credited" against an instant grade shown only as its score), or
    why there is none (`unverified`)."""
    head = "Instant grade:\n" + grade_text(provisional)
    if unverified:
        return f"{head}\nNot verified: {unverified}; the instant grade stands."
    return f"{head}\n\nVerified grade:\n{grade_text(final)}"


def markdown_safe(text: str) -> str:
    """Text to show inside Markdown exactly as text: no HTML tag (`<` becomes `&lt;`) and no link or image
    (`](` loses its meaning), so an answer, a bank field or a model's reply can never run script in the page or
    load anything from elsewhere. Applying it twice gives the same result as once."""
    return text.replace("<", "&lt;").replace("](", "]\\(")


def grade_state(grade: Grade, unverified: str = "") -> str:
    """The badge that says which grade is shown: instant and being checked, verified by the LLM, or instant and
    standing (`unverified` says why), each with its own word and colour (classes styled by the page)."""
    if grade.verified:
        return '<span class="grade-state verified">Verified grade</span> the LLM read your answer'
    if unverified:
        why = markdown_safe(unverified.removeprefix("not verified: "))
        return f'<span class="grade-state stands">Instant grade</span> not verified: {why}'
    return '<span class="grade-state instant">Instant grade</span> the LLM is checking it…'


def model_answer_markdown(answer: str) -> str:
    """A model answer folded away, one click to open (an HTML <details> inside Markdown), shown as text."""
    return f"<details><summary>Model answer</summary>\n\n{markdown_safe(answer)}\n\n</details>"


def grade_markdown(grade: Grade, *, unverified: str = "", model_answer: str = "", withhold: bool = False) -> str:
    """A grade as Markdown for the page, opened by its grade_state badge (every text from the answer, the bank
    or a model shown as text: see markdown_safe). Each point carries its label as a word and a colour, never
    an emoji alone. `model_answer`, when given, follows one click away. With `withhold` (its question still
    open) only the points made are listed, without the changes or the tip (see `withheld`)."""
    lines = [grade_state(grade, unverified), "",
             f"**Score {grade.score}/10 · grade {grade.letter}** · confidence {grade.confidence}", "",
             markdown_safe(grade.verdict), ""]
    for p in _shown_points(grade, withhold):
        said = "the answer says the opposite: " if p.status == "contradicted" else ""
        evidence = f' — {said}*"{markdown_safe(_clip(p.evidence))}"*' if p.evidence else ""
        lines.append(f'- <span class="point {p.status}">{LABEL[p.status]}</span> {markdown_safe(p.point)}{evidence}')
    if withhold:
        lines += ["", f"*{left}*"] if (left := withheld(grade)) else []
    else:
        if grade.changes:
            lines += ["", "**What the check changed:**"] + [f"- {markdown_safe(change)}" for change in grade.changes]
        lines += ["", f"**Tip:** {markdown_safe(grade.tip)}"]
    lines.extend(f"> {markdown_safe(note)}" for note in grade.notes)
    if model_answer:
        lines += ["", model_answer_markdown(model_answer)]
    return "\n".join(lines)


def _overall(report: dict) -> str:
    if report["overall"] is None:
        return "No answers were given, so there is no score"
    return f"Overall score: {report['overall']}/10 over {len(report['questions'])} question(s)"


def report_text(report: dict) -> str:
    """The end-of-session summary for the terminal."""
    lines = ["", _overall(report)]
    for i, q in enumerate(report["questions"], 1):
        lines.append(f"  {i}. {q['score']:>2}/10  {q['question']}")
        if q.get("covers"):
            lines.append(f"             covers: {q['covers']}")
    for title, key in (("Strengths", "strengths"), ("To work on", "weaknesses"), ("Next steps", "next_steps")):
        if report.get(key):
            lines += [f"{title}:"] + [f"  - {item}" for item in report[key]]
    if report.get("id"):
        lines.append(f"Full report: interviewer report {report['id']}")
    return "\n".join(lines)


def _flags(q: dict) -> str:
    flags = [label for label, on in (("skipped", q.get("skipped")), ("time ran out", q.get("timed_out")),
                                     (f"{q.get('hints')} hint(s)", q.get("hints"))) if on]
    return f" · {', '.join(flags)}" if flags else ""


def _answered(q: dict) -> str:
    """The candidate's answer to a question, or why there is none: a report that said "(nothing)" beside a
    question the candidate had said "I don't know" to read as if the answer had been lost."""
    if q["answer"]:
        return q["answer"]
    said = [e["said"] for e in q.get("exchanges", ()) if e["kind"] == "dont_know"]
    if said and q.get("skipped"):
        return f'(none: you said "{said[-1]}" and moved on)'
    if q.get("skipped"):
        return "(none: you skipped it)"
    return "(none: time ran out)" if q.get("timed_out") else "(nothing)"


def _delivery(d: dict) -> str:
    return (f"{d['wpm']:.0f} words/min · {d['fillers']} filler(s) · {d['long_pauses']} long pause(s) · "
            f"{d['speaking_s']:.0f} s · {d.get('advice', '')}")


_SUMMARY = (("Strengths", "strengths"), ("To work on", "weaknesses"), ("Next steps", "next_steps"))


def report_markdown(report: dict) -> str:
    """The whole session as a Markdown document: each question, answer, grade and model answer (every text in
    it shown as text: see markdown_safe)."""
    lines = [f"# Interview report: {', '.join(report['topics'])}", "",
             f"**{_overall(report)}**, starting level {report['level']}.", "", f"*{report.get('scoring', '')}*", ""]
    for title, key in _SUMMARY:
        if report.get(key):
            lines += [f"## {title}", ""] + [f"- {item}" for item in report[key]] + [""]
    for i, q in enumerate(report["questions"], 1):
        lines += [f"## {i}. {q['question']}", "",
                  f"*{q['topic']} · {q['level']}* · **{q['score']}/10 ({q['letter']})** · {q['verdict']}{_flags(q)}",
                  ""]
        if q.get("covers"):
            lines += [f"**Covers the requirement:** {q['covers']}", ""]
        lines += [f"**Your answer:** {_answered(q)}", ""]
        if q.get("delivery"):
            lines += [f"**Delivery:** {_delivery(q['delivery'])}", ""]
        if q.get("follow_up"):
            f = q["follow_up"]
            lines += [f"**Follow-up:** {f['prompt']}", "", f"**Your answer:** {f['answer'] or '(skipped)'}", ""]
        lines += [f"- {_ICON[p['status']]} **{LABEL[p['status']]}**: {p['point']}"
                  + (f' — *"{_clip(p["evidence"])}"*' if p.get("evidence") else "") for p in q["points"]]
        lines += ["", f"**Tip:** {q['tip']}", "", f"**Model answer:** {q['model_answer']}", ""]
    return markdown_safe("\n".join(lines))


_PRINT_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-top: 1px solid #ccc; padding-top: 1rem; }
.meta { color: #444; } .score { font-weight: 700; }
.point { display: inline-block; min-width: 6.5em; padding: 0 .4em; margin-right: .4em; border-radius: 3px;
  font-weight: 700; border: 1px solid; }
.covered { color: #0b5d1e; border-color: #0b5d1e; background: #e3f4e6; }
.partial { color: #7a4b00; border-color: #7a4b00; background: #fdf1d8; }
.missed { color: #9b1111; border-color: #9b1111; background: #fbe4e4; }
.contradicted { color: #fff; border-color: #5c0a5c; background: #5c0a5c; }
blockquote { margin: .3rem 0 .3rem 1rem; color: #333; font-style: italic; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } section { break-inside: avoid; } }
"""


def report_html(report: dict) -> str:
    """The whole session as a standalone, printable HTML page with the same content as report_markdown. Every
    text in it is escaped with the stdlib `html` module, so an answer or a bank field shows as text and never
    runs; the page loads nothing from anywhere (its style is inline)."""
    from html import escape as e

    topics = e(", ".join(report["topics"]))
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>Interview report: {topics}</title><style>{_PRINT_CSS}</style></head><body>",
           f"<h1>Interview report: {topics}</h1>",
           f'<p><strong>{e(_overall(report))}</strong>, starting level {e(report["level"])}.</p>',
           f'<p class="meta"><em>{e(report.get("scoring", ""))}</em></p>']
    for title, key in _SUMMARY:
        if report.get(key):
            out += [f"<h2>{title}</h2><ul>"] + [f"<li>{e(item)}</li>" for item in report[key]] + ["</ul>"]
    for i, q in enumerate(report["questions"], 1):
        out += [f"<section><h2>{i}. {e(q['question'])}</h2>",
                f'<p class="meta"><em>{e(q["topic"])} · {e(q["level"])}</em> · <span class="score">{q["score"]}/10 '
                f'({e(q["letter"])})</span> · {e(q["verdict"])}{e(_flags(q))}</p>',
                *([f"<p><strong>Covers the requirement:</strong> {e(q['covers'])}</p>"] if q.get("covers") else []),
                f"<p><strong>Your answer:</strong> {e(_answered(q))}</p>"]
        if q.get("delivery"):
            out.append(f"<p><strong>Delivery:</strong> {e(_delivery(q['delivery']))}</p>")
        if q.get("follow_up"):
            f = q["follow_up"]
            out += [f"<p><strong>Follow-up:</strong> {e(f['prompt'])}</p>",
                    f"<p><strong>Your answer:</strong> {e(f['answer'] or '(skipped)')}</p>"]
        out.append("<ul>")
        for p in q["points"]:
            evidence = f"<blockquote>“{e(_clip(p['evidence']))}”</blockquote>" if p.get("evidence") else ""
            out.append(f'<li><span class="point {e(p["status"])}">{LABEL[p["status"]]}</span>{e(p["point"])}'
                       f"{evidence}</li>")
        out += ["</ul>", f"<p><strong>Tip:</strong> {e(q['tip'])}</p>",
                f"<p><strong>Model answer:</strong> {e(q['model_answer'])}</p></section>"]
    return "\n".join([*out, "</body></html>", ""])


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
