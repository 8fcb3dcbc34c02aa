"""The cleaned Markdown page of a source, and the one way Markdown becomes HTML.

The page starts with YAML front matter: the source's metadata, then the metadata of
each article in reading order. The body has one section per article (headline,
kicker, subheadline, dateline, paragraphs, pull quotes). Everything taken from the
source is escaped for Markdown, so a source that happens to hold ``*``, ``[x](…)``
or ``<script>`` reads back as exactly that text.

HTML is made by markdown-it-py with raw HTML off and only the rules this module
writes switched on, so even a slip in escaping cannot produce a link or a tag.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt

from .catalog import article_entry, source_entry
from .models import Article, Text

# Only what this module writes: paragraphs (always on), headings, block quotes,
# backslash escapes and emphasis. No links, images, autolinks, raw HTML or entities.
_MARKDOWN = MarkdownIt("zero", {"html": False}).enable(["heading", "blockquote", "escape", "emphasis"])

# Characters that mean something inside a CommonMark line.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>&!~|])")
# What means something at the start of a line: headings, quotes, list markers, rules,
# setext underlines, fences.
_LINE_START_SPECIAL = re.compile(r"^([#>+=-]|\d+[.)])")

# Characters a YAML reader treats as line breaks or refuses, written as escapes.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _escape_line_start(line: str) -> str:
    match = _LINE_START_SPECIAL.match(line)
    if match is None:
        return line
    # The backslash goes before the marker's last character: '#' -> '\\#', '1.' -> '1\\.'.
    cut = match.end() - 1
    return line[:cut] + "\\" + line[cut:]


def escape_markdown(text: str) -> str:
    """Text that CommonMark renders as exactly itself (one paragraph per blank-line block)."""
    return "\n".join(_escape_line_start(_INLINE_SPECIAL.sub(r"\\\1", line.strip())) for line in text.split("\n"))


_encode_json = json.JSONEncoder(ensure_ascii=False).encode
# What that encoder does with a string, without its dispatch on the value's type.
_encode_string = json.encoder.encode_basestring


def _yaml_scalar(value: object) -> str:
    """A scalar as YAML: JSON's double-quoted strings, numbers, true/false and null are all YAML."""
    return _encode_string(value) if isinstance(value, str) else _encode_json(value)


def _yaml_lines(lines: list[str], data: dict[str, Any], indent: str) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            _yaml_lines(lines, value, indent + "  ")
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            lines.append(f"{indent}{key}:")
            for item in value:
                item_lines: list[str] = []
                _yaml_lines(item_lines, item, indent + "    ")
                lines.append(f"{indent}  - " + item_lines[0][len(indent) + 4 :])
                lines.extend(item_lines[1:])
        elif isinstance(value, list):
            lines.append(f"{indent}{key}: [" + ", ".join(map(_yaml_scalar, value)) + "]")
        else:
            lines.append(f"{indent}{key}: {_yaml_scalar(value)}")


def front_matter(data: dict[str, Any]) -> str:
    """YAML for a mapping of plain keys to strings, numbers, lists and mappings.

    Written by hand because PyYAML's representer costs a millisecond per source;
    every scalar is quoted JSON-style, which YAML reads back as the same value. The
    characters YAML refuses can stand only inside those quoted scalars (the keys are
    plain names), so they are escaped in one pass over the whole text.
    """
    lines: list[str] = []
    _yaml_lines(lines, data, "")
    text = "".join(line + "\n" for line in lines)
    if _YAML_UNSAFE.search(text) is None:
        return text
    return _YAML_UNSAFE.sub(lambda match: f"\\u{ord(match.group(0)):04x}", text)


def to_html(markdown: str) -> str:
    return _MARKDOWN.render(markdown)


def article_heading_markdown(article: Article) -> str:
    """The headline block of a section: headline, then kicker and subheadline."""
    parts = [f"## {escape_markdown(article.headline or ('启事' if article.kind == 'notice' else '（无标题）'))}"]
    if article.kicker:
        parts.append(f"*{escape_markdown(article.kicker)}*")
    if article.subheadline:
        parts.append(f"**{escape_markdown(article.subheadline)}**")
    return "\n\n".join(parts)


def _body_blocks(article: Article) -> list[str]:
    """The Markdown blocks of an article's body, each a paragraph or a block quote."""
    paragraphs = [escape_markdown(paragraph) for paragraph in article.paragraphs if paragraph.strip()]
    line = article.dateline
    if line is not None and line.position == "start":
        dateline = f"**{escape_markdown(line.text)}**"
        paragraphs = [f"{dateline}　{paragraphs[0]}", *paragraphs[1:]] if paragraphs else [dateline]
    elif line is not None:
        paragraphs.append(f"（{escape_markdown(line.text)}）")
    paragraphs.extend("> " + escape_markdown(quote).replace("\n", "\n> ") for quote in article.pull_quotes)
    return paragraphs


def article_body_markdown(article: Article) -> str:
    """Dateline, body paragraphs and pull quotes of an article."""
    return "\n\n".join(_body_blocks(article))


# Anything in a block that markdown-it would read as more than one paragraph of text:
# escapes and emphasis, characters its normaliser rewrites, blank or leading/trailing
# lines, a line opening a heading or a block quote (pull quotes) or indented.
_NOT_PLAIN = re.compile(r"[\\*\r\0]|\n\n|\A\n|\n\Z|(?m:^[#> \t])")
# The bold dateline that opens a body: '**新华社北京5月5日电**　…' (escape_markdown strips it,
# so it neither starts nor ends with white space and emphasis cannot fail to close).
_DATELINE = re.compile(r"\*\*([^\\*\r\0\n]+)\*\*(?=　|\Z)")


def _text_html(text: str) -> str:
    """Text as markdown-it writes a text token."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _block_html(block: str) -> str:
    """One body block as HTML, exactly as markdown-it renders it.

    Nearly every block is plain text, perhaps opened by the bold dateline; for those the
    HTML is written here, which takes a fraction of a parse (markdown-it cost over a
    second per 2,400 bodies). Anything else goes through markdown-it.
    """
    strong, rest = "", block
    dateline = _DATELINE.match(block)
    if dateline is not None:
        strong, rest = f"<strong>{_text_html(dateline.group(1))}</strong>", block[dateline.end() :]
    if _NOT_PLAIN.search(rest) is None:
        return f"<p>{strong}{_text_html(rest)}</p>\n"
    return to_html(block)


def article_body_html(article: Article) -> str:
    """The body as HTML: the same as ``to_html(article_body_markdown(article))``.

    Blank-line separated paragraphs and block quotes render independently in CommonMark,
    so the body is the blocks' HTML one after another.
    """
    return "".join(_block_html(block) for block in _body_blocks(article))


def article_metadata(article: Article) -> dict[str, Any]:
    """The article's catalog entry without its text (the section below holds it), and more."""
    metadata = {key: value for key, value in article_entry(article).items() if key != "text"}
    metadata.update(
        date_source=article.date.source,
        agency=article.agency,
        place=article.place,
        via=article.via,
        characters=article.char_count,
        lines=[article.line, article.end_line],
        flags=[{"kind": flag.kind, "text": flag.text, "line": flag.line} for flag in article.flags],
    )
    return metadata


def source_metadata(text: Text, language: str) -> dict[str, Any]:
    """The source's catalog entry (without the article list, which follows) and more."""
    source = text.source
    sidecar = source.sidecar
    metadata = {key: value for key, value in source_entry(source, []).items() if key != "articles"}
    metadata.update(
        size=len(source.raw),
        language=sidecar.language or language,
        publication=sidecar.publication,
        date=sidecar.date,
        year=sidecar.year,
        added=source.added,
        changes=len(text.changes),
        flags=len(text.flags),
    )
    return metadata


def source_markdown(
    text: Text, articles: Sequence[Article], language: str, bodies: Sequence[str] | None = None
) -> str:
    """The whole cleaned page: front matter, then one section per article.

    ``bodies`` are the articles' body Markdown when the caller has already made them.
    """
    if bodies is None:
        bodies = [article_body_markdown(article) for article in articles]
    front = source_metadata(text, language)
    front["articles"] = [article_metadata(article) for article in articles]
    sections = [article_heading_markdown(article) + "\n\n" + body for article, body in zip(articles, bodies)]
    return "---\n" + front_matter(front) + "---\n\n" + "\n\n".join(sections) + "\n"
