"""The search tokenizer: Python and JavaScript against the same vectors."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from generator.tokenizer import (
    _word_run,
    compact,
    index_term_counts,
    index_tokens,
    is_word_char,
    normalize,
    query_tokens,
    term_text,
)

ROOT = Path(__file__).resolve().parent.parent
VECTORS_FILE = ROOT / "tests" / "fixtures" / "tokenizer_vectors.json"
TOKENIZER_JS = ROOT / "themes" / "default" / "static" / "search" / "tokenizer.js"
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))

# Runs every vector through tokenizer.js and prints what it produced, as JSON.
_NODE_RUNNER = """
const tokenizer = require(process.argv[1]);
const vectors = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const out = vectors.map((v) => ({
  text: v.text,
  index: tokenizer.indexTokens(v.text),
  query: tokenizer.queryTokens(v.text).map((t) => [t.term, t.kind, t.run]),
  compact: tokenizer.compact(v.text),
}));
process.stdout.write(JSON.stringify(out));
"""


def _python_result(text: str) -> dict[str, object]:
    return {
        "text": text,
        "index": index_tokens(text),
        "query": [[t.term, t.kind, t.run] for t in query_tokens(text)],
        "compact": compact(text),
    }


@pytest.mark.parametrize("vector", VECTORS, ids=[ascii(v["text"])[:30] for v in VECTORS])
def test_python_tokenizer_matches_vector(vector: dict[str, object]) -> None:
    assert _python_result(str(vector["text"])) == vector


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_tokenizer_matches_every_vector() -> None:
    completed = subprocess.run(
        ["node", "-e", _NODE_RUNNER, str(TOKENIZER_JS), str(VECTORS_FILE)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    produced = json.loads(completed.stdout.decode("utf-8"))
    assert len(produced) == len(VECTORS)
    for expected, got in zip(VECTORS, produced):
        assert got == expected, ascii(expected["text"])


def test_vectors_cover_the_known_traps() -> None:
    texts = "".join(str(v["text"]) for v in VECTORS)
    assert any(ord(c) > 0xFFFF for c in texts), "a character beyond the BMP"
    assert any(0xE000 <= ord(c) <= 0xFFFF for c in texts), "a character in U+E000-U+FFFF"
    assert "14.7" in texts and "risk" in texts


def test_han_run_yields_bigrams_and_final_unigram() -> None:
    assert index_tokens("动态清零") == ["动态", "态清", "清零", "零"]
    assert [t.term for t in query_tokens("动态清零")] == ["动态", "态清", "清零"]


def test_extension_b_character_is_one_character() -> None:
    assert index_tokens("\U00020000\U00020001") == ["\U00020000\U00020001", "\U00020001"]


def test_numbers_with_decimal_point_stay_whole() -> None:
    assert index_tokens("14.7亿件") == ["14.7", "亿件", "件"]
    assert index_tokens("第3.次") == ["第", "3", "次"]


def test_single_han_character_query_is_a_prefix() -> None:
    (token,) = query_tokens("疫")
    assert (token.term, token.kind) == ("疫", "prefix")


# Characters that stress the fast paths: Han of every kind (compatibility ideographs,
# Extension B, the compatibility supplement), combining marks after Han and after
# full-width letters, Hangul jamo that compose, final sigma, NUL, decimals of other
# scripts, and text NFKC turns into Han (a Kangxi radical, a circled ideograph).
_FUZZ_CHARACTERS = (
    "动态清零疫情防控上海，。、：；（）！？「」“”　 \n\t.,;:-_0123456789１２３ＡＢａｂabcXYZßςΣΑΒéeü"
    "\u0301\u0308\u0327\u3099か\u304b가\u1100\u1161\u11a8한\U00020000\U00020001\U0002F800\U0002F801"
    "\uf900\uf91f\ufa0e\ufa0f\u2f00\u3280\u3220\u00bd\u2460\u2167\u0000\u200d\u00a0\ufeff々〇٣۴١٢ⅰ㍱℃ﬁ"
)


def _fuzz_texts(count: int) -> list[str]:
    rng = random.Random(20221105)
    return ["".join(rng.choice(_FUZZ_CHARACTERS) for _ in range(rng.randint(0, 24))) for _ in range(count)]


def test_fast_normalize_equals_plain_nfkc() -> None:
    for text in _fuzz_texts(3000):
        plain = unicodedata.normalize("NFKC", text).lower().replace("ß", "ss").replace("ς", "σ")
        assert normalize(text) == plain, ascii(text)


@pytest.mark.parametrize("text", [str(v["text"]) for v in VECTORS] + _fuzz_texts(3000)[:1] + ["", "，。", "疫", "a疫b情c"])
def test_index_term_counts_equal_the_tokens(text: str) -> None:
    counts, length = index_term_counts(text)
    assert {term_text(key): count for key, count in counts.items()} == Counter(index_tokens(text))
    assert length == len(index_tokens(text))


def test_index_term_counts_equal_the_tokens_on_random_text() -> None:
    for text in _fuzz_texts(3000):
        counts, length = index_term_counts(text)
        tokens = index_tokens(text)
        assert ({term_text(key): count for key, count in counts.items()}, length) == (Counter(tokens), len(tokens)), ascii(text)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_agrees_on_random_text(tmp_path: Path) -> None:
    """tokenizer.js reads code point by code point; the Python reading works on whole runs."""
    texts = _fuzz_texts(2000)
    vectors = tmp_path / "texts.json"
    vectors.write_text(json.dumps([{"text": text} for text in texts]), encoding="utf-8")
    completed = subprocess.run(
        ["node", "-e", _NODE_RUNNER, str(TOKENIZER_JS), str(vectors)], capture_output=True, check=True, timeout=60
    )
    for text, got in zip(texts, json.loads(completed.stdout.decode("utf-8")), strict=True):
        assert got == _python_result(text), ascii(text)


def test_word_pattern_holds_exactly_the_word_characters() -> None:
    """The classes built from category runs equal is_word_char (planes 0 to 3, and 14)."""
    pattern = _word_run()
    for code in [*range(0x40000), *range(0xE0000, 0xE1000)]:
        char = chr(code)
        assert (pattern.fullmatch(char) is not None) == is_word_char(char), hex(code)
