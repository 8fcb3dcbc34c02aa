"""The search tokenizer: Python and JavaScript against the same vectors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.tokenizer import compact, index_tokens, query_tokens

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
