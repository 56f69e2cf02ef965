"""The one settings object. Environment variables `INTERVIEWER_*`, CLI flags and Make variables map onto it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from interviewer.limits import MAX_ANSWER_CHARS, MAX_UPLOAD_MB

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where things live, which models run, and how the page is served."""

    model_config = SettingsConfigDict(env_prefix="INTERVIEWER_", frozen=True)

    data_dir: Path = Field(REPO_ROOT / "data", description="store, sessions and caches; delete it to reset")
    models_dir: Path = Field(REPO_ROOT / "models", description="model registry and assembled model files")
    profile: str = Field("default", description="model profile from the registry: default or test")
    model: Path | None = Field(None, description="a GGUF file of the user's own, used instead of the profile's LLM")
    bank_dirs: list[Path] = Field(default_factory=list, description="extra question-bank folders to merge in")
    gpu_layers: int = Field(-1, description="LLM layers to offload to a GPU when the build has one; -1 is all")
    context_tokens: int = Field(4096, description="LLM context window in tokens")
    threads: int | None = Field(None, ge=1, description="CPU threads for the LLM; None: every core (llama.cpp's "
                                "own choice, half of them for generation, wrote 6.4 tok/s on 2 cores against 11.4)")
    seed: int = Field(0, description="seed for every model call, so the same input gives the same output")
    llm_url: str = Field("", description="an OpenAI-compatible server's base URL ending in /v1; empty: in-process")
    llm_model: str = Field("", description="the model name to ask that server for")
    llm_api_key: str = Field("", description="API key for that server, if it wants one")
    llm_timeout_s: float = Field(60.0, description="seconds to wait for that server")
    chroma_url: str = Field("", description="a Chroma server, e.g. http://127.0.0.1:8000; empty: on disk")
    host: str = Field("127.0.0.1", description="address the page binds to")
    port: int = Field(7860, description="port the page listens on")
    username: str = Field("interviewer", description="user name for the page's login, with password")
    password: str = Field("", description="a password for the page; set it before serving beyond localhost")
    concurrency: int = Field(4, description="requests the page handles at once (candidates on one app)")
    answer_seconds: int = Field(120, description="time allowed per answer, in seconds")
    speech_rate: float = Field(1.0, description="the interviewer's speaking rate: 1.0 normal, 1.2 faster, 0.8 slower")
    speech_variation: float = Field(1.0, ge=0, description="how much the voice varies its delivery: 1.0 the voice's "
                                    "own (natural), 0 the same text always sounds exactly the same")
    pause_seconds: float = Field(1.8, description="hands-free without the turn model (missing or failing): silence "
                                 "after speech that ends an answer, seconds")
    turn_check_seconds: float = Field(0.4, gt=0, description="hands-free: silence after speech at which the turn "
                                      "model is asked whether the answer is finished, seconds")
    thinking_pause_seconds: float = Field(3.2, gt=0, description="hands-free: the longest pause to think; the "
                                          "answer ends after this much silence even if it sounds unfinished, seconds")
    nods: bool = Field(True, description="hands-free: the interviewer says “Okay.” or “Uh-huh.” at a pause where "
                       "your answer sounds finished or might be; off: nothing until the reply")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="how much the log file "
                           "keeps: DEBUG (every stage of every voice turn), INFO, WARNING or ERROR")
    use_llm: bool = Field(True, description="let the LLM read each answer (the verified grade) and write the "
                          "interviewer's replies; off: the instant grade and the bank's own follow-ups")
    verify_seconds: float = Field(10.0, description="time the LLM has to verify a grade before the instant one "
                                  "stands, seconds")
    reply_seconds: float = Field(8.0, description="time the LLM has to write a reply before the bank's words are "
                                 "used, seconds")
    insecure: bool = Field(False, description="serve beyond localhost without a password anyway (not advised)")
    max_answer_chars: int = Field(MAX_ANSWER_CHARS, ge=1, description="a typed answer is kept up to this many "
                                  "characters; the rest is cut, and the candidate is told")
    max_upload_mb: int = Field(MAX_UPLOAD_MB, ge=1, description="largest recording the page accepts, in MB; "
                               "a larger upload is refused before it is stored")
    embed_wait_s: float = Field(30.0, gt=0, description="seconds the embedding model has for every 32 texts before "
                                "grading says it is stuck (the answer is kept, to submit again)")
    speech_wait_s: float = Field(20.0, gt=0, description="seconds the voice has to make one sentence before the "
                                 "interview goes on in writing")
    db_wait_s: float = Field(5.0, ge=0, description="seconds to wait for another process's lock on the sessions "
                             "database before saying it is busy")

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def registry_file(self) -> Path:
        return self.models_dir / "registry.yaml"

    @property
    def sessions_file(self) -> Path:
        return self.data_dir / "sessions.sqlite"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "interviewer.log"
