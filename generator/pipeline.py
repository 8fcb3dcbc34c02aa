"""The stages of a build, in order.

    ingest -> clean -> split -> describe -> collate   (gather: the whole collection)
    render -> search -> manifest                      (render_site: every output file)
    write                                              (build)

The whole collection is gathered before anything is rendered: variant readings and
related links need every source. ``build`` and ``serve`` both call ``build``.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from . import clean, collate, describe, ingest, manifest, output, render, search, split
from .config import Config
from .models import Article, Collection, Page, Problem, Source, Text
from .theme import Theme

# Below this many sources the cost of starting worker processes outweighs the gain.
_PARALLEL_MIN_SOURCES = 64


def read_source(source: Source, config: Config) -> tuple[Text, tuple[Article, ...], tuple[Problem, ...]]:
    """The per-source stages: clean, split, describe. Pure, so it can run in any process."""
    text = clean.clean(source)
    articles, problems = split.split(text)
    described = describe.describe(articles, text, config)
    return text, described, problems


def _read_sources(
    sources: tuple[Source, ...], config: Config
) -> list[tuple[Text, tuple[Article, ...], tuple[Problem, ...]]]:
    workers = min(os.cpu_count() or 1, 8)
    if len(sources) < _PARALLEL_MIN_SOURCES or workers < 2:
        return [read_source(source, config) for source in sources]
    chunk = max(1, len(sources) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(read_source, sources, [config] * len(sources), chunksize=chunk))


def gather(config: Config) -> Collection:
    """Run every stage up to the catalog: the whole collection, nothing written."""
    sources, skipped, problems = ingest.ingest(config.content_path)
    texts: list[Text] = []
    articles: list[Article] = []
    all_problems: list[Problem] = list(problems)
    for text, source_articles, source_problems in _read_sources(sources, config):
        texts.append(text)
        articles.extend(source_articles)
        all_problems.extend(source_problems)
        all_problems.extend(
            Problem(text.source.file, flag.line, f"flagged {flag.kind}: {flag.context}")
            for flag in text.flags
        )
    collated, dispatches = collate.collate(tuple(articles), config)
    return Collection(
        sources=sources,
        skipped=skipped,
        texts=tuple(texts),
        articles=collated,
        dispatches=dispatches,
        problems=tuple(all_problems),
    )


def render_site(collection: Collection, config: Config) -> tuple[Page, ...]:
    """Every output file of the site, in path order."""
    theme = Theme(config)
    pages = render.render_site(collection, config) + search.search_pages(collection, config, theme)
    pages = pages + manifest.manifest_pages(pages, collection, config)
    return tuple(sorted(pages, key=lambda page: page.path))


@dataclass(frozen=True)
class BuildReport:
    collection: Collection
    pages: int
    written: int
    seconds: float

    def summary(self) -> str:
        c = self.collection
        return (
            f"{len(c.sources)} sources, {len(c.articles)} articles, {len(c.dispatches)} dispatches, "
            f"{len(c.skipped)} skipped, {len(c.problems)} problems, {self.pages} files "
            f"({self.written} written) in {self.seconds:.2f} s"
        )


def build(config: Config, *, clean_build: bool = False, quiet: bool = False) -> BuildReport:
    """Gather, render and write the site into config.output_path."""
    started = time.perf_counter()
    collection = gather(config)
    pages = render_site(collection, config)
    written = output.write_site(pages, config.output_path, clean=clean_build)
    return BuildReport(collection, len(pages), written, time.perf_counter() - started)
