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
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
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

# Lowercase letters whose case folding differs from their lowercase form.
_FOLDS = {"ß": "ss", "ς": "σ"}

TokenKind = Literal["word", "bigram", "prefix"]


@dataclass(frozen=True)
class QueryToken:
    """One term of a query: a whole word, a Han bigram, or a one-character prefix."""

    term: str
    kind: TokenKind
    run: int  # the query's Han runs and words are numbered in order; bigrams share their run's


def normalize(text: str) -> str:
    """Step 1 of the specification: NFKC, lowercase, fold."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    return "".join(_FOLDS.get(char, char) for char in lowered)


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
    runs: list[tuple[Literal["han", "word"], str]] = []
    kind: Literal["han", "word"] | None = None
    current: list[str] = []
    for position, char in enumerate(text):
        if is_han(char):
            char_kind: Literal["han", "word"] | None = "han"
        elif is_word_char(char):
            char_kind = "word"
        elif (
            char == "."
            and kind == "word"
            and current[-1].isdecimal()
            and position + 1 < len(text)
            and text[position + 1].isdecimal()
        ):
            # A decimal point inside a number: 14.7 is one token.
            current.append(char)
            continue
        else:
            char_kind = None
        if char_kind != kind and current:
            assert kind is not None
            runs.append((kind, "".join(current)))
            current = []
        kind = char_kind
        if char_kind is not None:
            current.append(char)
    if current and kind is not None:
        runs.append((kind, "".join(current)))
    return runs


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


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
