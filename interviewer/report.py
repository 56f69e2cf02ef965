"""The end-of-session report as plain data: per question, overall, strengths, weaknesses, next steps."""

from __future__ import annotations

from collections import defaultdict

from interviewer.session import SCORING_RULE, Interview, Turn
from interviewer.verdicts import letter_for, verdict_line


def final_turn(turns: list[Turn]) -> Turn:
    """The turn whose grade describes the question best: the follow-up (graded with the first answer) where it
    graded at least as high as the first answer, else the first answer, which then sets the question's score
    (SCORING_RULE): a new user's report gave a question 8/10 beside the points of a worse follow-up, "1 of 5 key
    points made"."""
    answered = [t for t in turns if not (t.kind == "follow_up" and t.skipped)]
    return max(reversed(answered), key=lambda t: t.grade.score)


def _band(score: int, last: Turn) -> dict:
    """The letter and verdict line of the question's score (a new user's report gave "4/10 (C)" beside a live
    "4/10 (D)": the letter was the last answer's, of 6, beside the question's score)."""
    if score == last.grade.score:
        return {"letter": last.grade.letter, "verdict": last.grade.verdict}
    return {"letter": letter_for(score), "verdict": verdict_line(score, last.grade.points)}


def build_report(interview: Interview) -> dict:
    """Everything the candidate needs after the session, as JSON-ready data."""
    by_question: dict[str, list[Turn]] = defaultdict(list)
    for turn in interview.turns:
        by_question[turn.question.id].append(turn)
    questions = []
    for question, score in interview.question_scores():
        turns = by_question[question.id]
        main, last = turns[0], final_turn(turns)
        follow = next((t for t in turns if t.kind == "follow_up"), None)
        questions.append({
            "id": question.id, "topic": question.topic, "level": question.level, "covers": question.covers,
            "question": question.question, "answer": main.answer, "score": score,
            "first_score": main.grade.score, **_band(score, last),
            "tip": last.grade.tip, "confidence": last.grade.confidence,
            "covered": last.grade.covered, "partial": last.grade.partial, "missed": last.grade.missed,
            "contradicted": last.grade.contradicted,
            "points": [{"point": p.point, "status": p.status, "evidence": p.evidence} for p in last.grade.points],
            "exchanges": [{"kind": e.kind, "said": e.said, "reply": e.reply} for e in interview.exchanges
                          if e.question_id == question.id and e.kind != "ask"],
            "notes": list(last.grade.notes),
            "verification": last.verification, "changes": list(last.grade.changes),
            "provisional_score": (main.provisional or main.grade).score,
            "decided_on": main.decided_on,
            "follow_up": None if follow is None else {
                "prompt": follow.prompt, "answer": follow.answer, "skipped": follow.skipped},
            "hints": sum(t.hints for t in turns), "skipped": main.skipped, "timed_out": main.timed_out,
            "delivery": main.delivery,
            "model_answer": question.answer,
        })
    return {
        "id": interview.id,
        "topics": list(interview.options.topics),
        "level": interview.options.level,
        "questions": questions,
        "overall": interview.overall,
        "scoring": SCORING_RULE,
        "complete": interview.done and len(questions) == interview.options.questions,
        **_summary(questions, interview.options.topics),
    }


def _summary(questions: list[dict], chosen: tuple[str, ...]) -> dict:
    """Strengths, weaknesses and next steps; practice is suggested only on a topic the candidate chose (a probe
    may have asked about another)."""
    strengths = [p for q in questions if q["score"] >= 7 for p in q["covered"]][:5]
    weaknesses = [p for q in sorted(questions, key=lambda q: q["score"]) for p in q["contradicted"] + q["missed"]][:5]
    weak = sorted((q for q in questions if q["score"] < 7), key=lambda q: q["score"])
    steps = [f"Review the model answer to: {q['question']}" for q in weak[:3]]
    topics = sorted({q["topic"] for q in weak} & set(chosen)) or list(chosen[:1] if weak else ())
    if topics:
        steps.append(f"Practise again: make interview TOPIC={topics[0]}")
    elif questions:
        steps.append("Move up a level: try the next session at a harder level.")
    return {"strengths": strengths, "weaknesses": weaknesses, "next_steps": steps}
