"""Writing the site: into a fresh sibling folder that is swapped in whole.

Nobody (a reader, the preview server, a sync job) ever sees a half-written site:
the new site is assembled in ``<output>.building-<pid>`` beside the output and
exchanged with it by a rename. A file whose bytes did not change is hard-linked
from the site it replaces, so it keeps its inode, its bytes and its mtime; a
build that changes nothing writes nothing and touches no file at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Set
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from stat import S_IFREG, S_ISREG
from typing import Any, NamedTuple, NotRequired, TextIO, TypedDict

from .models import Page


class BuildLocked(Exception):
    """Another build holds the lock on the same output folder."""


class FileState(NamedTuple):
    """What a built file was when it was written: enough to know it is still the same.

    A tuple, so the build record's 41,000 of them load at C speed.
    """

    sha256: str
    size: int
    mtime_ns: int


class FileStat(NamedTuple):
    """What a build needs of a file's lstat; ``os.stat_result`` has the same attributes."""

    st_mode: int
    st_size: int
    st_mtime_ns: int


# What a build reads of a file's state: an lstat, or the build record's word for it.
LStat = FileStat | os.stat_result


@dataclass(frozen=True)
class WriteReport:
    """What ``write_site`` did; ``files`` describes the whole site as it now stands."""

    files: Mapping[str, FileState]  # path relative to the output root -> state
    written: tuple[str, ...]  # new or changed files
    removed: tuple[str, ...]  # files of the previous site that the new one does not have
    folders: dict[str, int]  # the mtime of each folder holding files (see ``folder_mtimes``)


class Progress:
    """A one-line progress bar on stderr; silent unless stderr is a terminal."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self._stream.isatty()
        self._last = 0.0

    def update(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        # Redrawing is throttled: a terminal repaint per file would cost more than the write.
        if not self.enabled or (done < total and now - self._last < 0.1):
            return
        self._last = now
        width = 30
        filled = width * done // total if total else width
        self._stream.write(f"\r{label:<8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}\x1b[K")
        self._stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


@contextmanager
def build_lock(lock_file: Path, output: Path) -> Iterator[None]:
    """Hold an exclusive lock for a build of ``output``; refuse at once if another build holds it.

    ``flock`` is released by the kernel when the holder dies, so a crashed build never
    leaves a stale lock behind (a lock made with O_EXCL would).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise BuildLocked(
                f"{output}: another build (process {holder}) is writing this output folder; "
                f"wait for it to finish (lock file {lock_file})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{path!r}: not a safe relative output path")


def scan(output: Path) -> dict[str, os.stat_result]:
    """Every file below ``output`` (relative path -> lstat), in path order; folders are descended.

    A symbolic link is listed as itself, never followed. This runs over every output
    file on every build, so it builds relative paths by concatenation (os.walk's
    relpath per folder cost a build with nothing to do most of its time).
    """
    found: dict[str, os.stat_result] = {}

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, prefix + entry.name + "/")
                else:
                    found[prefix + entry.name] = entry.stat(follow_symlinks=False)

    if output.is_dir():
        walk(str(output), "")
    return dict(sorted(found.items()))


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def unchanged_since(stat: LStat, state: FileState) -> bool:
    """True when a file still is what the build record says (same size and mtime, a regular file)."""
    return (
        S_ISREG(stat.st_mode) and stat.st_size == state.size and stat.st_mtime_ns == state.mtime_ns
    )


def _current_hashes(
    output: Path, present: Mapping[str, LStat], wanted: Mapping[str, bytes], record: Mapping[str, FileState]
) -> dict[str, str]:
    """The sha256 of every present file that the new site also has.

    The build record vouches for a file whose size and mtime did not move; any
    other file is read, so an edit made by hand in the output is never trusted.
    A file left out differs from its new bytes.
    """
    hashes: dict[str, str] = {}
    for path, content in wanted.items():
        stat = present.get(path)
        if stat is None:
            continue
        state = record.get(path)
        if state is not None and unchanged_since(stat, state):
            hashes[path] = state.sha256
        elif S_ISREG(stat.st_mode) and stat.st_size == len(content):
            # A file of another size cannot hold the same bytes; only same-sized ones are read.
            hashes[path] = _sha256_file(output / path)
    return hashes


_RENAME_EXCHANGE = 2  # from <linux/fs.h>
# Up to this share of the site's files changed, the changes are moved into the site one
# by one under a journal; above it the whole site is assembled anew and swapped in.
# Assembling costs a link per file and a folder per page (at 10,000 articles, seconds
# even when one page changed); the journal costs a rename per changed file.
_SWAP_SHARE = 0.25


def _exchange(new: Path, old: Path, *, missing_ok: bool = False) -> bool:
    """Swap two folders, or two files, in one atomic step (Linux renameat2); False where
    the system cannot, and with ``missing_ok`` where ``old`` does not exist."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(new), at_fdcwd, os.fsencode(old), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP) or (missing_ok and code == errno.ENOENT):
        return False  # a file system without RENAME_EXCHANGE, or nothing to swap with: the caller renames
    raise OSError(code, os.strerror(code), str(new), None, str(old))


@functools.cache
def _renameat2() -> Any:
    """libc's renameat2, looked up once (a rebuild may exchange hundreds of files); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _commit_file(staging: Path) -> Path:
    """The journal whose presence says a build's staged files must all be moved into the site."""
    return staging.with_name(staging.name + ".commit")


def recover(output: Path) -> bool:
    """Finish or undo what builds that died left beside ``output`` (call under the lock);
    True when files of a dead build were moved into the site.

    A staging folder with a commit journal died while moving its files into the site:
    its moves are finished (the site then holds that build's files, and the next build,
    whose record predates them, makes again whatever they changed). Any other working
    folder died before it changed the site and is removed.
    """
    _removed_before_writing()
    pattern = re.compile(re.escape(output.name) + r"\.(building|previous)-\d+")
    if not output.parent.is_dir():
        return False
    moved = False
    for entry in sorted(output.parent.iterdir()):
        if not (pattern.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink()):
            continue
        journal = _commit_file(entry)
        if journal.is_file():
            _apply(entry, output, json.loads(journal.read_text(encoding="utf-8")))
            moved = True
        shutil.rmtree(entry)
    for journal in output.parent.glob(f"{glob.escape(output.name)}.building-*.commit"):
        journal.unlink()
    return moved


class _Journal(TypedDict):
    write: list[str]  # the site's paths of the staged files, by their number in the staging folder
    inodes: NotRequired[list[int]]  # the staged files', in the same order
    remove: list[str]


def _apply(staging: Path, output: Path, journal: _Journal) -> None:
    """Move the staged files into the site, then remove the files it no longer has.

    Idempotent, so a commit cut short can be finished by running it again. New files
    come before replaced ones and removals last, so while it runs a page never links to
    a page that is not there yet.

    A file is replaced by exchanging it with the staged one, whose name the replaced
    file then takes until it is removed: ext4 (auto_da_alloc) allocates and starts
    writing a file's blocks in a rename that replaces another file, 1-2 ms a file on the
    path of every rebuild (0.13-0.19 s of the 250 a paragraph changes at 10,000
    articles). A staged name that holds another inode than the journal's is such a
    replaced file, left by a commit that died between the exchange and the removal.
    """
    # A journal left by a build from before inodes were recorded is finished by renames.
    inodes: list[int | None] = list(journal.get("inodes") or [None] * len(journal["write"]))
    for number, (path, inode) in enumerate(zip(journal["write"], inodes, strict=True)):
        staged = staging / str(number)
        try:
            found = os.lstat(staged).st_ino
        except FileNotFoundError:
            continue  # moved in already
        if inode is not None and (found != inode or _exchange(staged, output / path, missing_ok=True)):
            staged.unlink()
        else:
            (output / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, output / path)
    for path in journal["remove"]:
        (output / path).unlink(missing_ok=True)
        folder = (output / path).parent
        while folder != output and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    _commit_file(staging).unlink(missing_ok=True)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold off Ctrl-C and SIGTERM while the site is being changed, a few renames long."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _commit_changes(
    output: Path,
    wanted: Mapping[str, bytes],
    hashes: Mapping[str, str],
    written: tuple[str, ...],
    removed: tuple[str, ...],
    present: Mapping[str, LStat],
    progress: Progress | None,
) -> dict[str, FileState]:
    """Write the changed files into a staging folder, then move them into the site.

    Until the journal is written the site is untouched and a failure just removes the
    staging folder; once it is, the moves are finished even after a crash (``recover``).
    """
    staging = output.with_name(f"{output.name}.building-{os.getpid()}")
    states: dict[str, FileState] = {}
    order = sorted(written, key=lambda path: path in present)  # new files first
    large = [path for path in order if path in present and present[path].st_size >= _FREED_LATER_BYTES]
    try:
        staging.mkdir()
        for number, path in enumerate(large):
            # A second name keeps the replaced file's blocks from being freed when it
            # leaves the site below; they go with the staging folder, after the build. On
            # a file system without hard links they are freed there, as before.
            with contextlib.suppress(OSError):
                os.link(output / path, staging / f"replaced-{number}")
        inodes = []
        for done, path in enumerate(order, 1):
            # Staged flat, named by place in the journal: mirroring the site's folders
            # cost a mkdir and an rmdir per file (dispatch and term pages each have one).
            target = staging / str(done - 1)
            target.write_bytes(wanted[path])
            stat = target.stat()  # a rename or an exchange keeps the inode, so the mtime too
            states[path] = FileState(hashes[path], stat.st_size, stat.st_mtime_ns)
            inodes.append(stat.st_ino)
            if progress is not None:
                progress.update("write", done, len(order))
        journal: _Journal = {"write": order, "inodes": inodes, "remove": sorted(removed)}
        with _signals_deferred():
            _commit_file(staging).write_text(json.dumps(journal), encoding="utf-8")
            _apply(staging, output, journal)
    except BaseException:
        if not _commit_file(staging).exists():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if large:
        _remove_later(staging)
    else:
        shutil.rmtree(staging)
    return states


# Replaced files at least this large are freed after the build rather than during it:
# freeing the blocks of catalog.json (97 MB at 10,000 articles) took 0.05-0.1 s of a
# one-source rebuild, which the reload in ``serve`` need not wait for.
_FREED_LATER_BYTES = 1 << 22
_removing: threading.Thread | None = None


def _remove_later(folder: Path) -> None:
    """Remove ``folder`` on another thread; the next write to a site waits for it."""
    global _removing
    _removed_before_writing()
    # Not a daemon: a process that exits first still finishes the removal.
    _removing = threading.Thread(target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}, name="jianbao-remove")
    _removing.start()


def _removed_before_writing() -> None:
    """Wait for the folder ``_remove_later`` is removing: its name is the next build's staging folder's."""
    if _removing is not None:
        _removing.join()


def _swap_in(new: Path, output: Path) -> None:
    if not output.exists():
        os.rename(new, output)
        return
    if _exchange(new, output):
        shutil.rmtree(new)  # ``new`` now holds the previous site
        return
    previous = output.with_name(f"{output.name}.previous-{os.getpid()}")
    os.rename(output, previous)
    os.rename(new, output)
    shutil.rmtree(previous)


def folder_mtimes(output: Path, files: Iterable[str]) -> dict[str, int]:
    """The mtimes of the output folders holding ``files``, and of their parents, for the
    build record: ``site_intact`` and ``intact_files`` compare them with the folders as they are."""
    root = str(output)
    return {folder: os.stat(f"{root}/{folder}" if folder else root).st_mtime_ns for folder in sorted(_folders_above(files))}


def _folders_above(files: Iterable[str]) -> set[str]:
    """Every folder that holds one of ``files`` or holds such a folder ('' is the root)."""
    folders = {""}
    for path in files:
        while "/" in path:
            path = path.rsplit("/", 1)[0]
            if path in folders:
                break
            folders.add(path)
    return folders


def _folder_mtimes_after(output: Path, known: Mapping[str, int], changed: Iterable[str]) -> dict[str, int]:
    """``folder_mtimes`` after files were added to, replaced in or removed from a site whose
    folders had the mtimes ``known``: only the folders above a changed file are looked at."""
    folders = dict(known)
    root = str(output)
    for folder in _folders_above(changed):
        try:
            folders[folder] = os.stat(f"{root}/{folder}" if folder else root).st_mtime_ns
        except FileNotFoundError:
            folders.pop(folder, None)  # emptied, so removed with its last file
    return folders


def _folders_untouched(root: str, folders: Mapping[str, int]) -> bool:
    """True while every recorded folder keeps its mtime: no file was added to or removed from it."""
    try:
        return bool(folders) and all(
            os.stat(f"{root}/{folder}" if folder else root).st_mtime_ns == mtime_ns for folder, mtime_ns in folders.items()
        )
    except OSError:
        return False


def site_intact(output: Path, record: Mapping[str, FileState], folders: Mapping[str, int]) -> bool:
    """True when the output holds exactly the recorded files, none touched since.

    Each recorded file and folder is looked up by its path rather than the output being
    walked (a walk of 27,000 folders was most of a build that had nothing to do): a
    file edited or removed changes its own state, one added or removed its folder's mtime.
    """
    return deviations(output, record, folders) == {}


class OutputState(NamedTuple):
    """The output folder as a build finds it, measured against the last build record."""

    present: Mapping[str, LStat]  # every file below the output
    intact: set[str]  # the files still as the record left them
    folders: Mapping[str, int] | None  # the record's folder mtimes, when every folder still has them


class _Recorded(Mapping[str, FileStat]):
    """The files below an output whose recorded folders are untouched, so that only
    recorded files can be there: the record's state for each intact one, the state found
    for the others. Made per lookup: at 10,000 articles a build reads a few dozen of
    41,000 entries."""

    def __init__(self, record: Mapping[str, FileState], deviations: Mapping[str, FileStat | None]) -> None:
        self._record = record
        self._deviations = deviations
        self._missing = {path for path, found in deviations.items() if found is None}

    def __getitem__(self, path: str) -> FileStat:
        if path in self._deviations:
            found = self._deviations[path]
            if found is None:
                raise KeyError(path)
            return found
        state = self._record[path]
        return FileStat(S_IFREG, state.size, state.mtime_ns)

    def __contains__(self, path: object) -> bool:
        return path in self._record and path not in self._missing

    def __iter__(self) -> Iterator[str]:
        return (path for path in self._record if path not in self._missing)

    def __len__(self) -> int:
        return len(self._record) - len(self._missing)


def deviations(output: Path, record: Mapping[str, FileState], folders: Mapping[str, int]) -> dict[str, FileStat | None] | None:
    """The recorded files below ``output`` that are no longer as the record left them
    (None for one that is gone); None when a recorded folder changed, as then files the
    record does not know of may be there too and only a walk finds them."""
    root = str(output)
    if not _folders_untouched(root, folders):
        return None
    found: dict[str, FileStat | None] = {}
    # One loop, ``unchanged_since`` written out: a list of every stat made first cost
    # 0.03-0.04 s more over 41,000 files (0.3 s), measured.
    for path, state in record.items():
        try:
            stat = os.lstat(f"{root}/{path}")
        except OSError:
            found[path] = None
            continue
        if not (stat.st_mtime_ns == state.mtime_ns and stat.st_size == state.size and S_ISREG(stat.st_mode)):
            found[path] = FileStat(stat.st_mode, stat.st_size, stat.st_mtime_ns)
    return found


def output_state(record: Mapping[str, FileState], folders: Mapping[str, int], found: Mapping[str, FileStat | None]) -> OutputState:
    """The output as ``deviations`` found it (``found``), measured against ``record``."""
    return OutputState(_Recorded(record, found), set(record).difference(found), folders)


def intact_files(output: Path, record: Mapping[str, FileState], folders: Mapping[str, int]) -> OutputState:
    """Every file below ``output``, and the paths among them still as the build record left them.

    While the recorded folders are untouched, the recorded files are looked up by path;
    otherwise the output is walked.
    """
    found = deviations(output, record, folders)
    if found is not None:
        return output_state(record, folders, found)
    present = scan(output)
    return OutputState(present, {path for path, stat in present.items() if path in record and unchanged_since(stat, record[path])}, None)


def write_site(
    pages: tuple[Page, ...],
    output: Path,
    *,
    record: Mapping[str, FileState] | None,
    kept: Set[str] = frozenset(),
    present: Mapping[str, LStat] | None = None,
    folders: Mapping[str, int] | None = None,
    hashes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> WriteReport:
    """Make ``output`` hold exactly ``pages`` and the files of ``kept``.

    ``record`` is what the previous build wrote (from the build record), or None to
    trust nothing and write every file anew (``--clean``). ``kept`` names files of the
    current output, intact since ``record`` (see ``intact_files``, whose scan may be
    passed as ``present``), that the new site has unchanged without their bytes having
    been made again: an incremental build renders only the pages whose inputs changed.
    ``folders``, the mtimes of the output's folders as ``intact_files`` found them,
    spares looking at every folder again after a small change. ``hashes`` may give the
    sha256 of pages the caller has already hashed. Call it under ``build_lock``.
    """
    if recover(output):
        present = folders = None  # the scan was made before a dead build's files were moved in
    wanted: dict[str, bytes] = {}
    for page in pages:
        _check_path(page.path)
        if page.path in wanted or page.path in kept:
            raise ValueError(f"{page.path!r}: two pages have this output path")
        wanted[page.path] = page.content
    if present is None:
        present = scan(output)
        # ``kept`` was judged on another look at the output: make sure it still holds.
        if kept and (record is None or any(path not in present or not unchanged_since(present[path], record[path]) for path in kept)):
            raise ValueError("a file to keep is missing or changed since the build record")
    if kept and record is None:
        raise ValueError("files to keep need the build record that vouches for them")
    known_hashes = hashes or {}
    made_hashes = {path: known_hashes.get(path) or hashlib.sha256(content).hexdigest() for path, content in wanted.items()}
    old_hashes = _current_hashes(output, present, wanted, record) if record is not None else {}
    same_made = {path for path, digest in made_hashes.items() if old_hashes.get(path) == digest}
    removed = tuple(path for path in present if path not in wanted and path not in kept)
    written = tuple(sorted(path for path in made_hashes if path not in same_made))

    if record is not None and output.is_dir() and len(written) + len(removed) <= _SWAP_SHARE * (len(wanted) + len(kept)):
        # A kept file is intact since the record, so the record's state is still its own.
        files = {path: record[path] for path in kept}
        files.update(
            (path, FileState(made_hashes[path], present[path].st_size, present[path].st_mtime_ns)) for path in same_made
        )
        if written or removed:
            files.update(_commit_changes(output, wanted, made_hashes, written, removed, present, progress))
        if folders is not None:
            return WriteReport(files, written, removed, _folder_mtimes_after(output, folders, written + removed))
        return WriteReport(files, written, removed, folder_mtimes(output, files))

    new_hashes = {**made_hashes, **{path: record[path].sha256 for path in kept}} if record is not None else made_hashes
    new_hashes = dict(sorted(new_hashes.items()))
    same = set(kept) | same_made
    building = output.with_name(f"{output.name}.building-{os.getpid()}")
    files: dict[str, FileState] = {}
    try:
        building.mkdir(parents=True)
        folders = sorted({path.rsplit("/", 1)[0] for path in new_hashes if "/" in path})
        for folder in folders:
            (building / folder).mkdir(parents=True, exist_ok=True)
        total = len(new_hashes)
        for done, (path, digest) in enumerate(new_hashes.items(), 1):
            target = building / path
            if path in same:
                try:
                    os.link(output / path, target)
                except OSError:
                    shutil.copy2(output / path, target)  # a file system without hard links
                # A hard link is the same file: the state the record vouches for still holds.
                old = present[path]
                files[path] = FileState(digest, old.st_size, old.st_mtime_ns)
            else:
                target.write_bytes(wanted[path])
                stat = target.stat()
                files[path] = FileState(digest, stat.st_size, stat.st_mtime_ns)
            if progress is not None:
                progress.update("write", done, total)
        _swap_in(building, output)
    except BaseException:
        # Interrupted or failed: the previous site stays exactly as it was.
        shutil.rmtree(building, ignore_errors=True)
        raise
    return WriteReport(files, written, removed, folder_mtimes(output, files))
