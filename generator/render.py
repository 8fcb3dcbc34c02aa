"""Render the collection into the site: every HTML page, the data files and the theme's assets.

``render_site`` is a pure function of the collection and the configuration (and of
SOURCE_DATE_EPOCH, the one outside time it honours: reproducible.build_time). Everything a template shows is
prepared here once: a dispatch's summary is built once and reused by every list it
appears in, and each template is compiled once per build. The theme's README lists
what each template receives.

The work is cut into independent parts (the catalog, the lists, the date pages, each
taxonomy, chunks of sources and of dispatches); a large collection renders them on
forked worker processes, one per core, and the pages are sorted by path at the end,
so the output is the same either way.

Every link is relative to the page it is on (``root`` climbs back to the output
root), so the site works from ``file://``, under any sub-path and on any host.
"""

from __future__ import annotations

import functools
import hashlib
import json
import marshal
import multiprocessing
import operator
import os
import re
import types
import typing
import unicodedata
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from markupsafe import Markup, escape

from . import catalog as layout
# Planning makes hundreds of thousands of small tuples and no garbage cycle; the cyclic
# collector would walk the young ones again and again (a fifth of an incremental render
# at 10,000 articles). Pages by the thousand are rendered with it running: templates may
# leave cycles (see _Renderer.render).
from . import collector
from .config import Config
from .feeds import (
    FEED_PATH,
    ROBOTS_PATH,
    absolute_url,
    atom_feed,
    full_date,
    newest_first,
    robots_txt,
    sitemap_files,
    sitemap_paths,
)
from .markdown_page import article_body_html, source_markdown
from .models import Article, Change, Collection, DateInfo, Dispatch, Page, Source, Text, Variant
from .reproducible import build_time
from .theme import Theme

T = TypeVar("T")

SEARCH_PATH = "search/index.html"
NOT_FOUND_PATH = "404.html"
# How many of the newest dispatches the home page shows.
HOME_LATEST = 10

# ---------------------------------------------------------------- what templates receive


@dataclass(frozen=True)
class Link:
    """Something to link to: its label, its path from the output root, how many it holds."""

    label: str
    path: str
    count: int = 0

    @property
    def href(self) -> str:
        return layout.href(self.path)


@dataclass(frozen=True)
class DispatchItem:
    """A dispatch as it appears in a list."""

    id: str
    title: str
    path: str
    href: str
    date: DateInfo
    date_label: str
    agency: str | None
    witnesses: int
    sources: tuple[str, ...]
    excerpt: str


@dataclass(frozen=True)
class Pagination:
    number: int
    count: int
    previous: Link | None
    next: Link | None
    pages: tuple[Link, ...]  # the page links shown (label = page number; the current one included)


@dataclass(frozen=True)
class Witness:
    """One witness of a dispatch: its siglum and where it stands."""

    siglum: str
    article: Article
    source: Source
    path: str
    href: str
    date_label: str
    insertions: int
    omissions: int
    changes: int
    comparison: tuple[Markup, ...]  # the witness's text against the consensus, paragraph by paragraph


@dataclass(frozen=True)
class ReadingGroup:
    text: str
    witnesses: tuple[Witness, ...]
    consensus: bool


@dataclass(frozen=True)
class VariantEntry:
    number: int
    variant: Variant
    paragraph: int  # 1-based paragraph of the consensus where the place starts
    readings: tuple[ReadingGroup, ...]


@dataclass(frozen=True)
class RelatedEntry:
    item: DispatchItem
    reason: str
    score: float


@dataclass(frozen=True)
class ArticleSection:
    article: Article
    anchor: str
    lang: str | None  # set when the article's language differs from the page's
    date_label: str
    body: Markup  # dateline, paragraphs and pull quotes, through markdown-it
    dispatch: DispatchItem | None


@dataclass(frozen=True)
class DateNode:
    """A year, month or day of the date index (or the year-unknown and undated groups)."""

    label: str
    path: str  # its page
    parts: tuple[str, ...]  # folder names under dates/
    children: dict[str, "DateNode"] = field(default_factory=dict)
    dispatches: list[Dispatch] = field(default_factory=list)  # those dated exactly this finely
    # total(), once the tree is built (a one-item list: the node itself is frozen)
    counted: list[int] = field(default_factory=list, repr=False, compare=False)

    def total(self) -> int:
        if not self.counted:
            self.counted.append(len(self.dispatches) + sum(child.total() for child in self.children.values()))
        return self.counted[0]

    def members(self) -> Iterator[Dispatch]:
        """The dispatches of this node and of every node below it, in the tree's order."""
        yield from self.dispatches
        for child in self.children.values():
            yield from child.members()


# ---------------------------------------------------------------- dates and names

_DATE_FORMS = (
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), (1, 2, 3)),
    (re.compile(r"--(\d{2})-(\d{2})"), (None, 1, 2)),
    (re.compile(r"(\d{4})-(\d{2})"), (1, 2, None)),
    (re.compile(r"(\d{4})"), (1, None, None)),
)
NEWLINE = "\n"
UNKNOWN_YEAR = "unknown-year"
UNDATED = "undated"


@functools.lru_cache(maxsize=65536)
def date_parts(value: str | None) -> tuple[str | None, str | None, str | None] | None:
    """(year, month, day) of an ISO date or a yearless '--MM-DD'; None when there is no date."""
    if value is None:
        return None
    for pattern, groups in _DATE_FORMS:
        match = pattern.fullmatch(value)
        if match:
            year, month, day = (match.group(g) if g else None for g in groups)
            return year, month, day
    return None


def date_label(date: DateInfo) -> str:
    """The date as a Chinese reader writes it; a missing year is said, never guessed."""
    parts = date_parts(date.value)
    if parts is None:
        return "日期不详"
    year, month, day = parts
    text = f"{year}年" if year else ""
    if month:
        text += f"{int(month)}月"
    if day:
        text += f"{int(day)}日"
    return text if year else f"{text}（年份不详）"


_SLUG_UNSAFE = re.compile(r"[^\w·-]+")


def term_slugs(names: Iterable[str]) -> dict[str, str]:
    """A folder name for each term: the name itself where it is safe, made unique."""
    slugs: dict[str, str] = {}
    # 'page' is taken by the pagination folders of the index beside the terms.
    used = {"page"}
    for name in sorted(set(names)):
        base = _SLUG_UNSAFE.sub("-", unicodedata.normalize("NFKC", name).strip().lower()).strip("-._")[:60]
        base = base or "term"
        slug, number = base, 2
        while slug in used:
            slug, number = f"{base}-{number}", number + 1
        used.add(slug)
        slugs[name] = slug
    return slugs


def _dispatch_order(dispatch: Dispatch) -> tuple[str, str]:
    return (dispatch.date.value or "", dispatch.id)


# ---------------------------------------------------------------- the apparatus


def sigla(count: int) -> list[str]:
    """A, B, C … Z, then A2, B2 … for the witnesses in their order."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [letters[i % 26] + (str(i // 26 + 1) if i >= 26 else "") for i in range(count)]


def _wrap(tag: str, text: str, attributes: str = "") -> str:
    """Text inside a tag, one element per paragraph it touches (none for an empty piece)."""
    opening, closing = f"<{tag}{attributes}>", f"</{tag}>"
    return "\n\n".join(opening + str(escape(part)) + closing if part else "" for part in text.split("\n\n"))


def numbered_variants(dispatch: Dispatch) -> list[tuple[int, Variant]]:
    ordered = sorted(dispatch.variants, key=lambda v: (v.position, v.length))
    return list(enumerate(ordered, start=1))


def _spans(text: str, numbered: Sequence[tuple[int, Variant]]) -> Iterable[tuple[int | None, int, int]]:
    """(variant number or None, start, end) covering the consensus text in order."""
    cursor = 0
    for number, variant in numbered:
        start = min(max(variant.position, cursor), len(text))
        end = min(max(start, variant.position + variant.length), len(text))
        if start > cursor:
            yield None, cursor, start
        yield number, start, end
        cursor = end
    if cursor < len(text):
        yield None, cursor, len(text)


def marked_consensus(dispatch: Dispatch, numbered: Sequence[tuple[int, Variant]]) -> tuple[Markup, ...]:
    """The consensus paragraphs with each place of variation marked and linked to its entry."""
    text = dispatch.text
    settled = {number: variant.settled for number, variant in numbered}
    pieces: list[str] = []
    for number, start, end in _spans(text, numbered):
        if number is None:
            pieces.append(str(escape(text[start:end])))
            continue
        reference = f'<sup class="variant-ref"><a href="#variant-{number}">{number}</a></sup>'
        kind = "variant" if settled[number] else "variant unsettled"
        if end > start:
            pieces.append(_wrap("mark", text[start:end], f' class="{kind}"'))
            pieces.append(reference.replace("<sup ", f'<sup id="at-{number}" ', 1))
        else:
            pieces.append(reference.replace("<sup ", f'<sup id="at-{number}" ', 1).replace(f">{number}<", f">‸{number}<"))
    return tuple(Markup(paragraph) for paragraph in "".join(pieces).split("\n\n"))


def witness_comparison(
    dispatch: Dispatch, numbered: Sequence[tuple[int, Variant]], witness: str
) -> tuple[tuple[Markup, ...], int, int, int]:
    """The witness's text against the consensus: what it adds, omits and changes.

    Returns the paragraphs and the counts of insertions, omissions and changes.
    """
    text = dispatch.text
    readings = {number: {r.witness: r.text for r in variant.readings} for number, variant in numbered}
    pieces: list[str] = []
    insertions = omissions = changes = 0
    for number, start, end in _spans(text, numbered):
        consensus = text[start:end]
        reading = consensus if number is None else readings[number].get(witness, consensus)
        if reading == consensus:
            pieces.append(str(escape(consensus)))
            continue
        if consensus and reading:
            changes += 1
        elif consensus:
            omissions += 1
        else:
            insertions += 1
        if consensus:
            pieces.append(_wrap("del", consensus))
        if reading:
            pieces.append(_wrap("ins", reading))
    paragraphs = tuple(Markup(paragraph) for paragraph in "".join(pieces).split("\n\n"))
    return paragraphs, insertions, omissions, changes


def change_rows(changes: Sequence[Change]) -> Markup:
    """The rows of a source's table of cleaning changes, one line each.

    Made here rather than in a template loop: there are 420,000 of them at 10,000
    articles, and the loop was a fifth of the whole render. The cells are escaped in
    one call, joined by a NUL, unless a cell holds a NUL itself.
    """
    cells = [
        cell
        for change in changes
        for cell in (change.kind, change.before.replace(NEWLINE, "⏎"), change.after.replace(NEWLINE, "⏎"))
    ]
    joined = "\0".join(cells)
    if joined.count("\0") == max(len(cells) - 1, 0):
        escaped = str(escape(joined)).split("\0")
    else:
        escaped = [str(escape(cell)) for cell in cells]
    return Markup(
        "\n".join(
            f'          <tr><td>{change.line}</td><td>{escaped[3 * index]}</td>'
            f'<td class="text">{escaped[3 * index + 1]}</td><td class="text">{escaped[3 * index + 2]}</td></tr>'
            for index, change in enumerate(changes)
        )
    )


def _json_for_script(data: Any) -> Markup:
    """JSON that cannot close its <script> element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# ---------------------------------------------------------------- lists and pages


def _excerpt(dispatch: Dispatch, length: int) -> str:
    first = dispatch.paragraphs[0] if dispatch.paragraphs else ""
    return first[:length] + ("…" if len(first) > length else "")


def _root(path: str) -> str:
    return "../" * path.count("/")


def page_path(folder: str, number: int) -> str:
    """Page ``number`` of a list: ``folder/index.html``, then ``folder/page/N/index.html``."""
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}index.html" if number == 1 else f"{prefix}page/{number}/index.html"


def pagination(folder: str, number: int, count: int) -> Pagination:
    shown = sorted({1, count, *range(max(1, number - 2), min(count, number + 2) + 1)})
    return Pagination(
        number=number,
        count=count,
        previous=Link(str(number - 1), page_path(folder, number - 1)) if number > 1 else None,
        next=Link(str(number + 1), page_path(folder, number + 1)) if number < count else None,
        pages=tuple(Link(str(n), page_path(folder, n)) for n in shown),
    )


def pages_of(items: Sequence[T], size: int, folder: str) -> Iterator[tuple[str, Sequence[T], int, int]]:
    """A list split into pages: (path, the items shown, page number, page count)."""
    count = max(1, -(-len(items) // size))
    for number in range(1, count + 1):
        yield page_path(folder, number), items[(number - 1) * size : number * size], number, count


@dataclass(frozen=True)
class Taxonomy:
    """A way to browse: by agency, by person, by keyword."""

    folder: str
    title: str  # the index page's heading
    term_title: str  # the heading of one term's page, with {term}
    terms_of: Callable[[Dispatch], tuple[str, ...]]


TAXONOMIES = (
    Taxonomy("agencies", "通讯社", "通讯社：{term}", lambda d: (d.agency,) if d.agency else ()),
    Taxonomy("people", "人物", "人物：{term}", lambda d: d.people),
    Taxonomy("keywords", "关键词", "关键词：{term}", lambda d: d.keywords),
)


# ---------------------------------------------------------------- keys: what each page is made from

# Source fields no page shows as they are: the bytes are stood for by their sha256 (the raw
# file is keyed by it), and the decoded text is those bytes read with ``encoding``. (Only a
# Source's: a Dateline's or a Reading's text is shown as it is.)
_STOOD_FOR = {Source: frozenset({"raw", "text"})}
_PLAIN_TYPES = (str, int, float, bool, type(None))


def _is_plain(hint: Any) -> bool:
    """Whether a field of this type is strings, numbers and tuples of them, which repr states whole."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return True
    if origin in (typing.Union, types.UnionType, tuple):
        return all(argument is Ellipsis or _is_plain(argument) for argument in typing.get_args(hint))
    return hint in _PLAIN_TYPES


@functools.cache
def _flattener(kind: type) -> Callable[[Any], Any]:
    """How to turn a record of this dataclass into nested lists of its field values (for _digest).

    Fields come from the dataclass itself, so a field added to a model is in every key
    without anyone remembering to add it here. Plain fields are read in one C call;
    only fields holding other records are converted, each by a converter chosen once
    from its type.
    """
    stood_for = _STOOD_FOR.get(kind, frozenset())
    names = [f.name for f in fields(kind) if f.name not in stood_for]
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):  # an annotation that cannot be resolved: walk every field
        hints = {}
    nested = [
        (index, _converter(hints[name]) if name in hints else _flat)
        for index, name in enumerate(names)
        if name not in hints or not _is_plain(hints[name])
    ]
    read = operator.attrgetter(*names) if len(names) > 1 else (lambda record: (getattr(record, names[0]),))

    def flatten(record: Any) -> Any:
        values = read(record)
        if not nested:
            return values
        values = list(values)
        for index, convert in nested:
            values[index] = convert(values[index])
        return values

    return flatten


def _converter(hint: Any) -> Callable[[Any], Any]:
    """The converter for a field of this type: a record, a tuple of records, or either or None."""
    if isinstance(hint, type) and is_dataclass(hint):
        return _flattener(hint)
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        convert_item = _converter(arguments[0])
        return lambda value: [convert_item(item) for item in value]
    if origin in (typing.Union, types.UnionType) and len(arguments) == 2 and type(None) in arguments:
        convert_other = _converter(next(argument for argument in arguments if argument is not type(None)))
        return lambda value: None if value is None else convert_other(value)
    return _flat


def _flat(value: Any) -> Any:
    if isinstance(value, _PLAIN_TYPES):
        return value
    if isinstance(value, (tuple, list)):
        return [_flat(item) for item in value]
    return _flattener(type(value))(value)


_FLOATLESS = (str, int, bool, bytes, type(None))


def _float_reader(hint: Any) -> Callable[[Any], Any] | None:
    """How to read the floats a value of this type holds, as their reprs; None when it holds none.

    == calls 0.0 and -0.0 the same, which print differently; their reprs do not."""
    if hint is float:
        return repr
    if isinstance(hint, type) and is_dataclass(hint):
        readers = _float_fields(hint)
        return None if readers is None else (lambda record: [read(getattr(record, name)) for name, read in readers])
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal or (origin is None and hint in _FLOATLESS):
        return None
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        read_item = _float_reader(arguments[0])
        return None if read_item is None else (lambda value: [read_item(item) for item in value])
    if origin in (typing.Union, types.UnionType, tuple) and all(
        argument is Ellipsis or _float_reader(argument) is None for argument in arguments
    ):
        return None
    return repr  # a float somewhere inside, or a type not told apart here: the whole repr


@functools.cache
def _float_fields(kind: type) -> tuple[tuple[str, Callable[[Any], Any]], ...] | None:
    """The fields of a dataclass that can hold a float, each with its ``_float_reader``;
    None when there are none."""
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):  # an annotation that cannot be resolved: compare every field by repr
        return tuple((f.name, repr) for f in fields(kind))
    readers = tuple((f.name, reader) for f in fields(kind) if (reader := _float_reader(hints.get(f.name, Any))) is not None)
    return readers or None


def _same_record(before: Any, record: Any) -> bool:
    """Whether two records give the same digest, told without taking it: the same object,
    or equal with the same floats (== alone would call 0.0 and -0.0 the same)."""
    if before is record:
        return True
    if type(before) is not type(record) or before != record:
        return False
    for name, read in _float_fields(type(record)) or ():
        mine, theirs = getattr(before, name), getattr(record, name)
        if mine is not theirs and read(mine) != read(theirs):
            return False
    return True


# marshal format 2 writes every string as its UTF-8 bytes, shared or interned or not (from
# format 3 on, a repeated object becomes a back-reference and an interned string is marked),
# so equal values give equal bytes however the collection was made or loaded. It copies
# strings where JSON and repr scan every character, and most of what is hashed is text.
_MARSHAL_WITHOUT_REFERENCES = 2


def _digest(value: Any) -> str:
    return hashlib.sha256(marshal.dumps(value, _MARSHAL_WITHOUT_REFERENCES)).hexdigest()


# ---------------------------------------------------------------- the renderer

Job = Callable[[], "str | bytes"]
# What a worker's share of the pages gives back: the pages, the items it made (id ->
# (item digest, item)) and their HTML (id, item digest, root, HTML).
_Part = tuple[list[Page], dict[str, tuple[str, "DispatchItem"]], list[tuple[str, str, str, Markup]]]


R = TypeVar("R", Source, Article, Dispatch)


@dataclass(eq=False)
class RenderMemo:
    """What one render leaves for the next to skip: digests, keys and catalog lines.

    Each is kept with what it was computed from: a record's digest with the record
    itself (records are frozen, and the memo's reference keeps the object, so ``is``
    proves it unchanged), the keys of a group of pages with the group's signature (see
    ``_Renderer.group``), compared with ==: signatures hold strings, whole numbers,
    booleans and None, never a float, so equal signatures give equal keys. A memo made
    under another site key or config is not used.
    """

    site_key: str
    config: Config
    sources: dict[str, tuple[Source, str]]  # id -> (the record, its digest)
    articles: dict[str, tuple[Article, str]]
    dispatches: dict[str, tuple[Dispatch, str]]
    items: dict[str, tuple[str, tuple[str | None, ...], str]]  # id -> (dispatch digest, its witnesses' files, item digest)
    # A group of pages (or one page, named by its path) -> (its signature, the (path, key)
    # of each of its pages, the names of the groups inside it)
    groups: dict[Hashable, tuple[Any, tuple[tuple[str, str], ...], tuple[Hashable, ...]]]
    slugs: dict[str, tuple[tuple[str, ...], dict[str, str]]]  # taxonomy -> (its terms, sorted; their slugs)
    catalog: layout.CatalogLines
    theme: Theme | None  # its templates, compiled
    # dispatch id -> (item digest, root -> the dispatch as dispatch_item.html shows it in a
    # list that far below the root); theme and config are the memo's own
    items_html: dict[str, tuple[str, dict[str, Markup]]]
    made_items: dict[str, tuple[str, DispatchItem]]  # id -> (item digest, the dispatch as lists show it)
    sitemap: dict[str, str]  # page path -> its line in the sitemap (see feeds.sitemap_files)
    compiled: dict[str, bytes]  # the theme's templates, compiled (see theme.CompiledTemplates)

    def __getstate__(self) -> dict[str, Any]:
        # A theme holds compiled code objects, which do not pickle; ``compiled`` holds
        # them as bytes. The rest is kept: a memo read back from disk (the build command,
        # serve's start) would otherwise make the catalog's lines, the items' HTML and the
        # sitemap's lines again on its first render, seconds at 10,000 articles; stored,
        # the lines and the HTML are strings and bytes, which pickle as copies.
        return {**self.__dict__, "theme": None}


def _changed_entries(now: Mapping[str, tuple[Any, ...]], then: Mapping[str, tuple[Any, ...]], digest: int) -> set[str]:
    """The ids whose entry's digest (at place ``digest``) differs between two memos, or that only one has."""
    ids = {key for key, entry in now.items() if (old := then.get(key)) is None or old[digest] != entry[digest]}
    return ids | (then.keys() - now.keys())


def _record_digests(records: Iterable[R], previous: Mapping[str, tuple[R, str]]) -> dict[str, tuple[R, str]]:
    """Each record's id -> (the record, the digest of its fields), the digest taken from
    ``previous`` when it was computed from this very object or from one that gives the
    same digest (``_same_record``: each build makes its sources anew, and a memo read back
    from disk holds copies of the records the collection now has)."""
    digests: dict[str, tuple[R, str]] = {}
    for record in records:
        before = previous.get(record.id)
        if before is None or not _same_record(before[0], record):
            before = (record, _digest(_flat(record)))
        elif before[0] is not record:
            before = (record, before[1])  # the next render is handed this object: let it find it so
        digests[record.id] = before
    return digests


@dataclass(frozen=True)
class RenderedSite:
    """What one render produced: the pages it rendered, and the key of every page it owns.

    ``keys`` holds every output path the render is responsible for, rendered this time or
    not; a page whose key is unchanged since the last render has the same bytes.
    ``memo`` is for the next render's ``previous``.
    """

    pages: tuple[Page, ...]
    keys: Mapping[str, str]
    memo: RenderMemo


class _Renderer:
    """Plans every output (its path, its key, how to make it), then renders the ones asked for."""

    def __init__(self, collection: Collection, config: Config, site_key: str, previous: RenderMemo | None) -> None:
        if previous is not None and (previous.site_key != site_key or previous.config != config):
            previous = None
        self.collection = collection
        self.config = config
        self.site_key = site_key
        compiled = previous.compiled if previous is not None else {}
        self.theme = previous.theme if previous is not None and previous.theme is not None else Theme(config, compiled)
        self.sources = sorted(collection.sources, key=lambda source: source.id)
        self.source_by_id = {source.id: source for source in collection.sources}
        self.text_by_id = {text.source.id: text for text in collection.texts}
        self.article_by_id = {article.id: article for article in collection.articles}
        self.articles_of = layout.articles_by_source(collection.articles)
        self.dispatch_by_id = {dispatch.id: dispatch for dispatch in collection.dispatches}
        self.newest = newest_first(collection.dispatches)
        self.dispatches = sorted(collection.dispatches, key=lambda dispatch: dispatch.id)
        self.moment = build_time(collection)
        # Each taxonomy: term -> its dispatches (newest first), and term -> folder name.
        self.members: dict[str, dict[str, list[Dispatch]]] = {}
        self.slugs: dict[str, dict[str, str]] = {}
        # (taxonomy, term) of each term whose slug is not the last render's; None: no last render.
        self.slugs_changed: set[tuple[str, str]] | None = set()
        self.slug_memo: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
        # Each taxonomy: dispatch id -> its terms, in the order of self.newest.
        self.terms: dict[str, dict[str, tuple[str, ...]]] = {}
        for taxonomy in TAXONOMIES:
            members: dict[str, list[Dispatch]] = {}
            terms_of = taxonomy.terms_of
            terms = self.terms[taxonomy.folder] = {dispatch.id: terms_of(dispatch) for dispatch in self.newest}
            for dispatch, names in zip(self.newest, terms.values()):  # dispatch ids are unique
                for term in names if len(names) < 2 else dict.fromkeys(names):
                    shared = members.get(term)
                    if shared is None:
                        members[term] = [dispatch]
                    else:
                        shared.append(dispatch)
            self.members[taxonomy.folder] = members
            names = tuple(sorted(members))
            known = previous.slugs.get(taxonomy.folder) if previous is not None else None
            self.slugs[taxonomy.folder] = known[1] if known is not None and known[0] == names else term_slugs(names)
            self.slug_memo[taxonomy.folder] = (names, self.slugs[taxonomy.folder])
            if known is None:
                self.slugs_changed = None
            elif self.slugs_changed is not None and known[1] is not self.slugs[taxonomy.folder]:
                slugs = self.slugs[taxonomy.folder]
                self.slugs_changed.update(
                    (taxonomy.folder, term) for term in known[1].keys() | slugs.keys() if known[1].get(term) != slugs.get(term)
                )
        # What each record contributes to the keys of the pages that show it. A source's
        # cleaned text is not hashed: clean() makes it from the source alone and the code
        # is in site_key (hashing 420,000 cleaning changes at 10,000 articles cost a second).
        before = previous or RenderMemo(site_key, config, {}, {}, {}, {}, {}, {}, {}, None, {}, {}, {}, compiled)
        dispatches = _record_digests(collection.dispatches, before.dispatches)
        self.memo = RenderMemo(
            site_key,
            config,
            sources=_record_digests(collection.sources, before.sources),
            articles=_record_digests(collection.articles, before.articles),
            dispatches=dispatches,
            items=self._item_digests(dispatches, before.items),
            groups={},  # filled as the pages are planned
            slugs=self.slug_memo,
            catalog=before.catalog,  # replaced when the catalog is made again
            theme=self.theme,
            items_html={},
            made_items={},  # filled below
            sitemap=dict(before.sitemap),  # updated when the sitemap is made again
            compiled=compiled,
        )
        self.source_digest = {key: digest for key, (_, digest) in self.memo.sources.items()}
        self.article_digest = {key: digest for key, (_, digest) in self.memo.articles.items()}
        self.dispatch_digest = {key: digest for key, (_, digest) in self.memo.dispatches.items()}
        self.item_digest = {key: digest for key, (_, _, digest) in self.memo.items.items()}
        # The dispatches whose item is not the last render's (or is gone): what the last
        # render made of the others, items and their HTML, is taken as it is.
        self.items_changed = _changed_entries(self.memo.items, before.items, 2)
        self.memo.made_items = dict(before.made_items)
        self.memo.items_html = dict(before.items_html)
        for dispatch_id in self.items_changed:
            self.memo.made_items.pop(dispatch_id, None)
            self.memo.items_html.pop(dispatch_id, None)
        self.previous_groups = before.groups
        self.previous = previous  # None: nothing to take from
        self.before = before
        # What this renderer added to the memo's items and their HTML: a forked worker
        # sends its additions back with its pages.
        self.fresh_items: list[str] = []
        self.fresh_html: list[tuple[str, str]] = []  # (dispatch id, root)
        # path -> (key, job); filled by plan_all().
        self.plan: dict[str, tuple[str, Job]] = {}
        self.clashes: list[str] = []
        self.source_signature: dict[str, tuple[Any, ...]] = {}  # source id -> what its page is planned from
        # Outputs whose making fills the memo: made in this process when others render in workers.
        self.made_here = {layout.CATALOG_PATH}
        # The groups being planned, innermost last: the (path, key) of their pages and the
        # names of the groups inside them.
        self.frames: list[tuple[list[tuple[str, str]], list[Hashable]]] = []
        self.capturing: dict[str, Job] | None = None  # the jobs of a group planned again for them

    def _item_digests(
        self,
        dispatches: Mapping[str, tuple[Dispatch, str]],
        previous: Mapping[str, tuple[str, tuple[str | None, ...], str]],
    ) -> dict[str, tuple[str, tuple[str | None, ...], str]]:
        """The digest of everything ``_item`` reads, for each dispatch; kept from ``previous``
        when the dispatch's digest is the same and its witnesses come from the same files."""
        digests = {}
        articles = self.article_by_id
        for dispatch in self.collection.dispatches:
            files = tuple([articles[w].source if w in articles else None for w in dispatch.witnesses])
            digest = dispatches[dispatch.id][1]
            before = previous.get(dispatch.id)
            if before is None or before[0] != digest or before[1] != files:
                before = (digest, files, _digest(self._item_inputs(dispatch, files)))
            digests[dispatch.id] = before
        return digests

    @staticmethod
    def _item_inputs(dispatch: Dispatch, files: tuple[str | None, ...]) -> tuple[Any, ...]:
        """Everything ``_item`` reads, without building the item (its href costs a quote())."""
        first = dispatch.paragraphs[0][:81] if dispatch.paragraphs else ""
        return (dispatch.id, dispatch.title, _flat(dispatch.date), dispatch.agency, files, first)

    # -------------------------------------------------------------- helpers

    def add(self, path: str, inputs: Any, job: Job) -> None:
        """Plan one output: ``inputs`` must hold everything its bytes depend on but the site."""
        if self.capturing is not None:
            self.capturing[path] = job
            return
        before = self.previous_groups.get(path)
        if before is None or before[0] != inputs:
            before = (inputs, ((path, _digest((self.site_key, path, inputs))),), ())
        self._keep(path, before)
        self._enter(path, before[1][0][1], job)

    def group(self, name: Hashable, signature: Any, plan: Callable[[], None]) -> None:
        """Plan the outputs ``plan`` adds (and the groups it plans), whose paths and inputs
        ``signature`` determines.

        When the last render planned the group ``name`` from an equal signature, its
        keys are taken as they were, and ``plan`` runs only when one of its pages is
        rendered. So ``plan`` must make its pages' paths and inputs from ``signature``
        (and ``name``) alone; what it renders may come from anywhere.
        """
        if self.capturing is not None:
            plan()
            return
        before = self.previous_groups.get(name)
        if before is not None and before[0] == signature:
            self._keep(name, before)
            for inner in before[2]:  # for when this group changes and they do not
                self.memo.groups[inner] = self.previous_groups[inner]
            deferred = _Deferred(self, plan)
            for path, key in before[1]:
                self._enter(path, key, functools.partial(deferred.run, path))
            return
        self.frames.append(([], []))
        plan()
        entries, inner = self.frames.pop()
        self._keep(name, (signature, tuple(entries), tuple(inner)))

    def put(self, path: str, inputs: Any, job: Job) -> None:
        """Plan one output of the group being planned (see ``group``)."""
        if self.capturing is not None:
            self.capturing[path] = job
            return
        key = _digest((self.site_key, path, inputs))
        self.frames[-1][0].append((path, key))
        self._enter(path, key, job)

    def _keep(self, name: Hashable, entry: tuple[Any, tuple[tuple[str, str], ...], tuple[Hashable, ...]]) -> None:
        """Put a group (or a page) in the memo, and its pages and name in the group it is in."""
        self.memo.groups[name] = entry
        if self.frames:
            entries, inner = self.frames[-1]
            entries.extend(entry[1])
            inner.append(name)
            inner.extend(entry[2])

    def _enter(self, path: str, key: str, job: Job) -> None:
        if path in self.plan:
            self.clashes.append(path)
        self.plan[path] = (key, job)

    def jobs_of(self, plan: Callable[[], None]) -> dict[str, Job]:
        """What each output of a group planned from an unchanged signature is made by."""
        self.capturing = {}
        try:
            plan()
            return self.capturing
        finally:
            self.capturing = None

    def item(self, dispatch_id: str) -> DispatchItem:
        """A dispatch as lists show it, made the first time a page needs it."""
        digest = self.item_digest[dispatch_id]
        made = self.memo.made_items.get(dispatch_id)
        if made is None or made[0] != digest:
            made = self.memo.made_items[dispatch_id] = (digest, self._item(self.dispatch_by_id[dispatch_id]))
            self.fresh_items.append(dispatch_id)
        return made[1]

    def items_html(self, items: Iterable[DispatchItem], path: str) -> tuple[Markup, ...]:
        """Each item through dispatch_item.html, rendered once per page depth and reused."""
        root = _root(path)
        template = self.theme.template("dispatch_item.html")
        rendered = []
        for item in items:
            digest = self.item_digest[item.id]
            made = self.memo.items_html.get(item.id)
            if made is None or made[0] != digest:
                made = self.memo.items_html[item.id] = (digest, {})
            html = made[1].get(root)
            if html is None:
                html = made[1][root] = Markup(template.render(item=item, root=root, site=self.config))
                self.fresh_html.append((item.id, root))
            rendered.append(html)
        return tuple(rendered)

    def term_link(self, folder: str, term: str) -> Link:
        return Link(term, f"{folder}/{self.slugs[folder][term]}/index.html", len(self.members[folder][term]))

    def term_target(self, folder: str, term: str) -> Link:
        return Link(term, f"{folder}/{self.slugs[folder][term]}/index.html")

    def language_of(self, source: Source) -> str:
        return source.sidecar.language or self.config.language

    def _item(self, dispatch: Dispatch) -> DispatchItem:
        path = layout.dispatch_path(dispatch.id)
        sources = []
        for witness in dispatch.witnesses:
            article = self.article_by_id.get(witness)
            if article is not None and article.source not in sources:
                sources.append(article.source)
        return DispatchItem(
            id=dispatch.id,
            title=dispatch.title,
            path=path,
            href=layout.href(path),
            date=dispatch.date,
            date_label=date_label(dispatch.date),
            agency=dispatch.agency,
            witnesses=len(dispatch.witnesses),
            sources=tuple(sources),
            excerpt=_excerpt(dispatch, 80),
        )

    def html(self, template: str, path: str, title: str, section: str, **context: Any) -> str:
        context.update(
            site=self.config,
            root=_root(path),
            page_title=title,
            lang=context.pop("lang", self.config.language),
            page_path=path,
            section=section,
        )
        return self.theme.render(template, context)

    @staticmethod
    def _links(links: Iterable[Link]) -> tuple[tuple[str, str, int], ...]:
        return tuple((link.label, link.path, link.count) for link in links)

    def plan_dispatch_list(
        self, dispatches: Sequence[Dispatch], folder: str, title: str, section: str, breadcrumbs: tuple[Link, ...]
    ) -> None:
        item_digest = self.item_digest
        signature = (title, section, self._links(breadcrumbs), tuple([item_digest[d.id] for d in dispatches]))
        plan = functools.partial(self._plan_dispatch_list, signature, dispatches, folder, breadcrumbs)
        self.group(("list", folder), signature, plan)

    def _plan_dispatch_list(
        self, signature: tuple[Any, ...], dispatches: Sequence[Dispatch], folder: str, breadcrumbs: tuple[Link, ...]
    ) -> None:
        title, section, crumbs, digests = signature
        size = self.config.page_size
        for path, shown, number, count in pages_of(dispatches, size, folder):
            self.put(
                path,
                (title, section, crumbs, len(digests), number, count) + digests[(number - 1) * size : number * size],
                functools.partial(
                    self.listing, "list.html", path, folder, title, section, shown, number, count,
                    len(dispatches), breadcrumbs,
                ),
            )

    def listing(
        self,
        template: str,
        path: str,
        folder: str,
        heading: str,
        section: str,
        shown: Sequence[Dispatch],
        number: int,
        count: int,
        total: int,
        breadcrumbs: tuple[Link, ...],
        **extra: Any,
    ) -> str:
        """One page of a list of dispatches (list.html, dates.html)."""
        items = [self.item(dispatch.id) for dispatch in shown]
        items_html = self.items_html(items, path)
        return self.html(
            template,
            path,
            heading if number == 1 else f"{heading}（第{number}页）",
            section,
            heading=heading,
            items=items,
            items_html=items_html,
            # The same, joined: a template loop over them costs an escape() per item, and the
            # lists shifted by one new dispatch are hundreds of pages of them.
            items_block=Markup("\n".join(items_html) + "\n" if items_html else ""),
            total=total,
            pagination=pagination(folder, number, count),
            breadcrumbs=breadcrumbs,
            **extra,
        )

    # -------------------------------------------------------------- sources

    def plan_sources(self) -> None:
        article_digest, item_digest = self.article_digest, self.item_digest
        for source in self.sources:
            articles = self.articles_of.get(source.id, [])
            signature = (
                self.source_digest[source.id],
                tuple([article_digest[article.id] for article in articles]),
                tuple([item_digest.get(article.dispatch) for article in articles if article.dispatch]),
            )
            self.source_signature[source.id] = signature
            self.group(("source", source.id), signature, functools.partial(self._plan_source, signature, source))

    def _plan_source(self, signature: tuple[Any, ...], source: Source) -> None:
        # The source's digest covers its id, file name and sha256, which the paths and the
        # raw file's key are made from.
        own, dispatches = signature[:2], signature[2]
        self.put(layout.raw_path(source), source.sha256, functools.partial(operator.attrgetter("raw"), source))
        self.put(layout.markdown_path(source.id), own, functools.partial(self.source_markdown_file, source))
        self.put(layout.source_path(source.id), (own, dispatches), functools.partial(self.source_page, source))

    def _text_of(self, source: Source) -> Text:
        # A source without a cleaned text has nothing to show but its bytes.
        return self.text_by_id.get(source.id) or Text(source=source, blocks=(), changes=(), flags=())

    def source_markdown_file(self, source: Source) -> str:
        articles = self.articles_of.get(source.id, [])
        return source_markdown(self._text_of(source), articles, self.language_of(source))

    def source_page(self, source: Source) -> str:
        text = self._text_of(source)
        articles = self.articles_of.get(source.id, [])
        language = self.language_of(source)
        sections = tuple(
            ArticleSection(
                article=article,
                anchor=layout.anchor(article.id),
                lang=language if language != self.config.language else None,
                date_label=date_label(article.date),
                body=Markup(article_body_html(article)),
                dispatch=self.item(article.dispatch) if article.dispatch in self.dispatch_by_id else None,
            )
            for article in articles
        )
        raw = layout.raw_path(source)
        markdown = layout.markdown_path(source.id)
        change_kinds = sorted(Counter(change.kind for change in text.changes).items())
        return self.html(
            "source.html",
            layout.source_path(source.id),
            source.file,
            "sources",
            source=source,
            text=text,
            size=len(source.raw),
            source_lang=language,
            sections=sections,
            change_kinds=tuple(change_kinds),
            change_rows=change_rows(text.changes),
            raw=Link(source.file.rsplit("/", 1)[-1], raw),
            markdown=Link(markdown.rsplit("/", 1)[-1], markdown),
            breadcrumbs=(Link("来源", "sources/index.html"),),
        )

    def plan_source_index(self) -> None:
        entries = [
            (source, Link(source.file, layout.source_path(source.id), len(self.articles_of.get(source.id, []))))
            for source in self.sources
        ]
        skipped = tuple(sorted(self.collection.skipped, key=lambda skip: skip.file))
        for path, shown, number, count in pages_of(entries, self.config.page_size, "sources"):
            first = number == 1
            inputs = (
                len(entries),
                number,
                count,
                tuple((self.source_digest[source.id], link.count) for source, link in shown),
                _flat(skipped) if first else (),
            )
            self.add(
                path,
                inputs,
                functools.partial(
                    self.html,
                    "sources.html",
                    path,
                    "来源" if first else f"来源（第{number}页）",
                    "sources",
                    heading="来源",
                    entries=shown,
                    total=len(entries),
                    skipped=skipped if first else (),
                    pagination=pagination("sources", number, count),
                    breadcrumbs=(),
                ),
            )

    # -------------------------------------------------------------- dispatches

    def _dispatch_pages_to_plan(self) -> set[str] | None:
        """The dispatches whose page's inputs (see ``plan_dispatches``) may differ from the
        last render's: those whose digest, a witness's or its source's, a related item's or
        a term's slug changed. None: every one (no last render to compare with)."""
        if self.previous is None or self.slugs_changed is None:
            return None
        before = self.before
        dirty = _changed_entries(self.memo.dispatches, before.dispatches, 1)
        articles = _changed_entries(self.memo.articles, before.articles, 1)
        for source_id in _changed_entries(self.memo.sources, before.sources, 1):
            articles.update(article.id for article in self.articles_of.get(source_id, []))
        items = self.items_changed
        if articles or items:
            for dispatch in self.dispatches:
                if not articles.isdisjoint(dispatch.witnesses) or any(link.dispatch in items for link in dispatch.related):
                    dirty.add(dispatch.id)
        for folder, term in self.slugs_changed:
            dirty.update(dispatch.id for dispatch in self.members[folder].get(term, ()))
        return dirty

    def plan_dispatches(self) -> None:
        # Each term with its folder, as a dispatch page links to it (without its count: see dispatch_page).
        taxonomies = [(self.terms[taxonomy.folder], self.slugs[taxonomy.folder]) for taxonomy in TAXONOMIES]
        article_by_id, article_digest, source_digest = self.article_by_id, self.article_digest, self.source_digest
        dispatch_digest, item_digest = self.dispatch_digest, self.item_digest
        dirty = self._dispatch_pages_to_plan()
        previous_groups, groups, plan, clashes = self.previous_groups, self.memo.groups, self.plan, self.clashes
        assert not self.frames, "dispatch pages are planned outside any group"
        for dispatch in self.dispatches:
            if dirty is not None and dispatch.id not in dirty:
                # Every input of its page is as the last render planned it from: _keep and
                # _enter, inlined (ten thousand pages, most of them kept, on every render).
                path = layout.dispatch_path(dispatch.id)
                before = groups[path] = previous_groups[path]
                if path in plan:
                    clashes.append(path)
                plan[path] = (before[1][0][1], functools.partial(self.dispatch_page, dispatch))
                continue
            witnesses = [article_by_id.get(witness) for witness in dispatch.witnesses]
            inputs = (
                dispatch_digest[dispatch.id],
                tuple([article_digest[a.id] if a else None for a in witnesses]),
                tuple([source_digest.get(a.source_id) if a else None for a in witnesses]),
                tuple([item_digest.get(link.dispatch) for link in dispatch.related]),
                tuple([(term, slugs[term]) for terms, slugs in taxonomies for term in terms[dispatch.id]]),
            )
            self.add(layout.dispatch_path(dispatch.id), inputs, functools.partial(self.dispatch_page, dispatch))

    def dispatch_page(self, dispatch: Dispatch) -> str:
        numbered = numbered_variants(dispatch)
        witnesses: list[Witness] = []
        for siglum, article_id in zip(sigla(len(dispatch.witnesses)), dispatch.witnesses):
            article = self.article_by_id[article_id]
            comparison, insertions, omissions, changes = witness_comparison(dispatch, numbered, article_id)
            path = layout.article_path(article)
            witnesses.append(
                Witness(
                    siglum=siglum,
                    article=article,
                    source=self.source_by_id[article.source_id],
                    path=path,
                    href=layout.href(path),
                    date_label=date_label(article.date),
                    insertions=insertions,
                    omissions=omissions,
                    changes=changes,
                    comparison=comparison,
                )
            )
        by_id = {witness.article.id: witness for witness in witnesses}
        paragraph_starts = [0]
        for paragraph in dispatch.paragraphs[:-1]:
            paragraph_starts.append(paragraph_starts[-1] + len(paragraph) + 2)
        entries = []
        for number, variant in numbered:
            groups: dict[str, list[Witness]] = {}
            for reading in variant.readings:
                if reading.witness in by_id:
                    groups.setdefault(reading.text, []).append(by_id[reading.witness])
            entries.append(
                VariantEntry(
                    number=number,
                    variant=variant,
                    paragraph=sum(1 for start in paragraph_starts if start <= variant.position),
                    readings=tuple(
                        ReadingGroup(text, tuple(group), text == variant.consensus) for text, group in groups.items()
                    ),
                )
            )
        related = tuple(
            RelatedEntry(self.item(link.dispatch), link.reason, link.score)
            for link in dispatch.related
            if link.dispatch in self.dispatch_by_id
        )
        path = layout.dispatch_path(dispatch.id)
        languages = sorted({self.language_of(w.source) for w in witnesses})
        language = languages[0] if len(languages) == 1 else self.config.language
        return self.html(
            "dispatch.html",
            path,
            dispatch.title,
            "dispatches",
            lang=language,
            dispatch=dispatch,
            item=self.item(dispatch.id),
            consensus=marked_consensus(dispatch, numbered),
            variants=tuple(entries),
            unsettled=sum(1 for _, variant in numbered if not variant.settled),
            witnesses=tuple(witnesses),
            related=related,
            # The terms' links carry no counts: with them, one dispatch gaining a keyword
            # would change the page of every other dispatch that has it.
            agency=self.term_target("agencies", dispatch.agency) if dispatch.agency else None,
            people=tuple(self.term_target("people", person) for person in dict.fromkeys(dispatch.people)),
            keywords=tuple(self.term_target("keywords", keyword) for keyword in dict.fromkeys(dispatch.keywords)),
            json_ld=_json_for_script(self._json_ld(dispatch, witnesses, language)),
            breadcrumbs=(Link("电讯", "dispatches/index.html"),),
        )

    def _json_ld(self, dispatch: Dispatch, witnesses: Sequence[Witness], language: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": dispatch.title,
            "identifier": dispatch.id,
            "inLanguage": language,
            "url": absolute_url(self.config, layout.dispatch_path(dispatch.id)),
            "description": _excerpt(dispatch, 160),
            "isPartOf": {"@type": "WebSite", "name": self.config.title},
            "isBasedOn": [absolute_url(self.config, witness.path) for witness in witnesses],
        }
        day = full_date(dispatch.date)
        if day:
            data["datePublished"] = day
        if dispatch.keywords:
            data["keywords"] = list(dispatch.keywords)
        if dispatch.people:
            data["mentions"] = [{"@type": "Person", "name": person} for person in dispatch.people]
        if dispatch.agency:
            data["sourceOrganization"] = {"@type": "Organization", "name": dispatch.agency}
        if dispatch.place:
            data["contentLocation"] = {"@type": "Place", "name": dispatch.place}
        return data

    # -------------------------------------------------------------- browsing

    def date_tree(self) -> DateNode:
        top = DateNode("日期", "dates/index.html", ())
        # Thousands of dispatches share a few hundred dates: each date's node is found once
        # (when its first dispatch creates it, so the children's order is the same).
        node_of: dict[str | None, DateNode] = {}
        for dispatch in sorted(self.collection.dispatches, key=_dispatch_order):
            value = dispatch.date.value
            node = node_of.get(value)
            if node is None:
                node = node_of[value] = self._date_node(top, value)
            node.dispatches.append(dispatch)
        return top

    def _date_node(self, top: DateNode, value: str | None) -> DateNode:
        """The node of the tree under ``top`` where a dispatch dated ``value`` goes, made when missing."""
        parts = date_parts(value)
        if parts is None:
            return self._child(top, UNDATED, "日期不详")
        year, month, day = parts
        node = self._child(top, year or UNKNOWN_YEAR, f"{year}年" if year else "年份不详")
        if month:
            node = self._child(node, month, f"{int(month)}月")
            if day:
                node = self._child(node, day, f"{int(day)}日")
        return node

    @staticmethod
    def _child(node: DateNode, key: str, label: str) -> DateNode:
        if key not in node.children:
            parts = node.parts + (key,)
            node.children[key] = DateNode(label, "dates/" + "/".join(parts) + "/index.html", parts)
        return node.children[key]

    def plan_dates(self, node: DateNode, trail: tuple[Link, ...]) -> None:
        if node.parts:
            keys = sorted(node.children)
        else:
            # Known years newest first, then the year-unknown and undated groups.
            special = (UNKNOWN_YEAR, UNDATED)
            keys = sorted((k for k in node.children if k not in special), reverse=True)
            keys += [k for k in special if k in node.children]
        children = tuple(Link(node.children[k].label, node.children[k].path, node.children[k].total()) for k in keys)
        heading = "".join(link.label for link in trail[1:]) + node.label if node.parts else node.label
        own = sorted(node.dispatches, key=lambda d: d.id)
        folder = node.path.rsplit("/", 1)[0]
        item_digest = self.item_digest
        signature = (heading, self._links(children), self._links(trail), node.total(), tuple([item_digest[d.id] for d in own]))
        self.group(("dates", folder), signature, functools.partial(self._plan_date_pages, signature, own, folder, children, trail))
        below = trail + (Link(node.label, node.path),)
        for key in keys:
            child = node.children[key]
            if node.parts:
                self.plan_dates(child, below)
                continue
            # Each year (and the year-unknown and undated groups) is planned from what it
            # holds: one dispatch more leaves the other years' pages as they were.
            members = tuple([(d.id, item_digest[d.id], d.date.value) for d in child.members()])
            self.group(("date-tree", key), (self._links(below), members), functools.partial(self.plan_dates, child, below))

    def _plan_date_pages(
        self, signature: tuple[Any, ...], own: Sequence[Dispatch], folder: str, children: tuple[Link, ...], trail: tuple[Link, ...]
    ) -> None:
        heading, child_links, trail_links, total, digests = signature
        size = self.config.page_size
        for path, shown, number, count in pages_of(own, size, folder):
            first = number == 1
            inputs = (heading, child_links if first else (), trail_links, total, number, count)
            self.put(
                path,
                inputs + digests[(number - 1) * size : number * size],
                functools.partial(
                    self.listing, "dates.html", path, folder, heading, "dates", shown, number, count, total, trail,
                    children=children if first else (),
                ),
            )

    def plan_taxonomy(self, taxonomy: Taxonomy) -> None:
        # The index and every term's list are made of the terms each dispatch has, in the
        # order of self.newest, and of what lists show of it.
        item_digest = self.item_digest
        terms = self.terms[taxonomy.folder]  # in the order of self.newest
        signature = tuple([(id_, item_digest[id_], names) for id_, names in terms.items() if names])
        self.group(("taxonomy", taxonomy.folder), signature, functools.partial(self._plan_taxonomy, taxonomy))

    def _plan_taxonomy(self, taxonomy: Taxonomy) -> None:
        members = self.members[taxonomy.folder]
        slugs = self.slugs[taxonomy.folder]
        terms = sorted(members, key=lambda term: (-len(members[term]), term))
        signature = (taxonomy.title, tuple([(term, slugs[term], len(members[term])) for term in terms]))
        self.group(("terms", taxonomy.folder), signature, functools.partial(self._plan_term_index, taxonomy, terms))
        index_crumbs = (Link(taxonomy.title, f"{taxonomy.folder}/index.html"),)
        for term in terms:
            self.plan_dispatch_list(
                members[term],
                f"{taxonomy.folder}/{slugs[term]}",
                taxonomy.term_title.format(term=term),
                taxonomy.folder,
                index_crumbs,
            )

    def _plan_term_index(self, taxonomy: Taxonomy, terms: Sequence[str]) -> None:
        # Each link is made of a term, its slug and its count: the group's signature.
        links = [self.term_link(taxonomy.folder, term) for term in terms]
        for path, shown, number, count in pages_of(links, self.config.page_size, taxonomy.folder):
            first = number == 1
            self.put(
                path,
                (taxonomy.title, len(links), number, count, self._links(shown)),
                functools.partial(
                    self.html,
                    "terms.html",
                    path,
                    taxonomy.title if first else f"{taxonomy.title}（第{number}页）",
                    taxonomy.folder,
                    heading=taxonomy.title,
                    terms=shown,
                    total=len(links),
                    pagination=pagination(taxonomy.folder, number, count),
                    breadcrumbs=(),
                ),
            )

    # -------------------------------------------------------------- the rest

    def plan_home(self) -> None:
        days = [day for day in (full_date(d.date) for d in self.collection.dispatches) if day]
        latest = self.newest[:HOME_LATEST]
        shown = self.sources[: self.config.page_size]
        sources = tuple(
            Link(source.file, layout.source_path(source.id), len(self.articles_of.get(source.id, []))) for source in shown
        )
        counts = {
            "sources": len(self.collection.sources),
            "articles": len(self.collection.articles),
            "dispatches": len(self.collection.dispatches),
            "reprinted": sum(1 for d in self.collection.dispatches if len(d.witnesses) > 1),
            "skipped": len(self.collection.skipped),
        }
        first_day = date_label(DateInfo(min(days), "day", None)) if days else None
        last_day = date_label(DateInfo(max(days), "day", None)) if days else None
        more_sources = len(self.sources) > len(sources)
        inputs = (
            tuple(counts.items()),
            first_day,
            last_day,
            self._links(sources),
            more_sources,
            tuple(self.item_digest[dispatch.id] for dispatch in latest),
        )

        def home() -> str:
            items = tuple(self.item(dispatch.id) for dispatch in latest)
            return self.html(
                "home.html",
                "index.html",
                self.config.title,
                "home",
                counts=counts,
                first_day=first_day,
                last_day=last_day,
                sources=sources,
                more_sources=more_sources,
                latest=items,
                latest_html=self.items_html(items, "index.html"),
            )

        self.add("index.html", inputs, home)

    def plan_data_files(self) -> None:
        """The sitemap, catalog, feed, robots.txt and the theme's static files."""
        # First: the sitemap lists every page planned before it (the theme's files are not pages).
        html_pages = sorted(path for path in self.plan if path.endswith(".html") and path != NOT_FOUND_PATH)
        sitemaps = functools.cache(lambda: sitemap_files(html_pages + [SEARCH_PATH], self.config, self.memo.sitemap))
        for path in sitemap_paths(len(html_pages) + 1):
            self.add(path, tuple(html_pages), functools.partial(lambda name: sitemaps()[name], path))
            self.made_here.add(path)
        self.add(
            layout.CATALOG_PATH,
            (
                tuple(self.source_digest.values()),
                tuple(self.article_digest.values()),
                tuple(self.dispatch_digest.values()),
                _flat(self.collection.skipped),
            ),
            self.catalog_file,
        )
        newest = self.newest[: self.config.feed.limit]
        self.add(
            FEED_PATH,
            (self.moment.isoformat(), tuple(self.dispatch_digest[d.id] for d in newest)),
            lambda: atom_feed(self.collection, self.config, self.moment),
        )
        self.add(ROBOTS_PATH, (), lambda: robots_txt(self.config))
        for path, content in self.theme.static_files().items():
            self.add(f"static/{path}", hashlib.sha256(content).hexdigest(), functools.partial(bytes, content))

    def catalog_file(self) -> bytes:
        # A record's line is kept while its digest (which covers every field an entry
        # shows) is the same, and a source's while its articles' are too (its page's
        # signature holds both).
        stamps = {
            "sources": self.source_signature,
            "articles": self.article_digest,
            "dispatches": self.dispatch_digest,
        }
        with collector.paused():  # a tuple per record, and no cycle (see the import)
            content, self.memo.catalog = layout.encoded_catalog(self.collection, self.memo.catalog, stamps, self.articles_of)
        return content

    def plan_all(self) -> None:
        self.plan_home()
        self.plan_source_index()
        self.plan_dispatch_list(self.newest, "dispatches", "全部电讯", "dispatches", ())
        self.add(NOT_FOUND_PATH, (), lambda: self.html("404.html", NOT_FOUND_PATH, "找不到此页", ""))
        self.plan_sources()
        self.plan_dispatches()
        item_digest = self.item_digest
        dates = tuple([(d.id, item_digest[d.id], d.date.value) for d in self.collection.dispatches])
        self.group("dates", dates, lambda: self.plan_dates(self.date_tree(), ()))
        for taxonomy in TAXONOMIES:
            self.plan_taxonomy(taxonomy)
        self.plan_data_files()
        if self.clashes:
            raise layout.LayoutError(f"two outputs would be written to {min(self.clashes)}")

    # -------------------------------------------------------------- the work

    def run(self, paths: Sequence[str]) -> list[Page]:
        pages = []
        for path in paths:
            content = self.plan[path][1]()
            pages.append(Page(path, content.encode("utf-8") if isinstance(content, str) else content))
        return pages

    def run_part(self, paths: Sequence[str]) -> _Part:
        """``run`` in a forked worker: the pages, and what it added to the memo's items."""
        self.fresh_items.clear()
        self.fresh_html.clear()
        pages = self.run(paths)
        made, html = self.memo.made_items, self.memo.items_html
        return (
            pages,
            {key: made[key] for key in self.fresh_items},
            [(key, html[key][0], root, html[key][1][root]) for key, root in self.fresh_html],
        )

    def render(self, unchanged: Mapping[str, str] | None) -> RenderedSite:
        """Plan every output, then render those whose key is not in ``unchanged``.

        Call it with the cyclic collector paused (see the import), as ``render_site`` does:
        the plan is tens of thousands of jobs and tuples, and the collector walked them
        all once it ran again (a tenth of a second of every incremental render at
        10,000 articles). A few pages are rendered in the pause, and the plan is freed
        before it ends, by reference counting: what is left for the collector is what
        those pages made, cycles a template may leave included. Many pages are rendered
        with it running, on forked workers.
        """
        self.plan_all()
        keys = {path: key for path, (key, _) in self.plan.items()}
        if unchanged is None:
            wanted = list(self.plan)
        else:
            wanted = [path for path, key in keys.items() if unchanged.get(path) != key]
        workers = min(os.cpu_count() or 1, _MAX_WORKERS)
        pages: list[Page] = []
        if len(wanted) < _PARALLEL_MIN:
            pages = self.run(wanted)
        elif workers < 2 or not _CAN_FORK:
            with collector.running():
                pages = self.run(wanted)
        else:
            global _ACTIVE
            # Forked workers inherit this renderer (collection, plan and compiled templates)
            # as it is; only lists of paths go out, and only the finished pages come back.
            # Templates compiled here are compiled once, not once in each worker.
            for name in self.theme.environment.list_templates():
                self.theme.template(name)
            _ACTIVE = self
            # The catalog and the sitemap are made here, while the workers run: their lines go into the memo.
            here = [path for path in wanted if path in self.made_here]
            elsewhere = [path for path in wanted if path not in self.made_here]
            chunks = [elsewhere[start : start + _CHUNK] for start in range(0, len(elsewhere), _CHUNK)]
            try:
                with collector.running():  # the workers render thousands of pages
                    context = multiprocessing.get_context("fork")
                    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                        parts = pool.map(_run_active, chunks)
                        pages.extend(self.run(here))
                        for part, items, items_html in parts:
                            pages.extend(part)
                            self.memo.made_items.update(items)
                            for key, digest, root, html in items_html:
                                made = self.memo.items_html.get(key)
                                if made is None:  # (a worker made it under this render's digest: it cannot differ)
                                    made = self.memo.items_html[key] = (digest, {})
                                made[1][root] = html
            finally:
                _ACTIVE = None
        pages.sort(key=lambda page: page.path)
        # The jobs are bound to this renderer: dropping them breaks the cycle, so reference
        # counting frees the renderer now, not a collection that a frozen heap may never run.
        self.plan.clear()
        return RenderedSite(tuple(pages), keys, self.memo)


class _Deferred:
    """The jobs of a group whose keys were taken from the last render: planned when first needed."""

    def __init__(self, renderer: _Renderer, plan: Callable[[], None]) -> None:
        self.renderer = renderer
        self.plan = plan
        self.jobs: dict[str, Job] | None = None

    def run(self, path: str) -> str | bytes:
        if self.jobs is None:
            self.jobs = self.renderer.jobs_of(self.plan)
        return self.jobs[path]()


# Below this many pages to render, starting worker processes costs more than it saves.
_PARALLEL_MIN = 2000
_MAX_WORKERS = 8
# Pages per part handed to a worker.
_CHUNK = 200
_CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
_ACTIVE: _Renderer | None = None


def _run_active(paths: Sequence[str]) -> _Part:
    assert _ACTIVE is not None, "a render worker started without its renderer"
    return _ACTIVE.run_part(paths)


def render_site(
    collection: Collection,
    config: Config,
    *,
    site_key: str = "",
    unchanged: Mapping[str, str] | None = None,
    previous: RenderMemo | None = None,
) -> RenderedSite:
    """Every page, data file and theme asset of the site except search and the manifest.

    ``keys`` in the result gives every output path a key that changes whenever its
    bytes could; ``site_key`` is mixed into every key and must stand for what the keys
    leave out (the theme, the configuration, the generator's code, the environment).
    A page whose key equals ``unchanged[path]`` is not rendered; ``unchanged=None``
    renders them all. ``previous`` is the ``memo`` of an earlier render: what it
    computed from records and inputs that are still the same is not computed again,
    and its compiled theme is used when the site key and config are the ones it was
    made under. The result is the same with any ``previous`` or none.
    """
    with collector.paused():
        return _Renderer(collection, config, site_key, previous).render(unchanged)

