"""The benchmark's synthetic collection: deterministic, the size asked for, reprints present, readable by ingest."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from generator.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent


def _load_synth() -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: load the file by path.
    spec = importlib.util.spec_from_file_location("synth", ROOT / "benchmarks" / "synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["synth"] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


synth = _load_synth()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth")
    assert synth.main(["--articles", "60", "--out", str(root / "content"), "--manifest", str(root / "manifest.json")]) == 0
    return root / "content", json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def test_same_seed_gives_same_bytes() -> None:
    first = synth.generate(60, seed=3)
    second = synth.generate(60, seed=3)
    assert first.files == second.files
    assert first.manifest == second.manifest


def test_another_seed_gives_another_collection() -> None:
    assert synth.generate(60, seed=3).files != synth.generate(60, seed=4).files


def test_the_requested_number_of_articles(written: tuple[Path, dict]) -> None:
    _, manifest = written
    ids = [article["id"] for source in manifest["sources"] for article in source["articles"]]
    assert len(ids) == 60
    assert len(set(ids)) == 60


def test_reprints_stand_in_different_sources(written: tuple[Path, dict]) -> None:
    _, manifest = written
    assert manifest["reprints"], "no dispatch was reprinted"
    for dispatch, witnesses in manifest["reprints"].items():
        assert 2 <= len(witnesses) <= 4, dispatch
        files = {witness.rsplit("-", 1)[0] for witness in witnesses}
        assert len(files) == len(witnesses), f"{dispatch}: two witnesses in one source"


def test_every_file_is_written_and_ingest_skips_exactly_the_bad_ones(written: tuple[Path, dict]) -> None:
    content, manifest = written
    sources, skipped, _ = ingest(content)
    assert sorted(p.name for p in content.iterdir()) == sorted(
        [s["file"] for s in manifest["sources"]] + [s["file"] for s in manifest["skipped"]]
    )
    assert [(s.file, s.reason) for s in skipped] == [(s["file"], s["reason"]) for s in manifest["skipped"]]
    assert {s.file: s.encoding for s in sources} == {s["file"]: s["encoding"] for s in manifest["sources"]}


def test_headlines_and_datelines_are_in_the_text(written: tuple[Path, dict]) -> None:
    content, manifest = written
    sources, _, _ = ingest(content)
    texts = {s.file: s.text.replace("\n", "") for s in sources}
    for source in manifest["sources"]:
        for article in source["articles"]:
            assert article["headline"] in texts[source["file"]], article["id"]
