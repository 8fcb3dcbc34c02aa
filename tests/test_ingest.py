"""Stage 1, ingest: encodings, line ends, skipped files and sidecars.

tests/fixtures/ingest/collection/ is a content folder of awkward files; expected.yaml
says what ingest must make of it. The smaller cases build their files in a temporary folder.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pytest
import yaml

from generator.ingest import _is_sidecar_or_litter, detect_encoding, ingest, read_file, source_id
from generator.models import Sidecar

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
COLLECTION = FIXTURES / "collection"
EXPECTED = yaml.safe_load((FIXTURES / "expected.yaml").read_text(encoding="utf-8"))


def _sidecar(fields: dict[str, object] | None) -> Sidecar:
    return Sidecar(**(fields or {}))


def test_collection_sources_are_decoded_and_normalised() -> None:
    sources, _, _ = ingest(COLLECTION)
    texts = EXPECTED["texts"]
    got = [(s.file, s.encoding, s.text, s.sidecar) for s in sources]
    want = [
        (w["file"], w["encoding"], texts.get(w["text"], w["text"]), _sidecar(w.get("sidecar")))
        for w in EXPECTED["sources"]
    ]
    assert got == want


def test_collection_keeps_the_original_bytes_and_their_hash() -> None:
    sources, _, _ = ingest(COLLECTION)
    for source in sources:
        raw = (COLLECTION / source.file).read_bytes()
        assert source.raw == raw
        assert source.sha256 == hashlib.sha256(raw).hexdigest()
        assert source.id == source.file.rsplit(".", 1)[0]
    # The hash is of the bytes as found, not of the decoded text.
    gb = next(source for source in sources if source.file == "c_gb18030.txt")
    assert gb.sha256 != hashlib.sha256(gb.text.encode("utf-8")).hexdigest()


def test_collection_skips_bad_files_with_reasons_and_goes_on() -> None:
    sources, skipped, problems = ingest(COLLECTION)
    assert [(s.file, s.reason) for s in skipped] == [(w["file"], w["reason"]) for w in EXPECTED["skipped"]]
    assert [str(problem) for problem in problems] == EXPECTED["problems"]
    assert len(sources) == len(EXPECTED["sources"])


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("gbk", "国务院常务会议部署多项举措，保市场主体稳就业。"),
        ("gb18030", "中共中央政治局常务委员会召开会议，分析当前疫情防控形势。"),
        ("big5", "臺灣地區有關部門公布的數據顯示，出口持續增長。"),
    ],
)
def test_legacy_chinese_encodings_decode_to_the_same_text(encoding: str, text: str) -> None:
    detected = detect_encoding(text.encode(encoding))
    assert detected is not None and detected[1] == text


def test_utf16_without_a_bom_is_not_guessed() -> None:
    # Without a byte-order mark UTF-16 is indistinguishable from binary with NUL bytes.
    assert detect_encoding("新华社电 abc".encode("utf-16-le")) is None


def test_utf8_bom_only_and_crlf_whitespace_are_white_space(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8)
    (tmp_path / "blank.txt").write_bytes(b"\r\n\r\n  \r")
    (tmp_path / "ok.txt").write_bytes("第一行\r\n第二行\r第三行".encode("utf-8"))
    sources, skipped, _ = ingest(tmp_path)
    assert [(s.file, s.reason) for s in skipped] == [("blank.txt", "only white space"), ("bom.txt", "only white space")]
    assert [source.text for source in sources] == ["第一行\n第二行\n第三行"]


def test_control_characters_mark_a_file_as_not_text(tmp_path: Path) -> None:
    (tmp_path / "ctrl.txt").write_bytes(b"abc\x01\x02\x03def\n")
    source, skipped, problems = read_file(tmp_path / "ctrl.txt", "ctrl.txt")
    assert source is None and problems == []
    assert skipped is not None and skipped.reason == "not text (contains control characters)"


def test_sources_in_subfolders_are_read_in_order_with_distinct_ids(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("乙文。", encoding="utf-8")
    (tmp_path / "a.txt").write_text("甲文。", encoding="utf-8")
    (tmp_path / "a.md").write_text("同名的另一个文件。", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("隐藏文件。", encoding="utf-8")
    (tmp_path / "a.txt~").write_text("编辑器备份。", encoding="utf-8")
    sources, skipped, problems = ingest(tmp_path)
    assert [(s.id, s.file) for s in sources] == [("a", "a.md"), ("b-x", "b/x.txt")]
    assert [(s.file, s.reason) for s in skipped] == [("a.txt", "its id 'a' is already taken by a.md")]
    assert [str(p) for p in problems] == ["a.txt: skipped: its id 'a' is already taken by a.md"]


@pytest.mark.parametrize(
    ("relative", "ignored"),
    [
        (".hidden.txt", True),
        ("a/.git/x.txt", True),
        ("a.txt~", True),
        ("old~/a.txt", True),
        ("a.txt.swp", True),
        ("a.yaml", True),
        ("a/b.txt.yml", True),
        ("Thumbs.db", True),
        ("a/Thumbs.db", True),
        ("a.txt", False),
        ("a/b.c.txt", False),
        ("a~b.txt", False),
        ("a.swp.txt", False),
        ("a.yaml.txt", False),
        ("MyThumbs.db", False),
        ("Thumbs.dbx", False),
        ("x.Thumbs.db/a.txt", False),
    ],
)
def test_sidecars_and_litter_are_told_by_any_name_on_the_path(relative: str, ignored: bool) -> None:
    assert _is_sidecar_or_litter(relative) is ignored


def test_source_id_is_the_file_name_without_extension() -> None:
    assert source_id("000_0ae97bc3b7bf4831.txt") == "000_0ae97bc3b7bf4831"
    assert source_id("2022/05/人民日报 头版.txt") == "2022-05-人民日报-头版"


def test_missing_content_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="content folder not found"):
        ingest(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("sidecar", "messages"),
    [
        ("year: 2022\nadded: '2023-01-02'\n", []),
        ("- a list\n", ["s.txt.yaml: sidecar ignored: must be a mapping of keys to values"]),
        ("year: 22\n", ["s.txt.yaml:1: 'year' must be a year of four digits, not 22"]),
        ("year: true\n", ["s.txt.yaml:1: 'year' must be an integer, not True"]),
        ("\npublication: 3\n", ["s.txt.yaml:2: 'publication' must be a string, not 3"]),
        ("added: 2022-5-6\n", ["s.txt.yaml:1: 'added' must be an ISO date like 2022-05-05, not '2022-5-6'"]),
        ("date: 2022-02-30\n", ["s.txt.yaml:1: 'date' must be an ISO date like 2022-05-05, not '2022-02-30'"]),
        ("date: [2022\n", ["s.txt.yaml:2: sidecar ignored: not valid YAML (expected ',' or ']', but got '<stream end>')"]),
        ("a: b: c\n", ["s.txt.yaml:1: sidecar ignored: not valid YAML (mapping values are not allowed here)"]),
    ],
)
def test_sidecar_problems_name_the_file_and_line(tmp_path: Path, sidecar: str, messages: list[str]) -> None:
    (tmp_path / "s.txt").write_text("本报讯 市政府召开会议。\n", encoding="utf-8")
    (tmp_path / "s.txt.yaml").write_text(sidecar, encoding="utf-8")
    source, skipped, problems = read_file(tmp_path / "s.txt", "s.txt")
    assert skipped is None and source is not None
    assert [str(problem) for problem in problems] == messages


def test_sidecar_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("本报讯 市政府召开会议。\n", encoding="utf-8")
    (tmp_path / "s.txt.yaml").write_bytes("publication: 解放日报\n".encode("gb18030"))
    source, _, problems = read_file(tmp_path / "s.txt", "s.txt")
    assert source is not None and source.sidecar == Sidecar()
    assert [str(p) for p in problems] == ["s.txt.yaml: sidecar ignored: not UTF-8 (invalid start byte at byte 13)"]


def test_sidecar_values_reach_the_source(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("本报讯 市政府召开会议。\n", encoding="utf-8")
    (tmp_path / "s.txt.yaml").write_text("year: 2021\nlanguage: zh-Hant\nadded: 2023-01-02\n", encoding="utf-8")
    source, _, problems = read_file(tmp_path / "s.txt", "s.txt")
    assert problems == []
    assert source is not None and source.sidecar == Sidecar(year=2021, language="zh-Hant", added="2023-01-02")


def test_gb18030_text_of_uncommon_words_is_read(tmp_path: Path) -> None:
    """Text rich in words outside the commonest characters is still text: the score only
    chooses between legacy codecs, it does not demand everyday vocabulary."""
    text = "鹦鹉螺号潜艇驶过珊瑚礁，鲸鲨与蝠鲼相伴巡游；渔港码头堆满鳕鱼、鲭鱼和鳗鲡。\n"
    path = tmp_path / "sea.txt"
    path.write_bytes(text.encode("gb18030"))
    source, skipped, problems = read_file(path, "sea.txt")
    assert skipped is None and problems == []
    assert source is not None and source.encoding == "gb18030" and source.text == text
