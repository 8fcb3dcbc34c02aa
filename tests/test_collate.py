"""Collate: witnesses grouped into dispatches, aligned, voted; checked on fixtures and on the seeds."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import collate as collate_module
from generator.collate import candidate_pairs, collate, group_witnesses, matching_key, opcodes, shingles
from generator.config import CollateConfig, Config, load_config
from generator.models import Article, Collection, DateInfo, Dispatch, Flag

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "collate"
GOLD = yaml.safe_load((ROOT / "tests" / "fixtures" / "gold.yaml").read_text(encoding="utf-8"))


def make_article(
    id: str,
    paragraphs: list[str] | tuple[str, ...],
    *,
    headline: str | None = None,
    kind: str = "article",
    date: DateInfo | None = None,
    flags: tuple[Flag, ...] = (),
    people: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
) -> Article:
    source_id, number = id.rsplit("-", 1)
    return Article(
        id=id,
        source_id=source_id,
        source=f"{source_id}.txt",
        index=int(number),
        kind=kind,  # type: ignore[arg-type]
        headline=headline,
        subheadline=None,
        kicker=None,
        dateline=None,
        paragraphs=tuple(paragraphs),
        pull_quotes=(),
        line=1,
        end_line=1,
        date=date or DateInfo(None, None, None, "no date in the text"),
        agency=None,
        place=None,
        via=None,
        people=people,
        keywords=keywords,
        flags=flags,
    )


def _article_from_yaml(entry: dict[str, Any]) -> Article:
    date = entry.get("date")
    return make_article(
        entry["id"],
        entry["paragraphs"],
        headline=entry.get("headline"),
        date=DateInfo(date["value"], date["precision"], date["source"], date.get("note", "")) if date else None,
        flags=tuple(Flag(f["kind"], f["text"], 1, f["context"]) for f in entry.get("flags", ())),
    )


def _date_dict(date: DateInfo) -> dict[str, str | None]:
    return {"value": date.value, "precision": date.precision, "source": date.source}


CASES = sorted(FIXTURES.glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_fixture(case: Path) -> None:
    data = yaml.safe_load(case.read_text(encoding="utf-8"))
    articles = tuple(_article_from_yaml(entry) for entry in data["articles"])
    expected = data["expected"]
    collated, dispatches = collate(articles, Config())
    assert [list(d.witnesses) for d in dispatches] == expected["groups"]
    by_id = {d.id: d for d in dispatches}
    for dispatch_id, want in expected.get("dispatches", {}).items():
        dispatch = by_id[dispatch_id]
        if "title" in want:
            assert dispatch.title == want["title"]
        if "paragraphs" in want:
            assert list(dispatch.paragraphs) == want["paragraphs"]
        if "date" in want:
            assert _date_dict(dispatch.date) == want["date"]
        if "variants" in want:
            found = [
                {
                    "consensus": v.consensus,
                    "settled": v.settled,
                    "readings": {r.witness: r.text for r in v.readings},
                }
                for v in dispatch.variants
            ]
            assert found == want["variants"]
    for article_id, want in expected.get("article_dates", {}).items():
        (article,) = [a for a in collated if a.id == article_id]
        assert _date_dict(article.date) == want


def _check_apparatus(dispatch: Dispatch) -> None:
    text = dispatch.text
    for variant in dispatch.variants:
        assert text[variant.position : variant.position + variant.length] == variant.consensus
        assert [r.witness for r in variant.readings] == list(dispatch.witnesses)
        assert variant.rule


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_every_variant_points_at_its_consensus_reading(case: Path) -> None:
    data = yaml.safe_load(case.read_text(encoding="utf-8"))
    _, dispatches = collate(tuple(_article_from_yaml(entry) for entry in data["articles"]), Config())
    for dispatch in dispatches:
        _check_apparatus(dispatch)


def test_notices_form_no_dispatch_and_every_article_is_in_exactly_one() -> None:
    notice = make_article("601_a-2", ["科学防疫 绝不松懈"], kind="notice")
    first = make_article("601_a-1", ["今天天气晴朗，气温回升，市民纷纷走出家门踏青赏花，公园游客明显增多。"])
    copy = make_article("602_b-1", ["今天天气晴朗，气温回升，市民纷纷走出家门踏青赏花，公园游客明显增多。"])
    collated, dispatches = collate((first, notice, copy), Config())
    assert [a.id for a in collated] == ["601_a-1", "601_a-2", "602_b-1"]
    assert [a.dispatch for a in collated] == ["d-601_a-1", None, "d-601_a-1"]
    assert [d.witnesses for d in dispatches] == [("601_a-1", "602_b-1")]
    assert dispatches[0].variants == ()


def test_a_short_text_found_whole_inside_a_long_one_is_a_quotation() -> None:
    brief = "国家统计局今天发布数据，一季度国内生产总值同比增长百分之五点三。"
    long_report = [
        "一季度经济运行开局良好。" + brief,
        "分析人士认为，消费和投资双双回暖，工业生产稳步增长，外贸进出口好于预期，为全年经济增长打下了坚实基础。"
        "专家建议继续加大宏观政策调节力度，巩固经济回升向好的势头，着力扩大国内需求，稳定市场预期，提振发展信心。",
        "多家机构据此上调了全年增长预测，并预计二季度增速将保持平稳，物价水平总体温和，就业形势保持稳定。",
    ]
    groups = group_witnesses([make_article("701_a-1", [brief]), make_article("702_b-1", long_report)], CollateConfig())
    assert [[a.id for a in group] for group in groups] == [["701_a-1"], ["702_b-1"]]


def test_opcodes_rebuild_the_second_text() -> None:
    a = "第一句话。第二句话，有一处不同。\n第三句话。"
    b = "第一句话。第二句话，有两处不同。\n新加的一句。第三句话。"
    rebuilt = "".join(a[i1:i2] if tag == "equal" else b[j1:j2] for tag, i1, i2, j1, j2 in opcodes(a, b))
    assert rebuilt == b


def test_matching_key_folds_width_case_spacing_and_punctuation() -> None:
    assert matching_key("ＡＢＣ，１２３ 中文。\nabc") == matching_key("abc,123中文abc") == "abc123中文abc"


def test_shingles_are_sampled_by_content_so_copies_keep_the_same_ones() -> None:
    passage = "经济社会发展和人民生命安全身体健康将受到严重影响"
    inside = shingles("开头不同的一段文字" + passage + "结尾也不同", 5, 3)
    alone = shingles(passage, 5, 3)
    # Every shingle lying wholly inside the passage is kept in both.
    assert {s for s in inside if s in passage} == {s for s in alone if s in passage}
    assert alone


def _synthetic(count: int, reprint_share: float, seed: int) -> tuple[list[Article], dict[str, int]]:
    """Articles of random words from one shared vocabulary; a share of them reprinted 2-4 times."""
    rng = random.Random(seed)
    vocabulary = ["".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4))) for _ in range(3000)]
    articles: list[Article] = []
    truth: dict[str, int] = {}
    dispatch = 0
    while len(articles) < count:
        sentences = ["".join(rng.choices(vocabulary, k=rng.randint(8, 16))) + "。" for _ in range(rng.randint(8, 20))]
        copies = rng.randint(2, 4) if rng.random() < reprint_share else 1
        for _ in range(copies):
            varied = list(sentences)
            if copies > 1 and len(varied) > 4 and rng.random() < 0.5:
                del varied[rng.randrange(1, len(varied))]
            text = list("".join(varied))
            for _ in range(rng.randint(0, 4)):
                text[rng.randrange(len(text))] = chr(rng.randint(0x4E00, 0x9FA5))
            number = len(articles)
            article_id = f"{number // 5:05d}_s-{number % 5 + 1}"
            articles.append(make_article(article_id, ["".join(text)]))
            truth[article_id] = dispatch
        dispatch += 1
    return articles[:count], truth


def test_grouping_uses_an_index_not_all_pairs_and_finds_the_reprints() -> None:
    articles, truth = _synthetic(2000, 0.2, seed=7)
    settings = CollateConfig()
    sets = [shingles(matching_key(a.text), settings.shingle, settings.sample) for a in articles]
    pairs = candidate_pairs(sets, settings.probes)
    groups = group_witnesses(articles, settings)
    # Near-linear: a bounded number of candidates per article, nowhere near n²/2.
    assert len(pairs) <= 5 * len(articles)
    found = sorted(sorted(a.id for a in group) for group in groups)
    expected: dict[int, list[str]] = {}
    for article_id, dispatch in truth.items():
        expected.setdefault(dispatch, []).append(article_id)
    assert found == sorted(sorted(ids) for ids in expected.values())


def test_collation_does_not_depend_on_input_order() -> None:
    case = yaml.safe_load((FIXTURES / "five_witnesses.yaml").read_text(encoding="utf-8"))
    articles = tuple(_article_from_yaml(entry) for entry in case["articles"])
    forward = collate(articles, Config())
    backward = collate(tuple(reversed(articles)), Config())
    assert backward[1] == forward[1]
    assert backward[0] == tuple(reversed(forward[0]))


# -- the seeds, through the real pipeline -------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> Collection:
    from generator.pipeline import gather

    return gather(load_config(ROOT / "config.yaml"))


def _article_id(collection: Collection, short: str) -> str:
    """gold.yaml's '000-1' is the first article of the file whose name starts '000_'."""
    prefix, number = short.split("-")
    (source,) = [s for s in collection.sources if s.id.startswith(prefix + "_")]
    return f"{source.id}-{number}"


def _dispatch_of(collection: Collection, gold_name: str) -> Dispatch:
    """A gold dispatch name, or a gold article id standing for its own dispatch."""
    if gold_name in GOLD["dispatches"]:
        article = _article_id(collection, GOLD["dispatches"][gold_name]["witnesses"][0])
    else:
        article = _article_id(collection, gold_name)
    (dispatch,) = [d for d in collection.dispatches if article in d.witnesses]
    return dispatch


def test_seed_groups_are_the_gold_groups_and_every_other_article_stands_alone(seeds: Collection) -> None:
    expected = sorted(
        sorted(_article_id(seeds, short) for short in entry["witnesses"]) for entry in GOLD["dispatches"].values()
    )
    grouped = {article for group in expected for article in group}
    reports = [a for a in seeds.articles if a.kind == "article"]
    expected += [[a.id] for a in reports if a.id not in grouped]
    assert sorted(sorted(d.witnesses) for d in seeds.dispatches) == sorted(expected)
    for article in seeds.articles:
        owners = [d.id for d in seeds.dispatches if article.id in d.witnesses]
        assert owners == ([article.dispatch] if article.kind == "article" else [])


def test_seed_consensus_carries_the_majority_reading_at_each_gold_place(seeds: Collection) -> None:
    for name, entry in GOLD["dispatches"].items():
        dispatch = _dispatch_of(seeds, name)
        _check_apparatus(dispatch)
        for place in entry.get("readings", ()):
            readings = list(place.values())
            majority = [r for r in set(readings) if readings.count(r) * 2 > len(readings)]
            if majority:
                assert majority[0] in dispatch.text, (name, place)
            else:  # no majority on the whole phrase: a witness's reading, marked unsettled
                assert any(r in dispatch.text for r in readings), (name, place)
                assert any(not v.settled for v in dispatch.variants)


def test_seed_repairs_are_variants(seeds: Collection) -> None:
    pbsc = _dispatch_of(seeds, "pbsc-2022-05-05")
    assert "风险人群" in pbsc.text and "risk" not in pbsc.text
    assert any("risk" in r.text for v in pbsc.variants for r in v.readings)
    state_council = _dispatch_of(seeds, "state-council-2022-05-05")
    assert "增值税存量" in state_council.text and "税税" not in state_council.text
    # 000-2 omits passages that 001-2 has: the consensus keeps them, as unsettled omissions.
    assert "量大面广的中小微企业" in state_council.text
    assert any(not v.settled and any(r.text == "" for r in v.readings) for v in state_council.variants)


def test_seed_dates_are_inherited_through_the_dispatch(seeds: Collection) -> None:
    for name, entry in GOLD["dispatches"].items():
        dispatch = _dispatch_of(seeds, name)
        if "date" in entry:
            assert dispatch.date.value == str(entry["date"])
            for witness in dispatch.witnesses:
                (article,) = [a for a in seeds.articles if a.id == witness]
                assert article.date.value == str(entry["date"])
                assert article.date.source in ("text", "source", "sidecar", "dispatch")
    politburo = _dispatch_of(seeds, "politburo-2020-02-21")
    assert politburo.date.value == "--02-21" and politburo.date.precision == "month-day"


def test_seed_related_and_not_related_pairs(seeds: Collection) -> None:
    for first, second in GOLD["related"]:
        a, b = _dispatch_of(seeds, first), _dispatch_of(seeds, second)
        assert b.id in [link.dispatch for link in a.related], (first, second)
        assert a.id in [link.dispatch for link in b.related], (first, second)
    for first, second in GOLD["not_related"]:
        a, b = _dispatch_of(seeds, first), _dispatch_of(seeds, second)
        assert b.id not in [link.dispatch for link in a.related], (first, second)
        assert a.id not in [link.dispatch for link in b.related], (first, second)
    for dispatch in seeds.dispatches:
        assert all(link.reason for link in dispatch.related)
        assert dispatch.id not in [link.dispatch for link in dispatch.related]


def test_seed_collation_does_not_depend_on_input_order(seeds: Collection) -> None:
    articles = tuple(dataclasses.replace(a, dispatch=None) for a in reversed(seeds.articles))
    _, dispatches = collate_module.collate(articles, load_config(ROOT / "config.yaml"))
    assert dispatches == seeds.dispatches


def test_early_decided_alignment_agrees_with_the_full_count() -> None:
    rng = random.Random(3)
    sentences = ["".join(rng.choices("天地人和春夏秋冬山水", k=rng.randint(3, 12))) + "。" for _ in range(40)]
    for _ in range(200):
        a = "".join(rng.sample(sentences, rng.randint(0, 12)))
        b = "".join(rng.sample(sentences, rng.randint(0, 12)))
        if a and rng.random() < 0.5:  # a copy with a few characters changed
            b = "".join(c if rng.random() > 0.05 else "变" for c in a)
        full = sum(i2 - i1 for tag, i1, i2, _, _ in opcodes(a, b) if tag == "equal")
        for needed in (0, full - 1, full, full + 1, 0.6 * min(len(a), len(b))):
            assert collate_module._aligns_at_least(a, b, needed) == (full >= needed), (a, b, needed)
