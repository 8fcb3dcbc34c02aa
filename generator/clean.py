"""Stage 2: repair the damage of OCR, web copying and page layout, recording every change.

Order of work, for one source:

1. per line: drop paragraph indents, make half-width punctuation inside Chinese text
   full-width, drop spaces between Chinese characters and digits, flag Latin words
   standing in for Chinese ones. Each edit is a ``Change`` with its source line.
2. lines between blank lines form a raw block; its lines are joined (column OCR wraps a
   paragraph every ~20 characters) except where a line plainly starts something new:
   an indent, a bullet, a dateline, or the leading space OCR leaves at a new text region.
3. a block that stops in mid-sentence and is followed, across a blank line, by more of
   the same prose is joined to it (a page or column break). Headings never are: only a
   block that is itself running prose can be continued. A character repeated on both
   sides of such a break is flagged, not removed: only another witness can tell a
   doubled character from a real one, so collation settles it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .lexicon import (
    BULLET,
    CJK_PUNCT,
    CLAUSE_PUNCT,
    DATELINE_END,
    DATELINE_START,
    FULL_WIDTH,
    HAN,
    LATIN_WORD,
    ends_sentence,
    han_count,
    han_share,
    is_cjk,
    is_han,
)
from .models import Block, Change, Flag, Source, Text

# A block shorter than this is never taken for running prose broken by a page break.
# Headlines, even with a comma in them, stay below it; body paragraphs cut by a break
# are far longer.
PROSE_MIN_CHARS = 40
# Characters of context kept on each side of an edit or flag.
CONTEXT = 6
INDENT_CHARS = "\u3000 \t\u00a0"
# Marks that join the parts of a web or mail address, a path or a code.
ADDRESS_MARKS = "./@:_-\\"


class _Line(NamedTuple):
    """One source line after its repairs (a tuple: tens of thousands are made per source set)."""

    number: int
    text: str
    # How the line began before its indent was removed: '' (flush), ' ' (one space, OCR's
    # mark of a new text region) or 'indent' (full-width or several spaces).
    lead: str


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - CONTEXT) : end + CONTEXT]


_CJK_CLASS = f"[{HAN}{re.escape(CJK_PUNCT)}]"
_HALF_WIDTH = "[" + re.escape("".join(FULL_WIDTH)) + "]"
_HALF_WIDTH_MARK = re.compile(_HALF_WIDTH)
_HALF_WIDTH_NEAR_CJK = re.compile(f"(?<={_CJK_CLASS}){_HALF_WIDTH}|{_HALF_WIDTH}(?={_CJK_CLASS})")
# Digits, and the marks that end a number (%, a decimal point).
_DIGITISH = r"[0-9０-９%.％]"
_SPACE_BETWEEN_CJK_AND_DIGIT = re.compile(f"(?<={_CJK_CLASS}) +(?={_DIGITISH})|(?<={_DIGITISH}) +(?={_CJK_CLASS})")


def _normalise_line(number: int, raw: str, changes: list[Change]) -> _Line:
    """Indent, punctuation and spacing repairs inside one line."""
    text = raw.rstrip()
    if text != raw:
        changes.append(Change("trailing-space", number, repr(raw[len(text):]), ""))
    stripped = text.lstrip(INDENT_CHARS)
    indent = text[: len(text) - len(stripped)]
    lead = ""
    if indent:
        lead = " " if indent == " " else "indent"
        changes.append(Change("indent", number, indent + stripped[:CONTEXT], stripped[:CONTEXT]))
    text = stripped

    # Half-width punctuation touching Chinese text becomes full-width. Digits on both
    # sides (1,000 or 3:2) keep theirs.
    def to_full_width(match: re.Match[str]) -> str:
        start = match.start()
        before = text[start - 1] if start > 0 else ""
        after = text[start + 1] if start + 1 < len(text) else ""
        if before.isdigit() and after.isdigit():
            return match.group()
        full = FULL_WIDTH[match.group()]
        changes.append(Change("punctuation", number, _context(text, start, start + 1), full))
        return full

    # Most lines hold no half-width mark and no space: a quick search spares them the
    # look-arounds, which are tried at every character.
    if _HALF_WIDTH_MARK.search(text):
        text = _HALF_WIDTH_NEAR_CJK.sub(to_full_width, text)

    # Spaces OCR put between Chinese characters and numbers: 今年 3 月 -> 今年3月.
    def drop_space(match: re.Match[str]) -> str:
        start, end = match.span()
        changes.append(Change("spacing", number, _context(text, start, end), text[max(0, start - CONTEXT) : start] + text[end : end + CONTEXT]))
        return ""

    if " " in text:
        text = _SPACE_BETWEEN_CJK_AND_DIGIT.sub(drop_space, text)
    return _Line(number, text, lead)


def _in_brackets(text: str, start: int) -> bool:
    """Does position ``start`` stand inside a bracketed aside, e.g. 奥密克戎（Omicron）?"""
    opened = max(text.rfind(mark, 0, start) for mark in "（(")
    closed = max(text.rfind(mark, 0, start) for mark in "）)")
    return opened > closed


def _latin_flags(block: Block, line_starts: list[tuple[int, int]]) -> list[Flag]:
    """Latin words embedded in Chinese text: English standing in for Chinese words.

    The stand-ins OCR and careless copying leave are ordinary lower-case words (risk,
    and). A word with a capital is an acronym or a name (GDP, APEC, Omicron, iPhone),
    one glued to digits is a code (5G, H5N1), one in brackets is a gloss, and one
    joined by dots or slashes is part of an address (www.gov.cn): none stands in for Chinese.
    """
    flags: list[Flag] = []
    text = block.text
    if not LATIN_WORD.search(text) or han_share(text) < 0.5:
        return flags  # no Latin word, or text in a Latin script: its words are not stand-ins
    for match in LATIN_WORD.finditer(text):
        word = match.group()
        start, end = match.span()
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        if before.isdigit() or after.isdigit() or before.isalpha() and not is_han(before):
            continue  # part of a code like 5G or H5N1
        if before in ADDRESS_MARKS or after in ADDRESS_MARKS:
            continue
        if not word.islower() or len(word) < 2 or _in_brackets(text, start):
            continue
        # The word must sit inside Chinese text: a Han character or Chinese punctuation
        # within one space on at least one side.
        left = text[max(0, start - 2) : start].strip()
        right = text[end : end + 2].strip()
        if not any(is_cjk(c) for c in left[-1:] + right[:1]):
            continue
        line = block.line
        for offset, number in line_starts:
            if offset <= start:
                line = number
        flags.append(Flag("latin-stand-in", word, line, _context(text, start, end)))
    return flags


def _starts_new_block(line: _Line) -> bool:
    return bool(line.lead) or bool(BULLET.match(line.text)) or bool(DATELINE_START.match(line.text)) or bool(DATELINE_END.match(line.text))


_LETTER = re.compile(r"[^\W\d_]")
# A letter of an alphabet (Latin, Greek, Cyrillic ...), not a Han character: a word
# character that is not a digit, '_' or Han.
_NON_HAN_LETTER = re.compile(f"[^\\W\\d_{HAN}]")


def _is_latin_script(text: str) -> bool:
    """Is the text written mostly in letters other than Han characters (English, say)?"""
    if not _NON_HAN_LETTER.search(text):
        return False  # Chinese alone (the common case), decided without counting
    # Counted by regular expression: a Python test per character was a tenth of cleaning.
    letters = len(_LETTER.findall(text))
    return letters > 0 and han_count(text) * 2 < letters


def _heading_above(previous: _Line, line: _Line) -> bool:
    """Is ``previous`` a heading set straight above its text, with no blank line between?

    A line wrapped by the column fills it; a heading is well short of the line after it
    and stops without punctuation (a paragraph's short last line ends with 。 or the like,
    a word hyphenated at the end of a line with '-').
    """
    text = previous.text
    return len(text) * 5 < len(line.text) * 3 and text[-1].isalnum()


def _join_text(left: str, right: str, latin_script: bool) -> str:
    """Join two pieces of one paragraph cut by a line or page break.

    Chinese needs no space, not even around digits (14|.7亿 is 14.7亿), except between two
    Latin words. A Latin-script text needs one, except after a word hyphenated at the break.
    """
    if not left or not right:
        return left + right
    if latin_script:
        hyphenated = left[-1] == "-" and left[-2:-1].isalpha()
        return left + right if hyphenated else left + " " + right
    if left[-1].isascii() and left[-1].isalpha() and right[0].isascii() and right[0].isalpha():
        return left + " " + right
    return left + right


class _RawBlock(NamedTuple):
    lines: tuple[_Line, ...]
    attached: bool  # no blank line before it


def _raw_blocks(lines: list[_Line]) -> list[_RawBlock]:
    """Group lines into blocks at blank lines and at lines that start something new."""
    blocks: list[_RawBlock] = []
    current: list[_Line] = []
    attached = False
    for line in lines:
        if not line.text:
            if current:
                blocks.append(_RawBlock(tuple(current), attached))
                current = []
            continue
        if current and (_starts_new_block(line) or _heading_above(current[-1], line)):
            blocks.append(_RawBlock(tuple(current), attached))
            current = []
            attached = True
        elif not current:
            attached = False
        current.append(line)
    if current:
        blocks.append(_RawBlock(tuple(current), attached))
    return blocks


def _is_prose(text: str) -> bool:
    """Running prose, as opposed to a heading, a slogan or a bullet."""
    return len(text) >= PROSE_MIN_CHARS and any(mark in text for mark in CLAUSE_PUNCT) and not BULLET.match(text)


def _continues(text: str) -> bool:
    """Can ``text`` be the second half of a sentence cut by a break?

    It must finish the sentence or run on as prose: a heading (short, no full stop)
    after a paragraph that stops short, say at a jump line (下转第二版), starts something new.
    """
    if BULLET.match(text) or DATELINE_START.match(text) or DATELINE_END.match(text):
        return False
    return ends_sentence(text) or _is_prose(text)


def clean(source: Source) -> Text:
    changes: list[Change] = []
    lines = [_normalise_line(number, raw, changes) for number, raw in enumerate(source.text.split("\n"), start=1)]

    blocks: list[Block] = []
    # For each block, where its text came from: (offset in block text, source line).
    origins: list[list[tuple[int, int]]] = []
    for raw in _raw_blocks(lines):
        latin_script = _is_latin_script(" ".join(line.text for line in raw.lines))
        text = raw.lines[0].text
        starts = [(0, raw.lines[0].number)]
        for previous, line in zip(raw.lines, raw.lines[1:]):
            changes.append(Change("join-lines", line.number, previous.text[-CONTEXT:] + "⏎" + line.text[:CONTEXT], previous.text[-CONTEXT:] + line.text[:CONTEXT]))
            text = _join_text(text, line.text, latin_script)
            starts.append((len(text) - len(line.text), line.number))
        block = Block(
            text=text,
            line=raw.lines[0].number,
            end_line=raw.lines[-1].number,
            attached=raw.attached,
            lines=tuple(line.text for line in raw.lines),
        )
        previous_block = blocks[-1] if blocks else None
        if (
            previous_block is not None
            and not raw.attached
            and _is_prose(previous_block.text)
            and not ends_sentence(previous_block.text)
            and _continues(text)
        ):
            left = previous_block.text
            changes.append(Change("join-page-break", block.line, left[-CONTEXT:] + "⏎⏎" + text[:CONTEXT], left[-CONTEXT:] + text[:CONTEXT]))
            joined = _join_text(left, text, _is_latin_script(left + text))
            offset = len(joined) - len(text)
            merged = Block(
                text=joined,
                line=previous_block.line,
                end_line=block.end_line,
                attached=previous_block.attached,
                lines=previous_block.lines + block.lines,
            )
            blocks[-1] = merged
            origins[-1].extend((offset + start, number) for start, number in starts)
            continue
        blocks.append(block)
        origins.append(starts)

    flags: list[Flag] = []
    for block, starts in zip(blocks, origins):
        flags.extend(_latin_flags(block, starts))
        # A page break that doubled a character: the same Han character on both sides.
        for offset, number in starts[1:]:
            if 0 < offset < len(block.text) and block.text[offset - 1] == block.text[offset] and is_han(block.text[offset]):
                flags.append(Flag("doubled-at-break", block.text[offset - 1 : offset + 1], number, _context(block.text, offset - 1, offset + 1)))
    return Text(source=source, blocks=tuple(blocks), changes=tuple(changes), flags=tuple(flags))
