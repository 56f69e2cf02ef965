"""The `interviewer` command: interviews in the terminal or the page, the bank, the models, grading."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import shutil
import sys
import time
from functools import partial
from pathlib import Path

from interviewer.errors import BadInput, InterviewerError
from interviewer.knowledge.schema import LEVELS
from interviewer.limits import cap_answer
from interviewer.render import report_text
from interviewer.settings import Settings

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    An error of ours is one line saying what to do (exit code 2); anything unexpected is one line pointing at
    the log file, which holds the traceback (exit code 1).
    """
    args = _parser().parse_args(argv)
    log_file = None
    try:
        settings = _settings(args)
        log_file = _start(args, settings)
        return args.run(args, settings) or 0
    except InterviewerError as error:
        log.info("stopped: %s", error)
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`interviewer topics | head`): as a Unix tool, stop quietly
        log.info("output pipe closed by its reader", exc_info=True)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own advice: no second error when stdout is flushed at exit
        os.close(devnull)
        return 141
    except Exception as error:
        log.error("unexpected error in `interviewer %s`", " ".join(argv or sys.argv[1:]), exc_info=True)
        where = f"The details are in {log_file}." if log_file else "No log file could be written."
        detail = (str(error).splitlines() or [""])[0][:200]
        print(f"error: something unexpected went wrong ({type(error).__name__}: {detail}). {where}",
              file=sys.stderr)
        return 1


def _settings(args) -> Settings:
    """The settings from the environment and the flags; a bad value is named with what it should be."""
    from pydantic import ValidationError

    overrides = {k: v for k, v in {"profile": args.profile, "model": args.model}.items() if v}
    if getattr(args, "insecure", False):
        overrides["insecure"] = True
    try:
        return Settings(**overrides)
    except ValidationError as error:
        wrong = "; ".join(f"INTERVIEWER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        raise BadInput(f"a setting is not valid: {wrong}") from error


def _start(args, settings: Settings) -> Path | None:
    """Before any work: a command that keeps data checks its folder is writable; then the log file opens."""
    from interviewer.startup import ensure_writable, log_to_file

    if getattr(args, "data", True):
        ensure_writable(settings.data_dir)
    elif not os.access(settings.data_dir, os.W_OK):
        return log_to_file(None, settings.log_level)
    return log_to_file(settings.log_file, settings.log_level)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interviewer", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", help="model profile from models/registry.yaml: default, test or tiny")
    common.add_argument("--model", type=Path, help="a GGUF file of your own to use as the LLM")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    add = partial(commands.add_parser, parents=[common])

    def session_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--topic", default="rlhf", help="topic slug, or several separated by commas")
        p.add_argument("--level", default="mid", choices=LEVELS)
        p.add_argument("--questions", type=int, default=5, help="number of questions")
        p.add_argument("--seconds", type=int, help="time per answer in seconds (default 120)")
        p.add_argument("--follow-ups", type=int,
                       help="follow-ups at most per question (default 1; 0 when answers are piped in)")

    p = add("interview", help="run an interview in the terminal")
    session_flags(p)
    p.add_argument("--text", action="store_true", help="typed answers (the terminal has no voice mode yet)")
    p.add_argument("--json", action="store_true", help="print the final report as one JSON object")
    p.set_defaults(run=_interview)

    p = add("resume", help="continue an unfinished interview in the terminal")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_resume)

    p = add("sessions", help="list saved interview sessions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_sessions)

    p = add("report", help="print a session's report: Markdown, JSON, or a printable HTML page")
    p.add_argument("id")
    p.add_argument("--format", choices=("md", "json", "html"), default="md",
                   help="html: a standalone page to open in a browser and print (redirect it to a .html file)")
    p.set_defaults(run=_report)

    p = add("history", help="scores over time, weakest key points and a suggested next session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_history)

    p = add("transcribe", help="transcribe a recording: text, word timings and delivery metrics")
    p.add_argument("file", type=Path)
    p.add_argument("--hint", default="", help="words to expect, comma-separated (e.g. a glossary)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_transcribe, data=False)

    p = add("say", help="speak text with the interviewer's voice into a WAV file")
    p.add_argument("text")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.set_defaults(run=_say, data=False)

    p = add("serve", help="open the interview page in the browser")
    session_flags(p)
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--insecure", action="store_true",
                   help="serve beyond localhost without a password anyway (anyone who reaches it can use it)")
    p.set_defaults(run=_serve)

    p = add("topics", help="list topics and their question counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_topics)

    p = add("models", help="show the models and whether their files are intact")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_models, data=False)
    sub = p.add_subparsers(dest="action")
    f = sub.add_parser("fetch", help="install, assemble and verify the models of a profile", parents=[common])
    f.set_defaults(run=_models_fetch, data=False)

    p = add("bank", help="check, add or show question banks")
    sub = p.add_subparsers(required=True, metavar="ACTION")
    c = sub.add_parser("check", parents=[common], help="validate a bank folder or file (default: the shipped bank)")
    c.add_argument("path", nargs="?", type=Path)
    c.set_defaults(run=_bank_check, data=False)
    a = sub.add_parser("add", parents=[common], help="validate a bank of your own and merge it into the store")
    a.add_argument("path", type=Path)
    a.set_defaults(run=_bank_add)
    s = sub.add_parser("show", parents=[common], help="print a question with its model answer and key points, or "
                                                     "list a topic's questions with their ids")
    s.add_argument("id", help="a question's id, or a topic (its questions' ids are listed)")
    s.set_defaults(run=_bank_show)

    p = add("prepare", help="write questions, model answers and key points from your own notes (a new topic)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="Markdown, text, HTML or PDF files")
    p.add_argument("--topic", required=True, help="a name for the new topic (lower case, hyphens), e.g. my-notes")
    p.add_argument("--text", action="append", default=[], help="material given as text instead of a file")
    p.add_argument("--job-description", metavar="FILE|TEXT",
                   help="a job description (its file, or its text): the bank questions that match its requirements "
                        "are included, and questions are written for the requirements none covers")
    p.add_argument("--questions", type=int, default=8,
                   help="questions to write (default 8); with --job-description, at most this many for the "
                        "requirements the bank does not cover")
    p.add_argument("--levels", default="fresher,mid,senior", help="levels, comma-separated, taken in turn")
    p.add_argument("--title", default="", help="the topic's title as the interview names it")
    p.add_argument("--json", action="store_true", help="print what was done as one JSON object")
    p.set_defaults(run=_prepare)

    p = add("grade", help="grade an answer to a bank question, to your own question, or a batch file")
    p.add_argument("--question-id", help="a bank question's id")
    p.add_argument("--question", help="your own question (with --reference)")
    p.add_argument("--reference", help="the model answer to grade against (with --question)")
    p.add_argument("--answer", help="the answer to grade")
    p.add_argument("--batch", type=Path, help="JSONL input: objects with question, reference, answer (and id)")
    p.add_argument("--out", type=Path, help="JSONL output for --batch (default: standard output)")
    p.add_argument("--verify", action="store_true",
                   help="also let the LLM read the answer against each key point (the verified grade)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_grade)
    return parser


def _services(settings: Settings):
    from interviewer.wiring import Services

    return Services(settings)


def _options(args, settings: Settings):
    from interviewer.session import SessionOptions

    topics = tuple(t.strip() for t in args.topic.split(",") if t.strip())
    return SessionOptions(topics=topics, level=args.level, questions=args.questions,
                          answer_seconds=args.seconds or settings.answer_seconds,
                          follow_ups=args.follow_ups if args.follow_ups is not None else int(sys.stdin.isatty()),
                          seed=settings.seed)


COMMANDS = {"/skip": "skip", "/repeat": "repeat", "/hint": "hint", "/end": "end"}


def _interview(args, settings: Settings) -> int:
    services = _services(settings)
    services.check_models(services.roles_needed(voice=False))
    return _converse(services, services.new_interview(_options(args, settings)), args.json, start=True)


def _resume(args, settings: Settings) -> int:
    services = _services(settings)
    services.check_models(services.roles_needed(voice=False))
    interview = services.resume(args.id)
    if interview.done:
        print(f"session {args.id} is finished; `interviewer report {args.id}` shows it", file=sys.stderr)
        return 0
    return _converse(services, interview, args.json, start=False)


def _converse(services, interview, as_json: bool, *, start: bool) -> int:
    """Run an interview over the terminal: answers from the keyboard, or one per line from a pipe. What the
    candidate types goes through the same turn pipeline as the page: talking back ("can you repeat that?",
    "I don't know", "let's stop") works typed, and each grade is shown instant, then verified."""
    import time

    from interviewer.report import build_report
    from interviewer.startup import warnings_to_the_log

    conductor = services.conductor(interview, verify_first=True)  # its verified grade comes before the next line
    interactive = sys.stdin.isatty()
    out = sys.stderr if as_json else sys.stdout

    def question_score() -> str:  # after a follow-up's grade: a new user read the answer's score as the question's
        turn = interview.turns[-1] if interview.turns else None
        if turn is None or turn.kind != "follow_up" or turn.skipped:
            return ""
        score = next(s for q, s in interview.question_scores() if q.id == turn.question.id)
        first = next(t.grade.score for t in interview.turns if t.question == turn.question and t.kind == "main")
        return f"(The question scores {score}/10: your first answer's {first}, plus half of what the follow-up added.)"

    show = _Shown(partial(print, file=out),  # a question is known to be over once the next one is open
                  over=lambda: interview.done or (interview.phase == "listen" and interview.prompt.kind == "main"),
                  footnote=question_score)
    if interactive:
        show_help = "Type your answer and press Enter. Commands: " + ", ".join(COMMANDS) + ", or just say so."
        print(show_help, file=out)
    asked = []  # the questions and follow-ups said: a resumed session that said its open prompt needs no repeat

    def noting(events):
        for event in events:
            asked.extend([event] if getattr(event, "kind", "") in ("question", "follow_up") else [])
            yield event

    if not start and interview.number:  # where the candidate is, before what the session still owes is said
        follow = ", its follow-up" if interview.phase == "listen" and interview.prompt.kind == "follow_up" else ""
        print(f"(Resuming session {interview.id}: question {interview.number} of {interview.options.questions}"
              f"{follow}.)", file=out)
    with warnings_to_the_log() as tally:
        try:
            show(conductor.said(interview.start()) if start else noting(conductor.resumed()))
            if not start and interview.phase == "listen" and not interview.pending and not asked:
                show(conductor.said(interview.repeat()))  # (a new user saw the follow-up printed twice)
            while not interview.done:
                if interactive:  # the LLM reads the question in the background while the candidate types
                    conductor.listening("")
                began = time.monotonic()
                try:
                    answer = input("> ") if interactive else sys.stdin.readline()
                except EOFError:
                    answer = ""
                if not interactive and not answer:  # the pipe ran dry: stop, the session stays resumable
                    print(f"\n(no more input; `interviewer resume {interview.id}` continues this session)", file=out)
                    break
                answer, cut = cap_answer(answer.strip(), services.settings.max_answer_chars)
                if not interactive:  # a terminal shows what was typed; piped in, the transcript shows it here
                    print(f"> {answer}", file=out)
                if cut:
                    print(f"({cut})", file=out)
                if answer in COMMANDS:
                    show(conductor.said(getattr(interview, COMMANDS[answer])()))
                else:
                    show(conductor.heard(answer,
                                         timed_out=time.monotonic() - began > interview.options.answer_seconds))
        except KeyboardInterrupt:  # every answer is saved as it is given: the session stays resumable
            print(f"\n(stopped; `interviewer resume {interview.id}` continues this session)", file=out)
            return 130
    report = build_report(interview)
    print(json.dumps(report, indent=2) if as_json else report_text(report))
    if tally.count:
        print(f"({tally.count} warning{'s' * (tally.count != 1)} during the interview, such as the LLM running out "
              f"of time and the bank's words said instead, went to the log: {services.settings.log_file})",
              file=sys.stderr)
    return 0


class _Shown:
    """Prints a turn's events as they come (call it with each turn's): the instant grade, the interviewer's
    messages, and the verified grade before the next question or follow-up. A message is printed whole once the
    next thing comes, so the one still open when the verified grade arrives (the LLM checks the answer while the
    reply is written) waits for it: printed after the next question, a new user could not tell which answer the
    verified grade was for. A "let me check" message said before the check is printed before it.
    A grade lists the points not made only once its question is over (`over()`: known to be over), since a
    follow-up may ask for any of them: the instant grade comes before the follow-up is chosen, so it never lists
    them; for a grade printed without them, what it held back is printed before the next question or the close,
    in whichever turn that comes (a follow-up skipped, or "I don't know" to it)."""

    def __init__(self, say, over=lambda: True, footnote=lambda: "") -> None:
        self.say, self.over, self.footnote = say, over, footnote  # footnote: a line after each final grade, or ""
        self.held = None  # the last grade printed without the points not made

    def __call__(self, events) -> None:
        from interviewer.conductor import Graded
        from interviewer.render import grade_text, held_back_text

        say, message = self.say, []  # the Spoken events of the message not yet printed

        def flush() -> None:
            if self.held is not None and any(event.kind in ("question", "close") for event in message):  # over
                say(f"\nYour last answer ({self.held.score}/10), the rest of its grade:\n{held_back_text(self.held)}")
                self.held = None
            if message:
                say("\n" + " ".join(event.text for event in message))
                message.clear()

        for event in events:
            if isinstance(event, Graded):
                if any(spoken.kind == "wait" for spoken in message):
                    flush()
                self.held = None if self.over() else event.grade
                if event.grade.verified:
                    shown = grade_text(event.grade, withhold=self.held is not None)
                    say(f"\nYour last answer, verified by the LLM: {shown}")
                elif event.note:
                    say(f"(For your last answer the instant grade stands, {event.note}.)")
                    if self.held is None:
                        say(f"Your last answer: {grade_text(event.grade)}")
                if line := self.footnote():
                    say(line)
                continue
            if message and (event.grade is not None or event.group != message[-1].group):
                flush()
            if event.grade is not None:
                self.held = event.grade
                shown = grade_text(event.grade, withhold=True)
                say(f"\n{event.text}\nInstant grade (the LLM is checking it): {shown}")
            else:
                message.append(event)
        flush()


def _sessions(args, settings: Settings) -> int:
    import datetime

    rows = _services(settings).sessions.sessions()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        when = datetime.datetime.fromtimestamp(r["started"]).strftime("%Y-%m-%d %H:%M")
        overall = "-" if r["overall"] is None else f"{r['overall']}/10"
        done = f"{r['answered']}/{r['questions']} answered" + (f", {r['skipped']} skipped" if r["skipped"] else "")
        print(f"{r['id']}  {when}  {r['status']:<5} {done:<24} {overall:>7}  {','.join(r['topics'])} ({r['level']})")
    return 0


def _report(args, settings: Settings) -> int:
    from interviewer.render import report_html, report_markdown
    from interviewer.report import build_report

    services = _services(settings)
    report = build_report(services.sessions.load(args.id, services.questions(), None))  # nothing is graded
    shown = {"json": lambda r: json.dumps(r, indent=2), "html": report_html, "md": report_markdown}[args.format]
    print(shown(report))
    return 0


def _history(args, settings: Settings) -> int:
    from interviewer.render import history_text

    history = _services(settings).sessions.history()
    print(json.dumps(history, indent=2) if args.json else history_text(history))
    return 0


def _transcribe(args, settings: Settings) -> int:
    from interviewer.voice import hear

    glossary = tuple(t.strip() for t in args.hint.split(",") if t.strip())
    heard = hear(_services(settings).stt, args.file, glossary=glossary)
    t, d = heard.transcript, heard.delivery
    if args.json:
        print(json.dumps({"text": t.text, "duration": t.duration,
                          "words": [{"word": w.text, "start": w.start, "end": w.end} for w in t.words],
                          "delivery": d.to_dict() if d else None}, indent=2))
    else:
        print(t.text)
        if d:
            print(f"\n{d.wpm:.0f} words/min, {d.fillers} filler(s), {d.long_pauses} long pause(s). {d.advice()}")
    return 0


def _say(args, settings: Settings) -> int:
    from interviewer.tts import chunks_to_wav

    args.output.write_bytes(chunks_to_wav(_services(settings).tts.synthesize(args.text)))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _serve(args, settings: Settings) -> int:
    from interviewer.ui.app import launch

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v}
    settings = settings.model_copy(update=overrides)
    launch(_services(settings), _options(args, settings))
    return 0


def _topics(args, settings: Settings) -> int:
    services = _services(settings)
    counts = services.topic_counts()
    titles = services.topic_titles()
    rows = [
        {"topic": t, "title": titles.get(t, t), "counts": {lv: counts[t].get(lv, 0) for lv in LEVELS},
         "total": sum(counts[t].values())}
        for t in sorted(counts)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            per_level = "  ".join(f"{lv} {row['counts'][lv]}" for lv in LEVELS)
            print(f"{row['topic']:<24} {row['total']:>3}   {per_level}   {row['title']}")
        print("\n`interviewer bank show TOPIC` lists a topic's questions with their ids (for `grade --question-id`).")
    return 0


def _models(args, settings: Settings) -> int:
    from interviewer import registry

    services = _services(settings)
    rows = []
    for role, spec in services.registry.for_profile(settings.profile).items():
        status, why = registry.check(spec, settings.models_dir)
        rows.append({"role": role, "id": spec.id, "path": str(spec.load_path(settings.models_dir)),
                     "status": status, "detail": why, "licence": spec.licence})
    if settings.model:
        ok = settings.model.is_file()
        rows = [r for r in rows if r["role"] != "llm"] + [{
            "role": "llm", "id": settings.model.stem, "path": str(settings.model),
            "status": "ok" if ok else "missing", "detail": "" if ok else "file not found", "licence": "user's own",
        }]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['role']:<9} {r['status']:<8} {r['id']:<40} {r['detail'] or r['path']}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def _models_fetch(args, settings: Settings) -> int:
    from interviewer import registry

    services = _services(settings)
    for spec in services.registry.for_profile(settings.profile).values():
        registry.fetch(spec, settings.models_dir, log=lambda m: print(m, file=sys.stderr))
        print(f"{spec.role:<9} ok       {spec.id}")
    return 0


def _prepare(args, settings: Settings) -> int:
    from interviewer import documents
    from interviewer import prepare as P

    texts = [documents.from_text(t, f"text {n}") for n, t in enumerate(args.text, 1)]
    job = documents.job_description(args.job_description) if args.job_description is not None else None
    started = time.monotonic()

    def progress(done: int, total: int, what: str) -> None:
        if args.json:
            return
        elapsed = time.monotonic() - started
        eta = f", about {elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
        bar = "#" * (20 * done // max(total, 1))
        width = shutil.get_terminal_size((100, 24)).columns - 1
        line = f"[{bar:<20}] {done}/{total} "
        room = max(width - len(line) - len(eta), 10)  # what is happening gives way, the time left stays
        what = what if len(what) <= room else what[:room - 1] + "…"
        print("\r" + (line + what + eta).ljust(width), end="", file=sys.stderr, flush=True)

    report = _services(settings).prepare([*args.paths, *texts], args.topic, questions=args.questions,
                                         levels=[x.strip() for x in args.levels.split(",") if x.strip()],
                                         title=args.title, progress=progress, job=job)
    if not args.json:
        print(file=sys.stderr)
    summary = report.as_dict()
    if args.json:
        print(json.dumps(summary))
        return 0
    for skipped in report.skipped:
        print(f"skipped {skipped}")
    for note in summary["dropped"]:
        print(f"dropped {note}")
    for need in report.requirements:
        print(f"requirement: {need['requirement']}\n  covered by: {P.covered_by(need)}")
    print(f"{summary['kept']} of {summary['planned']} written questions kept ({P.since_last_run(summary)}), "
          f"{summary['key_points_removed']} key points removed as unsupported by your material")
    env = _data_dir_env(settings)
    print(f"wrote {report.bank_file}: review and edit it, then `{env}interviewer interview --topic {report.topic}` "
          f"(or `{env}make interview TOPIC={report.topic}` in the repository)")
    return 0


def _data_dir_env(settings: Settings) -> str:
    """What a command given as the next step must be prefixed with to find this run's data: a topic prepared into
    another data directory is not in the default one, where a bare `make interview` would look for it."""
    if settings.data_dir.resolve() == Settings.model_fields["data_dir"].default.resolve():
        return ""
    return f"INTERVIEWER_DATA_DIR={shlex.quote(str(settings.data_dir))} "


def _bank_check(args, settings: Settings) -> int:
    from interviewer.knowledge.schema import load_bank
    from interviewer.wiring import shipped_bank_dir

    if args.path is None:
        bank = load_bank(shipped_bank_dir())
    else:  # a topic may include questions of the other banks: those are what its includes are checked against
        target = args.path.resolve()
        others = [p for p in _services(settings).bank_paths() if p.resolve() != target]
        known = [q for topic in load_bank(*others).topics for q in topic.questions]
        bank = load_bank(args.path, known=known)
    for problem in bank.problems:
        print(problem)
    print(f"{len(bank.topics)} topics, {len(bank.questions)} questions, {len(bank.problems)} problems")
    return 1 if bank.problems else 0


def _bank_add(args, settings: Settings) -> int:
    services = _services(settings)
    bank = services.add_bank(args.path)
    for problem in bank.problems:
        print(problem)
    if bank.problems:
        return 1
    services.store  # noqa: B018 (ingests the merged bank now, so the next interview starts at once)
    names = ", ".join(t.topic for t in bank.topics)
    print(f"added {len(bank.questions)} questions in topic(s) {names}")
    return 0


def _bank_show(args, settings: Settings) -> int:
    from interviewer.render import question_text

    questions = _services(settings).bank.questions  # what the store holds, read from the files: no model loads
    question = next((q for q in questions if q.id == args.id), None)
    if question is not None:
        print(question_text(question))
        return 0
    listed = [q for q in questions if q.topic == args.id]
    if not listed:
        print(f"error: no question or topic with id {args.id!r}; `interviewer topics` lists the topics, and "
              "`interviewer bank show TOPIC` a topic's question ids", file=sys.stderr)
        return 2
    width = max(len(q.id) for q in listed)
    for q in sorted(listed, key=lambda q: (LEVELS.index(q.level), q.id)):  # a level is one of LEVELS (schema)
        print(f"{q.id:<{width}}  {q.level:<7}  {q.question}")
    return 0


def _grade(args, settings: Settings) -> int:
    from interviewer.grader import Reference
    from interviewer.render import grade_text, verified_text

    services = _services(settings)
    if args.batch:
        return _grade_batch(services, args.batch, args.out, verify=args.verify)
    if args.answer is None:
        raise BadInput("give --answer TEXT (or --batch FILE)")
    if args.question_id:
        target = services.store.get(args.question_id)
        if target is None:
            raise BadInput(f"no question with id {args.question_id!r}; `interviewer topics` lists the topics")
    elif args.question and args.reference:
        target = Reference.from_text(args.question, args.reference)
    else:
        raise BadInput("give --question-id ID, or --question TEXT with --reference TEXT")
    answer, cut = cap_answer(args.answer, settings.max_answer_chars)
    if cut:
        print(cut, file=sys.stderr)
    provisional = services.grader.grade(target, answer)
    if not args.verify:
        print(json.dumps(provisional.to_dict(), indent=2) if args.json else grade_text(provisional))
        if provisional.confidence == "low" and not args.json and services.settings.use_llm:
            print("(--verify has the local LLM read the answer for its meaning: a few seconds more.)")
        return 0
    row, final = _verified_row(services, target, answer, provisional)
    print(json.dumps(row, indent=2) if args.json else
          verified_text(provisional, final, "" if row["verified"] else row["verification"]))
    return 0


def _verified_row(services, target, answer: str, provisional) -> tuple[dict, object]:
    """The verified grade of one answer as `grade --verify` reports it: the final grade's fields, with
    `provisional_score`, `verified` and each key point's verdict (`statements`)."""
    import time

    from interviewer.errors import InterviewerError

    dialogue = services.dialogue
    if dialogue is None:
        raise BadInput("--verify needs the LLM; it is switched off (INTERVIEWER_USE_LLM=0)")
    try:
        # asked for on purpose, so it may take as long as the model's own timeout, not an interview's budget
        final, judgement = dialogue.verify(target.question, target.key_points, answer, provisional,
                                           deadline=time.monotonic() + services.settings.llm_timeout_s)
        reason = "" if judgement else "nothing to verify: no answer was given"
    except InterviewerError as error:
        log.warning("grade --verify: %s", error)
        final, judgement, reason = provisional, None, str(error)
    statements = [{"statement": p.point, "status": p.status,
                   **({"verdict": max(v, key=v.get), "probabilities": {k: round(x, 4) for k, x in v.items()}}
                      if judgement else {})}
                  for p, v in zip(final.points, judgement.verdicts if judgement else [{}] * len(final.points),
                                  strict=True)]
    return {**final.to_dict(), "provisional_score": provisional.score, "verified": judgement is not None,
            "verification": reason, "statements": statements}, final


def _grade_batch(services, source: Path, out: Path | None, *, verify: bool = False) -> int:
    """Grade every line of a JSONL file; each output line is the input object plus its grade (with `verify`,
    the verified grade as `score`, and `provisional_score`, `verified` and `statements`)."""
    import time

    from interviewer.grader import Reference

    try:
        lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [json.loads(line) for line in lines]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"cannot read {source} as JSON lines: {error}") from error
    missing = [n for n, row in enumerate(rows, 1) if not {"question", "reference", "answer"} <= set(row)]
    if missing:
        raise BadInput(f"lines {missing[:10]} of {source} lack one of question, reference, answer")
    start = time.perf_counter()
    targets = [Reference.from_text(row["question"], row["reference"]) for row in rows]
    services.grader.warm(targets)
    services.grader.warm_answers([row["answer"] for row in rows])
    with out.open("w", encoding="utf-8") if out else contextlib.nullcontext(sys.stdout) as sink:
        for row, target in zip(rows, targets, strict=True):
            grade = services.grader.grade(target, row["answer"])
            graded = _verified_row(services, target, row["answer"], grade)[0] if verify else grade.to_dict()
            sink.write(json.dumps({**row, **graded}) + "\n")
    seconds = time.perf_counter() - start
    mode = "verified" if verify else "instant"
    print(f"graded {len(rows)} rows ({mode}) in {seconds:.1f} s ({len(rows) / max(seconds, 1e-9):.2f} rows/s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
