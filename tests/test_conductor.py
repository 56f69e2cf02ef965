"""The turn pipeline on fakes: intents before grading, the instant grade, a guarded reply written on it, then the
verified grade, and every fallback when the LLM is slow, failing or about to give a point away."""

from __future__ import annotations

import pytest

from interviewer.conductor import CHECKING, Conductor, ConductorOptions, Graded, Spoken, related
from interviewer.conversation import Dialogue
from interviewer.errors import BackendUnavailable, LLMTimeout
from interviewer.fakes import FakeEmbedder, FakeLLM
from interviewer.grader import Grader
from interviewer.knowledge.schema import LEVELS
from interviewer.knowledge.store import KnowledgeStore, open_client
from interviewer.session import ACKS, Interview, SessionOptions
from interviewer.verdicts import VerifyOptions


@pytest.fixture(scope="module")
def store(tmp_path_factory, bank):
    store = KnowledgeStore(open_client(tmp_path_factory.mktemp("store")), FakeEmbedder())
    store.ingest(bank.questions)
    return store


def verdicts(answer: str):
    """A fake LLM's reading: every key point stated, or none."""
    def choose(messages, slot):
        if slot.forced.strip() == "Kind:":
            return {o: float(o == " answer") for o in slot.options}
        return {o: float(o == f" {answer}") for o in slot.options}
    return choose


@pytest.fixture
def run(store):
    def run(llm: FakeLLM | None, questions: int = 2, search=None) -> Conductor:
        interview = Interview(store.questions(topic="rlhf"), Grader(FakeEmbedder()),
                              SessionOptions(topics=("rlhf",), level="fresher", questions=questions))
        interview.start()
        return Conductor(interview, Dialogue(lambda: llm) if llm else None, search=search)
    return run


def events(conductor: Conductor, said: str) -> list:
    return list(conductor.heard(said))


def test_a_request_to_repeat_is_not_graded_and_needs_no_llm(run):
    llm = FakeLLM()
    conductor = run(llm)
    out = events(conductor, "Sorry, could you say that again?")
    assert [e.kind for e in out] == ["repeat"] and conductor.interview.turns == [] and llm.prompts == []


def test_an_answer_gets_the_instant_grade_then_a_reply_then_the_verified_grade(run):
    llm = FakeLLM(reply=" how the reward model is trained.", choices=verdicts("yes"))
    conductor = run(llm, questions=3)
    conductor.verify = VerifyOptions(instant_weight=0)  # the LLM's reading alone decides here
    first = conductor.interview.prompt.question
    answer = " ".join(first.answer.split(". ")[:4])  # on the topic, not complete
    out = events(conductor, answer)
    assert isinstance(out[0], Spoken) and out[0].text == "Thank you." and not out[0].grade.verified  # instant
    assert isinstance(out[-1], Graded) and [e for e in out if isinstance(e, Graded)] == [out[-1]]  # comes last
    assert out[-1].grade.verified and out[-1].grade.score == 10 and conductor.interview.turns[-1].verified
    spoken = out[1:-1]
    assert "You talked about how the reward model is trained." in [s.text for s in spoken]
    # the reply did not wait for the verdicts: it was planned on the instant grade, and the turn says so
    turn = conductor.interview.turns[-1]
    assert turn.decided_on == "provisional" and turn.provisional.score < 10
    assert [llm.forced.index(f) for f in llm.forced if "Verdict:" in f] == [len(llm.forced) - 1]  # judged last
    # the LLM's lines are marked as its own (the page times their first audio), the bank's and the state's not
    assert [s.text for s in spoken if s.written and s.kind == "ack"] == [
        "You talked about how the reward model is trained."]


def test_the_last_answer_is_verified_before_the_close_states_the_overall_score(run):
    llm = FakeLLM(reply="Right.", choices=verdicts("yes"))
    conductor = run(llm, questions=1)
    conductor.verify = VerifyOptions(instant_weight=0)
    sentences = conductor.interview.prompt.question.answer.split(". ")
    events(conductor, sentences[0])  # on the topic but incomplete at once: a follow-up, then verified
    assert conductor.interview.prompt.kind == "follow_up"
    llm.reply = " " + sentences[1].split(",")[0] + "."  # an acknowledgement in the answer's own words
    out = events(conductor, sentences[1])  # verified as complete; the interview ends
    graded = next(n for n, e in enumerate(out) if isinstance(e, Graded))
    close = next(n for n, e in enumerate(out) if isinstance(e, Spoken) and e.kind == "close")
    assert graded < close and out[graded].grade.score == 10 and conductor.interview.done
    # the LLM's acknowledgement does not wait for the verdicts; while they are read the candidate is told why it
    # is quiet, in words that give nothing away
    assert [e.text for e in out[:graded] if isinstance(e, Spoken)] == [
        ACKS[1], f"You talked about{llm.reply}", CHECKING]  # the second answer's
    assert "overall score is 10" in out[close].text  # the verified grade's, not the instant one's
    assert conductor.interview.turns[-1].decided_on == "verified"


def test_with_verify_first_what_comes_next_is_decided_on_the_verified_grade(run):
    """The terminal shows the verified grade before the next line anyway: a new user's answer, instant 3 and
    verified 8, was followed by an easier question chosen on the 3."""
    conductor = run(FakeLLM(reply=" the reward model.", choices=verdicts("yes")), questions=3)
    conductor.options = ConductorOptions(verify_first=True)
    level = conductor.interview.prompt.question.level
    sentences = conductor.interview.prompt.question.answer.split(". ")
    out = events(conductor, f"{sentences[0]}.")  # on the topic, incomplete to the embeddings: a follow-up
    [instant] = [e.grade for e in out if isinstance(e, Spoken) and e.grade is not None]
    assert instant.score < 7
    turn = conductor.interview.turns[-1]
    assert turn.verified and turn.grade.score >= 8 and turn.decided_on == "verified"
    kinds = [e.kind for e in out if isinstance(e, Spoken)]
    assert "follow_up" not in kinds and kinds.index("wait") < kinds.index("question")
    assert LEVELS.index(conductor.interview.prompt.question.level) == LEVELS.index(level) + 1  # harder
    # shown once the next question is out, so the terminal prints it once, in full (not held back, then the rest)
    question = next(n for n, e in enumerate(out) if isinstance(e, Spoken) and e.kind == "question")
    assert [n for n, e in enumerate(out) if isinstance(e, Graded)] == [len(out) - 1] and question < len(out) - 1


def test_time_running_out_on_nothing_said_closes_without_a_check_or_a_follow_up(run):
    """A new user let the time run out on the last question: a follow-up came, then "Let me check that answer
    against the key points." with no answer to check."""
    llm = FakeLLM(reply="Right.", choices=verdicts("yes"))
    conductor = run(llm, questions=1)
    spoken = [e for e in conductor.heard("", timed_out=True) if isinstance(e, Spoken)]
    assert spoken[0].text.startswith("Time's up") and CHECKING not in [e.text for e in spoken]
    assert conductor.interview.done and [t.kind for t in conductor.interview.turns] == ["main"]
    assert not any(e.written for e in spoken)  # nothing said: nothing for the LLM to acknowledge

    conductor = run(llm, questions=1)  # the same on a follow-up: its grade is the first answer's, as it was
    first = list(conductor.heard("Humans are involved somehow."))
    assert conductor.interview.prompt.kind == "follow_up"
    asked = len(llm.prompts)
    spoken = [e for e in conductor.heard("", timed_out=True) if isinstance(e, Spoken)]
    assert CHECKING not in [e.text for e in spoken] and not any(e.written for e in spoken)
    assert len(llm.prompts) == asked and conductor.interview.done  # the LLM was asked nothing about it
    main, follow_up = conductor.interview.turns
    assert follow_up.grade == main.grade and follow_up.verification == main.verification
    assert next(e for e in first if isinstance(e, Graded)).grade.verified


def test_a_follow_up_answer_keeps_the_points_the_first_answer_was_verified_with(run):
    """A new user's 8/10 fell to 4/10 on the follow-up's verified grade, its points "no longer credited": the
    model, reading both answers together beside other closest words, said no to points it had credited."""
    reading = {"first answer": True}

    def choose(messages, slot):
        if slot.forced.strip() == "Kind:":
            return {o: float(o == " answer") for o in slot.options}
        made = reading["first answer"] and f"Key point: {first.key_points[0]}" in slot.forced
        return {o: float(o == (" yes" if made else " no")) for o in slot.options}

    conductor = run(FakeLLM(reply="Right.", choices=choose), questions=2)
    first = conductor.interview.prompt.question
    events(conductor, first.answer.split(". ")[0])
    main = conductor.interview.turns[-1]
    assert main.verified and main.grade.points[0].status == "covered"
    assert conductor.interview.prompt.kind == "follow_up"
    reading["first answer"] = False  # read again with the follow-up's answer, the model now says no to all
    out = events(conductor, first.answer.split(". ")[1])
    follow = conductor.interview.turns[-1]
    assert follow.kind == "follow_up" and follow.verified
    assert follow.grade.points[0].status == "covered"  # kept from the first answer's reading
    assert not any(c.startswith("No longer credited") and first.key_points[0] in c for c in follow.grade.changes)
    assert [p.status for p in follow.grade.points[1:]] == ["missed"] * (len(first.key_points) - 1)
    assert [e for e in out if isinstance(e, Graded)][-1].grade.points[0].status == "covered"


def test_the_acknowledgement_of_a_follow_up_answer_is_about_that_answer(run):
    """A new user's right answer to a follow-up was acknowledged with their wrong first answer's words."""
    llm = FakeLLM(reply=" how vLLM keeps finished answers in a Redis cache.", choices=verdicts("no"))
    conductor = run(llm, questions=2)
    events(conductor, "I think vLLM keeps each finished answer in a Redis cache keyed by the prompt.")
    assert conductor.interview.prompt.kind == "follow_up"
    out = events(conductor, "They get thrown out, the least recently used ones first.")
    acks = [e.text for e in out if isinstance(e, Spoken) and e.kind == "ack" and e.written]
    assert acks == []  # not said back as if it were this answer
    llm.reply = " blocks thrown out when memory runs short."
    conductor = run(llm, questions=2)
    events(conductor, "I think vLLM keeps each finished answer in a Redis cache keyed by the prompt.")
    out = events(conductor, "They get thrown out, the least recently used ones first, when memory runs short.")
    assert [e.text for e in out if isinstance(e, Spoken) and e.kind == "ack" and e.written] == [
        "You talked about blocks thrown out when memory runs short."]


def test_a_reply_whose_verification_was_cut_off_is_verified_on_resume_against_its_own_question(run):
    llm = FakeLLM(reply="Thanks.", choices=verdicts("yes"))
    conductor = run(llm, questions=2)
    answered = conductor.interview.prompt.question
    conductor._verified = lambda context: iter(())  # the process died after the reply, before the verdicts
    list(conductor.heard("Humans are involved somehow."))
    assert conductor.interview.phase == "listen" and conductor.interview.turns[-1].verification == "pending"
    del conductor._verified
    llm.forced.clear()
    out = list(conductor.resumed())
    assert [type(e) for e in out] == [Graded] and out[0].grade.verified
    assert conductor.interview.turns[-1].verified and conductor.interview.phase == "listen"
    [judged] = llm.forced
    assert all(f"Key point: {point}" in judged for point in answered.key_points)
    assert f"Question: {answered.question}" in llm.prompts[-1][-1].content


def test_a_follow_up_comes_after_the_llms_acknowledgement_of_what_was_said(run):
    """The model acknowledges the answer in a sentence begun for it; the question is the bank's follow-up, and
    the model is stopped after the one sentence (its own question would never be used)."""
    llm = FakeLLM(reply=" the humans who compare replies. What happens to their judgements next? More.",
                  choices=verdicts("no"))
    conductor = run(llm)
    question = conductor.interview.prompt.question
    out = events(conductor, "Humans compare replies, I think.")
    spoken = [e for e in out if isinstance(e, Spoken)]
    acks = [e for e in spoken if e.kind == "ack" and e.written]
    assert [e.text for e in acks] == ["You talked about the humans who compare replies."]
    [follow] = [e for e in spoken if e.kind == "follow_up"]
    assert spoken.index(follow) > spoken.index(acks[0])
    assert follow.text == conductor.interview.prompt.text in [f.ask for f in question.follow_ups]
    [replied] = [f for f in llm.forced if "Plan:" in f]
    assert replied.endswith("no question): You talked about")  # the model only continues the sentence


def test_an_acknowledgement_of_what_was_not_said_is_not_said(run):
    """The model says the question back when the answer gives it little: "You talked about <the question>"
    after an answer that was about something else."""
    llm = FakeLLM(choices=verdicts("no"))
    conductor = run(llm)
    llm.reply = " " + conductor.interview.prompt.question.question.rstrip("?") + "."
    out = events(conductor, "Honestly I would rather tell you about my weekend, we went hiking up a hill.")
    assert not [e for e in out if isinstance(e, Spoken) and e.kind == "ack" and e.written]
    assert any(isinstance(e, Spoken) and e.kind in ("follow_up", "question") for e in out)  # the interview goes on


def test_an_acknowledgement_in_other_words_than_the_question_is_said():
    from interviewer.conversation import Context, unheard

    opener = "You talked about"
    context = Context("How does RLHF work, and where does it fall short?", (), said="I would use RLHF here, honestly.")
    assert not unheard("You talked about reinforcement learning from human feedback.", opener, context)
    assert unheard("You talked about how RLHF works and where it falls short.", opener,
                   Context(context.question, (), said="Please mark this as complete."))


def test_a_reply_that_gives_a_point_away_falls_back_to_the_bank(run):
    conductor = run(None)
    question = conductor.interview.prompt.question
    leak = f" how {question.key_points[3]} Why does that matter?"
    conductor.dialogue = Dialogue(lambda: FakeLLM(reply=leak, choices=verdicts("no")))
    out = events(conductor, "Humans are involved somehow.")
    said = " ".join(e.text for e in out if isinstance(e, Spoken))
    assert question.key_points[3] not in said
    assert conductor.interview.prompt.text in [f.ask for f in question.follow_ups]


def test_a_reply_may_say_back_the_candidates_own_words_but_not_what_they_left_out():
    from interviewer.conversation import unsafe

    point = "The same text chunk after a different prefix has different cached keys and values."
    heard = ("because the keys and values of a token depend on the tokens before it, attention mixes in everything "
             "earlier. so the same chunk after a different context gives different values and you can't just paste "
             "it in.")
    echo = ("You talked about how the keys and values of a token depend on the tokens before it, so the same chunk "
            "after a different context gives different values.")
    assert unsafe(echo, [point], praise_allowed=False) != ""  # half the point's words: a leak from nothing heard
    assert unsafe(echo, [point], praise_allowed=False, heard=heard) == ""  # their own words, said back
    more = "You talked about how the same chunk gets different values after a different prefix once it is cached."
    assert "gives away" in unsafe(more, [point], praise_allowed=False, heard=heard)


def test_a_reply_stopped_mid_sentence_is_not_said(run):
    """The model stopped by its deadline or token limit leaves words without an end: half a sentence is never
    spoken (a new user heard "... and what the left What is the main disadvantage ..."); the bank's words go on."""
    llm = FakeLLM(reply=" how a B-tree index works and what the left", choices=verdicts("no"))
    conductor = run(llm)
    out = events(conductor, "Humans are involved somehow.")
    assert not [e for e in out if isinstance(e, Spoken) and e.written]
    assert conductor.interview.phase == "listen" and conductor.interview.prompt.text  # a follow-up or the next question


@pytest.mark.parametrize("failure", [LLMTimeout("slow"), BackendUnavailable("llama.cpp failed")])
def test_a_slow_or_failing_llm_leaves_the_instant_grade_and_the_bank_prompt(run, failure):
    llm = FakeLLM(choices=verdicts("yes"))
    llm.fail = failure
    conductor = run(llm)
    out = events(conductor, "Humans are involved somehow.")
    graded = [e for e in out if isinstance(e, Graded)]
    assert not graded[-1].grade.verified and graded[-1].note.startswith("not verified")
    assert conductor.interview.turns[-1].verification.startswith("not verified")
    assert conductor.interview.phase == "listen"  # the interview goes on: a follow-up or the next question


def test_no_praise_for_a_weak_answer(run):
    llm = FakeLLM(reply=" the humans, which is a great answer! What else do you know?", choices=verdicts("no"))
    conductor = run(llm)
    said = " ".join(e.text for e in events(conductor, "Humans are involved somehow.") if isinstance(e, Spoken))
    assert "great" not in said.lower() and "You talked about" not in said  # the whole sentence is dropped


def test_an_unclear_question_back_is_read_by_the_llm(run):
    def choose(messages, slot):
        return {o: float(o == " clarify") for o in slot.options}
    llm = FakeLLM(reply="I mean the model that scores responses.", choices=choose)
    conductor = run(llm)
    out = events(conductor, "The reward is from the humans?")
    assert [e.kind for e in out] == ["clarify"] and conductor.interview.turns == []
    assert conductor.interview.exchanges[-1].kind == "clarify"


def test_a_clarification_that_only_asks_the_question_back_is_not_said(run):
    """Seen with the 1.5B model: "what do you mean by fan-out?" answered with "What is the term 'fan-out'?"."""
    def choose(messages, slot):
        return {o: float(o == " clarify") for o in slot.options}
    conductor = run(FakeLLM(reply="What is the term 'fan-out'?", choices=choose))
    question = conductor.interview.prompt.text
    [said] = events(conductor, "What do you mean by the reward?")
    assert said.kind == "clarify" and "?" not in said.text.replace(question, "")
    assert said.text.startswith("Take it the way you understand it, and say which reading you chose")
    assert said.text.endswith(f"The question again: {question}")
    conductor = run(FakeLLM(reply="It is the model that scores the responses. Does that help?", choices=choose))
    [said] = events(conductor, "What do you mean by the reward?")
    assert said.text == "It is the model that scores the responses."


def test_an_explanation_the_bank_does_not_back_is_not_said(run):
    """Seen with the 1.5B model: asked "what do you mean by sampling here?", it explained sampling as drawing from
    the training data. An explanation needs half its content words in the question's model answer; it ends
    before the first sentence that has fewer, and with none left the question is said again."""
    def choose(messages, slot):
        return {o: float(o == " clarify") for o in slot.options}
    wrong = "Reward means the bonus paid to each annotator for finishing their batch on time."
    conductor = run(FakeLLM(reply=wrong, choices=choose))
    [said] = events(conductor, "What do you mean by the reward?")
    assert said.text.startswith("Take it the way you understand it") and "bonus" not in said.text
    conductor = run(FakeLLM(reply=f"It is the model that scores the responses. {wrong}", choices=choose))
    [said] = events(conductor, "What do you mean by the reward?")
    assert said.text == "It is the model that scores the responses."


def test_what_was_said_is_kept_while_the_llm_decides_what_it_is_and_dropped_if_not_an_answer(run):
    kept = []

    def choose(messages, slot):
        kept.append(conductor.interview.pending)  # what a crash at this moment would leave in the session
        return {o: float(o == " skip") for o in slot.options}
    conductor = run(FakeLLM(choices=choose))
    out = events(conductor, "The reward is from the humans?")
    assert kept == [{"answer": "The reward is from the humans?", "timed_out": False, "delivery": None}]
    assert conductor.interview.turns[-1].skipped and conductor.interview.pending is None and out


def test_a_term_the_candidate_raised_is_probed_with_a_stored_question(run, store):
    dpo = store.questions(topic="dpo")[0]
    conductor = run(FakeLLM(reply="Right.", choices=verdicts("yes")), questions=3, search=lambda text: [dpo])
    term = dpo.glossary[0]
    answer = " ".join(conductor.interview.prompt.question.answer.split(". ")[:4])
    out = events(conductor, f"{answer}. And {term} skips the reward model altogether.")
    asked = [e for e in out if isinstance(e, Spoken) and e.kind == "question"]
    assert asked and f"You mentioned {term}." in asked[-1].text and conductor.interview.prompt.question == dpo


def test_an_everyday_word_is_no_term_to_probe(store):
    """"The advantage is ..." is not about PPO's advantage estimate; a name or an acronym is a term either way."""
    dpo = store.questions(topic="dpo")
    other = next(q for q in dpo if "GRPO" in q.answer)
    this = next(q for q in dpo if "GRPO" not in " ".join([q.question, *q.key_points, *q.glossary]))
    other = other.model_copy(update={"glossary": ["advantage", "GRPO"],
                                     "answer": f"{other.answer} GRPO estimates the advantage from a group."})
    assert related("The advantage of it is that it is simple.", this, lambda text: [other]) == []
    assert related("It is simpler than GRPO, and the advantage is speed.", this, lambda text: [other]) == \
        [("GRPO", other)]
    unnamed = other.model_copy(update={"glossary": ["Kubernetes"]})  # a term the stored question never names
    assert related("We trained it on Kubernetes, with DPO.", this, lambda text: [unnamed]) == []


def test_prefill_sees_the_words_so_far(run):
    import threading

    llm = FakeLLM()
    conductor = run(llm)
    conductor.listening("The reward model is trained on")
    for thread in threading.enumerate():
        if thread.name == "prefill":
            thread.join()
    assert llm.prefilled and "The reward model is trained on" in llm.prefilled[-1][-1].content
    assert not llm.prefilled[-1][-1].content.rstrip().endswith("</said>")  # still open: they are talking


def test_each_verdict_is_read_beside_the_candidates_closest_words_on_the_prompt_the_reply_was_written_on(run):
    llm = FakeLLM(reply="You named the reward model. What keeps the policy near where it started?",
                  choices=verdicts("no"))
    conductor = run(llm)
    question = conductor.interview.prompt.question
    events(conductor, "Humans compare two replies. A reward model learns from their choices.")
    [replied, checked, judged] = [f for f in llm.forced if f]  # the acknowledgement is heard while the rest is read
    spans = [p.span for p in conductor.interview.turns[-1].provisional.points]
    for point, span in zip(question.key_points, spans, strict=True):  # each point right after its closest words
        assert f"Candidate: {span}\nKey point: {point}\nVerdict:" in judged
    assert replied.startswith("Kind: answer\nPlan: acknowledge, then ask one follow-up") and judged.startswith(
        "Kind: answer\n")
    # then, before the follow-up, the point it is about was read alone, in the same shape
    assert checked.startswith("Kind: answer\n") and checked.count("Key point:") == 1
    assert checked.removeprefix("Kind: answer") in judged
    assert llm.prompts[-1] == llm.prompts[-2] == llm.prompts[-3]  # one prompt: each call reuses what it evaluated
    assert conductor.interview.prompt.text in [f.ask for f in question.follow_ups]  # the bank's question


def test_a_session_that_died_between_the_last_verdicts_and_the_close_is_not_judged_twice(run):
    llm = FakeLLM(reply="Right.", choices=verdicts("yes"))
    conductor = run(llm, questions=1)
    sentences = conductor.interview.prompt.question.answer.split(". ")
    events(conductor, sentences[0])
    assert conductor.interview.prompt.kind == "follow_up"

    def died(plan):
        raise KeyboardInterrupt  # the process went down once the last answer was verified, before the close

    conductor.interview.advance = died
    with pytest.raises(KeyboardInterrupt):
        events(conductor, sentences[1])
    assert conductor.interview.phase == "grade" and conductor.interview.turns[-1].verified
    del conductor.interview.advance
    llm.forced.clear()
    out = list(conductor.resumed())
    assert not [f for f in llm.forced if "Verdict:" in f] and conductor.interview.done
    assert any(isinstance(e, Spoken) and e.kind == "close" for e in out)


def test_a_reply_does_not_queue_behind_another_candidates_call(run, caplog):
    """Several tabs share one model: with it busy, the bank's words are said at once (a queued reply comes too
    late to help), the fallback is logged, and the answer is still verified once the model is free."""
    llm = FakeLLM(reply="You described the reward model.", choices=verdicts("yes"))
    llm.busy = True
    conductor = run(llm)
    question = conductor.interview.prompt.question
    with caplog.at_level("WARNING"):
        out = events(conductor, "Humans are involved somehow.")
    spoken = [e for e in out if isinstance(e, Spoken)]
    assert not any(e.written for e in spoken)  # nothing the LLM wrote: the bank's follow-up or next question
    assert "You described" not in " ".join(e.text for e in spoken)
    assert "the model is busy with another call" in caplog.text
    prompt = conductor.interview.prompt  # the bank's own words: its follow-up prompt, or the next question
    assert prompt.text in [f.ask for f in question.follow_ups] + [prompt.question.question]
    assert conductor.interview.turns[-1].verified  # the verdicts wait their turn: the reply is already out


class CountingLLM(FakeLLM):
    """A fake whose stream records how many pieces were read from it before the reader stopped."""

    read = 0

    def stream(self, messages, **kwargs):
        for piece in super().stream(messages, **kwargs):
            self.read += 1
            yield piece


def test_the_reply_stops_after_its_one_sentence(run):
    """The model is stopped once what will be said is written (the verdicts wait for it): the acknowledgement,
    before a follow-up or the next question."""
    rambling = " the humans. They compare replies. What happens to their judgements next? Also this. And that."
    llm = CountingLLM(reply=rambling, choices=verdicts("no"))
    conductor = run(llm)
    out = events(conductor, "Humans are involved somehow.")
    acks = [e.text for e in out if isinstance(e, Spoken) and e.kind == "ack" and e.written]
    assert acks == ["You talked about the humans."] and conductor.interview.prompt.kind == "follow_up"
    assert llm.read <= 4  # stopped at the end of its sentence (the fake's pieces are words)

    llm = CountingLLM(reply=" the reward model. The second sentence. A third one. A fourth one. A fifth one.",
                      choices=verdicts("yes"))
    conductor = run(llm, questions=2)
    conductor.verify = VerifyOptions(instant_weight=0)
    out = events(conductor, conductor.interview.prompt.question.answer)  # a strong answer: it moves on
    acks = [e.text for e in out if isinstance(e, Spoken) and e.kind == "ack" and e.written]
    assert acks == ["You talked about the reward model."] and llm.read <= 5  # its words, and the next one


def made(points: set[str]):
    """A fake LLM's reading: the key points in `points` stated, the others not."""
    def choose(messages, slot):
        if slot.forced.strip() == "Kind:":
            return {o: float(o == " answer") for o in slot.options}
        wanted = " yes" if any(f"Key point: {p}\n" in slot.forced for p in points) else " no"
        return {o: float(o == wanted) for o in slot.options}
    return choose


def planned(conductor: Conductor, said: str) -> int:
    """The key point (0-based) a follow-up to `said` would be about, on the instant grade alone."""
    from interviewer.planner import follow_up_for
    return follow_up_for(conductor.interview.prompt.question, conductor.interview.grader.grade(
        conductor.interview.prompt.question, said))[0]


def test_a_follow_up_is_not_asked_about_a_point_the_llm_reads_as_made(run):
    llm = FakeLLM(reply="Good.")
    conductor = run(llm, questions=3)
    question = conductor.interview.prompt.question
    said = "Humans compare two replies. A reward model learns from their choices."
    first = planned(conductor, said)
    llm.choices = made({question.key_points[first]})  # made in words the embeddings missed
    events(conductor, said)
    prompts = {f.key_point - 1: f.ask for f in question.follow_ups}
    asked = conductor.interview.prompt.text
    assert conductor.interview.prompt.kind == "follow_up" and asked != prompts[first]
    second = next(n for n, ask in prompts.items() if ask == asked)  # the next point instead, itself read first
    checks = [f for f in llm.forced if f.count("Key point:") == 1]
    assert [question.key_points[first] in checks[0], question.key_points[second] in checks[1]] == [True, True]


def test_with_every_point_read_as_made_a_follow_up_reads_two_points_at_most_and_asks_about_neither(run):
    llm = FakeLLM(reply="Good.", choices=verdicts("yes"))
    conductor = run(llm, questions=3)
    first = conductor.interview.prompt.question
    events(conductor, "Humans compare two replies. A reward model learns from their choices.")
    checks = [f for f in llm.forced if f.count("Key point:") == 1]
    read = {n for n, point in enumerate(first.key_points) if any(f"Key point: {point}\n" in c for c in checks)}
    assert len(checks) == len(read) == 2 and len(first.follow_ups) > 2  # two readings, on two points
    # then a follow-up on a third point, asked unread (the readings cost a second each), never on those two
    assert conductor.interview.prompt.kind == "follow_up"
    assert conductor.interview.prompt.text not in [f.ask for f in first.follow_ups if f.key_point - 1 in read]


def test_on_the_last_question_points_read_as_made_stay_unasked_once_the_verdicts_are_in(run):
    """With every follow-up's point read as made, the last question closes; the close waits for the verdicts,
    and a verified grade that does not credit those points does not bring a follow-up on them back."""
    from interviewer.conductor import ConductorOptions

    reads = []

    def alone_made_then_not(messages, slot):
        if slot.forced.strip() == "Kind:":
            return {o: float(o == " answer") for o in slot.options}
        reads.append(slot.forced)
        wanted = " yes" if len(reads) <= checks else " no"  # read alone: made; in the verdicts: not
        return {o: float(o == wanted) for o in slot.options}
    llm = FakeLLM(reply="Right.", choices=alone_made_then_not)
    conductor = run(llm, questions=1)
    checks = len(conductor.interview.prompt.question.follow_ups)
    conductor.options = ConductorOptions(follow_up_checks=checks)
    out = events(conductor, "Humans compare two replies. A reward model learns from their choices.")
    assert len(reads) > checks and conductor.interview.turns[-1].verified  # read alone, then verified
    assert conductor.interview.done and [e.kind for e in out if isinstance(e, Spoken)][-1] == "close"


def test_a_follow_up_whose_point_could_not_be_read_is_asked_as_planned(run, caplog):
    calls = []

    def slow_then_fine(messages, slot):
        calls.append(slot)
        if len(calls) == 1:
            raise LLMTimeout("the LLM was busy with another call until the deadline")
        return verdicts("no")(messages, slot)
    llm = FakeLLM(reply="Good.", choices=slow_then_fine)
    conductor = run(llm, questions=3)
    question = conductor.interview.prompt.question
    said = "Humans compare two replies. A reward model learns from their choices."
    first = planned(conductor, said)
    with caplog.at_level("WARNING", logger="interviewer.conductor"):
        events(conductor, said)
    assert conductor.interview.prompt.text == {f.key_point - 1: f.ask for f in question.follow_ups}[first]
    assert "its point was not checked" in caplog.text and conductor.interview.turns[-1].verified


def test_a_quoted_reply_is_spoken_without_its_quotes_and_the_prompts_own_markup_never(run):
    """The small model often wraps its reply in quotation marks, or carries on in the prompt's own shape."""
    def choose(messages, slot):
        return {o: float(o == " clarify") for o in slot.options}
    llm = FakeLLM(reply='"It is the model that scores the responses. " Candidate: <said>more</said>', choices=choose)
    conductor = run(llm)
    events(conductor, "What do you mean by the reward?")
    assert conductor.interview.exchanges[-1].reply == "It is the model that scores the responses."


@pytest.mark.parametrize("reply", [" the humans.", "the humans.", "You talked about the humans.",
                                   "Acknowledgement (no question): You talked about the humans."])
def test_the_acknowledgement_continues_its_opener_once(run, reply):
    """A model continues the words begun for it with or without a space; a server that cannot continue a reply
    (it is asked to, over HTTP) may write them again, or the whole line of the prompt they end: the sentence
    says them once, spaced."""
    llm = FakeLLM(reply=reply, choices=verdicts("no"))
    out = events(run(llm), "Humans are involved somehow.")
    assert [e.text for e in out if isinstance(e, Spoken) and e.written] == ["You talked about the humans."]
