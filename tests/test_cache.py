"""The memo file: read back as written, and ignored, never misread, when it is not the one asked for."""

from __future__ import annotations

import dataclasses
import gc
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator import cache, pipeline
from generator.config import Config
from generator.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """load_memo freezes what it reads for the collector, as the build that calls it undoes."""
    yield
    gc.unfreeze()


@pytest.fixture(scope="module")
def memo() -> pipeline.BuildMemo:
    config = Config(content_dir=str(ROOT / "content"))
    sources, _, _ = ingest(ROOT / "content")
    read = {"key": pipeline.read_source(sources[0], config)}
    return pipeline.BuildMemo("identity", "gather key", pipeline.gather(config), read=read)


def test_a_memo_is_read_back_as_it_was_saved(tmp_path: Path, memo: pipeline.BuildMemo) -> None:
    store = cache.BuildCache(tmp_path / "output")
    store.save_memo("identity", memo)
    loaded = store.load_memo("identity")
    assert isinstance(loaded, pipeline.BuildMemo)
    assert loaded.collection == memo.collection and loaded.read == memo.read


def test_a_memo_of_another_identity_is_ignored(tmp_path: Path, memo: pipeline.BuildMemo) -> None:
    store = cache.BuildCache(tmp_path / "output")
    store.save_memo("identity", memo)
    assert store.load_memo("other identity") is None


def test_a_memo_cut_short_by_a_killed_build_is_ignored(tmp_path: Path, memo: pipeline.BuildMemo) -> None:
    store = cache.BuildCache(tmp_path / "output")
    store.save_memo("identity", memo)
    memo_file = next(store.folder.glob("*.memo.pickle"))
    data = memo_file.read_bytes()
    for end in (len(data) // 2, len(data) - 1):
        memo_file.write_bytes(data[:end])
        assert store.load_memo("identity") is None


def test_a_memo_in_an_older_format_is_ignored(tmp_path: Path, memo: pipeline.BuildMemo) -> None:
    store = cache.BuildCache(tmp_path / "output")
    store.folder.mkdir(parents=True)
    # A plain pickle, as format 7 wrote it, under the identity asked for.
    (store.folder / "output.memo.pickle").write_bytes(b"identity\n" + pickle.dumps(memo))
    assert store.load_memo("identity") is None


def test_the_per_source_results_are_kept_in_parts_that_a_save_rewrites_only_when_changed(
    tmp_path: Path, memo: pipeline.BuildMemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cache.BuildCache(tmp_path / "output")
    config = Config(content_dir=str(ROOT / "content"))
    read = {cache.stage_key(text.source, config): (text, (), ()) for text in memo.collection.texts}
    whole = dataclasses.replace(memo, read=read)
    store.save_memo("identity", whole, stored=read)
    parts = tmp_path / cache.CACHE_FOLDER / "output.memo-parts"
    written = {path.name: path.stat().st_mtime_ns for path in parts.iterdir()}
    loaded = store.load_memo("identity")
    assert isinstance(loaded, pipeline.BuildMemo) and loaded.collection == memo.collection
    # The texts are the parts' own records, shared by the collection and the results.
    assert [text for text, _, _ in loaded.read.values()] == list(loaded.collection.texts)
    assert all(a is b for a, b in zip(loaded.collection.texts, (text for text, _, _ in loaded.read.values())))
    store.save_memo("identity", whole, stored=read)
    assert {path.name: path.stat().st_mtime_ns for path in parts.iterdir()} == written
    # A part to each source: one source fewer leaves the other parts as they were.
    monkeypatch.setattr(cache, "_SOURCES_PER_PART", 1)
    store.save_memo("identity", whole, stored=read)
    each = {path.name: path.stat().st_mtime_ns for path in parts.iterdir()}
    assert len(each) == len(read)
    fewer = dict(list(read.items())[1:])
    store.save_memo("identity", dataclasses.replace(whole, read=fewer), stored=fewer)
    kept = {path.name: path.stat().st_mtime_ns for path in parts.iterdir()}
    assert len(kept) == len(read) - 1 and kept.items() < each.items()
    # Another identity's parts replace these, which go.
    store.save_memo("other identity", whole, stored=read)
    assert not each.keys() & {path.name for path in parts.iterdir()}


def test_a_memo_whose_part_is_missing_or_cut_short_is_ignored(tmp_path: Path, memo: pipeline.BuildMemo) -> None:
    store = cache.BuildCache(tmp_path / "output")
    config = Config(content_dir=str(ROOT / "content"))
    read = {cache.stage_key(text.source, config): (text, (), ()) for text in memo.collection.texts}
    store.save_memo("identity", dataclasses.replace(memo, read=read), stored=read)
    part = next((tmp_path / cache.CACHE_FOLDER / "output.memo-parts").iterdir())
    part.write_bytes(part.read_bytes()[:-1])
    assert store.load_memo("identity") is None
    part.unlink()
    assert store.load_memo("identity") is None
