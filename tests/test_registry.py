"""The model registry: status of each file, checksum caching, and messages that name the fix."""

from __future__ import annotations

import hashlib
import os

import pytest

from interviewer import registry
from interviewer.errors import ModelCorrupt, ModelMissing


@pytest.fixture
def spec():
    data = b"tiny model bytes"
    return registry.ModelSpec(
        id="tiny", role="llm", licence="MIT", notes="", load="model.gguf",
        files=(registry.ModelFile("model.gguf", len(data), hashlib.sha256(data).hexdigest()),),
        source={},
    ), data


def test_missing_ok_corrupt(tmp_path, spec):
    spec, data = spec
    assert registry.check(spec, tmp_path)[0] == "missing"
    with pytest.raises(ModelMissing, match="make models"):
        registry.require(spec, tmp_path)
    (tmp_path / "tiny").mkdir()
    path = tmp_path / "tiny" / "model.gguf"
    path.write_bytes(data)
    assert registry.check(spec, tmp_path) == ("ok", "")
    assert registry.require(spec, tmp_path) == path.resolve()
    path.write_bytes(data.upper())  # same size, other bytes: a new mtime forces a re-hash
    os.utime(path, ns=(1, 1))
    assert registry.check(spec, tmp_path)[0] == "corrupt"
    with pytest.raises(ModelCorrupt, match="make models"):
        registry.require(spec, tmp_path)
    path.write_bytes(data[:-1])
    assert "bytes, expected" in registry.check(spec, tmp_path)[1]


def test_hash_is_trusted_while_size_and_mtime_hold(tmp_path, spec):
    spec, data = spec
    (tmp_path / "tiny").mkdir()
    path = tmp_path / "tiny" / "model.gguf"
    path.write_bytes(data)
    assert registry.check(spec, tmp_path)[0] == "ok"
    stat = path.stat()
    path.write_bytes(data.upper())
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # forged: same size and mtime
    assert registry.check(spec, tmp_path)[0] == "ok"  # trusted from the cache, by design


def test_every_profile_names_a_model_per_role(settings):
    reg = registry.load_registry(settings.models_dir)
    for profile in ("default", "test"):
        assert set(reg.for_profile(profile)) == set(registry.ROLES)
    with pytest.raises(registry.UnknownProfile, match="default, fast, test, tiny"):
        reg.for_profile("nope")


@pytest.mark.real
def test_test_profile_models_are_installed_and_verified(settings):
    reg = registry.load_registry(settings.models_dir)
    for spec in reg.for_profile("test").values():
        assert registry.check(spec, settings.models_dir) == ("ok", ""), spec.id


def test_a_split_model_is_joined_and_its_other_files_copied(tmp_path, monkeypatch):
    """Two installed packages: part 1 holds the first half of the weights, part 2 the rest and the config."""
    site = tmp_path / "site"
    for n, files in ((1, {"w.part1": b"first half "}), (2, {"w.part2": b"second half", "config.json": b"{}"})):
        folder = site / f"fakepart_{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        for name, data in files.items():
            (folder / name).write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    weights = b"first half second half"
    spec = registry.ModelSpec(
        id="split", role="stt", licence="MIT", notes="", load=".",
        files=(registry.ModelFile("model.bin", len(weights), hashlib.sha256(weights).hexdigest()),
               registry.ModelFile("config.json", 2, hashlib.sha256(b"{}").hexdigest())),
        source={"split": 2, "package": "fakepart-{n}==1", "member": "fakepart_{n}/data/w.part{n}",
                "rest": "fakepart_2/data"},
    )
    registry.fetch(spec, tmp_path / "models", log=lambda _: None)
    assert (tmp_path / "models" / "split" / "model.bin").read_bytes() == weights
    assert registry.check(spec, tmp_path / "models") == ("ok", "")
