"""Where everything lives in the output, and catalog.json: the whole collection as data.

The path functions here are the one statement of the site's layout (see the URL
contract): the renderer, the catalog and the feeds all take their paths from them,
so a link and the file it points to can never disagree. A *path* is where a file
is written (relative to the output root); an *href* is the same path as it goes
into a link (percent-encoded, so a name with spaces or Han characters still works).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from .models import Article, Collection, Dispatch, Skipped, Source

SOURCES = "sources"
DISPATCHES = "dispatches"
CATALOG_PATH = "catalog.json"


class LayoutError(ValueError):
    """An id that cannot be used as a folder name in the output."""


def _segment(name: str, what: str) -> str:
    """A single folder name; refuse what would climb out of or split the folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise LayoutError(f"{what} {name!r} cannot be used as a folder name in the output")
    return name


@functools.lru_cache(maxsize=65536)
def href(path: str) -> str:
    """A path as it goes into a link: percent-encoded, '/' and one '#' fragment kept."""
    location, hash_sign, fragment = path.partition("#")
    encoded = quote(location, safe="/")
    return encoded + hash_sign + quote(fragment, safe="") if hash_sign else encoded


def anchor(article_id: str) -> str:
    """The HTML id of an article on its source page (ids may not hold white space)."""
    return re.sub(r"\s", "_", article_id)


def source_path(source_id: str) -> str:
    return f"{SOURCES}/{_segment(source_id, 'source id')}/index.html"


def markdown_path(source_id: str) -> str:
    return f"{SOURCES}/{_segment(source_id, 'source id')}/{source_id}.md"


def raw_path(source: Source) -> str:
    """The original bytes, under their own file name beside the source page.

    A name that would overwrite the page or the Markdown (a source called
    ``index.html``, or ``x.md`` whose Markdown is also ``x.md``) goes one folder down.
    """
    name = PurePosixPath(source.file).name
    folder = f"{SOURCES}/{_segment(source.id, 'source id')}"
    if name in ("index.html", f"{source.id}.md"):
        return f"{folder}/original/{name}"
    return f"{folder}/{name}"


def article_path(article: Article) -> str:
    return f"{source_path(article.source_id)}#{anchor(article.id)}"


def dispatch_path(dispatch_id: str) -> str:
    return f"{DISPATCHES}/{_segment(dispatch_id, 'dispatch id')}/index.html"


def _flags(article: Article) -> list[dict[str, Any]]:
    return [{"kind": flag.kind, "text": flag.text} for flag in article.flags]


def dateline_data(article: Article) -> dict[str, Any] | None:
    line = article.dateline
    if line is None:
        return None
    return {
        "text": line.text,
        "agency": line.agency,
        "place": line.place,
        "date": line.date,
        "via": line.via,
        "position": line.position,
    }


def source_entry(source: Source, article_ids: list[str]) -> dict[str, Any]:
    return {
        "id": source.id,
        "file": source.file,
        "sha256": source.sha256,
        "encoding": source.encoding,
        "url": href(source_path(source.id)),
        "raw_url": href(raw_path(source)),
        "markdown_url": href(markdown_path(source.id)),
        "articles": article_ids,
    }


def article_entry(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "source": article.source,
        "kind": article.kind,
        "headline": article.headline,
        "subheadline": article.subheadline,
        "kicker": article.kicker,
        "dateline": dateline_data(article),
        "date": article.date.value,
        "date_precision": article.date.precision,
        "people": list(article.people),
        "keywords": list(article.keywords),
        "text": article.text,
        "url": href(article_path(article)),
        "flags": _flags(article),
        "dispatch": article.dispatch,
    }


def _dispatch_entry(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "id": dispatch.id,
        "title": dispatch.title,
        "date": dispatch.date.value,
        "date_source": dispatch.date.source,
        "witnesses": list(dispatch.witnesses),
        "text": dispatch.text,
        "variants": [
            {
                "position": variant.position,
                "length": variant.length,
                "consensus": variant.consensus,
                "readings": [{"witness": r.witness, "text": r.text} for r in variant.readings],
                "settled": variant.settled,
                "rule": variant.rule,
            }
            for variant in dispatch.variants
        ],
        "related": [link.dispatch for link in dispatch.related],
        "url": href(dispatch_path(dispatch.id)),
    }


def articles_by_source(articles: Iterable[Article]) -> dict[str, list[Article]]:
    """Each source id -> its articles in reading order."""
    grouped: dict[str, list[Article]] = {}
    for article in articles:
        grouped.setdefault(article.source_id, []).append(article)
    for group in grouped.values():
        group.sort(key=lambda article: article.index)
    return grouped


def _skipped_entry(skip: Skipped) -> dict[str, Any]:
    return {"file": skip.file, "reason": skip.reason}


def _source_entry(item: tuple[Source, tuple[str, ...]]) -> dict[str, Any]:
    return source_entry(item[0], list(item[1]))


def catalog_records(
    collection: Collection, grouped: Mapping[str, list[Article]] | None = None
) -> dict[str, tuple[list[tuple[str, Any]], Callable[[Any], dict[str, Any]]]]:
    """Each section of the catalog: its records in order, each with its name (unique in
    the section), and what makes a record's entry (an entry depends on its record alone).

    ``grouped`` is ``articles_by_source(collection.articles)`` when the caller has it already.
    """
    if grouped is None:
        grouped = articles_by_source(collection.articles)
    sources = sorted(collection.sources, key=lambda source: source.id)
    return {
        "sources": (
            [(source.id, (source, tuple(a.id for a in grouped.get(source.id, [])))) for source in sources],
            _source_entry,
        ),
        "articles": ([(a.id, a) for source in sources for a in grouped.get(source.id, [])], article_entry),
        "skipped": ([(skip.file, skip) for skip in sorted(collection.skipped, key=lambda skip: skip.file)], _skipped_entry),
        "dispatches": ([(d.id, d) for d in sorted(collection.dispatches, key=lambda d: d.id)], _dispatch_entry),
    }


def catalog(collection: Collection) -> dict[str, Any]:
    """The catalog as a JSON-ready mapping: sources, articles, skipped files, dispatches."""
    return {
        key: [entry(record) for _, record in records] for key, (records, entry) in catalog_records(collection).items()
    }


# Section -> record name -> (what the line was made from, its encoded line: UTF-8, with
# the indent), as one call of ``encoded_catalog`` made them. What a line was made from is
# the record itself, or the stamp the caller gave for it (see ``encoded_catalog``).
CatalogLines = dict[str, dict[str, tuple[Any, bytes]]]
# Section -> record name -> a value that changes whenever the record's entry could.
CatalogStamps = Mapping[str, Mapping[str, Hashable]]


def catalog_json(collection: Collection) -> bytes:
    """catalog.json: UTF-8, Han characters as they are, one record per line."""
    return encoded_catalog(collection, {})[0]


def encoded_catalog(
    collection: Collection,
    previous: CatalogLines,
    stamps: CatalogStamps | None = None,
    grouped: Mapping[str, list[Article]] | None = None,
) -> tuple[bytes, CatalogLines]:
    """catalog.json, with the lines of ``previous`` (from the last call) for the records
    that did not change, and the lines of this one for the next.

    A record is unchanged when its stamp in ``stamps`` (for the sections it has) equals
    the one its line was made with; otherwise when it is the same object as the record
    its line was made from, or equal to it: equal records give equal lines, as an entry
    shows strings, whole numbers, booleans and None (never a float, where == would call
    0.0 and -0.0 the same). Lines kept with stamps hold no record, so they can be stored
    apart from the collection. ``grouped`` is as for ``catalog_records``.

    Each record goes through json's C encoder on its own line (an indented dump runs
    the pure-Python encoder and takes seconds on a large collection), so the file
    stays readable and diffs line by line. Lines are kept as bytes: at 10,000 articles
    the catalog is ~100 MB, and joining bytes copies them once where encoding the
    joined text would read it all again.
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode
    current: CatalogLines = {}
    # Every piece of the file in order, joined once at the end: each concatenation of
    # something this large would copy it all again.
    pieces = [b"{\n"]
    for number, (section, (records, entry)) in enumerate(catalog_records(collection, grouped).items()):
        pieces.append((b",\n" if number else b"") + f'"{section}": ['.encode("utf-8"))
        separator = b"\n"
        known, kept = previous.get(section, {}), current.setdefault(section, {})
        marks = stamps.get(section) if stamps is not None else None
        for name, record in records:
            made_from = record if marks is None else marks[name]
            before = known.get(name)
            if before is None or (before[0] is not made_from and before[0] != made_from):
                before = (made_from, b"  " + encode(entry(record)).encode("utf-8"))
            kept[name] = before
            pieces += (separator, before[1])
            separator = b",\n"
        pieces.append(b"\n]" if records else b"]")
    pieces.append(b"\n}\n")
    return b"".join(pieces), current
