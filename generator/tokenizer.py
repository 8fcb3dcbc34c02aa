"""The search tokenizer: one specification, implemented here and in tokenizer.js.

Both implementations must produce exactly the same tokens for the same text
(tests/fixtures/tokenizer_vectors.json holds the shared test vectors), because the
index is built here and queried in the browser.

The specification:

1. Normalise: Unicode NFKC (full-width letters and digits become ASCII, compatibility
   ideographs become unified ones), then lowercase with the Unicode default mapping,
   then fold the two lowercase letters that have a caseless twin (ß -> ss, ς -> σ).
2. Read the text code point by code point (so a character beyond U+FFFF, such as an
   Extension B ideograph, is one character, never two halves of a surrogate pair).
   Each code point is Han (the ranges in ``HAN_RANGES``), a word character (a letter,
   number or mark of any other script) or a separator (everything else).
3. A run of word characters is one token (``risk``, ``2022``). A full stop between two
   digits belongs to the word, so ``14.7`` stays whole.
4. A run of Han characters becomes its overlapping bigrams. For the index, the last
   character of the run is added as a unigram, so a run of one character is just that
   unigram; with it, every occurrence of a character is either the first half of a
   bigram or a run-final unigram, and a one-character query is a prefix search.
5. Queries are read the same way, except that a Han run of two or more characters
   yields only its bigrams (marked with the run they came from, because the query
   semantics treat a run as a unit) and a single Han character yields a prefix token.

The implementation reads whole texts with regular expressions and C-level string and
``collections.Counter`` operations rather than a Python loop per character: the index of
ten thousand articles is fifteen million characters (``index_term_counts`` is what the index
builder uses; ``index_tokens`` is the same reading with the tokens in text order).
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import sys
import unicodedata
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, repeat, zip_longest
from typing import Literal

# Han ideographs: CJK Unified Ideographs and Extension A, the compatibility block (NFKC
# maps most of it to unified ideographs, but twelve of them are unified ideographs in
# their own right), the supplementary ideographic planes (Extension B onwards), and the
# ideographic iteration mark and number zero, which stand inside Chinese words.
HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x3005, 0x3005),
    (0x3007, 0x3007),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
)

# The Han characters NFKC leaves alone in any context: none has a decomposition, none
# composes with a neighbour, all are starters. (The compatibility ideographs, U+F900 to
# U+FAFF and U+2F800 to U+2FA1F, decompose, so they are left out.)
_INERT_HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x3005, 0x3005),
    (0x3007, 0x3007),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x20000, 0x2F7FF),
    (0x2FA20, 0x3FFFF),
)

TokenKind = Literal["word", "bigram", "prefix"]


@dataclass(frozen=True)
class QueryToken:
    """One term of a query: a whole word, a Han bigram, or a one-character prefix."""

    term: str
    kind: TokenKind
    run: int  # the query's Han runs and words are numbered in order; bigrams share their run's


def _char_class(ranges: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> str:
    """A regular-expression character class body for code point ranges."""
    return "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in ranges
    )


_HAN = _char_class(HAN_RANGES)
_INERT_HAN_RUN = re.compile(f"[{_char_class(_INERT_HAN_RANGES)}]+")
_HAN_RUN = re.compile(f"[{_HAN}]+")


def _category_ranges() -> list[tuple[int, int, str]]:
    """Every code point's general category, as runs (first, last, category)."""
    runs = []
    code = 0
    for category, group in itertools.groupby(map(unicodedata.category, map(chr, range(0x110000)))):
        size = len(list(group))
        runs.append((code, code + size - 1, category))
        code += size
    return runs


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in ranges:
        if merged and merged[-1][1] == low - 1:
            merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def _without_han(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges with the Han ranges cut out of them."""
    result = []
    for low, high in ranges:
        pieces = [(low, high)]
        for han_low, han_high in HAN_RANGES:
            pieces = [
                piece
                for piece_low, piece_high in pieces
                for piece in ((piece_low, min(piece_high, han_low - 1)), (max(piece_low, han_high + 1), piece_high))
                if piece[0] <= piece[1]
            ]
        result.extend(pieces)
    return result


def _one_char(ranges: list[tuple[int, int]]) -> str:
    """A pattern matching one character of ``ranges``, quickly.

    The regular expression engine tests the characters of a class beyond U+FFFF one
    range after another, after a fast table for the rest; a Han character, tested
    against hundreds of such ranges at every position, made the word pattern the
    slowest step of tokenising. Supplementary characters are tested only when the
    character is one.
    """
    bmp = [(low, min(high, 0xFFFF)) for low, high in ranges if low <= 0xFFFF]
    astral = [(max(low, 0x10000), high) for low, high in ranges if high > 0xFFFF]
    if not astral:
        return f"[{_char_class(bmp)}]"
    return f"(?:[{_char_class(bmp)}]|(?=[\U00010000-\U0010FFFF])[{_char_class(astral)}])"


@functools.cache
def _word_run() -> re.Pattern[str]:
    """Word runs (step 3): word characters, with a full stop between two digits inside.

    The classes are read from ``unicodedata`` once per process (the categories of every
    code point, grouped into runs in C), so they follow the same definition as
    ``is_word_char``. The index builder reads them before it starts its workers.
    """
    runs = _category_ranges()
    word = _one_char(_without_han(_merge((low, high) for low, high, category in runs if category[0] in "LNM")))
    digit = _one_char(_without_han(_merge((low, high) for low, high, category in runs if category == "Nd")))
    return re.compile(f"{word}+(?:(?<={digit})\\.(?={digit}){word}+)*")


def load_character_classes() -> None:
    """Read the word-character classes now (a forked worker then inherits them)."""
    _word_run()


@functools.cache
def _any_run() -> re.Pattern[str]:
    """Han runs (group 1) and word runs, in text order."""
    return re.compile(f"([{_HAN}]+)|{_word_run().pattern}")


def _nfkc(text: str) -> str:
    """NFKC, reading only the parts of the text that are not inert Han characters.

    Chinese text is mostly ideographs that NFKC never changes and that never interact
    with their neighbours; normalising the pieces between them (joined by NUL, another
    inert starter) gives the same result as normalising the whole text, in a fraction
    of the time.
    """
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    if "\0" in text:
        return unicodedata.normalize("NFKC", text)
    pieces = unicodedata.normalize("NFKC", "\0".join(_INERT_HAN_RUN.split(text))).split("\0")
    han = _INERT_HAN_RUN.findall(text)
    return "".join(chain.from_iterable(zip_longest(pieces, han, fillvalue="")))


def normalize(text: str) -> str:
    """Step 1 of the specification: NFKC, lowercase, fold."""
    return _nfkc(text).lower().replace("ß", "ss").replace("ς", "σ")


def is_han(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in HAN_RANGES)


def is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM" and not is_han(char)


def is_space(char: str) -> bool:
    """White space as both implementations define it: separators (Z*) and ASCII controls."""
    return char in "\t\n\x0b\x0c\r" or unicodedata.category(char).startswith("Z")


def _runs(text: str) -> list[tuple[Literal["han", "word"], str]]:
    """Split normalised text into Han runs and word runs, dropping separators."""
    return [("han" if match.group(1) else "word", match.group()) for match in _any_run().finditer(text)]


def _bigrams(run: str) -> list[str]:
    return list(map(operator.add, run, run[1:]))


def index_tokens(text: str) -> list[str]:
    """The terms a text is indexed under, in text order, repeats kept (they are frequencies)."""
    tokens: list[str] = []
    for kind, run in _runs(normalize(text)):
        if kind == "word":
            tokens.append(run)
        else:
            tokens.extend(_bigrams(run))
            tokens.append(run[-1])
    return tokens


# An index term as the index builder counts it: a Han bigram or unigram as an integer
# (its code points as one native 64-bit word, see ``index_term_counts``), any other
# token as its text. ``term_text`` turns a key back into the term.
TermKey = int | str

# Han runs are encoded in UTF-32 in the machine's byte order, so that two consecutive
# code points read as one unsigned 64-bit integer ("Q") in which the first character
# holds the low half; a pair's second character is in the high half.
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
_SECOND_SHIFT = 32 if sys.byteorder == "little" else 0


_INERT_HAN_SPLIT = re.compile(f"({_INERT_HAN_RUN.pattern})")


def _han_runs_and_rest(text: str) -> tuple[list[str], str]:
    """The Han runs of the normalised text, and the rest of it with NUL where they stood.

    Usually read without normalising the Han runs at all: the text is cut at its inert
    Han runs (see ``_nfkc``), only the pieces between them are normalised, and if none of
    those became or held a Han character the inert runs are the normalised text's Han runs.
    """
    parts = _INERT_HAN_SPLIT.split(text)
    rest = normalize("\0".join(parts[0::2]))
    if not _HAN_RUN.search(rest):
        return parts[1::2], rest
    normal = normalize(text)
    return _HAN_RUN.findall(normal), _HAN_RUN.sub("\0", normal)


def index_term_counts(text: str) -> tuple[Counter[TermKey], int]:
    """How often each index term occurs in a text, and how many tokens the text has.

    Equal, with the keys read by ``term_text``, to ``Counter(index_tokens(text))`` and
    ``len(index_tokens(text))``, computed without a Python step per character. The Han
    runs are joined, each followed by a NUL, and read as 64-bit words at even and at odd
    code-point offsets: every consecutive pair, counted as an integer. A character
    followed by the NUL after its run is that run's final unigram (the NUL is zero, so
    the key is the character's code point); a pair starting with a NUL spans two runs
    and is removed.
    """
    runs, rest = _han_runs_and_rest(text)
    counts: Counter[TermKey] = Counter()
    length = 0
    if runs:
        joined = "\0".join(runs) + "\0"
        size = len(joined)
        data = memoryview(joined.encode(_UTF32))
        counts.update(data[: 8 * (size // 2)].cast("Q"))
        counts.update(data[4 : 4 + 8 * ((size - 1) // 2)].cast("Q"))
        spanning = set(map(operator.lshift, map(ord, map(operator.itemgetter(0), runs[1:])), repeat(_SECOND_SHIFT)))
        deque(map(dict.__delitem__, repeat(counts), spanning), 0)
        length = size - len(runs)
    words = _word_run().findall(rest)
    counts.update(words)
    return counts, length + len(words)


def term_text(key: TermKey) -> str:
    """The term an ``index_term_counts`` key stands for."""
    if isinstance(key, str):
        return key
    return key.to_bytes(8, sys.byteorder).decode(_UTF32).rstrip("\0")


def query_tokens(text: str) -> list[QueryToken]:
    """The terms of a query (without quotes or other syntax), in order."""
    tokens: list[QueryToken] = []
    for number, (kind, run) in enumerate(_runs(normalize(text))):
        if kind == "word":
            tokens.append(QueryToken(run, "word", number))
        elif len(run) == 1:
            tokens.append(QueryToken(run, "prefix", number))
        else:
            tokens.extend(QueryToken(bigram, "bigram", number) for bigram in _bigrams(run))
    return tokens


def compact(text: str) -> str:
    """Normalised text without white space: what a quoted phrase is matched against."""
    return "".join(char for char in normalize(text) if not is_space(char))
