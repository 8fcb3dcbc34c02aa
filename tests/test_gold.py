"""The seeds against gold.yaml, what a careful human reads in them.

gold.yaml marks some places where two readings are both acceptable ("either" in its
comments); those alternatives are spelled out in ALTERNATIVES below, each with the
comment it comes from.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from generator.clean import clean
from generator.config import load_config
from generator.describe import describe
from generator.ingest import ingest
from generator.models import Article, Text
from generator.split import split

ROOT = Path(__file__).resolve().parent.parent
GOLD = yaml.safe_load((ROOT / "tests" / "fixtures" / "gold.yaml").read_text(encoding="utf-8"))
CONTENT = ROOT / "content"

# gold.yaml: 001-6 "kicker: 2022年这些服务更加便利   # either kicker or headline/subheadline pair";
# 002-1 "subheadline: …   # either one long headline or headline + deck" and
# "kicker: 坚决打赢疫情防控阻击战   # a column heading; either kicker or section title";
# 004-5 "kicker: …   # either kicker, or a headline whose body is not in this file".
ALTERNATIVES: dict[str, list[dict[str, str | None]]] = {
    "001-6": [
        {"kicker": "2022年这些服务更加便利", "headline": "公安服务“一窗通办”机场开通“易安检”", "subheadline": None},
        {"kicker": None, "headline": "2022年这些服务更加便利", "subheadline": "公安服务“一窗通办”机场开通“易安检”"},
    ],
    "002-1": [
        {
            "kicker": "坚决打赢疫情防控阻击战",
            "headline": "中共中央政治局召开会议",
            "subheadline": "研究新冠肺炎疫情防控工作 部署统筹做好疫情防控和经济社会发展工作 中共中央总书记习近平主持会议",
        },
        {
            "kicker": "坚决打赢疫情防控阻击战",
            "headline": "中共中央政治局召开会议 研究新冠肺炎疫情防控工作 部署统筹做好疫情防控和经济社会发展工作 中共中央总书记习近平主持会议",
            "subheadline": None,
        },
    ],
}


@lru_cache(maxsize=1)
def seed_texts() -> dict[str, tuple[Text, tuple[Article, ...]]]:
    config = load_config(ROOT / "config.yaml")
    sources, skipped, _ = ingest(CONTENT)
    assert not skipped
    result = {}
    for source in sources:
        text = clean(source)
        articles, problems = split(text)
        assert not problems, problems
        result[source.file] = (text, describe(articles, text, config))
    return result


def gold_articles() -> list[tuple[str, int, dict]]:
    return [
        (file, number, entry)
        for file, spec in GOLD["sources"].items()
        for number, entry in enumerate(spec["articles"], start=1)
    ]


def article_for(file: str, number: int) -> Article:
    articles = seed_texts()[file][1]
    assert len(articles) >= number, f"{file}: only {len(articles)} articles found"
    return articles[number - 1]


@pytest.mark.parametrize("file", sorted(GOLD["sources"]))
def test_every_article_found_and_no_extra(file: str) -> None:
    expected = GOLD["sources"][file]["articles"]
    found = seed_texts()[file][1]
    assert [a.kind for a in found] == [e.get("kind", "article") for e in expected]


@pytest.mark.parametrize("file,number,entry", gold_articles(), ids=lambda v: v if isinstance(v, str) else "")
def test_headings(file: str, number: int, entry: dict) -> None:
    article = article_for(file, number)
    if entry.get("kind") == "notice":
        assert article.headline is None
        return
    found = {"kicker": article.kicker, "headline": article.headline, "subheadline": article.subheadline}
    expected = {key: entry.get(key) for key in ("kicker", "headline", "subheadline")}
    options = ALTERNATIVES.get(entry["id"], [expected])
    assert found in options, f"{entry['id']}: {found} not in {options}"


@pytest.mark.parametrize("file,number,entry", gold_articles(), ids=lambda v: v if isinstance(v, str) else "")
def test_dateline(file: str, number: int, entry: dict) -> None:
    article = article_for(file, number)
    expected = entry.get("dateline")
    if expected in (None, "none"):
        assert article.dateline is None
        return
    assert article.dateline is not None
    assert article.dateline.agency == expected["agency"]
    assert article.dateline.place == expected.get("place")
    assert article.dateline.date == expected.get("date")
    assert article.dateline.via == expected.get("via")
    assert article.dateline.position == expected.get("position", "start")


def _normalise(text: str) -> str:
    """What cleaning is expected to do, done crudely: for comparing amounts of text."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFC", text))
    return text.translate(str.maketrans({",": "，", ":": "："}))


def _character_errors(a: str, b: str) -> int:
    """Characters of the longer text not matched in the other: an upper bound of edit distance."""
    matched = sum(block.size for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return max(len(a), len(b)) - matched


@pytest.mark.parametrize("file,number,entry", gold_articles(), ids=lambda v: v if isinstance(v, str) else "")
def test_body_bounds_and_character_error(file: str, number: int, entry: dict) -> None:
    article = article_for(file, number)
    if entry.get("kind") == "notice":
        assert article.text == entry["text"]
        return
    assert article.text.startswith(entry["body_starts"]), article.text[:40]
    assert article.text.endswith(entry["body_ends"]), article.text[-40:]
    # The key's reading of the body is the raw text from its first to its last words;
    # the cleaned body must be within 1% character error of it.
    raw = _normalise((CONTENT / file).read_text(encoding="utf-8"))
    start = raw.index(_normalise(entry["body_starts"]))
    end = raw.index(_normalise(entry["body_ends"]), start) + len(_normalise(entry["body_ends"]))
    key = raw[start:end]
    body = _normalise(article.text)
    errors = _character_errors(body, key)
    assert errors <= 0.01 * len(key), f"{entry['id']}: {errors} character errors in {len(key)}"


def test_pull_quotes_are_not_body() -> None:
    article = article_for("004_809feb52cb12a67f.txt", 1)
    assert len(article.pull_quotes) == GOLD["sources"]["004_809feb52cb12a67f.txt"]["articles"][0]["pull_quotes"]
    for quote in article.pull_quotes:
        assert not quote.startswith("-")
        assert quote not in article.paragraphs


@pytest.mark.parametrize("file", sorted(f for f, s in GOLD["sources"].items() if "page_breaks" in s))
def test_page_breaks_joined(file: str) -> None:
    text = seed_texts()[file][0]
    whole = "\n".join(block.text for block in text.blocks)
    for joined in GOLD["sources"][file]["page_breaks"]:
        left, right = joined.split("|")
        if left.endswith(right[:1]) and right[:1] == left[-1:]:
            # A doubled character: joined, kept (a witness decides) and flagged.
            assert left + right in whole
            assert any(flag.kind == "doubled-at-break" and flag.text == left[-1] + right[0] for flag in text.flags)
        else:
            assert left + right in whole, joined
    assert "join-page-break" in {change.kind for change in text.changes}


def test_spacing_repaired() -> None:
    text = seed_texts()["001_cd7b67e673771ba7.txt"][0]
    whole = "\n".join(block.text for block in text.blocks)
    for case in GOLD["sources"]["001_cd7b67e673771ba7.txt"]["spacing"]:
        assert case["found"] not in whole
        assert case["reading"] in whole
    assert sum(1 for change in text.changes if change.kind == "spacing") >= len(
        GOLD["sources"]["001_cd7b67e673771ba7.txt"]["spacing"]
    )


def test_column_lines_joined() -> None:
    text = seed_texts()["001_cd7b67e673771ba7.txt"][0]
    assert "中共中央政治局常务委员会5月5日召开会议，分析当前新冠肺炎疫情防控形势" in text.blocks[0].text
    assert sum(1 for change in text.changes if change.kind == "join-lines") > 100


def test_full_width_punctuation_and_indents() -> None:
    shanghai = seed_texts()["004_809feb52cb12a67f.txt"][0]
    assert not any("," in block.text for block in shanghai.blocks)
    web = seed_texts()["002_839932d49a813d9b.txt"][0]
    assert not any(block.text.startswith("\u3000") for block in web.blocks)
    assert "indent" in {change.kind for change in web.changes}


def test_contamination_flagged_with_position() -> None:
    text = seed_texts()["004_809feb52cb12a67f.txt"][0]
    flags = [flag for flag in text.flags if flag.kind == "latin-stand-in"]
    for case in GOLD["sources"]["004_809feb52cb12a67f.txt"]["contamination"]:
        word = re.search(r"[A-Za-z]+", case["found"]).group()
        matching = [flag for flag in flags if flag.text == word and case["found"].replace(" ", "") in flag.context.replace(" ", "")]
        assert matching, case
        assert all(flag.line > 0 for flag in matching)
    # The witness's reading is kept: nothing is translated.
    whole = "\n".join(block.text for block in text.blocks)
    assert "risk 人群" in whole


def test_dates() -> None:
    # 001 names 2022, so its articles carry the year from the source itself.
    for article in seed_texts()["001_cd7b67e673771ba7.txt"][1]:
        assert article.date.value == "2022-05-05"
        assert article.date.source == "source"
    # 002 names no year: the date is month and day, and says so.
    (politburo,) = seed_texts()["002_839932d49a813d9b.txt"][1]
    assert politburo.date.value == "--02-21"
    assert politburo.date.precision == "month-day"


def test_people() -> None:
    assert "习近平" in article_for("000_0ae97bc3b7bf4831.txt", 1).people
    assert "李克强" in article_for("000_0ae97bc3b7bf4831.txt", 2).people
    assert set(article_for("004_809feb52cb12a67f.txt", 5).people) >= {"李强", "龚正", "王贺胜"}
    assert "龚正" in article_for("004_809feb52cb12a67f.txt", 3).people
