"""Reading sources on several processes gives what reading them one by one gives."""

from __future__ import annotations

import dataclasses
import io
import multiprocessing
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from generator import parallel, pipeline
from generator.cache import SourceResult
from generator.config import Config
from generator.ingest import ingest
from generator.models import Source

ROOT = Path(__file__).resolve().parent.parent


def test_results_equal_serial_reading_in_order_on_any_number_of_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    sources, _, _ = ingest(ROOT / "content")
    config = Config()
    expected = [pipeline.read_source(source, config) for source in sources]
    monkeypatch.setattr(parallel, "PARALLEL_MIN_SOURCES", 1)
    for workers in (1, 2, 3):
        results = parallel.read_sources(sources, config, workers=workers)
        assert results == expected, f"{workers} workers"
        # The parent's own sources go back into the texts: no copy of the bytes is kept.
        assert all(text.source is source for (text, _, _), source in zip(results, sources))


def test_too_few_sources_are_read_in_this_process(monkeypatch: pytest.MonkeyPatch, source_from_text: Callable[..., Source]) -> None:
    sources = [source_from_text(f"标题{n}\n\n新华社北京5月{n}日电 正文第{n}段。", file=f"{n:03}.txt") for n in range(1, 4)]
    readers: list[int] = []
    read_source = pipeline.read_source

    def recording(source: Source, config: Config) -> SourceResult:
        readers.append(os.getpid())
        return read_source(source, config)

    monkeypatch.setattr(pipeline, "read_source", recording)
    results = parallel.read_sources(sources, Config(), workers=2)
    assert readers == [os.getpid()] * 3
    assert [article.id for _, articles, _ in results for article in articles] == ["001-1", "002-1", "003-1"]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="workers see the patch only when forked")
def test_an_error_in_a_worker_reaches_the_caller(monkeypatch: pytest.MonkeyPatch, source_from_text: Callable[..., Source]) -> None:
    sources = [source_from_text("正文。", file=f"{n:03}.txt") for n in range(4)]
    monkeypatch.setattr(parallel, "PARALLEL_MIN_SOURCES", 1)
    parent = os.getpid()
    read_source = pipeline.read_source

    def broken_in_workers(source: Source, config: Config) -> SourceResult:
        if os.getpid() != parent:
            raise ValueError(f"cannot read {source.file}")
        return read_source(source, config)

    # The workers are forked after the patch, so they run it too.
    monkeypatch.setattr(pipeline, "read_source", broken_in_workers)
    with pytest.raises(ValueError, match=r"cannot read 00[13]\.txt"):
        parallel.read_sources(sources, Config(), workers=2)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="only forked workers inherit the sources")
def test_sources_are_never_pickled(monkeypatch: pytest.MonkeyPatch) -> None:
    sources, _, _ = ingest(ROOT / "content")
    config = Config()
    expected = [pipeline.read_source(source, config) for source in sources]
    monkeypatch.setattr(parallel, "PARALLEL_MIN_SOURCES", 1)

    def refuse(source: Source) -> None:
        raise AssertionError(f"{source.file} was pickled")

    # A record's fields are read when it is pickled (see parallel.dump); the workers are
    # forked after the patch.
    monkeypatch.setitem(parallel._FIELDS, Source, (refuse,))
    assert parallel.read_sources(sources, config, workers=2) == expected
    with pytest.raises(AssertionError, match="was pickled"):
        parallel.dumps(sources[0])


def test_records_pickled_by_columns_come_back_equal_and_shared_as_they_were() -> None:
    sources, _, _ = ingest(ROOT / "content")
    results = [pipeline.read_source(source, Config()) for source in sources]
    value = {"results": results, "texts": tuple(text for text, _, _ in results), "none": None}
    loaded = parallel.loads(parallel.dumps(value))
    assert loaded == value
    # One object stays one object: the texts of both entries, each text's source.
    assert all(a is b for a, b in zip(loaded["texts"], (text for text, _, _ in loaded["results"])))
    assert [type(change) for text in loaded["texts"] for change in text.changes] == [
        type(change) for text in value["texts"] for change in text.changes
    ]


def test_a_pickle_cut_short_raises_instead_of_giving_empty_records() -> None:
    sources, _, _ = ingest(ROOT / "content")
    data = parallel.dumps([pipeline.read_source(source, Config()) for source in sources[:1]])
    # Cut anywhere, including between the value and the fields of its records.
    for end in sorted({1, len(data) // 3, len(data) // 2, len(data) - 2, len(data) - 1}):
        with pytest.raises((EOFError, pickle.UnpicklingError)):
            parallel.loads(data[:end])


def test_every_record_is_its_slots_alone() -> None:
    # ``load`` writes a record's fields straight into its slots: a record with more
    # state, or a check in ``__post_init__``, would come back without it.
    for cls in parallel._RECORDS:
        assert cls.__slots__ == tuple(field.name for field in dataclasses.fields(cls)), cls
        assert not hasattr(cls, "__post_init__"), cls


def test_known_objects_are_pickled_as_references_to_the_readers_own() -> None:
    sources, _, _ = ingest(ROOT / "content")
    text, articles, _ = pipeline.read_source(sources[0], Config())
    collated = tuple(dataclasses.replace(article, dispatch="d-1") for article in articles)
    # An object twice, and a number, which is never a reference.
    known = [text, articles[0].paragraphs, articles[0].paragraphs, 7, *(article.paragraphs for article in articles)]
    value = {"text": text, "collated": collated}
    buffer = io.BytesIO()
    parallel.dump(value, buffer, known)
    theirs = parallel.loads(parallel.dumps(known))  # the reader's equal copies
    loaded = parallel.load(io.BytesIO(buffer.getvalue()), theirs)
    assert loaded == value
    assert loaded["text"] is theirs[0]
    assert loaded["collated"][0].paragraphs is theirs[1]
    assert len(buffer.getvalue()) < len(parallel.dumps(value)) / 4
    with pytest.raises(pickle.UnpicklingError):
        parallel.load(io.BytesIO(buffer.getvalue()), theirs[:-1])
