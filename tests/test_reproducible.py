"""Reproducible builds: the same input gives the same bytes; times follow one rule; URLs stay put."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archival_sites import REPO, SEED_CONTENT, handmade_pages, seed_collection_sources, seed_config, seed_site, tree_bytes
from generator import pipeline
from generator.catalog import anchor
from generator.config import Config
from generator import manifest
from generator.manifest import MANIFEST_PATH, manifest_pages
from generator.models import Article, Collection, DateInfo, Page, Sidecar
from generator.reproducible import FIXED_EPOCH, SourceDateEpochError, build_time

# --- the time rule ---------------------------------------------------------------------------


def _with_sidecars(*sidecars: Sidecar) -> Collection:
    collection = seed_collection_sources()
    padded = sidecars + (Sidecar(),) * (len(collection.sources) - len(sidecars))
    sources = tuple(dataclasses.replace(s, sidecar=sc) for s, sc in zip(collection.sources, padded))
    return dataclasses.replace(collection, sources=sources)


def test_source_date_epoch_wins() -> None:
    collection = _with_sidecars(Sidecar(date="2022-05-06"))
    moment = build_time(collection, {"SOURCE_DATE_EPOCH": "1700000000"})
    assert moment == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


def test_else_the_newest_date_the_collection_knows() -> None:
    collection = _with_sidecars(Sidecar(date="2022-05-06"), Sidecar(added="2024-01-31"), Sidecar(date="2021-12-01"))
    assert build_time(collection, {}) == datetime(2024, 1, 31, tzinfo=timezone.utc)


def _article_dated(date: DateInfo) -> Article:
    return Article(
        id="x-1", source_id="x", source="x.txt", index=1, kind="article", headline=None, subheadline=None,
        kicker=None, dateline=None, paragraphs=("text",), pull_quotes=(), line=1, end_line=1, date=date,
        agency=None, place=None, via=None, people=(), keywords=(), flags=(),
    )


def test_article_dates_count_but_not_those_without_a_year() -> None:
    dated = (_article_dated(DateInfo("2022-05-05", "day", "text")), _article_dated(DateInfo("--12-31", "month-day", "text")))
    collection = dataclasses.replace(seed_collection_sources(), articles=dated)
    assert build_time(collection, {}) == datetime(2022, 5, 5, tzinfo=timezone.utc)


def test_else_the_fixed_epoch_never_the_clock() -> None:
    assert build_time(seed_collection_sources(), {}) == FIXED_EPOCH == datetime(1980, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5"])
def test_a_malformed_source_date_epoch_is_refused(value: str) -> None:
    with pytest.raises(SourceDateEpochError) as raised:
        build_time(seed_collection_sources(), {"SOURCE_DATE_EPOCH": value})
    assert str(raised.value) == f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {value!r}"


# --- the manifest ----------------------------------------------------------------------------


def test_the_manifest_lists_every_other_file_sorted_with_hash_and_size() -> None:
    pages = handmade_pages()
    manifest = json.loads(next(p for p in pages if p.path == MANIFEST_PATH).content)
    others = sorted((p for p in pages if p.path != MANIFEST_PATH), key=lambda p: p.path)
    assert manifest["files"] == [
        {"path": p.path, "sha256": hashlib.sha256(p.content).hexdigest(), "size": len(p.content)} for p in others
    ]
    assert manifest["date"] == "1980-01-01T00:00:00Z"


def test_the_manifest_records_each_sources_provenance() -> None:
    collection = _with_sidecars(Sidecar(added="2023-03-01"))
    manifest = json.loads(manifest_pages((), collection, Config())[0].content)
    first, second = manifest["sources"][:2]
    source = collection.sources[0]
    assert first == {
        "id": source.id,
        "file": source.file,
        "name": source.file,
        "size": len(source.raw),
        "sha256": hashlib.sha256(source.raw).hexdigest(),
        "encoding": "utf-8",
        "added": "2023-03-01",
        "added_from": "sidecar",
        "published_as": f"sources/{source.id}/{source.file}",
    }
    assert (second["added"], second["added_from"]) == (None, None)


def test_the_manifest_does_not_depend_on_the_order_of_pages() -> None:
    pages = tuple(p for p in handmade_pages() if p.path != MANIFEST_PATH)
    collection = seed_collection_sources()
    assert manifest_pages(pages, collection, Config()) == manifest_pages(tuple(reversed(pages)), collection, Config())


def test_two_pages_for_one_path_are_refused() -> None:
    with pytest.raises(ValueError, match="^two output files claim the same path: a.html$"):
        manifest_pages((Page("a.html", b"1"), Page("a.html", b"2")), seed_collection_sources(), Config())


# --- whole builds ----------------------------------------------------------------------------


def test_a_build_elsewhere_with_another_hash_seed_and_file_order_is_byte_identical(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    reference = tree_bytes(seed_site(tmp_path_factory))
    # The same sources created in the opposite order (so directory order differs), ...
    content = tmp_path / "content"
    content.mkdir()
    for path in sorted(SEED_CONTENT.iterdir(), reverse=True):
        shutil.copyfile(path, content / path.name)
    # ... built by another process from another working directory with another hash seed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    env.pop("SOURCE_DATE_EPOCH", None)
    output = tmp_path / "output"
    command = [sys.executable, "-m", "generator", "build", "--config", str(REPO / "config.yaml"),
               "--content", str(content), "--output", str(output), "--quiet"]
    result = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rebuilt = tree_bytes(output)
    assert sorted(rebuilt) == sorted(reference)
    assert [path for path in reference if rebuilt[path] != reference[path]] == []


def _anchors(html: bytes) -> set[str]:
    return set(re.findall(rb'\sid="([^"]+)"', html))


def test_adding_a_source_keeps_every_existing_url_on_the_same_article(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    before_site = seed_site(tmp_path_factory)
    content = tmp_path / "content"
    shutil.copytree(SEED_CONTENT, content)
    # Named to sort before every seed, so anything numbered by position would shift.
    (content / "0000_added.txt").write_text(
        "Harbour reopens after storm\n\n"
        "The harbour of a small fishing town reopened on Monday after a week of repairs to the sea wall.\n\n"
        "Boats returned to their moorings by the afternoon, the harbour master said.\n",
        encoding="utf-8",
    )
    config = seed_config(content, tmp_path / "output")
    pipeline.build(config, quiet=True)
    after_site = config.output_path
    before_collection = pipeline.gather(seed_config(SEED_CONTENT, before_site))
    after_collection = pipeline.gather(config)

    after_articles = {article.id: article for article in after_collection.articles}
    for article in before_collection.articles:
        moved = after_articles.get(article.id)
        assert moved is not None, f"article {article.id} disappeared"
        assert (moved.source, moved.headline, moved.paragraphs) == (article.source, article.headline, article.paragraphs)
    after_dispatches = {dispatch.id: dispatch for dispatch in after_collection.dispatches}
    for dispatch in before_collection.dispatches:
        assert dispatch.id in after_dispatches, f"dispatch {dispatch.id} disappeared"
        assert set(dispatch.witnesses) <= set(after_dispatches[dispatch.id].witnesses)

    # Every page of the old site still exists, and every anchor on it still does. The
    # search engine's data files are not addresses anyone links to: a shard is named by
    # its first term and a document by its number, and an added dispatch may move both.
    before, after = tree_bytes(before_site), tree_bytes(after_site)
    for path, html in before.items():
        if path.startswith(("search/index/", "search/docs/")):
            continue
        assert path in after, f"{path} no longer exists"
        if path.endswith(".html"):
            lost = _anchors(html) - _anchors(after[path])
            assert not lost, f"{path} lost anchors {sorted(lost)}"
    # The article anchors are on their source's page, as the URL contract says.
    for article in before_collection.articles:
        assert f' id="{anchor(article.id)}"'.encode() in after[f"sources/{article.source_id}/index.html"]


def test_the_manifest_is_written_as_json_dumps_would_write_it() -> None:
    collection = seed_collection_sources()
    # Names json must escape (a quote, a backslash, a control character, a line separator)
    # and provenance fields that are null: the manifest's entries are written by hand.
    first, second, *rest = collection.sources
    odd = (
        dataclasses.replace(first, file='dir/a "b"\\c\u0007\u2028.txt', accession=None, sidecar=Sidecar()),
        dataclasses.replace(second, accession="2026-01-02"),
    )
    collection = dataclasses.replace(collection, sources=(*odd, *rest))
    pages = (Page("a.html", b"1"), Page("dir/\u4e2d \"q\".html", b"2" * 70), Page("z\\\\.txt", b""))
    for chosen in ((), pages):
        written = manifest_pages(chosen, collection, Config())[0].content.decode("utf-8")
        document = json.loads(written)
        assert written == json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def test_a_manifest_made_from_the_last_ones_lines_is_the_one_made_from_nothing() -> None:
    collection = seed_collection_sources()
    lines: dict[str, tuple[str, int, str]] = {}
    sites = [
        (Page("a.html", b"1"), Page("b/c.html", b"2"), Page("z.txt", b"3")),
        (Page("a.html", b"1"), Page("b/c.html", b"changed"), Page("z.txt", b"3")),  # a file changed
        (Page("a.html", b"1"), Page("b/c.html", b"changed"), Page("m.html", b"4"), Page("z.txt", b"3")),  # one came
        (Page("a.html", b"1"), Page("m.html", b"4"), Page("z.txt", b"33")),  # one went, one changed
        (Page("a.html", b"1"), Page("n.html", b"4"), Page("z.txt", b"33")),  # as many files, another path
        (Page("a.html", b"2"),),  # same size, other bytes
        (),
        (Page("a.html", b"2"),),
    ]
    for pages in sites:
        fixities = [manifest.fixity(page) for page in pages]
        kept = {fixity.path: fixity for fixity in fixities[1:]}  # listed as the record would give them
        assert manifest.manifest_page(fixities[:1], collection, kept, lines) == manifest.manifest_pages(pages, collection, Config())[0]
        assert list(lines) == sorted(page.path for page in pages)


def test_the_newest_date_is_the_newest_day_that_exists() -> None:
    collection = seed_collection_sources()
    first, second, third, *rest = collection.sources
    stated = (
        dataclasses.replace(first, sidecar=Sidecar(date="2099-02-30")),  # read from a damaged text
        dataclasses.replace(second, sidecar=Sidecar(date="２０９９-０１-０１")),  # not ASCII digits
        dataclasses.replace(third, sidecar=Sidecar(date="2098-12-31")),
    )
    collection = dataclasses.replace(collection, sources=(*stated, *rest))
    assert build_time(collection, {}) == datetime(2098, 12, 31, tzinfo=timezone.utc)
