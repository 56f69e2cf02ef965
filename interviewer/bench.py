"""`make bench`: load times, LLM speed, speech speed, embedding and store latency, grading latency.

Prints a table and writes the figures as JSON to the data directory (bench.json). Run with the default
profile for the README's figures; INTERVIEWER_PROFILE=test measures the small models.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np

from interviewer.audio import chunks_to_16k
from interviewer.settings import Settings
from interviewer.types import Message
from interviewer.wiring import Services

PROMPT = (
    "You are a strict but fair interviewer for machine learning engineers. The candidate was asked how "
    "reinforcement learning from human feedback works. They said that a reward model is trained on human "
    "comparisons and that the policy is then tuned with PPO, but they did not mention the KL penalty or "
    "supervised fine-tuning. In two sentences, ask a follow-up question about what they missed, without "
    "giving away the answer, and keep a friendly tone."
)


def _timed(fn: Callable):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def bench_loads(services: Services) -> dict:
    rows = {}
    for role in ("embedder", "llm", "stt", "tts"):
        _, seconds = _timed(lambda r=role: getattr(services, r))
        rows[f"load_{role}_s"] = seconds
    _, rows["store_open_and_sync_s"] = _timed(lambda: services.store)
    return rows


def bench_llm(services: Services, runs: int = 3) -> dict:
    llm = services.llm
    ttfts, gen_rates, prompt_tokens = [], [], 0
    for i in range(runs):
        messages = [Message("user", f"Case {i + 1}. {PROMPT}")]  # a new first token: no cached prefix
        prompt_tokens = llm.count_tokens(messages)
        start = time.perf_counter()
        first, pieces = None, 0
        for _ in llm.stream(messages, max_tokens=64):
            pieces += 1
            first = first or time.perf_counter()
        end = time.perf_counter()
        ttfts.append(first - start)
        gen_rates.append((pieces - 1) / (end - first) if pieces > 1 else 0.0)
    ttft = statistics.median(ttfts)
    return {"llm_prompt_tokens": prompt_tokens, "llm_ttft_s": ttft, "llm_prompt_tok_per_s": prompt_tokens / ttft,
            "llm_gen_tok_per_s": statistics.median(gen_rates), "llm_gpu_offload": llm.gpu_offload}


def bench_speech(services: Services) -> dict:
    text = ("Speculative decoding lets a small draft model propose several tokens. The large model checks "
            "them all in one forward pass. When most guesses are accepted, generation gets two to three "
            "times faster, and the output distribution stays exactly the same.")
    tts = services.tts
    start = time.perf_counter()
    first_audio, chunks = None, []
    for chunk in tts.synthesize(text):
        first_audio = first_audio or time.perf_counter() - start
        chunks.append(chunk)
    synth_s = time.perf_counter() - start
    seconds = sum(c.seconds for c in chunks)
    audio16k = np.concatenate([np.zeros(8000, np.float32), chunks_to_16k(chunks)])
    transcript, stt_s = _timed(lambda: services.stt.transcribe(audio16k))
    return {"tts_first_audio_s": first_audio, "tts_rtf": synth_s / seconds, "audio_s": seconds,
            "stt_rtf": stt_s / (len(audio16k) / 16000), "stt_text": transcript.text}


def bench_voice_turn(services: Services, turns: int = 8) -> dict:
    """A scripted spoken session through the page's own handlers, hands-free: each answer (synthesised from
    the question's key points) is fed to `hear_stream` in half-second pieces, each sent once its audio has
    been spoken, as the browser sends it, then silence until the turn ends; the nod and the reply come from
    `heard_reply`, as the page calls it when the stream's handler says so; the candidate starts once the
    question has been heard out (its audio and the page's second of margin). "first_heard" is the first
    interviewer audio of either kind, the nod where there was one. Counted from the candidate's last word
    (where the synthesised speech really ends), so the wait that decides the turn has ended is included, as
    Pipecat counts it. Each turn's stages, the page's and the conductor's, go to `voice_turn_stages` (seconds
    from the last word): what a slow turn waited for."""
    from interviewer.ui.app import hear_stream, heard_reply, start

    services.warm_up(voice=True)  # as the page does before its first visitor
    questions = (turns + 1) // 2  # weak and strong answers alternate: some get follow-ups
    for outputs in start(services, services.settings.seed, ["rlhf"], "mid", questions, 600, True):
        tab = outputs[1]
    stages: dict[str, list[float]] = {"turn_end": [], "transcript": [], "score": [], "nod": [], "first_audio": [],
                                      "first_heard": [], "first_written_audio": []}
    turns_seen: list[dict[str, float]] = []  # each turn's stages, page's and conductor's, from the last word
    lines: list[str] = []  # what each turn's nod said, where the turn had one after the last word
    step = 8000  # samples in half a second at 16 kHz
    for n in range(turns):
        if not tab.listening:
            break
        question = tab.interview.prompt.question
        said = " ".join(question.key_points[:2] if n % 2 else question.key_points[:1])
        speech = chunks_to_16k(services.tts.synthesize(said))
        loud = np.nonzero(np.abs(speech) > 0.01)[0]
        speech = speech[:loud[-1] + 1]
        audio = np.concatenate([np.zeros(step), speech, np.zeros(step * 8)])
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        time.sleep(max(0.0, tab.speaking_until - time.time()))  # the candidate hears the question out
        tab.speaking_until = 0.0
        began, line = time.time(), None
        for at in range(0, len(pcm), step):
            time.sleep(max(0.0, began + (at + step) / 16000 - time.time()))  # a piece leaves once it was said
            heard, _ = hear_stream(services, (16000, pcm[at:at + step]), tab)  # it updates `tab` in place
            if isinstance(heard, str) and tab.heard is None:  # the nod: said, and the answer is heard on
                line = tab.nod[2] if tab.nod else line
                for _ in heard_reply(services, tab):
                    pass
            elif isinstance(heard, str):  # which answer was heard: it has been graded
                break
        else:
            raise RuntimeError(f"the turn did not end: {said!r}")
        for _ in heard_reply(services, tab):
            pass  # the reply, streamed; its first audio time is in tab.timings
        t, last_word = tab.timings, began + (step + len(speech)) / 16000
        t["first_heard"] = min(t[key] for key in ("nod", "first_audio") if key in t)  # what the candidate hears first
        if "nod" in t:
            lines.append(line)
        for key in stages:
            if key in t:  # no LLM-written line when the LLM was late or failed: the bank's words were spoken
                stages[key].append(t[key] - last_word)
        seen = {**tab.conductor.timings, **t}  # the page's stages win where both have one
        turns_seen.append({k: round(v - last_word, 3) for k, v in sorted(seen.items(), key=lambda kv: kv[1])})
    return {f"voice_{k}_p{q}_s": _pct(v, q) for k, v in stages.items() if v for q in (50, 95)} | {
        "voice_turns": len(stages["first_heard"]), "voice_nods": len(stages["nod"]),
        "voice_nods_said": dict(Counter(lines)),
        "voice_turns_with_llm_audio": len(stages["first_written_audio"]),
        "voice_turn_stages": turns_seen}


def bench_voice(services: Services) -> dict:
    """The `voice_turn` object: turn-taking on scripted answers (fixed pause and turn model, same run) and
    the page's own loop from the last word to the reply's first audio."""
    from interviewer.bench_voice import bench_turn_taking

    page = bench_voice_turn(services)
    voice = bench_turn_taking(services)
    voice["last_word_to_first_audio_s"] = {"p50": page["voice_first_heard_p50_s"],
                                           "p95": page["voice_first_heard_p95_s"], "turns": page["voice_turns"],
                                           "nods": page["voice_nods"], "nods_said": page["voice_nods_said"],
                                           "turn_model": services.turn is not None}
    return page | {"voice_turn": voice}


def placeholder_answer(n: int, topic: str, chat: list) -> str:
    """An answer that names its tab's topic, so a test can tell the tabs' chats apart."""
    return f"My answer number {n} about {topic}."


def drive_text_interviews(url: str, topics: list[str], questions: int = 3, answer=placeholder_answer) -> list[dict]:
    """Run one typed interview per topic at the same time through the page's API, one client (tab) each.
    `answer(n, topic, chat)` gives the n-th answer.

    Returns, per interview, its topic, the chat it saw, the seconds from each answer to its grade on the
    page (`grade_s`), to the reply shown whole with the next prompt open (`reply_s`), and to the end of the
    turn, the last answer's verdicts included (`turn_s`), and any error.
    """
    import threading

    from gradio_client import Client

    results: list[dict] = [{"topic": t, "chat": [], "grade_s": [], "reply_s": [], "turn_s": [], "error": None}
                           for t in topics]

    def panel(outputs) -> str:
        return next((str(o) for o in outputs if "progress-panel" in str(o)), "")

    def run(result: dict) -> None:
        try:
            client = Client(url, verbose=False)
            chat, *_ = client.predict([result["topic"]], "mid", questions, 120, False, api_name="/start")
            for n in range(questions * 2):  # a follow-up may come after each question
                if "overall score" in str(chat[-1]).lower():
                    break
                start = time.perf_counter()
                job = client.submit(answer(n, result["topic"], chat), api_name="/answer")
                shown, replied = [], None
                for outputs in job:  # one per update: first the grade, then more
                    shown.append(time.perf_counter() - start)
                    if replied is None and len(shown) > 1 and "grading it" not in panel(outputs):
                        replied = shown[-1]  # the panel left "Answer received: grading it": the next prompt is open
                chat = job.result()[0]
                result["turn_s"].append(time.perf_counter() - start)
                result["grade_s"].append(shown[0])
                result["reply_s"].append(replied or result["turn_s"][-1])
            result["chat"] = chat
        except Exception as error:  # recorded, so the caller can report every failure
            result["error"] = repr(error)

    threads = [threading.Thread(target=run, args=(r,)) for r in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _answers_from_the_bank(services: Services):
    """Answers as a candidate might type them: the key points of the question last asked (one, then two)."""
    questions = services.bank.questions

    def answer(n: int, topic: str, chat: list) -> str:
        for message in reversed(chat):
            text = str(message.get("content", ""))
            asked = next((q for q in questions if q.question in text), None)
            if asked is not None:
                return " ".join(asked.key_points[: 1 + n % 2])
        return placeholder_answer(n, topic, chat)
    return answer


def bench_concurrency(services: Services) -> dict:
    """Per-answer latency through the page with 1 and with 4 candidates at once, on answers made of the
    asked question's key points."""
    import socket

    from interviewer.session import SessionOptions
    from interviewer.ui.app import app_kwargs, build_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(services, SessionOptions(topics=("rlhf",)))
    demo.queue(default_concurrency_limit=services.settings.concurrency)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs())
    url = f"http://127.0.0.1:{port}/"
    out = {}
    try:
        for n, topics in ((1, ["rlhf"]), (4, ["rlhf", "sampling", "kv-cache", "dpo"])):
            runs = drive_text_interviews(url, topics, answer=_answers_from_the_bank(services))
            for stage in ("grade", "reply", "turn"):
                times = [t for r in runs for t in r[f"{stage}_s"]]
                out[f"page_{stage}_{n}x_p50_s"], out[f"page_{stage}_{n}x_p95_s"] = _pct(times, 50), _pct(times, 95)
            out[f"page_errors_{n}x"] = sum(r["error"] is not None for r in runs)
    finally:
        demo.close()
    return out


def bench_verified(services: Services, answers: int = 6) -> dict:
    """After the answer ends, as the conductor runs it: the first sentence of the LLM's reply (planned on the
    instant grade), then the verified grade, which comes after the whole reply. With the prompt evaluated while
    the candidate was talking (prefill at 60% and 90% of the words) and without (cold, on other questions so
    nothing is cached)."""
    from interviewer.conductor import REPLY_SENTENCES, ConductorOptions
    from interviewer.conversation import Context
    from interviewer.eval import load_labelled
    from interviewer.planner import follow_up_for, points_made
    from interviewer.verdicts import made as made_alone

    dialogue = services.dialogue
    if dialogue is None:
        return {}
    seen, items = set(), []
    for item in load_labelled():
        if item["question_id"] not in seen and len(item["answer"].split()) > 30:
            seen.add(item["question_id"])
            items.append(item)
    found: dict[str, list[float]] = defaultdict(list)
    for n, item in enumerate(items[: 2 * answers]):
        mode = "prefilled" if n % 2 == 0 else "cold"
        q = services.store.get(item["question_id"])
        words = item["answer"].split()
        if mode == "prefilled":
            for share in (0.6, 0.9):
                so_far = " ".join(words[: int(share * len(words))])
                dialogue.prefill(Context(q.question, tuple(q.key_points), (), so_far))
        start = time.perf_counter()
        provisional = services.grader.grade(q, item["answer"])
        context = Context.of_answer(q.question, q.key_points, item["answer"], provisional)
        made = points_made(q, provisional, lambda n, c=context, g=provisional: made_alone(
            dialogue.point(c, n), g.points[n].strength), ConductorOptions().follow_up_checks)
        target = follow_up_for(q, provisional, made)  # as the conductor asks it: its point checked first
        plan = "follow_up" if target else "move_on"
        first = None
        for n, _ in enumerate(dialogue.reply(context, plan, unsaid=provisional.not_covered,
                                             praise_allowed=False), 1):  # as on an instant grade
            first = first or time.perf_counter() - start  # the whole reply is written before the verdicts
            if n >= REPLY_SENTENCES:
                break  # where the conductor stops the model
        if first is not None:
            found[f"first_reply_sentence_{mode}"].append(first)
        found[f"tokens_left_{mode}"].append(getattr(services.llm, "last_evaluated", 0))  # evaluated after the end
        dialogue.judge(context, kind="answer")
        found[f"verified_{mode}"].append(time.perf_counter() - start)
    return {f"{key}_{q}{'' if key.startswith('tokens') else '_s'}": _pct(values, q)
            for key, values in found.items() for q in (50, 95)}


def bench_retrieval_and_grading(services: Services) -> dict:
    questions = services.bank.questions
    sentences = [s for q in questions for s in q.key_points][:300]
    _, embed_s = _timed(lambda: services.embedder.embed(sentences))
    query_times = [_timed(lambda q=q: services.store.search(q.question, k=3, topic=q.topic))[1]
                   for q in questions[:50]]
    grader = services.grader
    grade_times = [_timed(lambda q=q: grader.grade(q, " ".join(q.key_points[:2])))[1] for q in questions[:60]]
    return {"embed_sentences_per_s": len(sentences) / embed_s,
            "store_query_p50_ms": 1000 * _pct(query_times, 50), "store_query_p95_ms": 1000 * _pct(query_times, 95),
            "grade_p50_ms": 1000 * _pct(grade_times, 50), "grade_p95_ms": 1000 * _pct(grade_times, 95)}


ROWS = [
    ("load_embedder_s", "load embedder (MiniLM)", "s"), ("load_llm_s", "load LLM", "s"),
    ("load_stt_s", "load STT (whisper)", "s"), ("load_tts_s", "load TTS (Piper)", "s"),
    ("store_open_and_sync_s", "open store + sync bank", "s"),
    ("llm_ttft_s", "LLM time to first token", "s"), ("llm_prompt_tok_per_s", "LLM prompt", "tok/s"),
    ("llm_gen_tok_per_s", "LLM generation", "tok/s"),
    ("tts_first_audio_s", "TTS time to first audio", "s"), ("tts_rtf", "TTS real-time factor", "×"),
    ("stt_rtf", "STT real-time factor", "×"), ("embed_sentences_per_s", "embedding", "sent/s"),
    ("store_query_p50_ms", "store query p50", "ms"), ("store_query_p95_ms", "store query p95", "ms"),
    ("grade_p50_ms", "grade p50", "ms"), ("grade_p95_ms", "grade p95", "ms"),
    ("verified_prefilled_50_s", "verified grade (after the reply) after the answer ends, prompt prefilled: p50", "s"),
    ("verified_prefilled_95_s", "verified grade (after the reply) after the answer ends, prompt prefilled: p95", "s"),
    ("verified_cold_50_s", "verified grade (after the reply) after the answer ends, nothing prefilled: p50", "s"),
    ("verified_cold_95_s", "verified grade (after the reply) after the answer ends, nothing prefilled: p95", "s"),
    ("first_reply_sentence_prefilled_50_s", "first sentence of the LLM's reply, prefilled: p50", "s"),
    ("first_reply_sentence_prefilled_95_s", "first sentence of the LLM's reply, prefilled: p95", "s"),
    ("first_reply_sentence_cold_50_s", "first sentence of the LLM's reply, nothing prefilled: p50", "s"),
    ("tokens_left_prefilled_50", "prompt tokens left to evaluate after the answer, prefilled: p50", "tokens"),
    ("tokens_left_cold_50", "prompt tokens left to evaluate after the answer, nothing prefilled: p50", "tokens"),
    ("voice_turn_end_p50_s", "voice turn: last word → end of turn decided p50", "s"),
    ("voice_transcript_p50_s", "voice turn: last word → transcript final p50", "s"),
    ("voice_score_p50_s", "voice turn: last word → score ready p50", "s"),
    ("voice_first_heard_p50_s", "voice turn: last word → first interviewer audio (the nod or the reply) p50", "s"),
    ("voice_first_heard_p95_s", "voice turn: last word → first interviewer audio (the nod or the reply) p95", "s"),
    ("voice_nod_p50_s", "voice turn: last word → the nod, on turns that had one, p50", "s"),
    ("voice_first_audio_p50_s", "voice turn: last word → first audio of the reply's words p50", "s"),
    ("voice_first_audio_p95_s", "voice turn: last word → first audio of the reply's words p95", "s"),
    ("voice_first_written_audio_p50_s", "voice turn: last word → first audio the LLM wrote p50", "s"),
    ("voice_first_written_audio_p95_s", "voice turn: last word → first audio the LLM wrote p95", "s"),
    ("voice_turns", "voice turns measured", "turns"),
    ("voice_turns_with_llm_audio", "voice turns whose reply had a sentence the LLM wrote", "turns"),
    ("page_grade_1x_p50_s", "page, typed answer → grade shown, 1 candidate: p50", "s"),
    ("page_grade_1x_p95_s", "page, typed answer → grade shown, 1 candidate: p95", "s"),
    ("page_grade_4x_p50_s", "page, typed answer → grade shown, 4 candidates at once: p50", "s"),
    ("page_grade_4x_p95_s", "page, typed answer → grade shown, 4 candidates at once: p95", "s"),
    ("page_reply_1x_p50_s", "page, typed answer → reply shown, next prompt open, 1 candidate: p50", "s"),
    ("page_reply_1x_p95_s", "page, typed answer → reply shown, next prompt open, 1 candidate: p95", "s"),
    ("page_reply_4x_p50_s", "page, typed answer → reply shown, next prompt open, 4 candidates at once: p50", "s"),
    ("page_reply_4x_p95_s", "page, typed answer → reply shown, next prompt open, 4 candidates at once: p95", "s"),
    ("page_turn_1x_p50_s", "page, typed answer → end of the turn (verdicts in), 1 candidate: p50", "s"),
    ("page_turn_1x_p95_s", "page, typed answer → end of the turn (verdicts in), 1 candidate: p95", "s"),
    ("page_turn_4x_p50_s", "page, typed answer → end of the turn (verdicts in), 4 candidates at once: p50", "s"),
    ("page_turn_4x_p95_s", "page, typed answer → end of the turn (verdicts in), 4 candidates at once: p95", "s"),
]


def table(results: dict) -> str:
    """The results as a Markdown table, as the README shows it."""
    lines = ["| measure | value |", "|---|---|"]
    for key, label, unit in ROWS:
        if key in results:
            lines.append(f"| {label} | {results[key]:.3g} {unit} |")
    if "voice_turn" in results:
        lines += ["", voice_table(results["voice_turn"])]
    return "\n".join(lines)


def voice_table(v: dict) -> str:
    """Turn-taking, the fixed pause beside the turn model, against issue 14's targets."""
    def fmt(x) -> str:
        return "–" if x is None else f"{x:.2f}"

    lines = [f"voice turn on {v['scripted_answers']} scripted answers × {', '.join(v['voices'])}",
             "| measure | fixed pause | turn model | target |", "|---|---|---|---|"]
    fixed, smart = v["by_mode"]["fixed"], v["by_mode"]["smart"]
    lines.append(f"| late end p50 (s after a finished answer) | {fmt(fixed['late_end_s']['p50'])} | "
                 f"{fmt(smart['late_end_s']['p50'])} | |")
    lines.append(f"| cut-off rate, 1-3 s thinking pause | {fmt(fixed['cut_off_rate'])} | "
                 f"{fmt(smart['cut_off_rate'])} | ≤ 0.03 |")
    for key in ("last_word_to_turn_end_s", "last_word_to_transcript_s"):
        for q in ("p50", "p95"):
            lines.append(f"| {key.replace('_', ' ')} {q}, paced | {fmt(fixed['quiet'][key][q])} | "
                         f"{fmt(smart['quiet'][key][q])} | |")
    lines.append(f"| words missing, quiet / under CPU hog | {fmt(fixed['quiet']['missing_words'])} | "
                 f"{fmt(smart['quiet']['missing_words'])} / {fmt(smart['under_load']['missing_words'])} | 0 lost |")
    nods = smart.get("nods")
    if nods:
        def kinds(shares: dict) -> str:
            return " / ".join(fmt(shares.get(k)) for k in ("finished", "going on"))

        lines.append(f"| nod after a finished answer: “okay” / “uh-huh” (share) | | "
                     f"{kinds(nods['after_finished'])} | |")
        lines.append(f"| the same, s after the last word (stream time) p50 / p95 | | "
                     f"{fmt(nods['after_finished_s']['p50'])} / {fmt(nods['after_finished_s']['p95'])} | |")
        lines.append(f"| nod at a thinking pause: “okay” / “uh-huh” (share) | | {kinds(nods['at_thinking_pause'])} | |")
    first = v.get("last_word_to_first_audio_s", {})
    lines.append(f"| last word → first interviewer audio (page) p50 / p95 | | {fmt(first.get('p50'))} / "
                 f"{fmt(first.get('p95'))} | ≤ 0.8 / ≤ 1.5 |")
    return "\n".join(lines)


def main() -> None:
    settings = Settings()
    services = Services(settings)
    results = {"profile": settings.profile, "machine": f"{platform.machine()}, {platform.processor() or ''}"}
    results |= bench_loads(services)
    results |= bench_llm(services)
    results |= bench_speech(services)
    results |= bench_retrieval_and_grading(services)
    results |= bench_verified(services)
    results |= bench_voice(services)
    results |= bench_concurrency(services)
    results["llm"] = services.llm.name
    print(table(results))
    out = settings.data_dir / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
