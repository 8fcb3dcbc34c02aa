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
from dataclasses import replace

from . import accessions, cache, ingest, output
from .cache import ReadSources, SourceResult
from .config import Config
from .models import Article, BuildReport, Collection, Page, Problem, Source, Text

# The stage modules (clean, split, describe, collate, render, search, manifest) are
# imported by the functions that run them, not here: together they take half a second
# to import, longer than the whole of a build that finds nothing to do.

# Below this many sources the cost of starting worker processes outweighs the gain.
_PARALLEL_MIN_SOURCES = 64


def read_source(source: Source, config: Config) -> SourceResult:
    """The per-source stages: clean, split, describe. Pure, so it can run in any process."""
    from . import clean, describe, split

    text = clean.clean(source)
    articles, problems = split.split(text)
    described = describe.describe(articles, text, config)
    return text, described, problems


def read_sources(sources: tuple[Source, ...], config: Config) -> list[SourceResult]:
    """``read_source`` over every source, on every core when there are enough of them."""
    workers = min(os.cpu_count() or 1, 8)
    if len(sources) < _PARALLEL_MIN_SOURCES or workers < 2:
        return [read_source(source, config) for source in sources]
    from concurrent.futures import ProcessPoolExecutor  # only when there is a pool to start

    chunk = max(1, len(sources) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(read_source, sources, [config] * len(sources), chunksize=chunk))


def gather(config: Config, read: ReadSources | None = None, *, record_accessions: bool = False) -> Collection:
    """Run every stage up to the catalog: the whole collection.

    ``read`` runs the per-source stages; ``build`` passes one that takes unchanged
    sources from its cache. Only with ``record_accessions`` is anything written: the
    accession register's entries for files it has not seen before.
    """
    sources, skipped, problems = ingest.ingest(config.content_path)
    if record_accessions:
        dates, register_problems = accessions.record_new(config.content_path, (s.file for s in sources), accessions.today())
    else:
        dates, register_problems = accessions.read_register(config.content_path)
    sources = tuple(replace(source, accession=dates.get(source.file)) for source in sources)
    texts: list[Text] = []
    articles: list[Article] = []
    all_problems: list[Problem] = [*problems, *register_problems]
    for text, source_articles, source_problems in (read or read_sources)(sources, config):
        texts.append(text)
        articles.extend(source_articles)
        all_problems.extend(source_problems)
        all_problems.extend(
            Problem(text.source.file, flag.line, f"flagged {flag.kind}: {flag.context}")
            for flag in text.flags
        )
    from . import collate

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
    from . import manifest, render, search
    from .theme import Theme

    theme = Theme(config)
    pages = render.render_site(collection, config).pages + search.search_pages(collection, config, theme)
    pages = pages + manifest.manifest_pages(pages, collection, config)
    return tuple(sorted(pages, key=lambda page: page.path))


def build(config: Config, *, clean_build: bool = False, quiet: bool = False) -> BuildReport:
    """Gather, render and write the site into config.output_path, redoing only what changed.

    ``clean_build`` ignores every cache and writes every file anew.
    """
    started = time.perf_counter()
    progress = output.Progress(not quiet)
    store = cache.BuildCache(config.output_path)
    with output.build_lock(store.lock_file, config.output_path):
        record = None if clean_build else store.load_record()
        inputs = cache.fingerprint(config, record.inputs if record is not None else None)
        if record is not None and record.inputs == inputs and store.site_matches(record):
            # Nothing the site is made from has changed and nobody touched it: write nothing.
            return replace(record.report, written=0, seconds=time.perf_counter() - started)
        collection = None if clean_build else store.load_collection(inputs.gather)
        if collection is None:

            def cached(sources: tuple[Source, ...], settings: Config) -> list[SourceResult]:
                return store.read_sources(sources, settings, read_sources, use_cache=not clean_build, progress=progress)

            collection = gather(config, cached, record_accessions=True)
            # Files new to the archive were just entered in the register, which is content:
            # the collection was gathered from the content as it stands now.
            inputs = cache.fingerprint(config, inputs)
            store.save_collection(inputs.gather, collection)
        pages = render_site(collection, config)
        known = None if clean_build else (record.files if record is not None else {})
        written = output.write_site(pages, config.output_path, record=known, progress=progress)
        report = BuildReport.of(collection, len(pages), len(written.written), time.perf_counter() - started)
        store.save_record(cache.BuildRecord(inputs, dict(written.files), report))
    progress.finish()
    return report
