"""Related dispatches: shared rare terms link, common ones do not, each link says why."""

from __future__ import annotations

import dataclasses

import pytest

from generator.config import RelatedConfig
from generator.models import DateInfo, Dispatch
import generator.related as related_module
from generator.related import archive_scale, rarity, related_links, related_links_incremental


def make_dispatch(
    id: str,
    text: str = "正文。",
    *,
    people: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
    place: str | None = None,
    date: str | None = None,
) -> Dispatch:
    return Dispatch(
        id=id,
        title=id,
        date=DateInfo(date, "day" if date else None, "text" if date else None),
        witnesses=(f"{id[2:]}-1",),
        paragraphs=(text,),
        variants=(),
        related=(),
        agency=None,
        place=place,
        people=people,
        keywords=keywords,
    )


def _others(n: int) -> list[Dispatch]:
    return [make_dispatch(f"d-{900 + i:03d}_z", keywords=(f"题{i}",)) for i in range(n)]


def _scored_pairs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The list that the pairs linking scores from now on are recorded in."""
    scored: list[tuple[str, str]] = []
    score = related_module._Run.score

    def counting(run: related_module._Run, first: str, second: str) -> float:
        scored.append((first, second))
        return score(run, first, second)

    monkeypatch.setattr(related_module._Run, "score", counting)
    return scored


def test_rarity_is_one_for_a_term_of_one_dispatch_and_falls_with_frequency() -> None:
    assert rarity(1, 10) == 1.0
    assert rarity(2, 10) > rarity(5, 10) > rarity(10, 10) > 0


def test_the_archive_scale_rounds_the_count_up_to_an_eighth_of_a_doubling() -> None:
    assert [archive_scale(n) for n in (0, 1, 2, 3, 16, 17, 10_000, 10_623, 10_624)] == [1, 1, 2, 4, 16, 18, 10_624, 10_624, 11_586]
    scales = [archive_scale(n) for n in range(1, 20_000)]
    assert all(n <= scale <= n * 2 ** (1 / 8) + 1 for n, scale in enumerate(scales, start=1))
    assert scales == sorted(scales)


def test_one_dispatch_more_within_a_scale_step_rescores_only_the_pairs_it_touches(monkeypatch: pytest.MonkeyPatch) -> None:
    # 21 and 22 dispatches share a scale (23): the new one's pairs are scored, no other.
    pairs = [make_dispatch(f"d-{i:03d}_p", people=(f"人{i // 2}",), keywords=(f"词{i // 2}", f"题{i // 2}")) for i in range(21)]
    assert archive_scale(21) == archive_scale(22)
    _, memo = related_links_incremental(pairs, RelatedConfig(), None)
    scored = _scored_pairs(monkeypatch)
    newcomer = make_dispatch("d-100_n", people=("人3",), keywords=("词3", "题3"))
    links, _ = related_links_incremental([*pairs, newcomer], RelatedConfig(), memo)
    # The pair that holds the newcomer's terms weighs them differently now; no other moves.
    assert scored and all("d-100_n" in pair or {"d-006_p", "d-007_p"} == set(pair) for pair in scored)
    assert links == related_links([*pairs, newcomer], RelatedConfig())
    assert "d-100_n" in [link.dispatch for link in links["d-006_p"]]


def test_a_shared_rare_person_and_keyword_link_both_ways_with_a_reason() -> None:
    a = make_dispatch("d-001_a", people=("王贺胜",), keywords=("社会面清零", "四应四尽"))
    b = make_dispatch("d-002_b", people=("王贺胜",), keywords=("社会面清零", "四应四尽"))
    links = related_links([a, b, *_others(8)], RelatedConfig())
    assert [link.dispatch for link in links["d-001_a"]] == ["d-002_b"]
    assert [link.dispatch for link in links["d-002_b"]] == ["d-001_a"]
    assert links["d-001_a"][0].reason == "共同人物：王贺胜；共同关键词：四应四尽、社会面清零"


def test_terms_held_by_most_dispatches_are_ignored() -> None:
    # Every dispatch has 会议 and the same day: above the cardinality threshold, worth nothing.
    crowd = [make_dispatch(f"d-{i:03d}_c", keywords=("会议",), date="2022-05-05") for i in range(6)]
    assert related_links(crowd, RelatedConfig()) == {}


def test_a_keyword_one_dispatch_mentions_in_its_text_counts_as_shared() -> None:
    a = make_dispatch("d-001_a", people=("李强",), keywords=("四应四尽", "动态清零"))
    b = make_dispatch("d-002_b", "按照“四应四尽”要求，坚持动态清零。", people=("李强",))
    others = _others(8)
    assert "d-002_b" in [link.dispatch for link in related_links([a, b, *others], RelatedConfig())["d-001_a"]]
    silent = dataclasses.replace(b, paragraphs=("另一件事。",))
    assert related_links([a, silent, *others], RelatedConfig()) == {}


def test_each_dispatch_keeps_at_most_limit_links_best_first() -> None:
    hub = make_dispatch("d-000_h", people=("张三", "李四", "王五"), keywords=("甲乙丙",))
    strong = make_dispatch("d-001_s", people=("张三", "李四", "王五"), keywords=("甲乙丙",))
    weak = make_dispatch("d-002_w", people=("张三", "李四", "王五"))
    links = related_links([hub, strong, weak, *_others(8)], RelatedConfig(limit=1))
    assert [link.dispatch for link in links["d-000_h"]] == ["d-001_s"]
    assert [link.dispatch for link in links["d-002_w"]] == ["d-000_h"]


def test_a_keyword_whose_characters_are_scattered_in_the_text_is_not_mentioned() -> None:
    a = make_dispatch("d-001_a", people=("李强",), keywords=("四应四尽", "动态清零"))
    scattered = make_dispatch("d-002_b", "四处应对，四面尽力；动态的清理，零星。", people=("李强",))
    assert related_links([a, scattered, *_others(8)], RelatedConfig()) == {}


def test_a_dispatch_that_stops_sharing_a_term_leaves_its_partners_links() -> None:
    a = make_dispatch("d-001_a", people=("王贺胜",), keywords=("社会面清零", "四应四尽"))
    b = make_dispatch("d-002_b", people=("王贺胜",), keywords=("社会面清零", "四应四尽"))
    others = _others(8)
    links, memo = related_links_incremental([a, b, *others], RelatedConfig(), None)
    assert [link.dispatch for link in links["d-001_a"]] == ["d-002_b"]
    # Same number of dispatches, so the memo's pairs are repaired rather than found anew.
    moved = dataclasses.replace(b, people=("李强",), keywords=("复工复产",))
    links, memo = related_links_incremental([a, moved, *others], RelatedConfig(), memo)
    assert links == related_links([a, moved, *others], RelatedConfig()) == {}
    links, _ = related_links_incremental([a, b, *others], RelatedConfig(), memo)
    assert links == related_links([a, b, *others], RelatedConfig())
    assert [link.dispatch for link in links["d-002_b"]] == ["d-001_a"]


def test_a_run_reads_the_texts_and_terms_of_the_pairs_it_scores_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The newcomer shares a person with the hub, whose pairs with the spokes (whose texts
    # name him) are scored again: the person's count moved. The spokes' own partners (the
    # rims) are in no scored pair and must not be looked at: at 10,000 dispatches they
    # are thousands.
    hub = make_dispatch("d-000_h", people=("王贺胜",), keywords=("词一", "词二", "词三"))
    spokes = [make_dispatch(f"d-00{i}_s", "王贺胜说。", keywords=(f"词{n}", f"题{n}")) for i, n in ((1, "一"), (2, "二"), (3, "三"))]
    rims = [make_dispatch(f"d-01{i}_r", f"说到了题{n}与词{n}。", keywords=(f"题{n}",)) for i, n in ((1, "一"), (2, "二"), (3, "三"))]
    archive = [hub, *spokes, *rims, *_others(8)]
    newcomer = make_dispatch("d-100_n", "王贺胜说词一。", people=("王贺胜",))
    assert archive_scale(len(archive)) == archive_scale(len(archive) + 1)
    _, memo = related_links_incremental(archive, RelatedConfig(), None)
    scored = _scored_pairs(monkeypatch)
    looked_at: list[str] = []
    mentionable = related_module._Run._mentionable

    def watched(run: related_module._Run, key: str) -> frozenset[int]:
        looked_at.append(key)
        return mentionable(run, key)

    monkeypatch.setattr(related_module._Run, "_mentionable", watched)
    links, _ = related_links_incremental([*archive, newcomer], RelatedConfig(), memo)
    assert set(scored) == {("d-000_h", "d-100_n"), *(("d-000_h", spoke.id) for spoke in spokes)}
    assert sorted(set(looked_at)) == sorted({key for pair in scored for key in pair})
    assert links == related_links([*archive, newcomer], RelatedConfig())
    assert {rim.id: memo.partners[rim.id] for rim in rims} == {"d-011_r": {"d-001_s"}, "d-012_r": {"d-002_s"}, "d-013_r": {"d-003_s"}}


def test_a_text_edited_to_mention_or_drop_a_partners_keyword_is_searched_again() -> None:
    a = make_dispatch("d-001_a", people=("李强",), keywords=("四应四尽", "动态清零"))
    silent = make_dispatch("d-002_b", "另一件事。", people=("李强",))
    others = _others(8)
    links, memo = related_links_incremental([a, silent, *others], RelatedConfig(), None)
    assert links == {}
    # The memo knows the silent text lacks both keywords; the edited one has them.
    saying = dataclasses.replace(silent, paragraphs=("按照“四应四尽”要求，坚持动态清零。",))
    links, memo = related_links_incremental([a, saying, *others], RelatedConfig(), memo)
    assert links == related_links([a, saying, *others], RelatedConfig())
    assert [link.dispatch for link in links["d-002_b"]] == ["d-001_a"]
    links, _ = related_links_incremental([a, silent, *others], RelatedConfig(), memo)
    assert links == {}


@pytest.mark.parametrize("reports_of_the_day", [12, 16])
def test_a_term_whose_count_moves_rescores_the_pairs_that_share_or_mention_it_only(
    monkeypatch: pytest.MonkeyPatch, reports_of_the_day: int
) -> None:
    # Reports of one day in linked pairs, each pair sharing a person and a keyword with
    # a report of another day too; one more report of that day comes. The day (of too
    # many to propose pairs) weighs less in the pairs of two of them, or, at 16 (the
    # limit at a scale of 32), stops counting; the pairs with the other day's reports
    # do not move.
    day = [
        make_dispatch(f"d-{i:03d}_d", people=(f"人{i // 2}",), keywords=(f"词{i // 2}", f"题{i // 2}"), date="2022-05-05")
        for i in range(reports_of_the_day)
    ]
    elsewhere = [make_dispatch(f"d-1{i:02d}_e", people=(f"人{i}",), keywords=(f"词{i}",), date="2022-06-06") for i in range(6)]
    archive = [*day, *elsewhere, *_others(31 - reports_of_the_day - len(elsewhere))]
    assert RelatedConfig().cardinality_threshold * archive_scale(len(archive)) == 16
    newcomer = make_dispatch("d-200_n", people=("李强",), date="2022-05-05")
    assert archive_scale(len(archive)) == archive_scale(len(archive) + 1)
    before, memo = related_links_incremental(archive, RelatedConfig(), None)
    scored = _scored_pairs(monkeypatch)
    links, memo = related_links_incremental([*archive, newcomer], RelatedConfig(), memo)
    assert sorted(scored) == [(f"d-{i:03d}_d", f"d-{i + 1:03d}_d") for i in range(0, reports_of_the_day, 2)]
    monkeypatch.undo()
    assert links == related_links([*archive, newcomer], RelatedConfig())
    assert [link.dispatch for link in links["d-000_d"]] == [link.dispatch for link in before["d-000_d"]] == ["d-001_d"]
    assert links["d-000_d"][0].score < before["d-000_d"][0].score
    links, _ = related_links_incremental(archive, RelatedConfig(), memo)
    assert links == related_links(archive, RelatedConfig())
