"""Search benchmark: index build time and size, first and later queries in Chromium, Pagefind.

    python benchmarks/search_bench.py --articles 1000 --articles 10000 [--work DIR] [--repeat 3]

For each size:

1. Writes a synthetic collection (benchmarks/synth.py) and gathers it with the stages of
   ``pipeline.gather``; a source whose per-source stages raise is left out and named
   (``gather`` itself stops at the first one). The collection is kept as a pickle in the
   work folder for the next run (named by a hash of generator/models.py, whose records
   it holds).
2. Times ``search.search_pages`` (search documents, index, shards, facets, document
   files, the page) ``--repeat`` times: wall clock, and CPU of this process and of the
   worker processes it forks. The load average is read before each run: other jobs on the
   machine slow it down, and the figures say so.
3. Writes the whole site, opens the search page from file:// in headless Chromium and
   measures, for each first query on a fresh page, every file the page loads (raw and
   gzipped sizes), the time from the request of the page to the results on screen, and the
   in-page times; then, on the same page, once it has loaded its preload shards in idle
   time (how long that took is reported), later queries, each typed into the box and
   entered: the query time from Enter (parse, load any shard not yet loaded, score,
   merge; the five slowest are named) and from the input event (the page starts loading
   the shards as the query is typed), the same query again with its shards loaded
   (``JianbaoSearchEngine.candidates``), and the drawing time.
4. Runs Pagefind (the ``pagefind[extended]`` package) over the site's dispatch pages (the
   documents our index holds), timing it and measuring its output, then serves the site
   over HTTP (Pagefind cannot work from file://) and measures what its first query
   downloads (pagefind.js, its wasm, the index chunks and the fragments of as many results
   as our page shows) and how long it takes.
5. Recall: for each recall query, the dispatches whose title or text holds it (the truth,
   from the collection), the dispatches our index finds (Python, ``search.query_index``,
   which the tests hold equal to the browser's), and how many Pagefind returns.

Prints the figures as JSON and writes them to WORK/search_bench.json.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import gzip
import hashlib
import http.server
import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import collate, ingest, output, pipeline, search  # noqa: E402
from generator.config import Config, load_config  # noqa: E402
from generator.models import Collection, Source  # noqa: E402
from generator.theme import Theme  # noqa: E402
from generator.tokenizer import normalize  # noqa: E402
from tests.chromium import browser as chromium  # noqa: E402  (the browser tests' Chromium and flags)

# Words of the synthetic collection's vocabulary (benchmarks/synth.py), frequent and rare,
# one to five characters, a number, several words, a quoted phrase.
FIRST_QUERIES = ("经济", "同比增长", "项目", "疫苗接种", "14.7", "高质量发展")
LATER_QUERIES = (
    "发展", "会议", "记者", "增长", "企业", "推进", "工作", "医疗", "疫", "上海",
    "公司", "合作社", "万吨", "亿元", "2022", "数字经济", "乡村振兴", "上海 企业", '"高质量发展"', "记者了解到",
)
RECALL_QUERIES = ("经济", "发展", "增长", "项目", "企业", "工作", "医疗", "疫苗", "记者", "合作社")
# Results drawn on the first page (ui.js PAGE); Pagefind is asked for the data of as many.
SHOWN = 10
PAGEFIND_GLOB = "dispatches/*/index.html"


# ---------------------------------------------------------------- the collection


def _read_source(source: Source, config: Config) -> Any:
    """pipeline.read_source, with a failure returned as text instead of raised."""
    try:
        return pipeline.read_source(source, config)
    except Exception as error:  # noqa: BLE001 - reported by name and left out
        return f"{source.file}: {type(error).__name__}: {error}"


def gather(config: Config) -> tuple[Collection, list[str]]:
    """The stages of pipeline.gather, leaving out (and naming) sources that fail."""
    sources, skipped, problems = ingest.ingest(config.content_path)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(_read_source, sources, [config] * len(sources), chunksize=16))
    failed = [result for result in results if isinstance(result, str)]
    kept = [(source, result) for source, result in zip(sources, results) if not isinstance(result, str)]
    articles = tuple(article for _, (_, found, _) in kept for article in found)
    collated, dispatches = collate.collate(articles, config)
    collection = Collection(
        sources=tuple(source for source, _ in kept),
        skipped=skipped,
        texts=tuple(text for _, (text, _, _) in kept),
        articles=collated,
        dispatches=dispatches,
        problems=tuple(problems),
    )
    return collection, failed


def prepare(articles: int, work: Path) -> tuple[Config, Collection, dict[str, Any]]:
    folder = work / str(articles)
    content = folder / "content"
    if not content.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "synth.py"), "--articles", str(articles),
             "--out", str(content), "--manifest", str(folder / "manifest.json")],
            check=True,
        )
    config = dataclasses.replace(
        load_config(ROOT / "config.yaml"), content_dir=str(content.resolve()), output_dir=str((folder / "site").resolve())
    )
    # The pickle holds generator.models records: a change to that file makes it unreadable.
    stamp = hashlib.sha256((ROOT / "generator" / "models.py").read_bytes()).hexdigest()[:16]
    cached = folder / f"collection-{stamp}.pickle"
    if cached.exists():
        collection, failed, gather_s = pickle.loads(cached.read_bytes())
    else:
        started = time.perf_counter()
        collection, failed = gather(config)
        gather_s = time.perf_counter() - started
        cached.write_bytes(pickle.dumps((collection, failed, gather_s), protocol=pickle.HIGHEST_PROTOCOL))
    facts = {
        "articles_requested": articles,
        "sources": len(collection.sources),
        "sources_failed": failed,
        "articles": len(collection.articles),
        "dispatches": len(collection.dispatches),
        "gather_s": round(gather_s, 1),
    }
    return config, collection, facts


# ---------------------------------------------------------------- the index build


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_build(collection: Collection, config: Config, repeat: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    theme = Theme(config)
    runs = []
    pages: tuple[Any, ...] = ()
    for _ in range(repeat):
        load = os.getloadavg()[0]
        cpu, children = time.process_time(), _children_cpu()
        started = time.perf_counter()
        pages = search.search_pages(collection, config, theme)[0].pages
        wall = time.perf_counter() - started
        runs.append(
            {
                "wall_s": round(wall, 2),
                "cpu_s": round(time.process_time() - cpu + _children_cpu() - children, 2),
                "load_before": round(load, 1),
            }
        )
    index = [p for p in pages if p.path.startswith(search.INDEX_FOLDER + "/")]
    shards = [p for p in index if "/s-" in p.path]
    docs = [p for p in pages if p.path.startswith(search.DOCS_FOLDER + "/")]
    named = {p.path.rsplit("/", 1)[1]: p for p in index}
    figures = {
        "build_runs": runs,
        "build_wall_s_min": min(r["wall_s"] for r in runs),
        "build_wall_s_median": statistics.median(r["wall_s"] for r in runs),
        "peak_rss_mb_this_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "shards": len(shards),
        "shards_raw_mb": round(sum(len(p.content) for p in shards) / 1e6, 2),
        "shards_gz_mb": round(sum(gz_size(p.content) for p in shards) / 1e6, 2),
        "largest_shard_kb": round(max(len(p.content) for p in shards) / 1e3, 1),
        "manifest_kb": round(len(named["manifest.js"].content) / 1e3, 1),
        "facets_kb": round(len(named["facets.js"].content) / 1e3, 1),
        "document_files": len(docs),
        "document_files_raw_mb": round(sum(len(p.content) for p in docs) / 1e6, 2),
        "document_files_gz_mb": round(sum(gz_size(p.content) for p in docs) / 1e6, 2),
    }
    return pages, figures


def gz_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def write_site(collection: Collection, config: Config) -> Path:
    site = config.output_path
    if site.exists():
        shutil.rmtree(site)
    pages = pipeline.render_site(collection, config)
    output.write_site(pages, site, record=None)
    return site.resolve()


# ---------------------------------------------------------------- our search in Chromium


def _file_bytes(urls: list[str], site: Path) -> dict[str, int]:
    """Raw and gzipped sizes of the files behind the URLs a page requested, its HTML apart."""
    raw = gz = count = 0
    for url in dict.fromkeys(urls):
        parsed = urlparse(url)
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else site / unquote(parsed.path).lstrip("/")
        if path.suffix == ".html" or not path.is_file():
            continue
        data = path.read_bytes()
        raw += len(data)
        gz += len(data) if path.suffix in (".pf_fragment", ".pf_index", ".pf_meta", ".pagefind", ".wasm") else gz_size(data)
        count += 1
    return {"files": count, "kb_raw": round(raw / 1e3, 1), "kb_gz": round(gz / 1e3, 1)}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "p95": round(_percentile(values, 0.95), 1),
            "max": round(max(values), 1)}


def our_browser_figures(site: Path) -> dict[str, Any]:
    first = []
    warm_ms = 0
    later: dict[str, list[float]] = {"query_ms": [], "query_ms_from_input": [], "query_ms_shards_loaded": [], "draw_ms": []}
    with chromium() as browser:
        for query in FIRST_QUERIES:
            page = browser.new_page()
            # When the query was typed: the page starts loading its shards then (ui.js,
            # engine.prefetch), before Enter starts the clock of data-query-ms.
            page.add_init_script("document.addEventListener('input', () => { window.inputAt = performance.now(); }, true);")
            urls: list[str] = []
            page.on("request", lambda request: urls.append(request.url))
            page.goto(f"{(site / 'search' / 'index.html').as_uri()}?q={quote(query)}")
            page.wait_for_selector("body[data-search-done]", timeout=120000)
            # What the answer needed: the files requested until it was on screen, taken
            # before anything else is asked of the page (the preload shards follow in
            # idle time).
            needed = list(urls)
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return {load: n.loadEventEnd, dcl: n.domContentLoadedEventEnd}; }"
            )
            body = {name: float(page.get_attribute("body", f"data-{name}") or 0)
                    for name in ("done-at", "query-ms", "draw-ms")}
            first.append(
                {
                    "query": query,
                    "results": page.inner_text("#search-status"),
                    "downloaded": _file_bytes(needed, site),
                    "request_to_results_ms": round(body["done-at"]),
                    "page_load_event_ms": round(timing["load"]),
                    "query_ms": body["query-ms"],
                    "draw_ms": body["draw-ms"],
                }
            )
            if query == FIRST_QUERIES[0]:
                # A reader reads the first results before searching again: the page loads
                # the preload shards in that idle time (ui.js, warmInIdle).
                started = time.perf_counter()
                page.wait_for_selector("body[data-warmed]", state="attached", timeout=120000)
                warm_ms = round((time.perf_counter() - started) * 1000)
                for later_query in LATER_QUERIES:
                    page.fill("#search-q", later_query)
                    page.press("#search-q", "Enter")
                    page.wait_for_selector(f"body[data-search-done='{later_query}']", timeout=120000)
                    later["query_ms"].append(float(page.get_attribute("body", "data-query-ms") or 0))
                    later["draw_ms"].append(float(page.get_attribute("body", "data-draw-ms") or 0))
                    answered = float(page.get_attribute("body", "data-done-at") or 0) - later["draw_ms"][-1]
                    later["query_ms_from_input"].append(round(answered - page.evaluate("() => window.inputAt"), 1))
                    again = page.evaluate(
                        "async (q) => { const times = []; for (let i = 0; i < 5; i++) {"
                        " const t = performance.now(); await JianbaoSearchEngine.candidates(q);"
                        " times.push(performance.now() - t); } times.sort((a, b) => a - b); return times[2]; }",
                        later_query,
                    )
                    later["query_ms_shards_loaded"].append(round(again, 2))
            page.close()
    return {
        "first": first,
        "preload_ms_after_first_query": warm_ms,
        "later_queries": len(LATER_QUERIES),
        "later": {name: _summary(values) for name, values in later.items()},
        # The p95 of 20 is the second slowest: which queries those are.
        "later_slowest_ms": dict(sorted(zip(LATER_QUERIES, later["query_ms"]), key=lambda item: -item[1])[:5]),
    }


# ---------------------------------------------------------------- Pagefind


def run_pagefind(site: Path) -> dict[str, Any]:
    bundle = site / "pagefind"
    if bundle.exists():
        shutil.rmtree(bundle)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pagefind", "--site", str(site), "--glob", PAGEFIND_GLOB],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"pagefind failed:\n{completed.stdout}\n{completed.stderr}")
    files = [path for path in bundle.rglob("*") if path.is_file()]
    return {
        "version": subprocess.run([sys.executable, "-m", "pagefind", "--version"], capture_output=True,
                                  text=True).stdout.strip(),
        "command": f"python -m pagefind --site SITE --glob '{PAGEFIND_GLOB}'",
        "index_wall_s": round(wall, 1),
        "index_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
        "load_before": round(load, 1),
        "files": len(files),
        "bundle_mb": round(sum(path.stat().st_size for path in files) / 1e6, 2),
        "indexed": [line for line in completed.stdout.splitlines() if "ndexed" in line],
    }


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


PAGEFIND_PAGE = """<!doctype html><html lang="zh-Hans"><meta charset="utf-8"><title>pagefind</title>
<script type="module">
const started = performance.now();
const params = new URLSearchParams(location.search);
const pagefind = await import("/pagefind/pagefind.js");
const search = await pagefind.search(params.get("q"));
const shown = await Promise.all(search.results.slice(0, Number(params.get("n"))).map((r) => r.data()));
document.body.dataset.count = String(search.results.length);
document.body.dataset.shown = String(shown.length);
document.body.dataset.doneAt = String(performance.now());
document.body.dataset.searchMs = String(performance.now() - started);
</script><body></body>"""

PAGEFIND_ALL_URLS = """async (q) => {
  const pagefind = await import("/pagefind/pagefind.js");
  const search = await pagefind.search(q);
  const data = await Promise.all(search.results.map((r) => r.data()));
  return data.map((d) => d.url);
}"""


def pagefind_browser_figures(site: Path, shown: int) -> dict[str, Any]:
    (site / "pagefind-bench.html").write_text(PAGEFIND_PAGE, encoding="utf-8")
    first = []
    recall: dict[str, Any] = {}
    try:
        with serve(site) as base, chromium() as browser:
            for query in FIRST_QUERIES:
                page = browser.new_page()
                urls: list[str] = []
                page.on("request", lambda request: urls.append(request.url))
                page.goto(f"{base}/pagefind-bench.html?q={quote(query)}&n={shown}")
                page.wait_for_selector("body[data-done-at]", state="attached", timeout=120000)
                first.append(
                    {
                        "query": query,
                        "results": int(page.get_attribute("body", "data-count") or 0),
                        "downloaded": _file_bytes(urls, site),
                        "request_to_results_ms": round(float(page.get_attribute("body", "data-done-at") or 0)),
                        "search_ms": round(float(page.get_attribute("body", "data-search-ms") or 0)),
                    }
                )
                page.close()
            page = browser.new_page()
            page.goto(f"{base}/pagefind-bench.html?q=&n=0")
            for query in RECALL_QUERIES:
                found = page.evaluate(PAGEFIND_ALL_URLS, query)
                recall[query] = sorted({url.split("/")[-2] for url in found if "/dispatches/" in url})
            page.close()
    finally:
        (site / "pagefind-bench.html").unlink()
    return {"first": first, "shown_results": shown, "found": recall}


# ---------------------------------------------------------------- recall


def recall_figures(collection: Collection, pagefind_found: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """Per recall query: dispatches holding it, and how many of them each search finds."""
    documents = search.search_documents(collection)
    index = search.build_index(documents)
    # What a dispatch page shows: its title and its text (normalised as the index is).
    pages = {d.dispatch.id: normalize(d.dispatch.title + "\n" + d.text) for d in documents}
    rows = []
    for query in RECALL_QUERIES:
        truth = {dispatch for dispatch, text in pages.items() if normalize(query) in text}
        ours = {hit.dispatch for hit in search.query_index(index, documents, query)}
        row: dict[str, Any] = {
            "query": query,
            "dispatches_holding_it": len(truth),
            "ours_found": len(ours),
            "ours_found_of_those": len(truth & ours),
        }
        if pagefind_found is not None:
            theirs = set(pagefind_found[query])
            row["pagefind_found"] = len(theirs)
            row["pagefind_found_of_those"] = len(truth & theirs)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, action="append", required=True)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "search")
    parser.add_argument("--repeat", type=int, default=3, help="index builds to time (default 3)")
    parser.add_argument("--no-pagefind", action="store_true")
    parser.add_argument("--build-only", action="store_true", help="time the index build and stop")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for articles in args.articles:
        config, collection, figures = prepare(articles, args.work)
        figures["date"] = datetime.date.today().isoformat()
        figures["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        figures["body_characters"] = sum(len(d.text) for d in collection.dispatches)
        _, build = time_build(collection, config, args.repeat)
        figures.update(build)
        if args.build_only:
            results.append(figures)
            print(json.dumps(figures, ensure_ascii=False, indent=1), flush=True)
            continue
        site = write_site(collection, config)
        figures["ours"] = our_browser_figures(site)
        found = None
        if not args.no_pagefind:
            figures["pagefind"] = run_pagefind(site)
            figures["pagefind"].update(pagefind_browser_figures(site, SHOWN))
            found = figures["pagefind"].pop("found")
        figures["recall"] = recall_figures(collection, found)
        results.append(figures)
        print(json.dumps(figures, ensure_ascii=False, indent=1), flush=True)
    name = "search_bench_build.json" if args.build_only else "search_bench.json"
    (args.work / name).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
