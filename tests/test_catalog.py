"""catalog.json: exactly the fields issues 2 and 3 list, consistent with the pages."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from urllib.parse import unquote

import pytest

from generator import pipeline, render
from generator.catalog import catalog, catalog_json, encoded_catalog
from generator.config import load_config
from tests.golden.collection import ROOT, golden_collection, golden_config

SOURCE_FIELDS = ["id", "file", "sha256", "encoding", "url", "raw_url", "markdown_url", "articles"]
ARTICLE_FIELDS = [
    "id", "source", "kind", "headline", "subheadline", "kicker", "dateline", "date", "date_precision",
    "people", "keywords", "text", "url", "flags", "dispatch",
]
DISPATCH_FIELDS = ["id", "title", "date", "date_source", "witnesses", "text", "variants", "related", "url"]


@pytest.fixture(scope="module")
def seeds() -> dict:
    config = replace(load_config(ROOT / "config.yaml"), root=ROOT)
    return catalog(pipeline.gather(config))


def test_fields_are_exactly_those_the_issues_list() -> None:
    data = catalog(golden_collection())
    assert list(data) == ["sources", "articles", "skipped", "dispatches"]
    assert all(list(entry) == SOURCE_FIELDS for entry in data["sources"])
    assert all(list(entry) == ARTICLE_FIELDS for entry in data["articles"])
    assert all(list(entry) == DISPATCH_FIELDS for entry in data["dispatches"])
    assert data["skipped"] == [{"file": "empty.txt", "reason": "empty file"}]


def test_entries_hold_the_collection() -> None:
    collection = golden_collection()
    data = catalog(collection)
    sources = {entry["id"]: entry for entry in data["sources"]}
    assert sources["甲报"]["articles"] == ["甲报-1", "甲报-2"]
    assert sources["beta-paper"]["raw_url"] == "sources/beta-paper/beta%20paper.txt"
    assert sources["beta-paper"]["markdown_url"] == "sources/beta-paper/beta-paper.md"
    articles = {entry["id"]: entry for entry in data["articles"]}
    first = articles["甲报-1"]
    assert first["source"] == "甲报.txt" and first["kind"] == "article" and first["dispatch"] == "d-甲报-1"
    assert first["text"] == "会议指出，我们一定能够打赢大上海保卫战。\n\n要坚持动态清零总方针。"
    assert first["dateline"] == {
        "text": "新华社北京5月5日电", "agency": "新华社", "place": "北京", "date": "5月5日", "via": None, "position": "start",
    }
    assert articles["甲报-2"]["kind"] == "notice" and articles["甲报-2"]["dispatch"] is None
    assert articles["丙報-1"]["flags"] == [{"kind": "latin-stand-in", "text": "risk"}]
    assert articles["丙報-2"]["date"] == "--02-21" and articles["丙報-2"]["date_precision"] == "month-day"
    dispatch = next(entry for entry in data["dispatches"] if entry["id"] == "d-甲报-1")
    assert dispatch["witnesses"] == ["甲报-1", "beta-paper-1", "丙報-1"]
    assert dispatch["related"] == ["d-丙報-2"] and dispatch["date_source"] == "text"
    assert dispatch["variants"][0] == {
        "position": 9, "length": 2, "consensus": "能够",
        "readings": [
            {"witness": "甲报-1", "text": "能够"}, {"witness": "beta-paper-1", "text": "能"}, {"witness": "丙報-1", "text": "能够"},
        ],
        "settled": True, "rule": "majority",
    }


def test_every_url_in_the_catalog_is_a_rendered_file() -> None:
    pages = {page.path: page.content.decode("utf-8", "replace") for page in render.render_site(golden_collection(), golden_config()).pages}
    data = json.loads(pages["catalog.json"])
    for entry in data["sources"]:
        for key in ("url", "raw_url", "markdown_url"):
            assert unquote(entry[key]) in pages, entry[key]
    for entry in data["articles"] + data["dispatches"]:
        path, _, fragment = unquote(entry["url"]).partition("#")
        assert path in pages, entry["url"]
        if fragment:
            assert f'id="{fragment}"' in pages[path]


def test_catalog_json_is_utf8_with_han_characters_as_they_are() -> None:
    raw = catalog_json(golden_collection())
    assert "甲报".encode("utf-8") in raw and b"\\u" not in raw.replace(b"\\u2028", b"")
    assert json.loads(raw) == catalog(golden_collection())


def test_seed_catalog_lists_every_source_article_and_dispatch(seeds: dict) -> None:
    assert [entry["file"] for entry in seeds["sources"]] == sorted(p.name for p in (ROOT / "content").glob("*.txt"))
    article_ids = {entry["id"] for entry in seeds["articles"]}
    assert article_ids == {article for entry in seeds["sources"] for article in entry["articles"]}
    assert {w for entry in seeds["dispatches"] for w in entry["witnesses"]} <= article_ids
    for entry in seeds["articles"]:
        assert list(entry) == ARTICLE_FIELDS
        if entry["kind"] == "article":
            assert entry["dispatch"] in {d["id"] for d in seeds["dispatches"]}


def test_the_catalog_reencodes_only_changed_records_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator import catalog as catalog_module

    collection = golden_collection()
    first, lines = encoded_catalog(collection, {})
    assert first == catalog_json(collection)
    article = collection.articles[0]
    edited = replace(collection, articles=(replace(article, headline="改过的标题"),) + collection.articles[1:])
    encoded: list[str] = []
    real_entry = catalog_module.article_entry

    def counting(record):  # type: ignore[no-untyped-def]
        encoded.append(record.id)
        return real_entry(record)

    monkeypatch.setattr(catalog_module, "article_entry", counting)
    # Equal records made anew (as a loaded cache makes them) find their lines too.
    second, _ = encoded_catalog(pickle.loads(pickle.dumps(edited)), lines)
    assert encoded == [article.id]  # the other articles' lines were the last call's
    assert "改过的标题" in second.decode("utf-8") and second != first
    assert second == catalog_json(edited)  # the same bytes as encoding every record anew
    assert json.loads(second) == catalog(edited)


def test_with_stamps_a_line_is_kept_exactly_while_its_stamp_is(monkeypatch: pytest.MonkeyPatch) -> None:
    # A renderer stamps each record with its digest: lines kept that way hold no record.
    from generator import catalog as catalog_module

    collection = golden_collection()
    stamps = {"articles": {article.id: f"stamp of {article.id}" for article in collection.articles}}
    _, lines = encoded_catalog(collection, {}, stamps)
    assert all(made_from == f"stamp of {name}" for name, (made_from, _) in lines["articles"].items())
    first, second = collection.articles[0], collection.articles[1]
    edited = replace(collection, articles=(replace(first, headline="第一篇改过的标题"), replace(second, headline="第二篇改过的标题")) + collection.articles[2:])
    encoded: list[str] = []
    real_entry = catalog_module.article_entry
    monkeypatch.setattr(catalog_module, "article_entry", lambda article: encoded.append(article.id) or real_entry(article))
    restamped = {"articles": {**stamps["articles"], second.id: "a new stamp"}}
    content, _ = encoded_catalog(edited, lines, restamped)
    assert encoded == [second.id]  # the stamp is trusted: the first article's old line stays
    assert "第二篇改过的标题" in content.decode("utf-8") and "第一篇改过的标题" not in content.decode("utf-8")
