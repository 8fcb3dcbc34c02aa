"""What a build was made from, and the work it can reuse.

Everything lives in ``.jianbao-cache/`` beside the output folder (git-ignored):

- ``<output>.record``: the build record (``marshal``): the keys of the inputs the site
  was built from, for every output file its sha256, size and mtime, and for every page
  the key render or search gave it. A build whose inputs have the same keys as the
  record, over an output that still matches it, writes nothing.
- ``<output>.record-changes``: what changed in the record since ``<output>.record`` was
  written, while that is little (``marshal``); it names the version of the record it
  applies to.
- ``<output>.memo.pickle``: the memo of the last build (``pipeline.BuildMemo``: its
  collection and each stage's reusable work), under the identity of the code, config
  and environment it was made with; a build under another identity ignores it. Its
  per-source results (texts, articles) are in ``<output>.memo-parts/``, a file to
  about 32 sources named by their stage keys, which a build writes only when new.
- ``stages/``: per source, the result of clean, split and describe, keyed on everything
  those stages read (the source's bytes, name and sidecar, the config digest and the
  generator's code), so changing one source redoes only that source's stages.
- ``<output>.lock``: held by the build writing that output.

A key that misses an input would serve stale pages, so every key is built from
whole folders (all of content/, all of themes/) rather than a guess of what is used.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import marshal
import json
import os
import pickle
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import compress
from operator import attrgetter, ne
from pathlib import Path

from . import __version__, collector
from .config import Config
from .models import Article, BuildReport, Problem, Skipped, Source, Text
from .output import FileStat, FileState, OutputState, Progress, deviations, intact_files, output_state, scan, unchanged_since

CACHE_FOLDER = ".jianbao-cache"
# Bumped when the layout of the files below changes, so an old cache is ignored, not misread.
_FORMAT = 10
# The environment variables that can change the output (reproducible dates, see the snapshot issue).
_ENVIRONMENT = ("SOURCE_DATE_EPOCH",)

SourceResult = tuple[Text, tuple[Article, ...], tuple[Problem, ...]]
ReadSources = Callable[[tuple[Source, ...], Config], Sequence[SourceResult]]


def _hash_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# A file whose mtime is this close to the moment its state was recorded may have been
# written again within the file system's timestamp resolution: it is hashed, not trusted.
_RACY_NS = 2_000_000_000


def folder_states(folder: Path, known: Mapping[str, FileState] | None = None, known_at_ns: int = 0) -> dict[str, FileState]:
    """sha256, size and mtime of every file below ``folder`` by relative path; {} when it is missing.

    A file whose size and mtime equal its state in ``known`` (recorded at ``known_at_ns``)
    keeps that state's hash unread, as git's index does: at 10,000 sources hashing every
    byte would take most of a build that has nothing to do.
    """
    states: dict[str, FileState] = {}
    known = known or {}
    for path, stat in scan(folder).items():
        state = known.get(path)
        if state is not None and unchanged_since(stat, state) and stat.st_mtime_ns < known_at_ns - _RACY_NS:
            states[path] = state
            continue
        with open(folder / path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        states[path] = FileState(digest, stat.st_size, stat.st_mtime_ns)
    return states


def folder_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` by relative path; empty when the folder is missing."""
    return {path: state.sha256 for path, state in folder_states(folder).items()}


def package_hash(package: Path) -> str:
    """A hash of every file of a package folder (code and any data it reads), bytecode aside."""
    return _hash_json({path: digest for path, digest in folder_hashes(package).items() if "__pycache__" not in path})


@functools.cache
def code_hash() -> str:
    """The generator as it runs: its version, its package's files, Python and the installed packages.

    Taken once per process: a long-running ``serve`` keeps running the code it loaded,
    so edits to the package on disk must not be taken for the code that builds.
    """
    # The metadata folders' names carry each installed package's name and version, and
    # listing them is far quicker than parsing every package's metadata.
    distributions = sorted(
        name
        for folder in sys.path
        if os.path.isdir(folder)
        for name in os.listdir(folder)
        if name.endswith((".dist-info", ".egg-info"))
    )
    return _hash_json(
        {
            "version": __version__,
            "package": package_hash(Path(__file__).parent),
            "python": platform.python_version(),
            "distributions": distributions,
        }
    )


@dataclass(frozen=True)
class Inputs:
    """The keys of what a build reads, split by the stages that read it."""

    gather: str  # content/, config, code, environment: everything the collection depends on
    presentation: str  # themes/, config, code, environment: all a page depends on but the content
    # What the keys were computed from, kept in the record so the next build reads only
    # the files that changed since.
    content: Mapping[str, FileState] = field(default_factory=dict, compare=False)
    themes: Mapping[str, FileState] = field(default_factory=dict, compare=False)
    taken_at_ns: int = field(default=0, compare=False)


def fingerprint(config: Config, previous: Inputs | None = None) -> Inputs:
    """The keys of the inputs as they stand, reading only files changed since ``previous``."""
    taken_at_ns = time.time_ns()
    known_at = previous.taken_at_ns if previous is not None else 0
    content = folder_states(config.content_path, previous.content if previous else None, known_at)
    themes = folder_states(config.themes_path, previous.themes if previous else None, known_at)
    code_and_config = identity(config)
    gather = _hash_json({"identity": code_and_config, "content": {path: state.sha256 for path, state in content.items()}})
    presentation = _hash_json({"identity": code_and_config, "themes": {path: state.sha256 for path, state in themes.items()}})
    return Inputs(gather, presentation, content=content, themes=themes, taken_at_ns=taken_at_ns)


def identity(config: Config) -> str:
    """What every cached result depends on besides the files read: the code, config and environment."""
    environment = {name: os.environ.get(name) for name in _ENVIRONMENT}
    return _hash_json({"format": _FORMAT, "config": _config_digest(config), "code": code_hash(), "environment": environment})


def stage_key(source: Source, config: Config) -> str:
    """Everything clean, split and describe read for one source."""
    return stage_keys((source,), config)[0]


def stage_keys(sources: Iterable[Source], config: Config) -> list[str]:
    """``stage_key`` of each source. The fields are joined by their ``repr``, which cannot
    hold the NUL that separates them: a JSON document per source cost 0.2 s at 10,000
    articles on every rebuild."""
    common = f"{_FORMAT}\x00{_config_digest(config)}\x00{code_hash()}"
    fields = ((source.id, source.file, source.sha256, source.encoding, repr(source.sidecar), source.accession) for source in sources)
    return [hashlib.sha256(f"{common}\x00{chr(0).join(map(repr, values))}".encode()).hexdigest() for values in fields]


@functools.lru_cache(maxsize=8)
def _config_digest(config: Config) -> str:
    # Asked once per source: serialising the whole config 10,000 times cost seconds.
    return config.digest()


@dataclass(frozen=True)
class BuildRecord:
    inputs: Inputs
    files: Mapping[str, FileState]
    report: BuildReport  # what the build reported, given again by a build that changes nothing
    # The mtime of every folder of the output that holds a file ('' is the output itself):
    # a file added to or removed from a folder changes its mtime.
    folders: dict[str, int] = field(default_factory=dict)
    # The key of every page render and search made (see ``render.render_site``), kept with
    # the states of the files they describe: a page whose key is unchanged and whose file
    # is still as recorded need not be made again, whichever process built it.
    keys: Mapping[str, str] = field(default_factory=dict)


def _dumps(value: object) -> bytes:
    # Records pickled by their field values: two to three times quicker both ways than the
    # dataclasses' own pickling (see parallel.py), which matters for a memo of 10,000 articles.
    from .parallel import dumps  # parallel imports this module

    return dumps(value)


def _loads(data: bytes) -> object:
    from .parallel import loads

    return loads(data)


def _states(data: Mapping[str, tuple[str, int, int]]) -> dict[str, FileState]:
    make = tuple.__new__
    return {path: make(FileState, state) for path, state in data.items()}


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` in one rename, so a crash leaves the old file or the new one, never half."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


# A part of the memo's per-source results ends after a source whose stage key's first
# eight hex digits are a multiple of this: parts of about this many sources, cut where the
# keys say, so that adding or removing a source changes its own part, not every later one.
_SOURCES_PER_PART = 32


def _parts_of(results: Mapping[str, SourceResult]) -> list[list[str]]:
    """The stage keys of ``results``, in order, cut into the parts the memo keeps them in."""
    parts: list[list[str]] = [[]]
    for key in results:
        parts[-1].append(key)
        if int(key[:8], 16) % _SOURCES_PER_PART == 0:
            parts.append([])
    return [part for part in parts if part]


# Each record class of a source's result, and how to read all its fields' values at once.
_FIELD_VALUES = {cls: attrgetter(*(field.name for field in fields(cls))) for cls in (Text, Source, Article, Problem)}


def _known_of(results: Iterable[SourceResult]) -> Iterator[object]:
    """What of these results the rest of the memo may hold too, in the order save and load
    both list it: each record and the value of each of its fields (the collection's
    articles share their texts with these, and the sources their bytes)."""
    for text, articles, problems in results:
        for record in (text, text.source, *articles, *problems):
            yield record
            yield from _FIELD_VALUES[type(record)](record)


FileStamp = tuple[int, int, int]  # inode, size and mtime
RecordStamp = tuple[FileStamp, FileStamp | None]  # the record file's, its changes file's

# Changes are written alone while they are at most this fraction of the record's entries.
_CHANGES_SHARE = 16


@dataclass(frozen=True)
class StoredRecord:
    """A build record as it lies in the cache folder: a base file and, often, the changes since."""

    record: BuildRecord
    serial: str  # names the base file's version, which its changes file names too
    base: BuildRecord  # the record in the base file
    stamp: RecordStamp | None  # of both files, as the save or load left them


def _record_data(record: BuildRecord) -> dict[str, object]:
    # marshal, not JSON: a record lists every output file, and it is read and written by
    # every build; marshal takes a fifth of the time. The format is Python's own, which
    # the build identity includes.
    return {
        "inputs": _inputs_data(record.inputs),
        "files": {path: tuple(state) for path, state in record.files.items()},
        "folders": dict(record.folders),
        "keys": dict(record.keys),
        "report": _report_data(record.report),
    }


def _inputs_data(inputs: Inputs) -> dict[str, object]:
    return {
        "gather": inputs.gather,
        "presentation": inputs.presentation,
        "content": {path: tuple(state) for path, state in inputs.content.items()},
        "themes": {path: tuple(state) for path, state in inputs.themes.items()},
        "taken_at_ns": inputs.taken_at_ns,
    }


def _report_data(report: BuildReport) -> dict[str, object]:
    return {
        **{key: getattr(report, key) for key in ("sources", "articles", "dispatches", "pages", "written", "seconds")},
        "skipped": [(skip.file, skip.reason) for skip in report.skipped],
        "problems": [(p.file, p.line, p.message, p.severity) for p in report.problems],
    }


def _changed(base: Mapping[str, object], new: Mapping[str, object]) -> dict[str, object]:
    """The entries of ``new`` that ``base`` lacks or has otherwise, and None for those it lost."""
    # Compared by map in C: a loop in Python over the 110,000 entries of a record at
    # 10,000 articles took twice as long (0.07 s).
    differs = map(ne, map(base.get, new.keys()), new.values())
    changed: dict[str, object] = dict(compress(new.items(), differs))
    changed.update((key, None) for key in base.keys() - new.keys())
    return changed


def _changes(base: BuildRecord, record: BuildRecord) -> dict[str, object]:
    files = {path: None if state is None else tuple(state) for path, state in _changed(base.files, record.files).items()}
    keys = _changed(base.keys, record.keys)
    folders = _changed(base.folders, record.folders)
    return {
        "inputs": _inputs_data(record.inputs),  # the content's states: a few thousand, read whole
        "report": _report_data(record.report),
        "files": files,
        "keys": keys,
        "folders": folders,
        "size": len(files) + len(keys) + len(folders),
    }


def _applied(base: Mapping[str, object], changes: Mapping[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _record_of(data: Mapping[str, object], base: BuildRecord | None = None) -> BuildRecord:
    """The record a base file holds, or (with ``base``) the one its changes file makes of it."""
    recorded = data["inputs"]
    inputs = Inputs(
        gather=recorded["gather"],
        presentation=recorded["presentation"],
        content=_states(recorded["content"]),
        themes=_states(recorded["themes"]),
        taken_at_ns=recorded["taken_at_ns"],
    )
    summary = data["report"]
    report = BuildReport(
        sources=summary["sources"],
        articles=summary["articles"],
        dispatches=summary["dispatches"],
        skipped=tuple(Skipped(*skip) for skip in summary["skipped"]),
        problems=tuple(Problem(*problem) for problem in summary["problems"]),
        pages=summary["pages"],
        written=summary["written"],
        seconds=summary["seconds"],
    )
    if base is None:
        return BuildRecord(inputs, _states(data["files"]), report, data["folders"], data["keys"])
    files = {path: None if state is None else tuple.__new__(FileState, state) for path, state in data["files"].items()}
    return BuildRecord(
        inputs, _applied(base.files, files), report, _applied(base.folders, data["folders"]), _applied(base.keys, data["keys"])
    )


class BuildCache:
    """The cache folder of one output folder."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.folder = output.parent / CACHE_FOLDER
        self.lock_file = self.folder / f"{output.name}.lock"
        self.record_file = self.folder / f"{output.name}.record"
        self._changes_file = self.folder / f"{output.name}.record-changes"
        self._memo_file = self.folder / f"{output.name}.memo.pickle"
        self._parts_folder = self.folder / f"{output.name}.memo-parts"
        self._stages = self.folder / "stages"

    # The build record ------------------------------------------------------------

    def load_record(self, known: StoredRecord | None = None) -> StoredRecord | None:
        """The build record, or None; ``known`` is what ``save_record`` returned, given
        back while the files are still the ones that save wrote."""
        if known is not None and known.stamp == self._record_stamp():
            return known
        try:
            base = marshal.loads(self.record_file.read_bytes())
            if base["format"] != _FORMAT:
                return None
            record = _record_of(base)
        except (OSError, ValueError, EOFError, KeyError, TypeError):
            return None  # no record, or one from another version: build as if there were none
        stored = StoredRecord(record, base["serial"], record, self._record_stamp())
        try:
            changes = marshal.loads(self._changes_file.read_bytes())
            if changes["format"] != _FORMAT or changes["base"] != base["serial"]:
                return stored  # changes to a record since replaced
            return StoredRecord(_record_of(changes, record), base["serial"], record, stored.stamp)
        except (OSError, ValueError, EOFError, KeyError, TypeError):
            return stored  # no changes since the base was written (or unreadable ones: the site is then checked against the base)

    def _record_stamp(self) -> RecordStamp | None:
        stamps = []
        for path in (self.record_file, self._changes_file):
            try:
                stat = path.stat()
            except OSError:
                stamps.append(None)
                continue
            stamps.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
        return None if stamps[0] is None else (stamps[0], stamps[1])

    def save_record(self, record: BuildRecord, previous: StoredRecord | None = None) -> StoredRecord | None:
        """Write the record; what ``load_record`` needs to know the files are still it.

        With the ``previous`` record in hand, only what changed since its base is written
        when that is little: a record lists every output file (41,000 at 10,000 articles)
        and writing it whole took 0.15-0.3 s of every rebuild. The changes file names its
        base, so changes whose base was replaced since are never applied to another.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        if previous is not None:
            changes = _changes(previous.base, record)
            base_size = len(previous.base.files) + len(previous.base.keys) + len(previous.base.folders)
            if changes["size"] * _CHANGES_SHARE <= base_size:
                del changes["size"]
                _write_atomically(self._changes_file, marshal.dumps({"format": _FORMAT, "base": previous.serial, **changes}))
                return StoredRecord(record, previous.serial, previous.base, self._record_stamp())
        # A new base; the changes written against the old one are then stale whatever
        # happens next, as their base's serial is no longer the record's.
        serial = f"{time.time_ns()}-{os.getpid()}"
        _write_atomically(self.record_file, marshal.dumps({"format": _FORMAT, "serial": serial, **_record_data(record)}))
        self._changes_file.unlink(missing_ok=True)
        return StoredRecord(record, serial, record, self._record_stamp())

    # The memo of the last build ---------------------------------------------------

    def load_memo(self, identity: str) -> object | None:
        """The memo the last build left, if it was made under ``identity``; None otherwise.

        What it reads is frozen for the cyclic collector (``gc.freeze``; ``pipeline.rebuild``
        unfreezes at the end of the build): millions of objects without a cycle, which
        the first collection after loading would otherwise walk (a second at 10,000 articles).
        """
        from . import parallel  # parallel imports this module

        try:
            with open(self._memo_file, "rb") as handle:
                if handle.readline().rstrip(b"\n") != identity.encode("ascii"):
                    return None
                names = handle.readline().decode("ascii").split()
                with collector.paused():  # until what was read is frozen
                    results: list[SourceResult] = []
                    for name in names:
                        with open(self._parts_folder / f"{name}.pickle", "rb") as part:
                            results.extend(parallel.load(part))
                    memo = parallel.load(handle, _known_of(results))
                    gc.freeze()
            return memo
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError, IndexError, KeyError):
            return None  # unreadable, cut short or from other code: build without it

    def save_memo(self, identity: str, memo: object, stored: Mapping[str, SourceResult] | None = None) -> None:
        """Keep ``memo`` for the next build of ``identity``.

        ``stored`` is the memo's per-source results by stage key: they are written in
        parts of their own (``<output>.memo-parts/``), which the next save keeps where their
        sources are unchanged, and the memo refers to their records and values. At 10,000 articles
        they are 180 of its 440 MB, and one edit changes one part.
        """
        from . import parallel  # parallel imports this module

        stored = stored or {}
        self._parts_folder.mkdir(parents=True, exist_ok=True)
        names = []
        for keys in _parts_of(stored):
            name = hashlib.sha256("\0".join((identity, *keys)).encode()).hexdigest()
            path = self._parts_folder / f"{name}.pickle"
            if not path.exists():  # a part of these very results, saved by an earlier build
                _write_atomically(path, _dumps(tuple(stored[key] for key in keys)))
            names.append(name)
        partial = self._memo_file.with_name(f"{self._memo_file.name}.{os.getpid()}.partial")
        with open(partial, "wb") as handle:
            handle.write(f"{identity}\n{' '.join(names)}\n".encode("ascii"))
            parallel.dump(memo, handle, _known_of(stored.values()))
        os.replace(partial, self._memo_file)
        named = {f"{name}.pickle" for name in names}
        for entry in self._parts_folder.iterdir():  # parts of older memos, and partial files
            if entry.name not in named:
                entry.unlink(missing_ok=True)

    # Per-source stages -----------------------------------------------------------

    def _stage_file(self, key: str) -> Path:
        return self._stages / key[:2] / f"{key}.pickle"

    def _load_stage(self, key: str) -> SourceResult | None:
        try:
            with open(self._stage_file(key), "rb") as handle:
                result = _loads(handle.read())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            return None
        return result if isinstance(result, tuple) and len(result) == 3 else None

    def read_sources(
        self,
        sources: tuple[Source, ...],
        config: Config,
        read: ReadSources,
        *,
        use_cache: bool,
        progress: Progress,
        known: dict[str, SourceResult] | None = None,
    ) -> list[SourceResult]:
        """Clean, split and describe every source, taking each from the cache where its key is there.

        ``known`` holds results already in memory by key (a previous build's); it is
        consulted before the cache folder and left holding this build's results. ``read``
        runs the stages for the sources both miss (in parallel where it pays). The cache
        keeps the entries of this build only, so it does not grow with every edit.
        """
        keys = stage_keys(sources, config)
        remembered = known if known is not None and use_cache else {}
        results: list[SourceResult | None] = [
            remembered.get(key) or (self._load_stage(key) if use_cache else None) for key in keys
        ]
        missing = [i for i, result in enumerate(results) if result is None]
        # Chunks only to move the progress bar; each chunk still runs in parallel.
        step = 256 if progress.enabled else max(1, len(missing))
        for start in range(0, len(missing), step):
            chunk = missing[start : start + step]
            computed = read(tuple(sources[i] for i in chunk), config)
            if len(computed) != len(chunk):
                raise RuntimeError(f"read {len(computed)} results for {len(chunk)} sources")
            for i, result in zip(chunk, computed):
                results[i] = result
                path = self._stage_file(keys[i])
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(path, _dumps(result))
            progress.update("read", min(start + step, len(missing)), len(missing))
        if remembered:
            # The build that left ``remembered`` pruned the folder to its own keys.
            for stale in remembered.keys() - set(keys):
                self._stage_file(stale).unlink(missing_ok=True)
        else:
            self._prune_stages(set(keys))
        finished = [result for result in results if result is not None]
        if known is not None:
            known.clear()
            known.update(zip(keys, finished))
        return finished

    def _prune_stages(self, keep: Iterable[str]) -> None:
        wanted = {f"{key}.pickle" for key in keep}
        if not self._stages.is_dir():
            return
        for folder in self._stages.iterdir():
            for entry in folder.iterdir():
                if entry.name not in wanted:
                    entry.unlink()


# Below this many recorded files and folders, looking them up here costs less than
# starting a process to.
_CHECK_ELSEWHERE_MIN = 8192
# What the child process runs: ``answer_output_check`` with the output folder and the stamp.
_CHECKER = "import sys; from generator.cache import answer_output_check; answer_output_check(*sys.argv[1:])"


class OutputCheck:
    """``output.intact_files`` against the stored build record, run by a child process
    beside the build that needs its answer, from start to end of a context.

    At 10,000 articles the check is 68,000 lstats, 0.35-0.55 s of every incremental
    build; a thread cannot take them off the build's core, as each call waits for the
    interpreter lock. The child reads the record from its files and answers only if they
    are still the ones ``stored`` was read from (a build holds the output's lock, so they
    are); any other outcome leaves the check to this process, as before.
    """

    def __init__(self, store: BuildCache, stored: StoredRecord | None) -> None:
        self._output = store.output
        self._record = stored.record if stored is not None else None
        self._child: subprocess.Popen[bytes] | None = None
        if stored is None:
            return  # no record: no file of the output is vouched for
        size = len(stored.record.files) + len(stored.record.folders)
        if size >= _CHECK_ELSEWHERE_MIN and (os.cpu_count() or 1) > 1 and sys.executable and stored.stamp is not None:
            package_root = str(Path(__file__).resolve().parent.parent)
            paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
            self._child = subprocess.Popen(
                [sys.executable, "-c", _CHECKER, str(self._output), json.dumps(stored.stamp)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
            )

    def __enter__(self) -> OutputCheck:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None

    def result(self) -> OutputState:
        """The output as the build record finds it (see ``output.intact_files``)."""
        if self._record is None:
            return OutputState({}, set(), None)
        child, self._child = self._child, None
        if child is not None:
            answer, _ = child.communicate()
            if child.returncode == 0:
                with contextlib.suppress(ValueError, EOFError, TypeError):
                    found = marshal.loads(answer)
                    if isinstance(found, dict):
                        deviations = {path: None if stat is None else FileStat(*stat) for path, stat in found.items()}
                        return output_state(self._record.files, self._record.folders, deviations)
        return intact_files(self._output, self._record.files, self._record.folders)


def answer_output_check(output: str, stamp: str) -> None:
    """The child's side of ``OutputCheck``: the record's deviations as marshal on stdout,
    or None when a folder changed (the output must be walked) or the record is not the
    one the build read."""
    stored = BuildCache(Path(output)).load_record()
    found = None
    if stored is not None and json.dumps(stored.stamp) == stamp:
        found = deviations(Path(output), stored.record.files, stored.record.folders)
    answer = None if found is None else {path: None if stat is None else tuple(stat) for path, stat in found.items()}
    sys.stdout.buffer.write(marshal.dumps(answer))
