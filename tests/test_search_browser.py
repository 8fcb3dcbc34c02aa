"""The built site's search page in headless Chromium, opened from file:// (no server)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from generator import pipeline
from generator.config import load_config
from generator.models import Collection
from tests.chromium import CHROMIUM

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
QUERIES = yaml.safe_load((ROOT / "tests" / "search_queries.yaml").read_text(encoding="utf-8"))

# In CI (CI=true) the browser must be there: a missing one fails instead of skipping.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file() and os.environ.get("CI") != "true", reason="chromium is not installed"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Collection]:
    config = dataclasses.replace(
        load_config(ROOT / "config.yaml"), output_dir=str(tmp_path_factory.mktemp("site") / "out")
    )
    pipeline.build(config, quiet=True)
    return config.output_path.resolve(), pipeline.gather(config)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def search_url(site: Path, query: str, **filters: str) -> str:
    extra = "".join(f"&{name}={quote(value)}" for name, value in filters.items())
    return f"{(site / 'search' / 'index.html').as_uri()}?q={quote(query)}{extra}"


def shown_dispatches(page: Any) -> list[str]:
    return [item.get_attribute("data-dispatch") for item in page.query_selector_all("#search-results > li")]


def open_search(page: Any, site: Path, query: str, **filters: str) -> list[str]:
    page.goto(search_url(site, query, **filters))
    page.wait_for_selector("body[data-search-done]", timeout=15000)
    return shown_dispatches(page)


def dispatch_of(collection: Collection, witness: str) -> str:
    (dispatch,) = [d.id for d in collection.dispatches if witness in d.witnesses]
    return dispatch


def test_query_set_from_file_url(site: tuple[Path, Collection], page: Any) -> None:
    folder, collection = site
    failures = []
    for case in QUERIES:
        found = open_search(page, folder, str(case["query"]))
        if case.get("nothing"):
            ok = found == [] and "没有找到" in page.inner_text("#search-status")
        else:
            expected = {dispatch_of(collection, witness) for witness in case["found"]}
            ok = expected <= set(found) and (
                "first" not in case or found[0] == dispatch_of(collection, case["first"])
            )
        if not ok:
            failures.append((case["query"], found))
    assert failures == []


def test_result_shows_headline_date_sources_and_highlight(site: tuple[Path, Collection], page: Any) -> None:
    folder, collection = site
    open_search(page, folder, "大上海保卫战")
    first = page.query_selector("#search-results > li")
    assert first is not None
    assert first.query_selector("h2 a.result-link").inner_text()
    assert [m.inner_text() for m in first.query_selector_all("mark")][0] == "大上海保卫战"
    second = page.query_selector_all("#search-results > li")[1]
    meta = second.inner_text()
    assert "2022年5月5日" in meta and "3 个版本" in meta
    # The page loaded only what the query needed, from file://, and the URL keeps the query.
    assert "q=" in page.url


def test_filters_narrow_results_and_live_in_the_url(site: tuple[Path, Collection], page: Any) -> None:
    folder, collection = site
    everything = open_search(page, folder, "疫")
    assert len(everything) > 3
    narrowed = open_search(page, folder, "疫", agency="本报讯")
    assert 0 < len(narrowed) < len(everything)
    assert page.eval_on_selector("#search-agency", "e => e.value") == "本报讯"
    page.select_option("#search-agency", "")
    page.wait_for_function("() => document.querySelectorAll('#search-results > li').length > 3")
    assert "agency=" not in page.url


def test_keyboard_search_and_navigation(site: tuple[Path, Collection], page: Any) -> None:
    folder, _ = site
    page.goto((folder / "search" / "index.html").as_uri())
    page.keyboard.press("/")
    page.keyboard.type("欧佩克")
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-search-done='欧佩克']", timeout=15000)
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => document.activeElement.className")
    assert focused == "result-link"
    assert "q=%E6%AC%A7%E4%BD%A9%E5%85%8B" in page.url


def test_header_search_box_leads_to_results(site: tuple[Path, Collection], page: Any) -> None:
    folder, _ = site
    page.goto((folder / "index.html").as_uri())
    page.fill("#site-search-q", "维也纳")
    page.press("#site-search-q", "Enter")
    page.wait_for_selector("body[data-search-done]", timeout=15000)
    assert len(shown_dispatches(page)) == 1


def test_filters_data_loads_only_when_the_filters_open(site: tuple[Path, Collection], page: Any) -> None:
    folder, _ = site
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    everything = open_search(page, folder, "疫")
    assert not any(url.endswith("/facets.js") for url in requested)
    assert page.is_hidden("#search-agency")
    page.click("#search-filter-toggle")
    page.wait_for_selector("#search-agency option[value='本报讯']", state="attached")
    assert any(url.endswith("/facets.js") for url in requested)
    assert page.get_attribute("#search-filter-toggle", "aria-expanded") == "true"
    page.select_option("#search-agency", "本报讯")
    page.wait_for_function(f"() => document.querySelectorAll('#search-results > li').length < {len(everything)}")
    assert "agency=" in page.url and 0 < len(shown_dispatches(page)) < len(everything)


def test_page_warms_its_preload_shards_after_a_search(site: tuple[Path, Collection], page: Any) -> None:
    """After the first answer the page loads the manifest's preload shards in idle time
    (none at this size) and says so; the search itself still reads as answered."""
    folder, _ = site
    assert open_search(page, folder, "上海")
    page.wait_for_selector("body[data-warmed]", state="attached", timeout=15000)
    assert "出错" not in page.inner_text("#search-status")
