"""The render stage: what each page holds, escaping, feeds, browsing, themes, determinism."""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import html
import json
import pickle
import re
import typing
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import feedparser
import jinja2
import pytest
import yaml
from markupsafe import escape

from generator import pipeline, render
from generator.catalog import LayoutError, href, raw_path
from generator.config import Config, load_config
from generator.markdown_page import article_body_html, article_body_markdown, escape_markdown, source_markdown, to_html
from generator.models import (
    Change,
    Collection,
    DateInfo,
    Dateline,
    RelatedLink,
    Sidecar,
    Skipped,
    Source,
    Text,
)
from generator.theme import Theme, ThemeError
from tests.golden.collection import (
    HOSTILE_HEADLINE,
    HOSTILE_PARAGRAPHS,
    ROOT,
    golden_collection,
    golden_config,
    synthetic_collection,
)


@pytest.fixture(scope="module")
def site() -> dict[str, bytes]:
    return {page.path: page.content for page in render.render_site(golden_collection(), golden_config()).pages}


def text(site: dict[str, bytes], path: str) -> str:
    return site[path].decode("utf-8")


def test_every_page_type_is_rendered(site: dict[str, bytes]) -> None:
    expected = {
        "index.html",
        "404.html",
        "robots.txt",
        "feed.xml",
        "sitemap.xml",
        "catalog.json",
        "static/style.css",
        "sources/index.html",
        "sources/甲报/index.html",
        "sources/甲报/甲报.txt",
        "sources/甲报/甲报.md",
        "sources/beta-paper/beta paper.txt",
        "dispatches/index.html",
        "dispatches/d-甲报-1/index.html",
        "dates/index.html",
        "dates/2022/index.html",
        "dates/2022/05/index.html",
        "dates/2022/05/05/index.html",
        "dates/unknown-year/02/21/index.html",
        "dates/undated/index.html",
        "agencies/index.html",
        "agencies/新华社/index.html",
        "people/习近平/index.html",
        "keywords/疫情防控/index.html",
    }
    assert expected <= set(site)


def test_original_bytes_are_published_unchanged(site: dict[str, bytes]) -> None:
    for source in golden_collection().sources:
        assert site[raw_path(source)] == source.raw


def test_hostile_markup_is_shown_as_text_everywhere(site: dict[str, bytes]) -> None:
    for path, content in site.items():
        if not path.endswith(".html"):
            continue
        page = content.decode("utf-8")
        assert "<script>alert" not in page, path
        assert "<img src=x" not in page, path
        assert 'href="javascript:' not in page, path
        assert "<b>社</b>" not in page and "<i>某人</i>" not in page, path
    page = text(site, "sources/hostile/index.html")
    assert str(escape(HOSTILE_HEADLINE)) in page
    # The bodies come through markdown-it, which leaves quotes alone in text.
    assert "正文&lt;img src=x onerror=alert('img')&gt;继续。" in page
    assert "[点我](javascript:alert('link'))" in page
    assert "模板{{ 7*7 }}与{% if true %}语句{% endif %}都是文字。" in page
    assert "<p># 不是标题</p>" in page
    dispatch = text(site, "dispatches/d-hostile-1/index.html")
    assert "模板{{ 7*7 }}与{% if true %}语句{% endif %}都是文字。" in dispatch
    assert "&lt;b&gt;社&lt;/b&gt;" in dispatch


def test_hostile_source_through_the_whole_pipeline(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    body = "\n\n".join(HOSTILE_PARAGRAPHS)
    (content / "evil.txt").write_text(f"<script>alert(1)</script>会议召开\n\n新华社北京5月5日电 {body}\n", encoding="utf-8")
    config = replace(Config(), root=tmp_path, content_dir="content", themes_dir=str(ROOT / "themes"))
    pages = {page.path: page.content.decode("utf-8", "replace") for page in pipeline.render_site(pipeline.gather(config), config)}
    for path, page in pages.items():
        if path.endswith(".html"):
            assert "<script>alert" not in page and "<img src=x" not in page and 'href="javascript:' not in page, path
    assert "{{ 7*7 }}" in pages["sources/evil/index.html"]


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1)) ![i](x.png) <http://x.org>",
        "# 不是标题",
        "1. 一",
        "12) 二",
        "- 列",
        "+ 列",
        "> 引",
        "---",
        "===",
        "    缩进",
        "a_b_c *x* **y** `c` ~~d~~ | e",
        "&amp; &lt; &#x41; \\ \\*",
        "{{ 7*7 }} {% raw %}",
    ],
)
def test_escaped_markdown_renders_as_the_same_text(raw: str) -> None:
    assert to_html(escape_markdown(raw)) == f"<p>{html.escape(raw.strip(), quote=False)}</p>\n"


def test_markdown_page_has_front_matter_and_a_section_per_article(site: dict[str, bytes]) -> None:
    page = text(site, "sources/甲报/甲报.md")
    _, front, body = page.split("---\n", 2)
    data = yaml.safe_load(front)
    assert data["file"] == "甲报.txt"
    assert data["sha256"] == golden_collection().sources[0].sha256
    assert data["raw_url"] == href("sources/甲报/甲报.txt")
    assert [article["id"] for article in data["articles"]] == ["甲报-1", "甲报-2"]
    assert data["articles"][0]["kicker"] == "习近平主持召开中共中央政治局常委会"
    assert data["articles"][0]["dateline"]["agency"] == "新华社"
    assert data["articles"][1]["kind"] == "notice"
    assert body.count("\n## ") == 2
    assert "**新华社北京5月5日电**　会议指出，我们一定能够打赢大上海保卫战。" in body


def test_front_matter_reads_back_exactly_with_awkward_strings() -> None:
    collection = golden_collection()
    source = replace(collection.sources[3], file="a\u2028b\x85c\"\\.txt")
    markdown = source_markdown(replace(collection.texts[3], source=source), [collection.articles[5]], "zh-Hans")
    data = yaml.safe_load(markdown.split("---\n", 2)[1])
    assert data["file"] == "a\u2028b\x85c\"\\.txt"
    assert data["articles"][0]["headline"] == HOSTILE_HEADLINE
    assert data["articles"][0]["keywords"] == ["{{ kw }}"]


def test_source_page_shows_articles_report_links_and_provenance(site: dict[str, bytes]) -> None:
    page = text(site, "sources/甲报/index.html")
    source = golden_collection().sources[0]
    first, second = page.index('id="甲报-1"'), page.index('id="甲报-2"')
    assert first < second
    assert f"<dd>{len(source.raw)}字节</dd>" in page and source.sha256 in page and "<dd>utf-8</dd>" in page
    assert 'href="../../sources/%E7%94%B2%E6%8A%A5/%E7%94%B2%E6%8A%A5.txt"' in page
    assert 'href="../../sources/%E7%94%B2%E6%8A%A5/%E7%94%B2%E6%8A%A5.md"' in page
    assert "清理时改动2处（join-lines 1，punctuation 1）" in page
    assert "<td>保卫⏎战</td>" in page.replace(' class="text"', "")
    assert '<p class="kicker">习近平主持召开中共中央政治局常委会</p>' in page
    assert "<strong>新华社北京5月5日电</strong>" in page
    traditional = text(site, "sources/丙報/index.html")
    assert 'lang="zh-Hant"' in traditional and "latin-stand-in" in traditional


def test_dispatch_page_marks_variants_and_compares_every_witness(site: dict[str, bytes]) -> None:
    page = text(site, "dispatches/d-甲报-1/index.html")
    assert page.count('<li id="variant-') == 5
    assert '<mark class="variant">会议</mark><sup id="at-1" class="variant-ref"><a href="#variant-1">1</a></sup>' in page
    assert '<mark class="variant unsettled">保卫战</mark>' in page
    assert '<sup id="at-2" class="variant-ref"><a href="#variant-2">‸2</a></sup>' in page
    # Witness B added 都, changed 能够 and 保卫战; witness C lost the second paragraph.
    assert "beta paper.txt：增1处，缺0处，改2处" in page
    assert "<ins>都</ins>" in page and "<del>能够</del><ins>能</ins>" in page
    assert "丙報.txt：增0处，缺1处，改2处" in page
    assert "<del>要坚持动态清零总方针。</del>" in page
    assert 'href="../../sources/beta-paper/index.html#beta-paper-1"' in page
    assert 'href="../../dispatches/d-%E4%B8%99%E5%A0%B1-2/index.html">中共中央政治局召开会议</a>' in page
    assert "共同人物：习近平；共同关键词：疫情防控" in page
    assert '<meta name="dcterms.date" content="2022-05-05">' in page
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert data["@type"] == "NewsArticle" and data["headline"] == "我们一定能打赢大上海保卫战"
    assert data["datePublished"] == "2022-05-05"
    assert data["url"] == "https://archive.example/jianbao/dispatches/d-%E7%94%B2%E6%8A%A5-1/index.html"


def test_json_ld_cannot_close_its_script(site: dict[str, bytes]) -> None:
    page = text(site, "dispatches/d-hostile-1/index.html")
    script = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
    assert "<" not in script
    assert json.loads(script)["headline"] == HOSTILE_HEADLINE


def test_feed_is_atom_newest_first_limited_and_dated_without_the_clock(
    site: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = feedparser.parse(site["feed.xml"])
    assert not feed.bozo, feed.get("bozo_exception")
    assert [entry.title for entry in feed.entries] == [
        "我们一定能打赢大上海保卫战",
        HOSTILE_HEADLINE,
        "中共中央政治局召开会议",
    ]
    assert feed.entries[0].link == "https://archive.example/jianbao/dispatches/d-%E7%94%B2%E6%8A%A5-1/index.html"
    # The newest date the collection knows is a sidecar date, 2022-05-06.
    assert feed.feed.updated == "2022-05-06T00:00:00Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pinned = {p.path: p.content for p in render.render_site(golden_collection(), golden_config()).pages}
    assert feedparser.parse(pinned["feed.xml"]).feed.updated == "2023-11-14T22:13:20Z"
    config = replace(golden_config(), feed=replace(golden_config().feed, limit=1))
    limited = {p.path: p.content for p in render.render_site(golden_collection(), config).pages}
    assert len(feedparser.parse(limited["feed.xml"]).entries) == 1


def test_sitemap_and_robots_use_base_url(site: dict[str, bytes]) -> None:
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [loc.text for loc in ET.fromstring(site["sitemap.xml"]).findall("s:url/s:loc", namespace)]
    assert all(url.startswith("https://archive.example/jianbao/") for url in urls)
    assert "https://archive.example/jianbao/dispatches/d-%E7%94%B2%E6%8A%A5-1/index.html" in urls
    assert "https://archive.example/jianbao/search/index.html" in urls
    assert not any(url.endswith("404.html") for url in urls)
    assert text(site, "robots.txt") == "User-agent: *\nAllow: /\nSitemap: https://archive.example/jianbao/sitemap.xml\n"


def test_base_url_appears_only_in_canonical_links_and_metadata(site: dict[str, bytes]) -> None:
    for path, content in site.items():
        if path.endswith(".html"):
            for match in re.finditer(r'(href|src)="([^"]*)"', content.decode("utf-8")):
                if match.group(2).startswith("https://"):
                    before = content.decode("utf-8")[: match.start()].rsplit("<", 1)[1]
                    assert before.startswith('link rel="canonical"'), (path, match.group(0))


def test_pagination_splits_long_lists_with_links_both_ways() -> None:
    collection = synthetic_collection(45, seed=3)
    config = replace(golden_config(), page_size=10)
    pages = {page.path: page.content.decode("utf-8") for page in render.render_site(collection, config).pages}
    assert "dispatches/page/5/index.html" in pages and "dispatches/page/6/index.html" not in pages
    second = pages["dispatches/page/2/index.html"]
    assert second.count('<a class="dispatch-title"') == 10
    assert 'href="../../../dispatches/index.html" rel="prev"' in second
    assert 'href="../../../dispatches/page/3/index.html" rel="next"' in second
    assert "第2页，共5页" in second
    titles = re.findall(r'class="dispatch-title" href="[^"]*">([^<]*)<', "".join(
        pages["dispatches/index.html" if n == 1 else f"dispatches/page/{n}/index.html"] for n in range(1, 6)
    ))
    assert sorted(titles) == sorted(d.title for d in collection.dispatches)


def test_date_pages_go_year_month_day_and_say_when_the_year_is_unknown(site: dict[str, bytes]) -> None:
    years = text(site, "dates/index.html")
    assert years.index("2022年") < years.index("年份不详") < years.index("日期不详")
    assert 'href="../dates/2022/index.html">2022年</a> <span class="count">1</span>' in years
    assert '<a href="../../../dates/2022/05/05/index.html">5日</a>' in text(site, "dates/2022/05/index.html")
    assert "我们一定能打赢大上海保卫战" in text(site, "dates/2022/05/05/index.html")
    assert '<time datetime="02-21">2月21日（年份不详）</time>' in text(site, "dates/unknown-year/02/21/index.html")


def test_term_slugs_are_safe_and_unique() -> None:
    assert render.term_slugs(["WHO", "who", "a/b", "..", "page", "习近平"]) == {
        "..": "term",
        "WHO": "who",
        "a/b": "a-b",
        "page": "page-2",
        "who": "who-2",
        "习近平": "习近平",
    }


def test_render_is_deterministic() -> None:
    first = render.render_site(golden_collection(), golden_config()).pages
    second = render.render_site(golden_collection(), golden_config()).pages
    assert first == second
    assert [page.path for page in first] == sorted(page.path for page in first)


def test_parallel_render_gives_the_same_pages_as_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    collection = synthetic_collection(30, seed=5, articles_per_source=3)
    config = replace(golden_config(), page_size=7)
    monkeypatch.setattr(render, "_CHUNK", 4)
    monkeypatch.setattr(render, "_PARALLEL_MIN", 10**9)
    serial = render.render_site(collection, config)
    monkeypatch.setattr(render, "_PARALLEL_MIN", 0)
    parallel = render.render_site(collection, config)
    assert parallel.pages == serial.pages
    # What the workers made for the memo comes back with their pages.
    for part in ("made_items", "items_html", "sitemap", "catalog"):
        assert getattr(parallel.memo, part) == getattr(serial.memo, part) != {}, part


def test_two_outputs_at_one_path_are_refused() -> None:
    collection = golden_collection()
    clash = replace(collection.sources[3], file="hostile.md")
    with pytest.raises(LayoutError, match="cannot be used as a folder name"):
        render.render_site(replace(collection, sources=(replace(clash, id=".."),)), golden_config())
    # A source whose file name is its own Markdown's name goes one folder down.
    assert raw_path(clash) == "sources/hostile/original/hostile.md"


def _site_theme(tmp_path: Path, description: str) -> Config:
    theme = tmp_path / "themes" / "mine"
    (theme / "templates").mkdir(parents=True)
    (theme / "static").mkdir()
    (theme / "theme.yaml").write_text(description, encoding="utf-8")
    return replace(golden_config(), root=tmp_path, theme="mine")


def test_a_site_theme_overrides_templates_and_static_files(tmp_path: Path) -> None:
    config = _site_theme(tmp_path, "extends: default\n")
    theme = tmp_path / "themes" / "mine"
    (theme / "templates" / "404.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>别处</h1>{% endblock %}', encoding="utf-8"
    )
    (theme / "static" / "style.css").write_text("body { color: red }\n", encoding="utf-8")
    (theme / "static" / "extra.css").write_text("p {}\n", encoding="utf-8")
    pages = {page.path: page.content for page in render.render_site(golden_collection(), config).pages}
    assert "<h1>别处</h1>" in pages["404.html"].decode("utf-8")
    assert pages["static/style.css"] == b"body { color: red }\n"
    assert pages["static/extra.css"] == b"p {}\n"
    assert "我们一定能打赢大上海保卫战" in pages["index.html"].decode("utf-8")


def test_bad_themes_are_refused_with_the_file_named(tmp_path: Path) -> None:
    config = _site_theme(tmp_path, "extends: default\ncolour: red\n")
    with pytest.raises(ThemeError) as error:
        Theme(config)
    assert str(error.value) == f"{tmp_path / 'themes' / 'mine' / 'theme.yaml'}: unknown key 'colour' (known keys: extends)"
    (tmp_path / "themes" / "mine" / "theme.yaml").write_text("extends: mine\n", encoding="utf-8")
    with pytest.raises(ThemeError) as error:
        Theme(config)
    assert str(error.value) == "theme 'mine': extends itself through mine -> mine"
    with pytest.raises(ThemeError) as error:
        Theme(replace(config, theme="absent"))
    assert str(error.value) == f"{tmp_path / 'themes' / 'absent'}: no such theme folder (theme 'absent')"


def test_templates_refuse_undefined_names() -> None:
    theme = Theme(golden_config())
    with pytest.raises(Exception, match="'root' is undefined"):
        theme.render("404.html", {"site": golden_config(), "page_title": "x", "lang": "zh-Hans", "page_path": "404.html"})


def test_seed_site_renders_with_the_project_config() -> None:
    config = replace(load_config(ROOT / "config.yaml"), root=ROOT)
    collection = pipeline.gather(config)
    pages = {page.path: page.content for page in render.render_site(collection, config).pages}
    for source in collection.sources:
        assert pages[raw_path(source)] == (ROOT / "content" / source.file).read_bytes()
    for dispatch in collection.dispatches:
        assert f"dispatches/{dispatch.id}/index.html" in pages


# ---------------------------------------------------------------- incremental render


def _without_source(collection: Collection, source_id: str) -> Collection:
    """The collection as if one file had left content/: its articles and the dispatches only it attested go."""
    gone = {article.id for article in collection.articles if article.source_id == source_id}
    dispatches = tuple(
        replace(dispatch, witnesses=tuple(w for w in dispatch.witnesses if w not in gone))
        for dispatch in collection.dispatches
        if set(dispatch.witnesses) - gone
    )
    return replace(
        collection,
        sources=tuple(source for source in collection.sources if source.id != source_id),
        texts=tuple(text for text in collection.texts if text.source.id != source_id),
        articles=tuple(article for article in collection.articles if article.id not in gone),
        dispatches=dispatches,
    )


def _with_new_source(collection: Collection) -> Collection:
    """One more file with one article, a dispatch of its own that names a new person."""
    raw = "新来源的正文。".encode("utf-8")
    source = Source("new-paper", "new-paper.txt", raw, hashlib.sha256(raw).hexdigest(), "utf-8", raw.decode("utf-8"))
    template = collection.articles[0]
    article = replace(
        template, id="new-paper-1", source_id=source.id, source=source.file, index=1, paragraphs=("新来源的正文。",),
        headline="新来源的标题", dispatch="d-new", people=("新人物",),
    )
    dispatch = replace(
        collection.dispatches[0], id="d-new", title="新来源的标题", witnesses=(article.id,), paragraphs=article.paragraphs,
        variants=(), related=(), people=("新人物",), date=DateInfo("2030-01-02", "day", "text"),
    )
    return replace(
        collection,
        sources=collection.sources + (source,),
        texts=collection.texts + (Text(source, (), (), ()),),
        articles=collection.articles + (article,),
        dispatches=collection.dispatches + (dispatch,),
    )


def _edit_article(collection: Collection, index: int, **fields: object) -> Collection:
    articles = list(collection.articles)
    articles[index] = replace(articles[index], **fields)  # type: ignore[arg-type]
    return replace(collection, articles=tuple(articles))


def _edit_dispatch(collection: Collection, index: int, **fields: object) -> Collection:
    dispatches = list(collection.dispatches)
    dispatches[index] = replace(dispatches[index], **fields)  # type: ignore[arg-type]
    return replace(collection, dispatches=tuple(dispatches))


def _edit_source_bytes(collection: Collection, index: int) -> Collection:
    """A file whose bytes changed: a new sha256, and a cleaning report made from them."""
    source = collection.sources[index]
    raw = source.raw + "补记。".encode("utf-8")
    edited = replace(source, raw=raw, sha256=hashlib.sha256(raw).hexdigest(), text=raw.decode("utf-8"))
    texts = tuple(
        replace(text, source=edited, changes=text.changes + (Change("spacing", 99, "补 记", "补记"),))
        if text.source.id == source.id
        else text
        for text in collection.texts
    )
    sources = collection.sources[:index] + (edited,) + collection.sources[index + 1 :]
    return replace(collection, sources=sources, texts=texts)


_SYNTHETIC = synthetic_collection(30, seed=5, articles_per_source=3)

# Each edit a build can meet, on a collection of 30 dispatches with 7 to a list page, so
# that moving a dispatch shifts the pages of the lists it is in.
EDITS = {
    "article text": lambda c: _edit_article(c, 4, paragraphs=("改过的正文。",) + c.articles[4].paragraphs[1:]),
    "article headline": lambda c: _edit_article(c, 7, headline="改过的标题"),
    "article date": lambda c: _edit_article(c, 2, date=DateInfo("2001-02-03", "day", "text")),
    "dispatch title": lambda c: _edit_dispatch(c, 3, title="改过的电讯标题"),
    "dispatch date": lambda c: _edit_dispatch(c, 5, date=DateInfo("1999-12-31", "day", "text")),
    "dispatch keywords": lambda c: _edit_dispatch(c, 6, keywords=c.dispatches[6].keywords + ("新关键词",)),
    "dispatch text": lambda c: _edit_dispatch(c, 8, paragraphs=("改过的校勘文本。",) + c.dispatches[8].paragraphs[1:]),
    "related links": lambda c: _edit_dispatch(c, 9, related=(RelatedLink(c.dispatches[0].id, 9.0, "共同人物：某人"),)),
    "source bytes": lambda c: _edit_source_bytes(c, 1),
    "source language": lambda c: replace(
        c, sources=(replace(c.sources[0], sidecar=Sidecar(language="zh-Hant")),) + c.sources[1:]
    ),
    "source added": _with_new_source,
    "source removed": lambda c: _without_source(c, c.sources[2].id),
    "file skipped": lambda c: replace(c, skipped=c.skipped + (Skipped("broken.txt", "not text"),)),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_incremental_render_renders_every_page_that_changed(edit: str) -> None:
    config = replace(golden_config(), page_size=7)
    before, after = _SYNTHETIC, EDITS[edit](_SYNTHETIC)
    first = render.render_site(before, config, site_key="site")
    full = render.render_site(after, config, site_key="site")
    incremental = render.render_site(after, config, site_key="site", unchanged=first.keys)
    old = {page.path: page.content for page in first.pages}
    new = {page.path: page.content for page in full.pages}
    assert set(full.keys) == set(new), "every output has a key"
    changed = {path for path, content in new.items() if old.get(path) != content}
    rendered = {page.path: page.content for page in incremental.pages}
    assert changed, "the edit changes the site"
    assert sorted(changed - set(rendered)) == [], "pages whose bytes changed were not rendered again"
    assert {path: new[path] for path in rendered} == rendered
    assert incremental.keys == full.keys
    # Beyond those, only a few pages that show the edited record but not the edited field
    # (a related dispatch's excerpt, say) are rendered again, never the whole site.
    assert len(set(rendered) - changed) <= 6


def _without_dispatch(collection: Collection, index: int) -> Collection:
    """A dispatch gone (its witnesses no longer reprints of anything), the others untouched."""
    gone = collection.dispatches[index]
    articles = tuple(
        replace(article, dispatch=None) if article.dispatch == gone.id else article for article in collection.articles
    )
    return replace(collection, articles=articles, dispatches=collection.dispatches[:index] + collection.dispatches[index + 1 :])


# Edits as a rebuild meets them: the records that did not change are the very objects the
# last render saw (collate hands them on), only the edited ones are new.
MEMO_EDITS = {
    **EDITS,
    "dispatch removed": lambda c: _without_dispatch(c, 11),
    "dispatch people": lambda c: _edit_dispatch(c, 12, people=("某人",) + c.dispatches[12].people),
    "witness moved": lambda c: _edit_article(c, 13, source="renamed.txt"),
}


@functools.cache
def _first_render() -> render.RenderedSite:
    return render.render_site(_SYNTHETIC, replace(golden_config(), page_size=7), site_key="site")


def _assert_rendered_as_without_memo(
    reusing: render.RenderedSite, before: Mapping[str, str], full_keys: Mapping[str, str], full: Mapping[str, bytes]
) -> None:
    """The keys of a render from nothing, and exactly the pages whose key changed, with its bytes."""
    assert reusing.keys == full_keys
    rendered = {page.path: page.content for page in reusing.pages}
    assert sorted(rendered) == sorted(path for path, key in full_keys.items() if before.get(path) != key)
    assert rendered == {path: full[path] for path in rendered}


@pytest.mark.parametrize("edit", sorted(MEMO_EDITS))
def test_a_render_given_the_last_ones_memo_equals_one_without(edit: str) -> None:
    config = replace(golden_config(), page_size=7)
    first = _first_render()
    after = MEMO_EDITS[edit](_SYNTHETIC)
    full = render.render_site(after, config, site_key="site")
    reusing = render.render_site(after, config, site_key="site", unchanged=first.keys, previous=first.memo)
    _assert_rendered_as_without_memo(reusing, first.keys, full.keys, {page.path: page.content for page in full.pages})
    # And back, with the memo this render left.
    back = render.render_site(_SYNTHETIC, config, site_key="site", unchanged=reusing.keys, previous=reusing.memo)
    _assert_rendered_as_without_memo(back, reusing.keys, first.keys, {page.path: page.content for page in first.pages})


def test_the_memo_drops_the_items_of_dispatches_gone_or_changed() -> None:
    config = replace(golden_config(), page_size=7)
    first = _first_render()
    gone, edited = _SYNTHETIC.dispatches[11].id, _SYNTHETIC.dispatches[3].id
    assert gone in first.memo.made_items and gone in first.memo.items_html
    after = MEMO_EDITS["dispatch title"](MEMO_EDITS["dispatch removed"](_SYNTHETIC))
    memo = render.render_site(after, config, site_key="site", unchanged=first.keys, previous=first.memo).memo
    assert gone not in memo.made_items and gone not in memo.items_html
    assert memo.items_html[edited][0] == memo.made_items[edited][0] != first.memo.made_items[edited][0]


def test_a_new_term_that_takes_an_old_terms_slug_moves_the_old_ones_links() -> None:
    # 'A b' sorts before 'a-b' and takes its folder name: the pages of dispatches that
    # link 'a-b' change although none of their records did.
    config = replace(golden_config(), page_size=7)
    before = _edit_dispatch(_SYNTHETIC, 0, keywords=_SYNTHETIC.dispatches[0].keywords + ("a-b",))
    after = _edit_dispatch(before, 5, keywords=before.dispatches[5].keywords + ("A b",))
    first = render.render_site(before, config, site_key="site")
    assert render.term_slugs(["a-b", "A b"]) == {"A b": "a-b", "a-b": "a-b-2"}
    full = render.render_site(after, config, site_key="site")
    reusing = render.render_site(after, config, site_key="site", unchanged=first.keys, previous=first.memo)
    _assert_rendered_as_without_memo(reusing, first.keys, full.keys, {page.path: page.content for page in full.pages})
    assert f"dispatches/{before.dispatches[0].id}/index.html" in {page.path for page in reusing.pages}


@pytest.mark.parametrize("edit", ["article text", "dispatch keywords", "source removed"])
def test_a_memo_loaded_from_its_pickle_serves_as_well(edit: str) -> None:
    # Loaded records are new objects: nothing is taken on their identity.
    config = replace(golden_config(), page_size=7)
    first = _first_render()
    after = MEMO_EDITS[edit](_SYNTHETIC)
    loaded = pickle.loads(pickle.dumps(first.memo))
    assert loaded.theme is None  # compiled code does not pickle: the templates' bytecode does
    assert (loaded.catalog, loaded.items_html, loaded.made_items, loaded.sitemap, loaded.compiled) == (
        first.memo.catalog, first.memo.items_html, first.memo.made_items, first.memo.sitemap, first.memo.compiled,
    )
    assert loaded.catalog and loaded.items_html and loaded.made_items and loaded.sitemap and loaded.compiled
    full = render.render_site(after, config, site_key="site")
    reusing = render.render_site(after, config, site_key="site", unchanged=first.keys, previous=loaded)
    _assert_rendered_as_without_memo(reusing, first.keys, full.keys, {page.path: page.content for page in full.pages})


def test_sources_hold_no_float_so_an_equal_source_keeps_its_digest() -> None:
    # render takes a source's digest from an equal source of the last render (each build
    # makes its sources anew); == is exact only while no field can hold a float.
    def floats(hint: object) -> bool:
        if hint is float:
            return True
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return any(floats(field) for field in typing.get_type_hints(hint).values())
        return any(floats(argument) for argument in typing.get_args(hint))

    assert not floats(Source)
    assert floats(RelatedLink)  # the check sees one where there is one


def test_an_equal_record_keeps_its_digest_unless_a_float_differs_in_sign() -> None:
    # A memo read back from disk holds copies of the records: an equal copy keeps its
    # digest, but == calls 0.0 and -0.0 the same, which a page would print differently.
    dispatch = replace(_SYNTHETIC.dispatches[0], related=(RelatedLink(_SYNTHETIC.dispatches[1].id, 0.0, "同一人物"),))
    previous = render._record_digests([dispatch], {})
    copy = pickle.loads(pickle.dumps(dispatch))
    kept = render._record_digests([copy], previous)[dispatch.id]
    assert kept[1] == previous[dispatch.id][1]
    assert kept[0] is copy  # the next render, handed the same copy, finds it by identity
    negative = replace(dispatch, related=(replace(dispatch.related[0], score=-0.0),))
    assert negative == dispatch  # what == alone would have trusted
    assert render._record_digests([negative], previous)[dispatch.id][1] != previous[dispatch.id][1]
    assert render._record_digests([negative], previous)[dispatch.id][1] == render._record_digests([negative], {})[dispatch.id][1]


def test_a_datelines_text_is_in_its_articles_digest() -> None:
    # Only a Source's raw bytes and text are stood for by its sha256; a field called
    # ``text`` elsewhere (a dateline as written, a witness's reading) is shown as it is.
    article = next(article for article in golden_collection().articles if article.dateline is not None)
    assert article.dateline is not None
    edited = replace(article, dateline=replace(article.dateline, text=article.dateline.text + "（补）"))
    assert render._digest(render._flat(edited)) != render._digest(render._flat(article))


def test_a_render_after_loading_a_memo_remakes_only_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The catalog's lines, the items and their HTML, the sitemap's lines and the compiled
    # templates come back with the memo: after an edit, only the edited records' are made.
    from generator import catalog as catalog_module

    config = replace(golden_config(), page_size=7)
    first = _first_render()
    edited_article = _SYNTHETIC.articles[4]
    after = pickle.loads(pickle.dumps(EDITS["article text"](_SYNTHETIC)))  # equal records, new objects
    loaded = pickle.loads(pickle.dumps(first.memo))
    encoded: list[str] = []
    items: list[str] = []
    real_entry, real_item, real_compile = catalog_module.article_entry, render._Renderer._item, jinja2.Environment.compile
    monkeypatch.setattr(catalog_module, "article_entry", lambda article: encoded.append(article.id) or real_entry(article))
    monkeypatch.setattr(render._Renderer, "_item", lambda self, dispatch: items.append(dispatch.id) or real_item(self, dispatch))
    compiled: list[str | None] = []

    def compile(self: jinja2.Environment, source: str, name: str | None = None, *arguments: object, **keywords: object) -> object:
        compiled.append(name)
        return real_compile(self, source, name, *arguments, **keywords)

    monkeypatch.setattr(jinja2.Environment, "compile", compile)
    unchanged = {path: key for path, key in first.keys.items() if not path.startswith("dispatches/")}  # list pages go too
    reusing = render.render_site(after, config, site_key="site", unchanged=unchanged, previous=loaded)
    assert encoded == [edited_article.id] and compiled == []
    assert items == [] and any(page.path.startswith("dispatches/page/") for page in reusing.pages)
    full = render.render_site(after, config, site_key="site")
    assert {page.path: page.content for page in reusing.pages} == {
        page.path: page.content for page in full.pages if unchanged.get(page.path) != full.keys[page.path]
    }


def test_a_few_pages_are_rendered_in_the_collectors_pause_and_many_with_it_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The plan of a render that makes few pages is freed before the collector could walk it.
    runs: list[tuple[int, bool]] = []
    real_run = render._Renderer.run

    def watched(self, paths):  # type: ignore[no-untyped-def]
        runs.append((len(paths), gc.isenabled()))
        return real_run(self, paths)

    monkeypatch.setattr(render._Renderer, "run", watched)
    assert gc.isenabled()
    few = render.render_site(_SYNTHETIC, golden_config())
    assert runs == [(len(few.pages), False)] and gc.isenabled()
    runs.clear()
    monkeypatch.setattr(render, "_PARALLEL_MIN", 0)  # every render is one of many pages
    many = render.render_site(_SYNTHETIC, golden_config())
    assert runs and all(enabled for _, enabled in runs) and gc.isenabled()
    assert many.pages == few.pages


def test_a_finished_render_is_freed_without_the_cyclic_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rebuild freezes the heap it starts with: a renderer left in a reference cycle
    # (its jobs are bound to it) would keep its whole collection for good.
    renderers: list[weakref.ref[render._Renderer]] = []
    real_init = render._Renderer.__init__

    def remembering(self, *arguments, **keywords):  # type: ignore[no-untyped-def]
        real_init(self, *arguments, **keywords)
        renderers.append(weakref.ref(self))

    monkeypatch.setattr(render._Renderer, "__init__", remembering)
    enabled = gc.isenabled()
    gc.disable()
    try:
        render.render_site(_SYNTHETIC, golden_config())
        assert renderers and renderers[0]() is None
    finally:
        if enabled:
            gc.enable()


def test_a_memo_made_under_another_site_key_or_config_is_not_used() -> None:
    config = replace(golden_config(), page_size=7)
    memo = render.render_site(_SYNTHETIC, config, site_key="site").memo
    for other_key, other_config in (("theme edited", config), ("site", replace(config, title="另一个标题"))):
        fresh = render.render_site(_SYNTHETIC, other_config, site_key=other_key)
        reusing = render.render_site(_SYNTHETIC, other_config, site_key=other_key, previous=memo)
        assert reusing.keys == fresh.keys and reusing.pages == fresh.pages


def test_an_unchanged_collection_renders_nothing_and_another_site_key_everything() -> None:
    config = replace(golden_config(), page_size=7)
    first = render.render_site(_SYNTHETIC, config, site_key="site")
    assert render.render_site(_SYNTHETIC, config, site_key="site", unchanged=first.keys).pages == ()
    again = render.render_site(_SYNTHETIC, config, site_key="theme edited", unchanged=first.keys)
    assert again.pages == first.pages
    # A page whose key is missing from ``unchanged`` (deleted by hand, say) is rendered.
    some = dict(first.keys)
    del some["index.html"]
    assert [page.path for page in render.render_site(_SYNTHETIC, config, site_key="site", unchanged=some).pages] == [
        "index.html"
    ]


def test_one_article_edit_renders_its_source_and_dispatch_and_the_catalog() -> None:
    config = replace(golden_config(), page_size=7)
    first = render.render_site(_SYNTHETIC, config, site_key="site")
    article = _SYNTHETIC.articles[4]
    edited = EDITS["article text"](_SYNTHETIC)
    rendered = {page.path for page in render.render_site(edited, config, site_key="site", unchanged=first.keys).pages}
    assert rendered == {
        f"sources/{article.source_id}/index.html",
        f"sources/{article.source_id}/{article.source_id}.md",
        f"dispatches/{article.dispatch}/index.html",
        "catalog.json",
    }


def test_keys_follow_the_content_not_how_the_records_were_made() -> None:
    # Equal records built separately (as after loading a cached collection) give equal keys.
    config = golden_config()
    rebuilt = pickle.loads(pickle.dumps(golden_collection()))
    assert render.render_site(rebuilt, config).keys == render.render_site(golden_collection(), config).keys


def test_article_bodies_are_written_as_markdown_it_writes_them() -> None:
    dateline = Dateline("新华社北京5月5日电（记者 \"张三\"）", "新华社", "北京", "5月5日", None, "start")
    bodies = [
        ("第一段。\n第二行", "第二段 <b>&amp;</b> \"引号\""),
        ("  缩进的一段", "# 像标题", "> 像引文", "- 像列表", "1. 像编号", "*强调* 和 **粗体** _下划线_", "反斜杠\\n"),
        ("\n开头空行", "结尾空行\n", "中间\n\n空行", "中间\n　\n全角空格", "回车\r换行", "空字符\0"),
        (HOSTILE_HEADLINE,) + HOSTILE_PARAGRAPHS,
    ]
    articles = [replace(golden_collection().articles[0], paragraphs=body) for body in bodies]
    for article in list(articles) + list(golden_collection().articles) + list(_SYNTHETIC.articles[:10]):
        for variant in (
            article,
            replace(article, dateline=dateline),
            replace(article, dateline=replace(dateline, position="end"), pull_quotes=("一句\n两行", "*引*")),
            replace(article, dateline=replace(dateline, text="**")),
        ):
            assert article_body_html(variant) == to_html(article_body_markdown(variant)), variant.paragraphs


def test_cleaning_change_rows_are_escaped_as_a_template_would() -> None:
    loop = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
        "{% for change in changes %}\n"
        '          <tr><td>{{ change.line }}</td><td>{{ change.kind }}</td><td class="text">'
        '{{ change.before|replace("\\n", "⏎") }}</td><td class="text">{{ change.after|replace("\\n", "⏎") }}</td></tr>\n'
        "{% endfor %}"
    )
    hostile = [Change("<kind>", 3, "a\nb & 'c' \"d\"", "<script>"), Change("join-lines", 4, "", "é\n")]
    for changes in (hostile, hostile + [Change("nul", 5, "a\0b", "\0")], []):
        expected = loop.render(changes=changes)
        assert str(render.change_rows(changes)) + ("\n" if changes else "") == expected
