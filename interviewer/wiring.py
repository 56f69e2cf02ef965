"""The one wiring point: every real backend is built here, from the settings, and only when first needed."""

from __future__ import annotations

import logging
import shutil
import threading
from functools import cached_property
from pathlib import Path

from interviewer import registry
from interviewer.errors import BadInput, ModelCorrupt, ModelMissing
from interviewer.grader import Grader
from interviewer.hearing import Hearing
from interviewer.knowledge.schema import Bank, bank_files, load_bank, load_topic_file
from interviewer.knowledge.store import KnowledgeStore, open_client, open_http_client
from interviewer.settings import Settings

log = logging.getLogger(__name__)


def shipped_bank_dir() -> Path:
    """The bank that ships with the app (inside the installed package or the checkout)."""
    from interviewer import knowledge

    return Path(knowledge.__file__).resolve().parent / "bank"


class Services:
    """Backends built lazily from one Settings object and shared by every session of this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._bank_lock = threading.Lock()
        self._bank: Bank | None = None
        self._bank_read: tuple | None = None  # the bank files `_bank` was read from (see `bank`)
        self._store: KnowledgeStore | None = None  # brought up to date with `_bank`

    @property
    def user_bank_dir(self) -> Path:
        return self.settings.data_dir / "banks"

    def bank_paths(self) -> list[Path]:
        paths = [shipped_bank_dir(), *self.settings.bank_dirs]
        if self.user_bank_dir.is_dir() and any(self.user_bank_dir.glob("*.yaml")):
            paths.append(self.user_bank_dir)
        return paths

    @property
    def bank(self) -> Bank:
        """Every bank, validated. It is read again when a bank file was added, changed or removed since (a topic
        prepared or added by another process while the page runs), and the store is then brought up to date
        with it. A problem found at the first reading stops start-up with the list of problems; one found later
        keeps the bank read before (logged), so that an edit in progress never stops interviews under way."""
        with self._bank_lock:
            files = self._bank_files()
            if files == self._bank_read:
                return self._bank
            bank = load_bank(*self.bank_paths())
            if bank.problems:
                listing = "\n".join(f"  {p}" for p in bank.problems[:20])
                if self._bank is None:
                    raise BadInput(f"the question bank has problems; fix them or remove the file:\n{listing}")
                log.warning("a bank file changed and now has problems; the bank read before stands:\n%s", listing)
                self._bank_read = files  # told once: read again at the next change
                return self._bank
            if self._bank is not None:
                log.info("the bank files changed; the bank is read again and the store brought up to date")
            self._bank, self._bank_read, self._store = bank, files, None
            return bank

    def _bank_files(self) -> tuple:
        """Each bank file with its size and time of change: what tells that the bank must be read again."""
        found = []
        for file in (f for p in self.bank_paths() for f in bank_files(p)):
            try:
                stat = file.stat()
            except OSError:  # removed while listed: the next look sees it gone
                continue
            found.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(found)

    def _bank_changed(self) -> None:
        """This process wrote a bank file: the bank, and with it the store, are read again when next needed."""
        with self._bank_lock:
            self._bank_read = None

    @cached_property
    def registry(self) -> registry.Registry:
        return registry.load_registry(self.settings.models_dir)

    def model_path(self, role: str) -> Path:
        """The verified file or folder of the profile's model for a role (the user's GGUF for the LLM)."""
        if role == "llm" and self.settings.model is not None:
            path = self.settings.model.expanduser()
            if not path.is_file():
                raise BadInput(f"MODEL={path} does not exist; give the path of a .gguf file")
            with path.open("rb") as handle:
                if handle.read(4) != b"GGUF":
                    raise ModelCorrupt(f"MODEL={path} is not a GGUF file (it does not start with GGUF); "
                                       "give the path of a .gguf file")
            return path
        spec = self.registry.for_profile(self.settings.profile)[role]
        return registry.require(spec, self.settings.models_dir)

    def roles_needed(self, *, voice: bool) -> tuple[str, ...]:
        """The model roles an interview loads: typed (the embedder, and the LLM that phrases follow-ups when
        it runs in this process), or with voice (the page) the recogniser and the voice as well."""
        roles = ["embedder"]
        if self.settings.use_llm and not self.settings.llm_url:
            roles.append("llm")
        if voice:
            roles += ["stt", "tts"]
        return tuple(roles)

    def check_models(self, roles: tuple[str, ...]) -> None:
        """Verify the files of every model these roles load, before any loads; one message names each problem
        and the command that fixes it (a damaged model found at start-up, not at the first weak answer)."""
        problems: list[Exception] = []
        for role in roles:
            try:
                self.model_path(role)
            except (ModelMissing, ModelCorrupt, BadInput) as error:
                problems.append(error)
        if problems:
            kind = next((type(e) for e in problems if isinstance(e, ModelCorrupt)), type(problems[0]))
            raise kind("\n".join(dict.fromkeys(str(e) for e in problems)))  # one line per distinct problem

    @cached_property
    def embedder(self):
        from interviewer.embed import SentenceEmbedder

        return SentenceEmbedder(self.model_path("embedder"), wait_s=self.settings.embed_wait_s)

    @cached_property
    def chroma(self):
        """The Chroma client: on disk under the data directory, or the server the settings name."""
        url = self.settings.chroma_url
        return open_http_client(url) if url else open_client(self.settings.store_dir)

    @property
    def store(self) -> KnowledgeStore:
        """The Chroma store (on disk, or a server), brought up to date with the bank (only changes embedded),
        again whenever the bank is read again."""
        questions = self.bank.questions  # first: a bank read again drops the store brought up to date before
        with self._lock:
            if self._store is None:
                store = KnowledgeStore(self.chroma, self.embedder)
                store.ingest(questions)
                self._store = store
            return self._store

    @cached_property
    def grader(self) -> Grader:
        return Grader(self.embedder, hearing=self.hearing)

    @cached_property
    def hearing(self) -> Hearing | None:
        """What puts back the terms a recogniser misheard before grading, from how words sound (espeak-ng, as
        Piper has it); None, logged, where espeak-ng cannot start: answers are then graded as written."""
        from interviewer.tts import espeak_sounds

        try:
            sounds = espeak_sounds()
            sounds("test")
        except Exception:  # noqa: BLE001 (grading goes on without it)
            log.exception("espeak-ng did not start: misheard terms in answers are graded as written")
            return None
        questions = self.bank.questions
        return Hearing(sounds, vocabulary=(t for q in questions for t in (q.question, q.answer, *q.key_points)),
                       glossary=(t for q in questions for t in q.glossary))

    @cached_property
    def llm(self):
        s = self.settings
        if s.llm_url:
            from interviewer.llm_http import OpenAICompatibleLLM

            return OpenAICompatibleLLM(s.llm_url, s.llm_model, api_key=s.llm_api_key, timeout_s=s.llm_timeout_s,
                                       seed=s.seed)
        from interviewer.llm import LlamaCppLLM

        return LlamaCppLLM(self.model_path("llm"), context_tokens=s.context_tokens, threads=s.threads,
                           gpu_layers=s.gpu_layers, seed=s.seed)

    @cached_property
    def stt(self):
        from interviewer.stt import WhisperSTT

        return WhisperSTT(self.model_path("stt"))

    @cached_property
    def turn(self):
        """The end-of-turn model, or None where it is missing or will not load: the fixed pause then decides
        (logged, since hands-free answers then end later)."""
        try:
            from interviewer.turn import SmartTurn

            return SmartTurn(self.model_path("turn"))
        except (KeyError, ModelMissing, ModelCorrupt, ImportError, RuntimeError, ValueError) as error:
            detail = f"profile {self.settings.profile!r} names none" if isinstance(error, KeyError) else error
            log.warning("no turn model (%s); hands-free answers end after a fixed %.1f s pause",
                        detail, self.settings.pause_seconds)
            return None

    @cached_property
    def words(self):
        """The words model that reads whether an answer is finished, or None where it is missing or will not
        load: a list of words no answer ends on stands in for it (logged: unsure turns then wait out the
        thinking-pause limit)."""
        try:
            from interviewer.turn import WordsTurn

            return WordsTurn(self.model_path("words"), threads=self.settings.threads)
        except (KeyError, ModelMissing, ModelCorrupt, ImportError, RuntimeError, ValueError) as error:
            detail = f"profile {self.settings.profile!r} names none" if isinstance(error, KeyError) else error
            log.warning("no words model (%s); a hands-free answer the voice is unsure of ends after the %.1f s "
                        "thinking-pause limit", detail, self.settings.thinking_pause_seconds)
            return None

    def warm_up(self, *, voice: bool) -> None:
        """Load every model an interview uses, then have the LLM read its standing instructions in the
        background, before the first visitor: otherwise the first answer of the first candidate waits for them
        (in the page's voice loop on 2 cores its LLM-written reply came 7.3 s after the answer's grade, 2-3 s
        on every later turn). A model that will not load is logged here; the turn that needs it falls back as it
        would anyway."""
        roles = {"llm": lambda: self.llm} if self.dialogue is not None else {}
        if voice:
            roles |= {"stt": lambda: self.stt, "turn": lambda: self.turn, "words": lambda: self.words,
                      "tts": lambda: self.spoken}
        loaded = set()
        for role, load in roles.items():
            try:
                load()
                loaded.add(role)
            except Exception as error:  # noqa: BLE001 (the turn that needs it says what is wrong, and falls back)
                log.warning("the %s model did not load ahead of the first interview: %s", role, error)
        if "llm" in loaded:  # the turn's prompt begins the same for every question: a snapshot every tab reuses
            threading.Thread(target=self._read_instructions, daemon=True, name="warm-up").start()

    def _read_instructions(self) -> None:
        from interviewer.conversation import Context

        try:
            self.dialogue.prefill(Context("", ()))
        except Exception as error:  # noqa: BLE001 (a head start only: the first turn reads them itself)
            log.warning("the LLM did not read its instructions ahead of the first interview: %s", error)

    def listen_options(self):
        """When hands-free turns end, from the settings."""
        from interviewer.listening import ListenOptions

        s = self.settings
        return ListenOptions(check_pause_s=s.turn_check_seconds, max_pause_s=s.thinking_pause_seconds,
                             end_pause_s=s.pause_seconds)

    def listener(self, hint: str = ""):
        """A hands-free listener for one answer: the recogniser, the turn and words models and the settings'
        pauses."""
        from interviewer.listening import TurnListener

        return TurnListener(self.stt, self.listen_options(), hint=hint, turn=self.turn, words=self.words)

    @cached_property
    def tts(self):
        from interviewer.tts import PiperTTS

        onnx = self.model_path("tts")
        return PiperTTS(onnx, onnx.with_name(onnx.name + ".json"), length_scale=1.0 / self.settings.speech_rate,
                        variation=self.settings.speech_variation)

    @cached_property
    def spoken(self):
        """The interviewer's voice, with lines kept and prepared ahead (shared by every tab)."""
        from interviewer.tts import SpokenLines

        return SpokenLines(self.tts, wait_s=self.settings.speech_wait_s)

    @cached_property
    def sessions(self):
        from interviewer.storage import SessionStore

        return SessionStore(self.settings.sessions_file, wait_s=self.settings.db_wait_s)

    @cached_property
    def intents(self):
        """Reads what an utterance means: the fitted classifier on the embedder's vectors, or the rules alone
        when the shipped classifier was fitted on another embedder."""
        from interviewer.intents import IntentModel, IntentReader

        reader = IntentReader(self.embedder, IntentModel.load())
        if not reader.fitted:
            log.warning("the intent classifier was fitted on another embedder; intents are read by rules alone")
        return reader

    @cached_property
    def dialogue(self):
        """The LLM side of each turn (verdicts and replies), or None when the settings switch the LLM off."""
        from interviewer.conversation import Dialogue

        return Dialogue(lambda: self.llm) if self.settings.use_llm else None

    def questions(self) -> dict:
        """Every question of the banks, by id (read from the bank files: nothing is embedded or loaded)."""
        return {q.id: q for q in self.bank.questions}

    def topic_counts(self) -> dict[str, dict[str, int]]:
        """Question counts per topic and level, from the bank files (no model loads)."""
        from interviewer.knowledge.schema import topic_counts

        return topic_counts(self.bank.questions)

    def new_interview(self, options):
        """A new interview, saved as it goes, informed by earlier sessions."""
        from dataclasses import replace

        from interviewer.session import Interview

        options = replace(options, max_answer_chars=self.settings.max_answer_chars)
        pool = [q for topic in options.topics for q in self.store.questions(topic=topic)]
        if not pool:
            known = ", ".join(sorted(self.store.topics())) or "none"
            raise BadInput(f"no questions for topic(s) {', '.join(options.topics)}; known topics: {known}")
        interview = Interview(pool, self.grader, options, past=self.sessions.past(), titles=self.topic_titles())
        return self.sessions.attach(interview)

    def resume(self, session_id: str):
        """An unfinished interview, rebuilt from the session store (`Conductor.resumed` finishes its turn); a
        recording kept but not transcribed before a crash is transcribed now and becomes the pending answer."""
        interview = self.sessions.load(session_id, self.questions(), self.grader, past=self.sessions.past(),
                                       titles=self.topic_titles())
        if interview.recording:
            self._hear_kept(interview)
        return interview

    def keep_recording(self, interview, recording: Path) -> Path | None:
        """Copy a spoken answer into the data directory and note it in the session before it is transcribed,
        so a crash while it is heard loses nothing. A copy that fails costs only that safety net (logged)."""
        kept = self.settings.data_dir / "recordings" / f"{interview.id}-{len(interview.turns) + 1}.wav"
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recording, kept)
        except OSError as error:
            log.warning("could not keep the recording %s before transcribing it: %s", recording, error)
            return None
        interview.keep_recording(str(kept))
        return kept

    def _hear_kept(self, interview) -> None:
        from interviewer.voice import hear

        kept = Path(interview.recording)
        try:
            heard = hear(self.stt, kept, glossary=tuple(interview.prompt.question.glossary),
                         max_seconds=interview.options.answer_seconds)
        except Exception as error:  # noqa: BLE001 (silence, a lost file or a broken recogniser: ask again)
            log.warning("resume: the recording %s kept before a crash gave no answer (%s); the question is open "
                        "again", kept, error)
            interview.forget_recording()
            return
        interview.receive(heard.transcript.text, delivery=heard.delivery.to_dict() if heard.delivery else None)
        kept.unlink(missing_ok=True)

    def conductor(self, interview, *, verify_first: bool = False):
        """The pipeline that runs this interview's turns with the LLM, within the settings' time budgets;
        `verify_first`: what comes next is decided on the verified grade (see ConductorOptions)."""
        from interviewer.conductor import Conductor, ConductorOptions

        s = self.settings
        options = ConductorOptions(verify_s=s.verify_seconds, reply_s=s.reply_seconds, verify_first=verify_first)
        # A question a job's topic includes is stored twice (see Topic.included): probes find the original
        # only, and never the original of a copy this interview may ask.
        copies = {q.id.removeprefix(f"{q.topic}-") for q in interview.pool if q.covers and not q.generated}

        def search(text: str) -> list:
            hits = [hit.question for hit in self.store.search(text, k=3 + len(copies))]
            return [q for q in hits if not (q.covers and not q.generated) and q.id not in copies][:3]

        return Conductor(interview, self.dialogue, options=options, search=search, intents=self.intents)

    def add_bank(self, path: Path) -> Bank:
        """Validate a user's bank and copy its topic files into the data directory, where they are merged.

        Adding a topic again replaces the earlier copy; clashes with any other bank are reported.
        """
        bank = load_bank(path)
        if bank.problems:
            return bank
        incoming = {t.topic for t in bank.topics}
        others = [
            f for p in self.bank_paths() for f in bank_files(p)
            if not (p == self.user_bank_dir and f.stem in incoming)
        ]
        clash = load_bank(*others, path).problems
        if clash:
            return Bank(bank.topics, clash)
        self.user_bank_dir.mkdir(parents=True, exist_ok=True)
        for file in bank_files(path):
            topic, _ = load_topic_file(file)
            shutil.copyfile(file, self.user_bank_dir / f"{topic.topic}.yaml")
        self._bank_changed()
        return bank

    def prepare(self, sources: list, topic: str, *, questions: int = 8, levels=("fresher", "mid", "senior"),
                title: str = "", progress=None, job=None):
        """Questions written by the LLM from the user's files (paths) or pasted texts (documents), grounded in
        their passages, saved as an editable bank in the data directory and loaded into the store. With `job`
        (a job description, from documents.job_description) the bank questions that match its requirements
        are included by reference and questions are written only for the requirements none covers, from the
        job description and any files given. Returns the run's report; see interviewer/prepare.py."""
        from interviewer import documents as D
        from interviewer import prepare as P
        from interviewer.conversation import Dialogue
        from interviewer.knowledge.store import PassageStore

        target = self._prepare_target(P.check_name(topic), questions)
        levels = P.check_levels(list(levels))
        docs, skipped = self._documents(sources, job)
        passages = PassageStore(self.chroma, self.embedder, topic)
        passages.ingest([p for doc in docs for p in doc.passages()])

        def nearest(text: str) -> list[str]:
            return [pid for pid, _ in passages.search(text, k=4)]

        include, fallback, needs = [], [], D.requirements(job.text) if job is not None else []
        if job is None:
            slots = P.plan(docs, questions, levels, nearest)
        else:
            include, slots, fallback = self._match_job(topic, needs, docs, passages, questions, levels)
            if not slots and not include:
                raise BadInput("no bank question matches the job description's requirements, and a description "
                               "states no answers to write questions from: give your notes on them beside it "
                               "(interviewer prepare NOTES... --job-description ...)")
        model = self.settings.llm_model if self.settings.llm_url else self.model_path("llm").parent.name
        preparer = P.Preparer(lambda: self.llm, Dialogue(lambda: self.llm), self.grader, model_name=model,
                              journal=self.settings.data_dir / "prepared" / f"{topic}.jsonl")

        def spare(dropped, others):  # a question written from the user's files, not for a job requirement
            return None if dropped.requirement else P.replacement(docs, dropped, others, nearest)

        outcomes, reused, gone = preparer.run(topic, slots, progress=progress, spare=spare)
        kept = [o.question for o in outcomes if o.kept]
        written_for = {q.get("covers") for q in kept}  # a requirement left to the notes that got no question
        included = {row["id"] for row in include}  # keeps the bank's
        include += [row for row in fallback if row["covers"] not in written_for and row["id"] not in included]
        reviewed = P.reviewed_in(target)  # the user's checked questions stay in the bank, planned or not
        retired = sum(1 for o in gone if o.question["id"] not in reviewed)
        report = P.Report(topic, target, [d.source for d in docs], skipped, sum(len(d.passages()) for d in docs),
                          outcomes, reused, retired, P.coverage(needs, include, kept, slots, len(docs) > 1))
        if not kept and not include:
            not_read = "".join(f"\n  skipped {why}" for why in skipped)
            raise BadInput(f"no question passed the checks ({len(outcomes)} written); the notes:\n  "
                           + "\n  ".join(o.note for o in report.dropped) + not_read
                           + "\nAdd material that explains its subject in sentences (more of it gives more passages "
                             "to write from), or ask for fewer questions, and run prepare again (the topic's bank "
                             "from an earlier run, if any, is left as it was).")
        summary = ("Prepared for " if job is not None else "Prepared from ") + ", ".join(report.files)
        text = P.bank_text(topic, title or topic.replace("-", " ").capitalize(), summary, kept, reviewed, include)
        self.user_bank_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".yaml.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)  # a reader never sees half a file
        self._bank_changed()
        return report

    def _prepare_target(self, topic: str, questions: int) -> Path:
        """The bank file a prepared topic is written to, once the name and the count are known to be usable."""
        from interviewer import prepare as P

        if not 1 <= questions <= P.MAX_QUESTIONS:
            raise BadInput(f"--questions {questions}: ask for 1 to {P.MAX_QUESTIONS} questions")
        target = self.user_bank_dir / f"{topic}.yaml"
        taken = {t.topic for t in load_bank(*[p for p in self.bank_paths() if p != self.user_bank_dir]).topics}
        text = target.read_text(encoding="utf-8") if target.is_file() else ""
        ours = text.startswith(P.HEADER[:40]) or "generated: true" in text  # written by an earlier `prepare`
        if topic in taken or (target.is_file() and not ours):
            raise BadInput(f"topic {topic!r} already exists in a bank; choose another name for your material")
        return target

    @staticmethod
    def _documents(sources: list, job) -> tuple[list, list[str]]:
        """The readable documents (the job description first) and a message for each source that is not."""
        from interviewer import documents as D

        docs, skipped = [] if job is None else [job], []
        for source in sources:
            try:
                docs.append(source if isinstance(source, D.Document) else D.read(Path(source)))
            except BadInput as error:
                skipped.append(str(error))
                log.info("prepare: skipped %s", error)  # the report or the error says it to the user
        if not docs:
            raise BadInput("nothing to prepare from:\n  " + "\n  ".join(skipped or ["no files were given"]))
        return docs, skipped

    def _match_job(self, topic: str, needs: list[str], docs: list, passages, questions: int, levels: list[str]):
        """The bank questions included for a job's requirements, and the slots of those no bank question
        covers, written from the passages of the user's files (`docs` after the description) closest to each. Not
        from the description's own: it names a skill and states nothing about it, so the 1.5B model asked about
        the candidate's experience, answered in a made-up first person, and took other requirement lines for
        key points, which the description "supported". Last, the bank questions of the requirements left to the
        notes (see prepare.match), included for one that ends with no written question kept."""
        from interviewer import prepare as P

        def bank_hits(text: str) -> list[tuple[str, float]]:
            hits = self.store.search(text, k=2 * P.MATCHES)  # neither prepared nor included questions count
            return [(h.question.id, h.similarity) for h in hits
                    if not (h.question.generated or h.question.covers) and h.question.topic != topic]

        notes = {p.id: p for doc in docs[1:] for p in doc.passages()}
        reach = P.NEIGHBOURS + 1 + len(docs[0].passages())  # the description's passages may come first

        def in_notes(text: str) -> list:
            return [(notes[pid], similarity) for pid, similarity in passages.search(text, k=reach) if pid in notes]

        bank = {need: bank_hits(need) for need in needs}  # each searched once, for both matches below
        near = {need: in_notes(need) for need in needs}  # and for the plan
        matched = P.match(needs, bank.__getitem__, lambda need: max((s for _, s in near[need]), default=0.0))
        include = [{"id": qid, "covers": need} for need in needs for qid, _ in matched[need]]
        bank_only = P.match(needs, bank.__getitem__)  # for a requirement left to the notes whose questions all fail
        fallback = [{"id": qid, "covers": need} for need in needs if not matched[need] for qid, _ in bank_only[need]]
        for need in needs:
            log.info("prepare %s: requirement %r: %s", topic, need,
                     ", ".join(f"{qid} ({sim:.2f})" for qid, sim in matched[need])
                     or "no bank question close enough, or the notes closer; written from the notes")
        uncovered = [need for need in needs if not matched[need]]
        slots = P.plan_requirements(uncovered, questions, levels, near.__getitem__)
        return include, slots, fallback

    def topic_titles(self) -> dict[str, str]:
        return {t.topic: t.title for t in self.bank.topics}

