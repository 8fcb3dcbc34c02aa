"""Every page type in headless Chromium, opened from file://: no console error, no failed
request, no serious or critical axe-core violation (light and dark), and screenshots at
375 px and 1280 px written to tests/artifacts/ for a person to look at.

Drives Debian's /usr/bin/chromium through Playwright (never a downloaded browser).
Skips only when Chromium is absent outside CI; with CI=true it must run.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from generator.config import load_config
from generator.snapshot import take_snapshot
from tests.golden.collection import ROOT, golden_site, seed_site

AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"

# One page of each type: (name for the screenshots, site, path in the site).
PAGE_TYPES = [
    ("home", "seeds", "index.html"),
    ("source", "seeds", "sources/004_809feb52cb12a67f/index.html"),
    ("dispatch", "seeds", "dispatches/d-000_0ae97bc3b7bf4831-1/index.html"),
    ("dispatch-list", "seeds", "dispatches/index.html"),
    ("sources", "seeds", "sources/index.html"),
    ("dates", "seeds", "dates/index.html"),
    ("date-day", "seeds", "dates/2022/05/05/index.html"),
    ("terms", "seeds", "people/index.html"),
    ("term", "seeds", "agencies/新华社/index.html"),
    ("search", "seeds", "search/index.html"),
    ("not-found", "seeds", "404.html"),
    ("paginated", "golden", "dispatches/page/2/index.html"),
    ("hostile-source", "golden", "sources/hostile/index.html"),
    ("variants", "golden", "dispatches/d-甲报-1/index.html"),
    # The zip snapshot, unzipped and opened from disk without the software that made it.
    ("snapshot-home", "snapshot", "index.html"),
    ("snapshot-dispatch", "snapshot", "dispatches/d-000_0ae97bc3b7bf4831-1/index.html"),
    ("snapshot-search", "snapshot", "search/index.html"),
]


def _unzipped_snapshot(site: Path, folder: Path) -> Path:
    archive = folder / "snapshot.zip"
    take_snapshot(site, "zip", archive, load_config(None), environ={})
    unpacked = folder / "snapshot"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(unpacked)
    return unpacked


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sites")
    seeds = seed_site(folder / "seeds")
    return {"seeds": seeds, "golden": golden_site(folder / "golden"), "snapshot": _unzipped_snapshot(seeds, folder)}


def _open(browser: Any, url: str, width: int, scheme: str = "light") -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}") if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed request: {request.url} {request.failure}"))
    page.goto(url, wait_until="load")
    return page, problems


def _serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations'], preload: false})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {v['targets']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(("name", "site", "path"), PAGE_TYPES, ids=[name for name, _, _ in PAGE_TYPES])
def test_page_type_in_chromium(browser: Any, sites: dict[str, Path], name: str, site: str, path: str) -> None:
    url = (sites[site] / path).as_uri()
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (375, 1280):
        page, problems = _open(browser, url, width)
        assert page.locator("main#main").count() == 1
        assert page.evaluate("document.documentElement.lang").startswith("zh")
        # Nothing sticks out sideways on a phone.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{name} scrolls sideways at {width}px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if width == 1280:
            assert _serious_violations(page) == [], f"{name} (light)"
        page.close()
        assert problems == [], f"{name} at {width}px"
    dark, problems = _open(browser, url, 1280, "dark")
    assert _serious_violations(dark) == [], f"{name} (dark)"
    dark.close()
    assert problems == []


def test_skip_link_and_focus_are_visible(browser: Any, sites: dict[str, Path]) -> None:
    page, problems = _open(browser, (sites["seeds"] / "index.html").as_uri(), 1280)
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return {cls: e.className, top: e.getBoundingClientRect().top, outline: s.outlineStyle}; })()"
    )
    assert focused["cls"] == "skip-link" and focused["top"] >= 0 and focused["outline"] != "none"
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#main'", timeout=5000)
    page.close()
    assert problems == []


def test_header_search_form_opens_the_search_page_with_the_query(browser: Any, sites: dict[str, Path]) -> None:
    page, problems = _open(browser, (sites["seeds"] / "sources/index.html").as_uri(), 1280)
    page.fill("#site-search-q", "动态清零")
    page.press("#site-search-q", "Enter")
    page.wait_for_load_state("load")
    assert "/search/index.html?q=" in page.url
    page.close()
    assert problems == []
