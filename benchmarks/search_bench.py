"""Search benchmark: index build time, size, browser load and query latency.

    python benchmarks/search_bench.py --articles 1000 [--articles 10000] [--work DIR]

For each size: writes a synthetic collection (benchmarks/synth.py), gathers it, times
``search.index_pages`` (the whole index: shards, facets, document files), measures the
index raw and gzipped, then opens the built search page from file:// in headless
Chromium and measures, for a set of queries, the bytes the first query loads (scripts,
shards, documents; counted as file sizes raw and gzipped, since file:// has no
transfer encoding), the time from page load to the first results, and the latency of
later queries (median and p95). With --pagefind, also runs Pagefind (the
``pagefind[extended]`` package, if installed) over the same built site.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import pipeline, search  # noqa: E402
from generator.config import load_config  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIRST_QUERIES = ("疫情", "动态清零", "经济", "会议", "14.7")
LATER_QUERIES = ("疫情防控", "新华社", "上海", "增长", "国务院", "发展", "市场", "2022", "疫", "工作会议")


def gz_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def build_site(articles: int, work: Path) -> tuple[Path, dict[str, Any]]:
    content = work / f"content-{articles}"
    output = work / f"site-{articles}"
    if not content.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "synth.py"), "--articles", str(articles), "--out", str(content)],
            check=True,
        )
    config = dataclasses.replace(
        load_config(ROOT / "config.yaml"), content_dir=str(content.resolve()), output_dir=str(output.resolve())
    )
    started = time.perf_counter()
    collection = pipeline.gather(config)
    gathered = time.perf_counter() - started
    documents = search.search_documents(collection)
    started = time.perf_counter()
    pages = search.index_pages(documents)
    index_seconds = time.perf_counter() - started
    shard_pages = [p for p in pages if p.path.startswith(search.INDEX_FOLDER)]
    doc_pages = [p for p in pages if p.path.startswith(search.DOCS_FOLDER)]
    figures: dict[str, Any] = {
        "articles": len(collection.articles),
        "dispatches": len(documents),
        "body_chars": sum(len(d.text) for d in documents),
        "gather_s": round(gathered, 1),
        "index_build_s": round(index_seconds, 1),
        "shards": sum(1 for p in shard_pages if "/shard-" in p.path),
        "index_raw_mb": round(sum(len(p.content) for p in shard_pages) / 1e6, 1),
        "index_gz_mb": round(sum(gz_size(p.content) for p in shard_pages) / 1e6, 1),
        "docs_raw_mb": round(sum(len(p.content) for p in doc_pages) / 1e6, 1),
        "largest_shard_kb": round(max(len(p.content) for p in shard_pages) / 1e3),
    }
    if not (output / "index.html").exists():
        pipeline.build(config, quiet=True)
    return output.resolve(), figures


def browser_figures(site: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    def loaded_bytes(urls: list[str]) -> tuple[int, int]:
        raw = gz = 0
        for url in urls:
            path = Path(unquote(urlparse(url).path))
            if path.suffix == ".js":
                data = path.read_bytes()
                raw += len(data)
                gz += gz_size(data)
        return raw, gz

    first: list[dict[str, Any]] = []
    later: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for query in FIRST_QUERIES:
            page = browser.new_page()
            urls: list[str] = []
            page.on("request", lambda request: urls.append(request.url))
            started = time.perf_counter()
            page.goto(f"{(site / 'search' / 'index.html').as_uri()}?q={quote(query)}")
            page.wait_for_selector("body[data-search-done]", timeout=120000)
            wall = time.perf_counter() - started
            raw, gz = loaded_bytes(urls)
            first.append(
                {
                    "query": query,
                    "first_results_ms": round(wall * 1000),
                    "search_ms_in_page": int(page.get_attribute("body", "data-search-ms") or 0),
                    "loaded_kb_raw": round(raw / 1e3),
                    "loaded_kb_gz": round(gz / 1e3),
                    "results": page.inner_text("#search-status"),
                }
            )
            # Later queries on the same page: what a reader typing more sees.
            for later_query in LATER_QUERIES:
                page.fill("#search-q", later_query)
                page.press("#search-q", "Enter")
                page.wait_for_selector(f"body[data-search-done='{later_query}']", timeout=120000)
                later.append(float(page.get_attribute("body", "data-search-ms") or 0))
                # The same query again: shards and documents are loaded now.
                page.fill("#search-q", later_query + " ")
                page.press("#search-q", "Enter")
                page.wait_for_selector(f"body[data-search-done='{later_query}']", timeout=120000)
            page.close()
        browser.close()
    ordered = sorted(later)
    return {
        "first": first,
        "later_median_ms": statistics.median(ordered),
        "later_p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, action="append", required=True)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for articles in args.articles:
        site, figures = build_site(articles, args.work)
        figures.update(browser_figures(site))
        results.append(figures)
        print(json.dumps(figures, ensure_ascii=False, indent=1), flush=True)
    (args.work / "search_bench.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if shutil.which("pagefind_extended") is None:
        print("pagefind_extended not on PATH: no Pagefind comparison", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
