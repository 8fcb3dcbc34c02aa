"""The stages of a build, in order.

    ingest -> clean -> split -> describe -> collate   (gather: the whole collection)
    render -> search -> manifest                      (render_site: every output file)
    write                                              (build)

The whole collection is gathered before anything is rendered: variant readings and
related links need every source. ``build`` (the command) and ``serve`` both call
``rebuild``; ``serve`` keeps the ``BuildMemo`` of its last build in memory, ``build``
keeps it in the cache folder.

Every stage can reuse the work of the previous build, each keyed on its own inputs:
ingest on the bytes of a file and of its sidecar, clean/split/describe on
``cache.stage_key``, collate on the articles themselves (``collate.CollateMemo``),
render on a key per page that covers everything the page shows, search on each
dispatch's document, write on the hashes of the files. A build that reuses a memo
writes the same bytes as a build from nothing (``--clean``); the tests check it.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import accessions, cache, ingest, output
from .cache import ReadSources, SourceResult
from .config import Config
from .models import Article, BuildReport, Collection, Page, Problem, Skipped, Source, Text

if TYPE_CHECKING:
    from .collate import CollateMemo
    from .manifest import ManifestLines
    from .render import RenderMemo
    from .search import SearchMemo

# The stage modules (clean, split, describe, collate, render, search, manifest) are
# imported by the functions that run them, not here: together they take half a second
# to import, longer than the whole of a build that finds nothing to do.

IngestKey = tuple[str, str, str | None]  # file, sha256 of its bytes, sha256 of its sidecar (None: no sidecar)
IngestResult = tuple[Source | None, Skipped | None, list[Problem]]


@dataclass(eq=False)
class BuildMemo:
    """The work one build leaves for the next to reuse.

    Reused only by a build of the same generator code, config and environment
    (``identity``). The collate memo inside is updated in place by the build it is given
    to, so a memo whose build failed must be dropped.
    """

    identity: str
    gather_key: str  # the inputs ``collection`` was gathered from
    collection: Collection
    ingested: dict[IngestKey, IngestResult] = field(default_factory=dict)
    read: dict[str, SourceResult] = field(default_factory=dict)  # cache.stage_key -> result
    collate: CollateMemo | None = None
    search: SearchMemo | None = None
    render: RenderMemo | None = None
    manifest: ManifestLines = field(default_factory=dict)  # the last manifest's file entries
    # The record this build saved, as it lies in the cache folder: ``serve`` need not read it back.
    record: cache.StoredRecord | None = None


def read_source(source: Source, config: Config) -> SourceResult:
    """The per-source stages: clean, split, describe. Pure, so it can run in any process."""
    from . import clean, describe, split

    text = clean.clean(source)
    articles, problems = split.split(text)
    described = describe.describe(articles, text, config)
    return text, described, problems


def read_sources(sources: tuple[Source, ...], config: Config) -> list[SourceResult]:
    """``read_source`` over every source, on every core when there are enough of them."""
    from . import parallel

    return parallel.read_sources(sources, config)


@dataclass
class _Reuse:
    """What ``gather`` may take from a previous build, and collects for the next."""

    content: Mapping[str, cache.FileState]  # the content folder's files as the build found them
    ingested: dict[IngestKey, IngestResult]
    read: dict[str, SourceResult]
    collate: CollateMemo | None
    stamped: Mapping[str, Source] = field(default_factory=dict)  # the last build's sources (with accession dates) by file


def gather(
    config: Config,
    read: ReadSources | None = None,
    *,
    record_accessions: bool = False,
    reuse: _Reuse | None = None,
) -> Collection:
    """Run every stage up to the catalog: the whole collection.

    ``read`` runs the per-source stages; ``build`` passes one that takes unchanged
    sources from its caches. Only with ``record_accessions`` is anything written: the
    accession register's entries for files it has not seen before. ``reuse`` carries a
    previous build's work in and this one's out.
    """
    if reuse is None:
        sources, skipped, problems = ingest.ingest(config.content_path)
    else:
        sources, skipped, problems = ingest.ingest(config.content_path, _reusing_reader(reuse), reuse.content.keys())
    if record_accessions:
        dates, register_problems = accessions.record_new(config.content_path, (s.file for s in sources), accessions.today())
    else:
        dates, register_problems = accessions.read_register(config.content_path)
    before = reuse.stamped if reuse is not None else {}
    sources = tuple(_stamped(source, dates.get(source.file), before.get(source.file)) for source in sources)
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

    if reuse is None:
        collated, dispatches = collate.collate(tuple(articles), config)
    else:
        collated, dispatches, reuse.collate = collate.collate_incremental(tuple(articles), config, reuse.collate)
    return Collection(
        sources=sources,
        skipped=skipped,
        texts=tuple(texts),
        articles=collated,
        dispatches=dispatches,
        problems=tuple(all_problems),
    )


_SOURCE_FIELDS = tuple(f.name for f in fields(Source) if f.name != "accession")


def _stamped(source: Source, accession: str | None, before: Source | None) -> Source:
    """``source`` with its accession date: the last build's record when it was made from
    these very fields, so later stages can tell it unchanged by identity, not by
    comparing its bytes."""
    if before is not None and before.accession == accession and all(
        getattr(before, name) is getattr(source, name) for name in _SOURCE_FIELDS
    ):
        return before
    return replace(source, accession=accession)


def _reusing_reader(reuse: _Reuse) -> ingest.ReadFile:
    """``ingest.read_file``, answered from the previous build for files whose bytes are the same."""
    previous = reuse.ingested
    reuse.ingested = {}

    def read(path: Path, relative: str) -> IngestResult:
        state = reuse.content[relative]  # ingest reads the files the content was fingerprinted with
        sidecar = reuse.content.get(relative + ingest.SIDECAR_SUFFIX)
        key = (relative, state.sha256, sidecar.sha256 if sidecar is not None else None)
        result = previous.get(key)
        if result is None:
            result = ingest.read_file(path, relative)
        reuse.ingested[key] = result
        return result

    return read


@contextlib.contextmanager
def _old_objects_left_alone() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects that exist when a build starts.

    The memo of the last build is millions of containers; every full collection the
    build's own allocations set off walked them all again (1-2.5 s of a 7-10 s rebuild
    at 10,000 articles). Reference counting still frees what the build drops; cycles
    among the frozen objects wait for a collection after the build, which unfreezes them.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _prepare(config: Config) -> None:
    """Load now what the first rebuild of a process loads once: the stage modules (with
    their patterns and lexicon), collate's shingle pattern, the tokenizer's character
    classes and the parsed accession register. ``serve`` starts on a built site with a
    build that has nothing to do; without this its first edit waited 0.8-1.2 s more than
    the next ones."""
    from . import clean, collate, describe, manifest, render, search, split, tokenizer  # noqa: F401

    collate.shingles("", config.collate.shingle, config.collate.sample)
    tokenizer.load_character_classes()
    accessions.read_register(config.content_path)


def _stored_memo(store: cache.BuildCache, identity: str) -> BuildMemo | None:
    stored = store.load_memo(identity)
    return stored if isinstance(stored, BuildMemo) else None  # load_memo checked its identity


def render_site(collection: Collection, config: Config) -> tuple[Page, ...]:
    """Every output file of the site, in path order."""
    from . import manifest, render, search
    from .theme import Theme

    theme = Theme(config)
    search_files, _ = search.search_pages(collection, config, theme)
    pages = render.render_site(collection, config).pages + search_files.pages
    pages = pages + manifest.manifest_pages(pages, collection, config)
    return tuple(sorted(pages, key=lambda page: page.path))


def build(config: Config, *, clean_build: bool = False, quiet: bool = False) -> BuildReport:
    """Gather, render and write the site into config.output_path, redoing only what changed.

    ``clean_build`` ignores every cache and writes every file anew. The work this build
    can leave to the next is kept in the cache folder.
    """
    return rebuild(config, None, clean_build=clean_build, quiet=quiet, persist=True)[0]


def rebuild(
    config: Config,
    memo: BuildMemo | None,
    *,
    clean_build: bool = False,
    quiet: bool = False,
    persist: bool = False,
) -> tuple[BuildReport, BuildMemo | None]:
    """``build`` with the memo of the previous build in hand, and the memo for the next.

    With no memo, the one kept in the cache folder is read when there is work to do.
    ``persist`` (the build command, which exits after) stores the new memo in the cache
    folder; without it (``serve``, which keeps the memo in memory) a build that finds
    nothing to do still reads the stored memo, so the first edit does not wait for it.
    """
    started = time.perf_counter()
    progress = output.Progress(not quiet)
    store = cache.BuildCache(config.output_path)
    with output.build_lock(store.lock_file, config.output_path), _old_objects_left_alone(), contextlib.ExitStack() as stack:
        output.recover(config.output_path)  # a build that died while changing the site
        stored = None if clean_build else store.load_record(memo.record if memo is not None else None)
        record = stored.record if stored is not None else None
        inputs = cache.fingerprint(config, record.inputs if record is not None else None)
        if record is not None and record.inputs == inputs and output.site_intact(config.output_path, record.files, record.folders):
            # Nothing the site is made from has changed and nobody touched it: write nothing.
            if memo is None and not persist:
                memo = _stored_memo(store, cache.identity(config))
                _prepare(config)
            if memo is not None:
                memo.record = stored  # just read: the next rebuild need not read it again
            return replace(record.report, written=0, seconds=time.perf_counter() - started), memo
        # The output is checked against the record by a child process while this one
        # gathers and renders (see OutputCheck).
        check = stack.enter_context(cache.OutputCheck(store, stored))
        from . import manifest, render, search  # only now that there is work (see the imports above)
        from .theme import Theme

        identity = cache.identity(config)
        if clean_build:
            memo = None
        elif memo is None:
            memo = _stored_memo(store, identity)  # frozen for the collector as it is read (load_memo)
        if memo is not None and memo.identity != identity:
            memo = None

        if memo is not None and memo.gather_key == inputs.gather:
            collection = memo.collection  # only the theme changed (or the output was touched)
        else:
            reuse = _Reuse(
                content=inputs.content,
                ingested=memo.ingested if memo is not None else {},
                read=memo.read if memo is not None else {},
                collate=memo.collate if memo is not None else None,
                stamped={source.file: source for source in memo.collection.sources} if memo is not None else {},
            )
            previous, memo = memo, None  # its collate memo is updated in place: never reuse it after this

            def cached(sources: tuple[Source, ...], settings: Config) -> list[SourceResult]:
                return store.read_sources(sources, settings, read_sources, known=reuse.read, use_cache=not clean_build, progress=progress)

            collection = gather(config, cached, record_accessions=True, reuse=reuse)
            # Files new to the archive were just entered in the register, which is content:
            # the collection was gathered from the content as it stands now.
            inputs = cache.fingerprint(config, inputs)
            memo = BuildMemo(identity, inputs.gather, collection, reuse.ingested, reuse.read, reuse.collate)
            if previous is not None:
                memo.search, memo.render, memo.manifest = previous.search, previous.render, previous.manifest

        # Pages whose file is still as the last build wrote it and whose key is unchanged
        # are not rendered again; they are kept as they are.
        def render_pages(unchanged: Mapping[str, str]) -> tuple[render.RenderedSite, search.SearchFiles]:
            assert memo is not None
            rendered = render.render_site(collection, config, site_key=inputs.presentation, unchanged=unchanged, previous=memo.render)
            memo.render = rendered.memo
            # The theme render compiled its templates into: compiling them again for the search
            # page cost 0.05-0.3 s of every rebuild.
            theme = rendered.memo.theme or Theme(config)
            searched, memo.search = search.search_pages(collection, config, theme, memo.search, unchanged=unchanged)
            return rendered, searched

        # Rendered as if nobody had touched the output since the record, while the check
        # that tells runs beside; pages whose file was touched are rendered once more.
        assumed = record.keys if record is not None else {}
        rendered, searched = render_pages(assumed)
        found = check.result()
        unchanged = assumed
        if not found.intact.issuperset(assumed):
            unchanged = {path: key for path, key in assumed.items() if path in found.intact}
            rendered, searched = render_pages(unchanged)
        made = rendered.pages + searched.pages
        keys = {**rendered.keys, **searched.keys}
        kept_states = {path: record.files[path] for path, key in keys.items() if unchanged.get(path) == key} if record is not None else {}
        kept = kept_states.keys()
        fixities = [manifest.fixity(page) for page in made]
        pages = made + (manifest.manifest_page(fixities, collection, kept_states, memo.manifest),)
        known = None if clean_build else (record.files if record is not None else {})
        written = output.write_site(
            pages,
            config.output_path,
            record=known,
            kept=kept,
            present=found.present or None,
            folders=found.folders,
            hashes={fixity.path: fixity.sha256 for fixity in fixities},
            progress=progress,
        )
        report = BuildReport.of(collection, len(pages) + len(kept), len(written.written), time.perf_counter() - started)
        saved = cache.BuildRecord(inputs, written.files, report, written.folders, keys)
        memo.record = store.save_record(saved, stored)
        if persist:
            store.save_memo(identity, replace(memo, record=None), stored=memo.read)  # the next build reads the record first
    progress.finish()
    return report, memo
