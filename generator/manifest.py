"""``manifest.json``: the fixity record of a build and the provenance of its sources.

It lists every other output file with its SHA-256 and size (sorted by path), so
``python -m generator verify`` can prove years later that a copy of the site is
whole and unaltered. It also records, for each source, what the archive received:
the original file name, size, SHA-256, encoding and the date it entered the archive.

The date a source was added comes from its sidecar's ``added`` key, else from the
accession register the first build that saw the file wrote (see ``accessions.py``);
``added_from`` says which (``sidecar`` or ``register``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import NamedTuple, Protocol

from . import __version__
from .config import Config
from .models import Collection, Page, Source
from .reproducible import build_time, iso_time

MANIFEST_PATH = "manifest.json"
FORMAT = "jianbao-manifest/1"


def original_file_name(source: Source) -> str:
    """The name the source had in content/, without its folders (it is published under it)."""
    return PurePosixPath(source.file).name


_Received = tuple[str, str, int, str, str, str | None, str | None]


def _received(source: Source) -> _Received:
    return (source.id, source.file, len(source.raw), source.sha256, source.encoding, source.added, source.added_from)


class Fixity(NamedTuple):
    """One output file as the manifest lists it (a tuple: an incremental build makes
    41,000 of them from its build record)."""

    path: str
    sha256: str
    size: int


def fixity(page: Page) -> Fixity:
    return Fixity(page.path, hashlib.sha256(page.content).hexdigest(), len(page.content))


class _Fixed(Protocol):
    """What the manifest lists of a file: a ``Fixity``, or the build record's ``FileState``."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...


def _listed(files: Iterable[Fixity], kept: Mapping[str, _Fixed]) -> dict[str, _Fixed]:
    """What to list for each path."""
    entries: dict[str, _Fixed] = dict(kept)
    duplicates = set()
    for entry in files:
        if entry.path in entries:
            duplicates.add(entry.path)
        entries[entry.path] = entry
    if duplicates:
        # Two pages for one path means one would silently overwrite the other on disk.
        raise ValueError(f"two output files claim the same path: {', '.join(sorted(duplicates))}")
    entries.pop(MANIFEST_PATH, None)
    return entries


# Each listed path -> (its sha256, its size, its entry as the manifest writes it, in
# UTF-8), in path order.
ManifestLines = dict[str, tuple[str, int, bytes]]


def manifest_page(
    files: Iterable[Fixity],
    collection: Collection,
    kept: Mapping[str, _Fixed] | None = None,
    lines: ManifestLines | None = None,
) -> Page:
    """``manifest.json`` for the output files ``files`` and ``kept``: an incremental build
    gives the files it did not make again by their states in its build record.

    ``lines``, when given, holds the file entries of the last manifest made with it, and
    is left holding this one's: a rebuild changes a few of 41,000.
    """
    entries = _listed(files, kept or {})
    document = {
        "format": FORMAT,
        "generator": f"jianbao {__version__}",
        "date": iso_time(build_time(collection)),
        "algorithm": "sha256",
        # The file list is written by hand, as json.dumps(indent=1) would write it: at
        # 10,000 articles json's encoder took 1.8 s over its 41,000 entries on every build.
        "files": _FILES_MARK,
        "sources": _SOURCES_MARK,
    }
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    head, rest = text.split(json.dumps(_FILES_MARK), 1)
    middle, tail = rest.split(json.dumps(_SOURCES_MARK), 1)
    sources = [_provenance_entry(_received(source)) for source in sorted(collection.sources, key=lambda s: s.id)]
    # Joined as bytes, once: the file list is 6 MB at 10,000 articles, and text holding a
    # Han character anywhere is copied at two or four bytes a character.
    return Page(
        MANIFEST_PATH,
        b"".join(
            (
                head.encode("utf-8"),
                _file_list(entries, lines if lines is not None else {}),
                middle.encode("utf-8"),
                b"[\n" + b",\n".join(sources) + b"\n ]" if sources else b"[]",
                tail.encode("utf-8"),
            )
        ),
    )


# No path, digest or name can hold a NUL.
_FILES_MARK = "\x00files\x00"
_SOURCES_MARK = "\x00sources\x00"


@functools.lru_cache(maxsize=1 << 15)
def _provenance_entry(received: _Received) -> bytes:
    """One source's entry, as json.dumps(indent=1) writes it nested in the document's list:
    what the archive received, and where the original is published.

    Written by hand: json's indenting encoder is pure Python and took 0.3-0.4 s over
    10,000 sources for the first rebuild of every process. Kept, as a rebuild changes
    one or two sources; a process's first rebuild writes them all, in one format string
    each (a dict and a scalar call per field cost it 40 ms at 2,200 sources)."""
    source_id, file, size, sha256, encoding, added, added_from = received
    name = PurePosixPath(file).name
    string = _json_scalar
    return (
        f'  {{\n   "id": {string(source_id)},\n   "file": {string(file)},\n   "name": {string(name)},\n'
        f'   "size": {size},\n   "sha256": {string(sha256)},\n   "encoding": {string(encoding)},\n'
        f'   "added": {string(added)},\n   "added_from": {string(added_from)},\n'
        f'   "published_as": {string(f"sources/{source_id}/{name}")}\n  }}'
    ).encode("utf-8")


def _json_scalar(value: str | int | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _json_string(value)
    return str(value)


def _file_list(entries: Mapping[str, _Fixed], lines: ManifestLines) -> bytes:
    """The file list, as json.dumps(indent=1) nests it; ``lines`` (the last list's) is
    updated to this one. Only the entries of changed files are written again, and the
    paths are sorted again only when some came or went."""
    if lines.keys() != entries.keys():
        previous = dict(lines)
        lines.clear()
        lines.update((path, previous.get(path, _UNWRITTEN)) for path in sorted(entries))
    for path, (sha256, size, _) in lines.items():
        entry = entries[path]
        if sha256 != entry.sha256 or size != entry.size:
            line = f'  {{\n   "path": {_json_string(path)},\n   "sha256": "{entry.sha256}",\n   "size": {entry.size}\n  }}'
            lines[path] = (entry.sha256, entry.size, line.encode("utf-8"))
    if not lines:
        return b"[]"
    return b"[\n" + b",\n".join([line for _, _, line in lines.values()]) + b"\n ]"


_UNWRITTEN = ("", -1, b"")  # no file has this sha256


def _json_string(text: str) -> str:
    """``json.dumps(text, ensure_ascii=False)``, without the encoder for the usual path that needs no escape."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def manifest_pages(pages: tuple[Page, ...], collection: Collection, config: Config) -> tuple[Page, ...]:
    """The manifest of ``pages``: one page, ``manifest.json``, to add to them.

    ``config`` is part of the stage contract; nothing in the manifest depends on it.
    """
    return (manifest_page(map(fixity, pages), collection),)
