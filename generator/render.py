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

import json
import multiprocessing
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from markupsafe import Markup, escape

from . import catalog as layout
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
)
from .markdown_page import article_body_markdown, source_markdown, to_html
from .models import Article, Collection, DateInfo, Dispatch, Page, Source, Text, Variant
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

    def total(self) -> int:
        return len(self.dispatches) + sum(child.total() for child in self.children.values())


# ---------------------------------------------------------------- dates and names

_DATE_FORMS = (
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), (1, 2, 3)),
    (re.compile(r"--(\d{2})-(\d{2})"), (None, 1, 2)),
    (re.compile(r"(\d{4})-(\d{2})"), (1, 2, None)),
    (re.compile(r"(\d{4})"), (1, None, None)),
)
UNKNOWN_YEAR = "unknown-year"
UNDATED = "undated"


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


def _json_for_script(data: Any) -> Markup:
    """JSON that cannot close its <script> element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# ---------------------------------------------------------------- the renderer


def _excerpt(dispatch: Dispatch, length: int) -> str:
    first = dispatch.paragraphs[0] if dispatch.paragraphs else ""
    return first[:length] + ("…" if len(first) > length else "")


def _root(path: str) -> str:
    return "../" * path.count("/")


def paginate(items: Sequence[T], size: int, folder: str) -> list[tuple[str, Sequence[T], Pagination]]:
    """Split a list into pages: ``folder/index.html``, then ``folder/page/N/index.html``."""
    prefix = f"{folder}/" if folder else ""
    count = max(1, -(-len(items) // size))

    def page_path(number: int) -> str:
        return f"{prefix}index.html" if number == 1 else f"{prefix}page/{number}/index.html"

    pages = []
    for number in range(1, count + 1):
        shown = sorted({1, count, *range(max(1, number - 2), min(count, number + 2) + 1)})
        pagination = Pagination(
            number=number,
            count=count,
            previous=Link(str(number - 1), page_path(number - 1)) if number > 1 else None,
            next=Link(str(number + 1), page_path(number + 1)) if number < count else None,
            pages=tuple(Link(str(n), page_path(n)) for n in shown),
        )
        pages.append((page_path(number), items[(number - 1) * size : number * size], pagination))
    return pages


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


class _Renderer:
    def __init__(self, collection: Collection, config: Config) -> None:
        self.collection = collection
        self.config = config
        self.theme = Theme(config)
        self.pages: list[Page] = []
        self.sources = sorted(collection.sources, key=lambda source: source.id)
        self.source_by_id = {source.id: source for source in collection.sources}
        self.text_by_id = {text.source.id: text for text in collection.texts}
        self.article_by_id = {article.id: article for article in collection.articles}
        self.articles_of = layout.articles_by_source(collection.articles)
        self.dispatch_by_id = {dispatch.id: dispatch for dispatch in collection.dispatches}
        self.newest = newest_first(collection.dispatches)
        self.dispatches = sorted(collection.dispatches, key=lambda dispatch: dispatch.id)
        self.items = {dispatch.id: self._item(dispatch) for dispatch in collection.dispatches}
        self.moment = build_time(collection)
        self.item_template = self.theme.template("dispatch_item.html")
        self.item_cache: dict[tuple[str, str], Markup] = {}
        # Each taxonomy: term -> its dispatches (newest first), and term -> folder name.
        self.members: dict[str, dict[str, list[Dispatch]]] = {}
        self.slugs: dict[str, dict[str, str]] = {}
        for taxonomy in TAXONOMIES:
            members: dict[str, list[Dispatch]] = {}
            for dispatch in self.newest:
                for term in dict.fromkeys(taxonomy.terms_of(dispatch)):
                    members.setdefault(term, []).append(dispatch)
            self.members[taxonomy.folder] = members
            self.slugs[taxonomy.folder] = term_slugs(members)

    # -------------------------------------------------------------- helpers

    def items_html(self, items: Iterable[DispatchItem], path: str) -> tuple[Markup, ...]:
        """Each item through dispatch_item.html, rendered once per page depth and reused."""
        root = _root(path)
        rendered = []
        for item in items:
            key = (item.id, root)
            html = self.item_cache.get(key)
            if html is None:
                html = self.item_cache[key] = Markup(self.item_template.render(item=item, root=root, site=self.config))
            rendered.append(html)
        return tuple(rendered)

    def term_link(self, folder: str, term: str) -> Link:
        return Link(term, f"{folder}/{self.slugs[folder][term]}/index.html", len(self.members[folder][term]))

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

    def emit(self, path: str, content: str | bytes) -> None:
        self.pages.append(Page(path, content.encode("utf-8") if isinstance(content, str) else content))

    def html(self, template: str, path: str, title: str, section: str, **context: Any) -> None:
        context.update(
            site=self.config,
            root=_root(path),
            page_title=title,
            lang=context.pop("lang", self.config.language),
            page_path=path,
            section=section,
        )
        self.emit(path, self.theme.render(template, context))

    def dispatch_list_pages(
        self,
        dispatches: Sequence[Dispatch],
        folder: str,
        title: str,
        section: str,
        breadcrumbs: Sequence[Link],
        **extra: Any,
    ) -> None:
        items = [self.items[dispatch.id] for dispatch in dispatches]
        for path, shown, pagination in paginate(items, self.config.page_size, folder):
            heading = title if pagination.number == 1 else f"{title}（第{pagination.number}页）"
            self.html(
                "list.html",
                path,
                heading,
                section,
                heading=title,
                items=shown,
                items_html=self.items_html(shown, path),
                total=len(items),
                pagination=pagination,
                breadcrumbs=tuple(breadcrumbs),
                **extra,
            )

    # -------------------------------------------------------------- sources

    def source_pages(self, sources: Sequence[Source]) -> None:
        for source in sources:
            text = self.text_by_id.get(source.id)
            articles = self.articles_of.get(source.id, [])
            if text is None:
                # A source without a cleaned text has nothing to show but its bytes.
                text = Text(source=source, blocks=(), changes=(), flags=())
            language = self.language_of(source)
            bodies = [article_body_markdown(article) for article in articles]
            sections = tuple(
                ArticleSection(
                    article=article,
                    anchor=layout.anchor(article.id),
                    lang=language if language != self.config.language else None,
                    date_label=date_label(article.date),
                    body=Markup(to_html(body)),
                    dispatch=self.items.get(article.dispatch) if article.dispatch else None,
                )
                for article, body in zip(articles, bodies)
            )
            raw = layout.raw_path(source)
            markdown = layout.markdown_path(source.id)
            self.emit(raw, source.raw)
            self.emit(markdown, source_markdown(text, articles, language, bodies))
            change_kinds = sorted(Counter(change.kind for change in text.changes).items())
            self.html(
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
                raw=Link(source.file.rsplit("/", 1)[-1], raw),
                markdown=Link(markdown.rsplit("/", 1)[-1], markdown),
                breadcrumbs=(Link("来源", "sources/index.html"),),
            )

    def source_index(self) -> None:
        entries = [
            (source, Link(source.file, layout.source_path(source.id), len(self.articles_of.get(source.id, []))))
            for source in self.sources
        ]
        skipped = tuple(sorted(self.collection.skipped, key=lambda skip: skip.file))
        for path, shown, pagination in paginate(entries, self.config.page_size, "sources"):
            self.html(
                "sources.html",
                path,
                "来源" if pagination.number == 1 else f"来源（第{pagination.number}页）",
                "sources",
                heading="来源",
                entries=shown,
                total=len(entries),
                skipped=skipped if pagination.number == 1 else (),
                pagination=pagination,
                breadcrumbs=(),
            )

    # -------------------------------------------------------------- dispatches

    def dispatch_page(self, dispatch: Dispatch) -> None:
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
            RelatedEntry(self.items[link.dispatch], link.reason, link.score)
            for link in dispatch.related
            if link.dispatch in self.items
        )
        path = layout.dispatch_path(dispatch.id)
        languages = sorted({self.language_of(w.source) for w in witnesses})
        language = languages[0] if len(languages) == 1 else self.config.language
        self.html(
            "dispatch.html",
            path,
            dispatch.title,
            "dispatches",
            lang=language,
            dispatch=dispatch,
            item=self.items[dispatch.id],
            consensus=marked_consensus(dispatch, numbered),
            variants=tuple(entries),
            unsettled=sum(1 for _, variant in numbered if not variant.settled),
            witnesses=tuple(witnesses),
            related=related,
            agency=self.term_link("agencies", dispatch.agency) if dispatch.agency else None,
            people=tuple(self.term_link("people", person) for person in dict.fromkeys(dispatch.people)),
            keywords=tuple(self.term_link("keywords", keyword) for keyword in dict.fromkeys(dispatch.keywords)),
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
        for dispatch in sorted(self.collection.dispatches, key=_dispatch_order):
            parts = date_parts(dispatch.date.value)
            if parts is None:
                node = self._child(top, UNDATED, "日期不详")
                node.dispatches.append(dispatch)
                continue
            year, month, day = parts
            node = self._child(top, year or UNKNOWN_YEAR, f"{year}年" if year else "年份不详")
            if month:
                node = self._child(node, month, f"{int(month)}月")
                if day:
                    node = self._child(node, day, f"{int(day)}日")
            node.dispatches.append(dispatch)
        return top

    @staticmethod
    def _child(node: DateNode, key: str, label: str) -> DateNode:
        if key not in node.children:
            parts = node.parts + (key,)
            node.children[key] = DateNode(label, "dates/" + "/".join(parts) + "/index.html", parts)
        return node.children[key]

    def date_pages(self, node: DateNode, trail: tuple[Link, ...]) -> None:
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
        for path, shown, pagination in paginate([self.items[d.id] for d in own], self.config.page_size, folder):
            self.html(
                "dates.html",
                path,
                heading if pagination.number == 1 else f"{heading}（第{pagination.number}页）",
                "dates",
                heading=heading,
                children=children if pagination.number == 1 else (),
                items=shown,
                items_html=self.items_html(shown, path),
                total=node.total(),
                pagination=pagination,
                breadcrumbs=trail,
            )
        for key in keys:
            self.date_pages(node.children[key], trail + (Link(node.label, node.path),))

    def taxonomy_pages(self, taxonomy: Taxonomy) -> None:
        members = self.members[taxonomy.folder]
        slugs = self.slugs[taxonomy.folder]
        terms = sorted(members, key=lambda term: (-len(members[term]), term))
        links = [self.term_link(taxonomy.folder, term) for term in terms]
        index_crumbs = (Link(taxonomy.title, f"{taxonomy.folder}/index.html"),)
        for path, shown, pagination in paginate(links, self.config.page_size, taxonomy.folder):
            self.html(
                "terms.html",
                path,
                taxonomy.title if pagination.number == 1 else f"{taxonomy.title}（第{pagination.number}页）",
                taxonomy.folder,
                heading=taxonomy.title,
                terms=shown,
                total=len(links),
                pagination=pagination,
                breadcrumbs=(),
            )
        for term in terms:
            self.dispatch_list_pages(
                members[term],
                f"{taxonomy.folder}/{slugs[term]}",
                taxonomy.term_title.format(term=term),
                taxonomy.folder,
                index_crumbs,
            )

    # -------------------------------------------------------------- the rest

    def home(self) -> None:
        days = sorted(day for day in (full_date(d.date) for d in self.collection.dispatches) if day)
        latest = tuple(self.items[d.id] for d in self.newest[:HOME_LATEST])
        sources = [
            Link(source.file, layout.source_path(source.id), len(self.articles_of.get(source.id, [])))
            for source in self.sources[: self.config.page_size]
        ]
        self.html(
            "home.html",
            "index.html",
            self.config.title,
            "home",
            counts={
                "sources": len(self.collection.sources),
                "articles": len(self.collection.articles),
                "dispatches": len(self.collection.dispatches),
                "reprinted": sum(1 for d in self.collection.dispatches if len(d.witnesses) > 1),
                "skipped": len(self.collection.skipped),
            },
            first_day=date_label(DateInfo(days[0], "day", None)) if days else None,
            last_day=date_label(DateInfo(days[-1], "day", None)) if days else None,
            sources=tuple(sources),
            more_sources=len(self.sources) > len(sources),
            latest=latest,
            latest_html=self.items_html(latest, "index.html"),
        )

    def not_found(self) -> None:
        self.html("404.html", NOT_FOUND_PATH, "找不到此页", "")

    def data_files(self) -> None:
        html_pages = [page.path for page in self.pages if page.path.endswith(".html") and page.path != NOT_FOUND_PATH]
        for path, content in sitemap_files(html_pages + [SEARCH_PATH], self.config).items():
            self.emit(path, content)
        self.emit(FEED_PATH, atom_feed(self.collection, self.config, self.moment))
        self.emit(ROBOTS_PATH, robots_txt(self.config))
        for path, content in self.theme.static_files().items():
            self.emit(f"static/{path}", content)

    # -------------------------------------------------------------- the work, in parts

    def tasks(self) -> list[tuple[str, int, int]]:
        """The render split into independent parts: (part, start, stop) over its items."""
        parts: list[tuple[str, int, int]] = [("catalog", 0, 0), ("lists", 0, 0), ("dates", 0, 0)]
        parts.extend(("taxonomy", number, number) for number in range(len(TAXONOMIES)))
        for name, count in (("sources", len(self.sources)), ("dispatches", len(self.dispatches))):
            parts.extend((name, start, min(start + _CHUNK, count)) for start in range(0, count, _CHUNK))
        return parts

    def run(self, task: tuple[str, int, int]) -> list[Page]:
        """Render one part; its pages only."""
        self.pages = []
        name, start, stop = task
        if name == "sources":
            self.source_pages(self.sources[start:stop])
        elif name == "dispatches":
            for dispatch in self.dispatches[start:stop]:
                self.dispatch_page(dispatch)
        elif name == "taxonomy":
            self.taxonomy_pages(TAXONOMIES[start])
        elif name == "dates":
            self.date_pages(self.date_tree(), ())
        elif name == "catalog":
            self.emit(layout.CATALOG_PATH, layout.catalog_json(self.collection))
        else:
            self.home()
            self.source_index()
            self.dispatch_list_pages(self.newest, "dispatches", "全部电讯", "dispatches", ())
            self.not_found()
        return self.pages

    def render(self) -> tuple[Page, ...]:
        tasks = self.tasks()
        workers = min(os.cpu_count() or 1, _MAX_WORKERS)
        pages: list[Page] = []
        if len(self.dispatches) + len(self.sources) < _PARALLEL_MIN or workers < 2 or not _CAN_FORK:
            for task in tasks:
                pages.extend(self.run(task))
        else:
            global _ACTIVE
            # Forked workers inherit this renderer (collection and compiled templates) as it is;
            # only the task names go out, and only the finished pages come back.
            _ACTIVE = self
            try:
                context = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                    for part in pool.map(_run_active, tasks):
                        pages.extend(part)
            finally:
                _ACTIVE = None
        self.pages = pages
        self.data_files()
        paths = Counter(page.path for page in self.pages)
        clashes = sorted(path for path, count in paths.items() if count > 1)
        if clashes:
            raise layout.LayoutError(f"two outputs would be written to {clashes[0]}")
        return tuple(sorted(self.pages, key=lambda page: page.path))


# Below this many sources and dispatches, starting worker processes costs more than it saves.
_PARALLEL_MIN = 400
_MAX_WORKERS = 8
# Sources or dispatches per part handed to a worker.
_CHUNK = 200
_CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
_ACTIVE: _Renderer | None = None


def _run_active(task: tuple[str, int, int]) -> list[Page]:
    assert _ACTIVE is not None, "a render worker started without its renderer"
    return _ACTIVE.run(task)


def render_site(collection: Collection, config: Config) -> tuple[Page, ...]:
    """Every page, data file and theme asset of the site except search and the manifest."""
    return _Renderer(collection, config).render()
