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

import hashlib
import json
from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from . import __version__
from .config import Config
from .models import Collection, Page, Source
from .reproducible import build_time, iso_time

MANIFEST_PATH = "manifest.json"
FORMAT = "jianbao-manifest/1"


def original_file_name(source: Source) -> str:
    """The name the source had in content/, without its folders (it is published under it)."""
    return PurePosixPath(source.file).name


def source_provenance(source: Source) -> dict[str, Any]:
    """What the archive received for one source, as recorded in the manifest."""
    name = original_file_name(source)
    return {
        "id": source.id,
        "file": source.file,
        "name": name,
        "size": len(source.raw),
        "sha256": source.sha256,
        "encoding": source.encoding,
        "added": source.added,
        "added_from": source.added_from,
        "published_as": f"sources/{source.id}/{name}",
    }


def file_entry(page: Page) -> dict[str, Any]:
    return {"path": page.path, "sha256": hashlib.sha256(page.content).hexdigest(), "size": len(page.content)}


def manifest_document(pages: tuple[Page, ...], collection: Collection) -> dict[str, Any]:
    files = sorted((page for page in pages if page.path != MANIFEST_PATH), key=lambda page: page.path)
    duplicates = sorted(path for path, count in Counter(page.path for page in files).items() if count > 1)
    if duplicates:
        # Two pages for one path means one would silently overwrite the other on disk.
        raise ValueError(f"two output files claim the same path: {', '.join(duplicates)}")
    return {
        "format": FORMAT,
        "generator": f"jianbao {__version__}",
        "date": iso_time(build_time(collection)),
        "algorithm": "sha256",
        "files": [file_entry(page) for page in files],
        "sources": [source_provenance(source) for source in sorted(collection.sources, key=lambda s: s.id)],
    }


def manifest_pages(pages: tuple[Page, ...], collection: Collection, config: Config) -> tuple[Page, ...]:
    """The manifest of ``pages``: one page, ``manifest.json``, to add to them.

    ``config`` is part of the stage contract; nothing in the manifest depends on it.
    """
    document = manifest_document(pages, collection)
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    return (Page(MANIFEST_PATH, text.encode("utf-8")),)
