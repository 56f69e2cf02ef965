"""The bank format: the shipped bank is valid and complete; a bad bank gets every problem located."""

from pathlib import Path

import yaml

from interviewer.knowledge.schema import LEVELS, load_bank
from interviewer.wiring import shipped_bank_dir

REQUIRED_TOPICS = {
    "tokens", "transformer", "architectures", "special-tokens", "sampling", "long-context", "rope",
    "prompting", "kv-cache", "speculative-decoding", "serving", "rlhf", "constitutional-ai", "dpo",
    "scaling-laws", "gpt-family", "hallucination", "fine-tuning",
}


def test_shipped_bank_is_valid_and_complete():
    bank = load_bank(shipped_bank_dir())
    assert bank.problems == ()
    assert REQUIRED_TOPICS <= {t.topic for t in bank.topics}
    assert len(bank.questions) >= 110
    for topic in bank.topics:
        levels = [q.level for q in topic.questions]
        assert len(levels) >= 6, topic.topic
        assert all(levels.count(level) >= 2 for level in LEVELS), topic.topic


def test_every_key_point_is_followed_up_by_index_in_range():
    for q in load_bank(shipped_bank_dir()).questions:
        assert all(1 <= f.key_point <= len(q.key_points) for f in q.follow_ups), q.id


def _write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _good_question(qid: str) -> dict:
    return {
        "id": qid, "level": "mid", "question": "What does a reward model learn from?",
        "answer": " ".join(["word"] * 90),
        "key_points": ["It learns from comparisons.", "It outputs a scalar.", "It is trained once."],
        "follow_ups": [{"key_point": 1, "ask": "What data does it learn from?"}],
        "glossary": ["reward model"], "references": ["Ouyang et al. 2022"],
    }


def test_problems_name_file_question_and_field(tmp_path):
    bad = _good_question("demo-bad")
    bad["level"] = "expert"
    bad["answer"] = "too short"
    del bad["glossary"]
    _write(tmp_path / "demo.yaml", {"topic": "demo", "title": "Demo", "questions": [bad, _good_question("demo-ok")]})
    _write(tmp_path / "other.yaml", {"topic": "other", "title": "Other", "questions": [_good_question("demo-ok")]})
    (tmp_path / "broken.yaml").write_text("topic: [unclosed")
    problems = {(Path(p.file).name if p.file.endswith(".yaml") else p.file, p.question_id, p.field)
                for p in load_bank(tmp_path).problems}
    assert ("demo.yaml", "demo-bad", "level") in problems
    assert ("demo.yaml", "demo-bad", "answer") in problems
    assert ("demo.yaml", "demo-bad", "glossary") in problems
    assert ("broken.yaml", "", "") in problems
    # demo.yaml failed as a whole, so the duplicate id is only caught when both files load:
    _write(tmp_path / "demo.yaml", {"topic": "demo", "title": "Demo", "questions": [_good_question("demo-ok")]})
    (tmp_path / "broken.yaml").unlink()
    dupes = load_bank(tmp_path).problems
    assert [(p.question_id, p.field) for p in dupes] == [("demo-ok", "id")]


def test_follow_up_must_point_at_an_existing_key_point(tmp_path):
    q = _good_question("demo-q")
    q["follow_ups"] = [{"key_point": 9, "ask": "What about point nine?"}]
    _write(tmp_path / "demo.yaml", {"topic": "demo", "title": "Demo", "questions": [q]})
    [problem] = load_bank(tmp_path).problems
    assert problem.question_id == "demo-q" and "key point 9" in problem.message
