"""Formats for other programs: the Atom feed, the sitemap and robots.txt.

These are the only files that hold absolute URLs (``base_url``): a feed reader or a
search engine needs them. Times never come from the clock: a build is dated by
SOURCE_DATE_EPOCH when it is set (reproducible builds), else by the newest date the
collection knows (reproducible.build_time), so the same content always gives the
same bytes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, MutableMapping, Sequence
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from .catalog import dispatch_path, href
from .config import Config
from .models import Collection, DateInfo, Dispatch
from .reproducible import is_iso_day, iso_time

FEED_PATH = "feed.xml"
SITEMAP_PATH = "sitemap.xml"
ROBOTS_PATH = "robots.txt"

# The sitemap protocol allows at most this many URLs in one file.
SITEMAP_LIMIT = 50_000

# Characters XML 1.0 does not allow at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def absolute_url(config: Config, path: str) -> str:
    """The absolute URL of an output path under ``base_url``."""
    base = config.base_url if config.base_url.endswith("/") else config.base_url + "/"
    return base + href(path)


def full_date(date: DateInfo) -> str | None:
    """The ISO day of a date whose year, month and day are all known (and exist)."""
    return date.value if date.value is not None and is_iso_day(date.value) else None


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _xml_attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def newest_first(dispatches: Iterable[Dispatch]) -> list[Dispatch]:
    """Dispatches with a full date, newest first; then the rest; ties by id."""
    # Each dispatch's day is read once (every render orders the whole collection).
    dated: list[tuple[str, str, Dispatch]] = []
    undated: list[tuple[str, Dispatch]] = []
    for dispatch in dispatches:
        day = full_date(dispatch.date)
        if day:
            dated.append((day, dispatch.id, dispatch))
        else:
            undated.append((dispatch.id, dispatch))
    dated.sort(key=operator.itemgetter(1))
    dated.sort(key=operator.itemgetter(0), reverse=True)  # stable: ties keep the id order
    undated.sort(key=operator.itemgetter(0))
    return [entry[2] for entry in dated] + [entry[1] for entry in undated]


def _entry(dispatch: Dispatch, config: Config, fallback: datetime) -> str:
    url = absolute_url(config, dispatch_path(dispatch.id))
    day = full_date(dispatch.date)
    updated = iso_time(datetime.fromisoformat(day).replace(tzinfo=timezone.utc)) if day else iso_time(fallback)
    summary = dispatch.paragraphs[0] if dispatch.paragraphs else ""
    content = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in dispatch.paragraphs)
    lines = [
        "  <entry>",
        f"    <title>{_xml_text(dispatch.title)}</title>",
        f"    <id>{_xml_text(url)}</id>",
        f"    <link rel=\"alternate\" type=\"text/html\" href={_xml_attr(url)}/>",
        f"    <updated>{updated}</updated>",
    ]
    if day:
        lines.append(f"    <published>{updated}</published>")
    if dispatch.agency:
        lines.append(f"    <author><name>{_xml_text(dispatch.agency)}</name></author>")
    lines.extend(f"    <category term={_xml_attr(keyword)}/>" for keyword in dispatch.keywords)
    lines.append(f"    <summary>{_xml_text(summary)}</summary>")
    lines.append(f"    <content type=\"html\">{_xml_text(content)}</content>")
    lines.append("  </entry>")
    return "\n".join(lines)


def atom_feed(collection: Collection, config: Config, moment: datetime) -> bytes:
    """feed.xml: the newest ``feed.limit`` dispatches as Atom 1.0."""
    entries = newest_first(collection.dispatches)[: config.feed.limit]
    feed_url = absolute_url(config, FEED_PATH)
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={_xml_attr(config.language)}>',
        f"  <title>{_xml_text(config.title)}</title>",
        f"  <subtitle>{_xml_text(config.description)}</subtitle>",
        f"  <id>{_xml_text(feed_url)}</id>",
        f'  <link rel="self" type="application/atom+xml" href={_xml_attr(feed_url)}/>',
        f'  <link rel="alternate" type="text/html" href={_xml_attr(absolute_url(config, "index.html"))}/>',
        f"  <updated>{iso_time(moment)}</updated>",
        f"  <author><name>{_xml_text(config.title)}</name></author>",
        "  <generator>Jianbao</generator>",
    ]
    body = [_entry(dispatch, config, moment) for dispatch in entries]
    return ("\n".join(head + body + ["</feed>"]) + "\n").encode("utf-8")


def _url_line(url: str) -> str:
    return f"  <url><loc>{_xml_text(url)}</loc></url>"


def _urlset(lines: Sequence[str]) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    body = "\n".join(lines) + "\n" if lines else ""
    return (head + body + "</urlset>\n").encode("utf-8")


def _sitemap_part(number: int) -> str:
    return f"sitemap-{number}.xml"


def sitemap_paths(url_count: int) -> list[str]:
    """The files sitemap_files writes for this many distinct URLs (known before writing them)."""
    if url_count <= SITEMAP_LIMIT:
        return [SITEMAP_PATH]
    return [_sitemap_part(number) for number in range(1, -(-url_count // SITEMAP_LIMIT) + 1)] + [SITEMAP_PATH]


def sitemap_files(
    page_paths: Iterable[str], config: Config, known: MutableMapping[str, str] | None = None
) -> dict[str, bytes]:
    """sitemap.xml for every HTML page; past 50,000 URLs a sitemap index and its parts.

    ``known`` (path -> its line, for one config) gives the lines of the paths it holds,
    and is left holding those of ``page_paths``: a path's line depends on the path and
    ``base_url`` alone.
    """
    lines = known if known is not None else {}
    # Callers mostly pass paths in order already; sorting what keeps its order is one pass.
    paths = sorted(dict.fromkeys(page_paths))
    for path in paths:
        if path not in lines:
            lines[path] = _url_line(absolute_url(config, path))
    if len(lines) > len(paths):
        for gone in lines.keys() - set(paths):
            del lines[gone]
    ordered = [lines[path] for path in paths]
    if len(ordered) <= SITEMAP_LIMIT:
        return {SITEMAP_PATH: _urlset(ordered)}
    files: dict[str, bytes] = {}
    index = ['<?xml version="1.0" encoding="utf-8"?>', '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for number, start in enumerate(range(0, len(ordered), SITEMAP_LIMIT), start=1):
        name = _sitemap_part(number)
        files[name] = _urlset(ordered[start : start + SITEMAP_LIMIT])
        index.append(f"  <sitemap><loc>{_xml_text(absolute_url(config, name))}</loc></sitemap>")
    index.append("</sitemapindex>")
    files[SITEMAP_PATH] = ("\n".join(index) + "\n").encode("utf-8")
    return files


def robots_txt(config: Config) -> bytes:
    return f"User-agent: *\nAllow: /\nSitemap: {absolute_url(config, SITEMAP_PATH)}\n".encode("utf-8")
