"""The sitemap, feed and robots.txt writers of generator/feeds.py on their own."""

from __future__ import annotations

from dataclasses import replace

from generator import feeds
from tests.golden.collection import golden_config


def test_sitemap_lines_kept_from_a_last_call_give_the_same_bytes_and_follow_the_paths() -> None:
    config = golden_config()
    paths = ["index.html", "dispatches/甲 乙/index.html", "sources/a&b/index.html"]
    known: dict[str, str] = {}
    first = feeds.sitemap_files(paths, config, known)
    assert first == feeds.sitemap_files(paths, config) and sorted(known) == sorted(paths)
    known["index.html"] = "  <url><loc>kept</loc></url>"  # a kept line is used as it is
    assert b"<loc>kept</loc>" in feeds.sitemap_files(paths, config, known)["sitemap.xml"]
    fewer = feeds.sitemap_files(paths[1:] + ["new/index.html"], config, known)
    assert fewer == feeds.sitemap_files(paths[1:] + ["new/index.html"], config)
    assert sorted(known) == sorted(paths[1:] + ["new/index.html"])  # lines of paths gone are dropped


def test_a_sitemap_past_the_limit_is_split_the_same_with_kept_lines(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(feeds, "SITEMAP_LIMIT", 2)
    config = replace(golden_config(), base_url="https://example.org/x")
    paths = [f"p{n}/index.html" for n in range(5)]
    known: dict[str, str] = {}
    feeds.sitemap_files(paths, config, known)
    split = feeds.sitemap_files(paths, config, known)
    assert sorted(split) == ["sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml", "sitemap.xml"]
    assert split == feeds.sitemap_files(paths, config)
    assert b"https://example.org/x/sitemap-3.xml" in split["sitemap.xml"]
