"""Incremental collation: after any edit, collate_incremental with the last memo equals a full collate."""

from __future__ import annotations

import dataclasses
import pickle
import random
from collections.abc import Callable

import pytest

from generator import collate as collate_module, parallel
from generator.collate import CollateMemo, collate, collate_incremental
from generator.config import CollateConfig, Config, RelatedConfig
from generator.models import Article, DateInfo

from tests.test_collate import make_article

# Few probes, so that the counts an edit moves change which shingles unchanged articles
# probe, and a low related threshold, so that a small collection has links to move.
CONFIG = Config(collate=CollateConfig(probes=3), related=RelatedConfig(threshold=1.0))
PEOPLE = ["王贺胜", "李国强", "张建华", "陈晓明", "刘德荣", "赵海燕"]
BOILERPLATE = [
    "本报记者从有关部门获悉，相关工作正在有序推进。",
    "有关部门表示，相关工作正在有序推进，将及时公布进展。",
    "记者从有关部门获悉，将及时公布进展情况。",
]
KEYWORDS = ["社会面清零", "动态清零", "保供稳价", "复工复产", "核酸检测", "疫情防控"]


def _words(rng: random.Random) -> list[str]:
    return ["".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4))) for _ in range(400)]


def _sentence(rng: random.Random, words: list[str]) -> str:
    """Random words; now and then a name or keyword, which a report not described by it then mentions."""
    chosen = rng.choices(words, k=rng.randint(6, 12))
    if rng.random() < 0.2:
        chosen.insert(rng.randrange(len(chosen)), rng.choice(PEOPLE + KEYWORDS))
    return "".join(chosen) + "。"


def _report(rng: random.Random, words: list[str]) -> dict[str, object]:
    """A dispatch as an agency sends it: text, people, keywords, date."""
    paragraphs = [
        "".join(_sentence(rng, words) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(1, 3))
    ]
    if rng.random() < 0.6:  # boilerplate many reports share: the shingles unrelated articles have in common
        paragraphs.append(rng.choice(BOILERPLATE))
    day = rng.randint(1, 9)
    return {
        "paragraphs": paragraphs,
        "people": tuple(rng.sample(PEOPLE, rng.randint(0, 2))),
        "keywords": tuple(rng.sample(KEYWORDS, rng.randint(0, 3))),
        "date": DateInfo(f"2022-05-0{day}", "day", "text")
        if rng.random() < 0.7
        else DateInfo("--05-05", "month-day", "text"),
    }


def _copy(report: dict[str, object], article_id: str, rng: random.Random) -> Article:
    """A paper's copy of a report: a character changed here and there, sometimes a paragraph dropped."""
    paragraphs = list(report["paragraphs"])  # type: ignore[call-overload]
    if len(paragraphs) > 1 and rng.random() < 0.3:
        del paragraphs[rng.randrange(1, len(paragraphs))]
    damaged = []
    for paragraph in paragraphs:
        characters = list(paragraph)
        for _ in range(rng.randint(0, 2)):
            characters[rng.randrange(len(characters))] = chr(rng.randint(0x4E00, 0x9FA5))
        damaged.append("".join(characters))
    people, keywords = report["people"], report["keywords"]
    article = make_article(article_id, damaged, people=people, keywords=keywords)  # type: ignore[arg-type]
    return dataclasses.replace(
        article,
        date=report["date"],
        headline=f"标题{article_id}" if rng.random() < 0.8 else None,
    )


class Archive:
    """Sources of a few articles each, some reprinting the same report, and edits to them."""

    def __init__(self, seed: int, sources: int = 14) -> None:
        self.rng = random.Random(seed)
        self.words = _words(self.rng)
        self.reports = [_report(self.rng, self.words) for _ in range(sources)]
        self.sources: dict[str, list[Article]] = {}
        for number in range(sources):
            self.add_source(f"{number:03d}_s")

    def articles(self) -> tuple[Article, ...]:
        return tuple(article for name in sorted(self.sources) for article in self.sources[name])

    def add_source(self, name: str) -> None:
        """A source of 1-4 articles: each a new report or a copy of an earlier one; sometimes a notice."""
        articles: list[Article] = []
        for index in range(1, self.rng.randint(1, 4) + 1):
            article_id = f"{name}-{index}"
            if self.rng.random() < 0.1:
                articles.append(make_article(article_id, ["科学防疫，人人有责。"], kind="notice"))
                continue
            if self.rng.random() < 0.5:
                report = self.rng.choice(self.reports)
            else:
                report = _report(self.rng, self.words)
                self.reports.append(report)
            articles.append(_copy(report, article_id, self.rng))
        self.sources[name] = articles

    def add_reprint(self, name: str) -> None:
        """A source holding one copy of a report some source already has."""
        (report,) = self.rng.sample(self.reports[:5], 1)
        self.sources[name] = [_copy(report, f"{name}-1", self.rng)]

    def remove_source(self) -> None:
        del self.sources[self.rng.choice(sorted(self.sources))]

    def _edit_one(self, change: Callable[[Article], Article]) -> None:
        name = self.rng.choice(sorted(self.sources))
        articles = self.sources[name]
        reports = [number for number, article in enumerate(articles) if article.kind == "article"]
        if reports:
            number = self.rng.choice(reports)
            articles[number] = change(articles[number])

    def edit_text(self) -> None:
        """A sentence added, one removed, or a few characters changed in one article of one source."""

        def change(article: Article) -> Article:
            paragraphs = list(article.paragraphs)
            number = self.rng.randrange(len(paragraphs))
            choice = self.rng.random()
            if choice < 0.4:
                paragraphs[number] += "".join(self.rng.choices(self.words, k=8)) + "。"
            elif choice < 0.7 and len(paragraphs) > 1:
                del paragraphs[number]
            else:
                characters = list(paragraphs[number])
                characters[self.rng.randrange(len(characters))] = "变"
                paragraphs[number] = "".join(characters)
            return dataclasses.replace(article, paragraphs=tuple(paragraphs))

        self._edit_one(change)

    def edit_metadata(self) -> None:
        """Another date or other people: related links move, the text stays."""

        def change(article: Article) -> Article:
            return dataclasses.replace(
                article,
                date=DateInfo(f"2022-06-{self.rng.randint(10, 12)}", "day", "sidecar"),
                people=tuple(self.rng.sample(PEOPLE, self.rng.randint(0, 2))),
                keywords=tuple(self.rng.sample(KEYWORDS, self.rng.randint(0, 3))),
            )

        self._edit_one(change)

    def replace_with_reprint(self) -> None:
        """One article's text becomes a copy of another report: it leaves one group and joins another."""
        report = self.rng.choice(self.reports)
        self._edit_one(lambda article: _copy(report, article.id, self.rng))


def _check(archive: Archive, memo: CollateMemo | None) -> CollateMemo:
    articles = archive.articles()
    collated, dispatches, memo = collate_incremental(articles, CONFIG, memo)
    full_collated, full_dispatches, full = collate_incremental(articles, CONFIG, None)
    assert (collated, dispatches) == (full_collated, full_dispatches) == collate(articles, CONFIG)
    # Reprints are found by many pairs, so a pair missed by a stale probe seldom changes a
    # group in a small archive: the probes and pairs themselves must be those of a full run.
    assert memo.grouping.probes.keys() == full.grouping.probes.keys()
    assert all(set(memo.grouping.probes[key]) == set(probes) for key, probes in full.grouping.probes.items())
    # (A memo that was pickled unpacks its entries as they are read.)
    assert {key: memo.grouping.neighbours[key] for key in memo.grouping.neighbours} == full.grouping.neighbours
    assert memo.related is not None and full.related is not None
    assert memo.related.partners == full.related.partners
    assert memo.related.scores == full.related.scores
    return memo


@pytest.mark.parametrize("seed", range(3))
def test_every_kind_of_edit_gives_what_a_full_collate_gives(seed: int) -> None:
    archive = Archive(seed)
    memo = _check(archive, None)
    edits = [
        archive.edit_text,
        archive.edit_metadata,
        archive.replace_with_reprint,
        archive.remove_source,
        lambda: archive.add_reprint(f"{archive.rng.randint(0, 999):03d}_r"),
        lambda: archive.add_source(f"{archive.rng.randint(0, 999):03d}_n"),
    ]
    for step in range(24):
        edit = edits[step] if step < len(edits) else archive.rng.choice(edits)
        edit()
        memo = _check(archive, memo)
        if step % 4 == 3:  # as ``build`` keeps it between runs
            memo = pickle.loads(pickle.dumps(memo))


def test_the_edits_move_groups_and_related_links() -> None:
    """The property test above is only worth something if its edits change what collate finds."""
    archive = Archive(1)
    before = collate(archive.articles(), CONFIG)[1]
    assert any(len(d.witnesses) > 1 for d in before) and any(d.related for d in before)
    archive.replace_with_reprint()
    archive.edit_metadata()
    archive.add_reprint("500_r")
    after = collate(archive.articles(), CONFIG)[1]
    assert [d.witnesses for d in after] != [d.witnesses for d in before]
    assert [d.related for d in after] != [d.related for d in before]


def test_a_memo_survives_pickling_and_a_changed_config_starts_afresh() -> None:
    archive = Archive(2)
    memo = pickle.loads(pickle.dumps(_check(archive, None)))
    archive.edit_text()
    memo = pickle.loads(pickle.dumps(_check(archive, memo)))
    articles = archive.articles()
    other = Config(related=RelatedConfig(threshold=0.5))
    assert collate_incremental(articles, other, memo)[:2] == collate(articles, other)


def test_an_edit_redoes_only_the_dispatches_it_touches(monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive(3, sources=30)
    articles = archive.articles()
    _, dispatches, memo = collate_incremental(articles, CONFIG, None)
    built: list[tuple[str, ...]] = []
    build = collate_module.build_dispatch

    def counting(witnesses: list[Article], key_lengths: dict[str, int]):  # type: ignore[no-untyped-def]
        built.append(tuple(article.id for article in witnesses))
        return build(witnesses, key_lengths)

    monkeypatch.setattr(collate_module, "build_dispatch", counting)
    _, again, memo = collate_incremental(articles, CONFIG, memo)
    assert again == dispatches and built == []
    archive.edit_text()
    changed = set(archive.articles()) - set(articles)
    (edited,) = changed
    collate_incremental(archive.articles(), CONFIG, memo)
    assert built and all(edited.id in group for group in built)


def test_a_memo_pickled_after_many_articles_went_renumbers_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # No spare places: the first save after a source goes renumbers every article, and the
    # entries still packed since the last load are rewritten to the new places.
    monkeypatch.setattr(collate_module, "_spare_places", lambda indexed: 0)
    archive = Archive(4)
    memo = parallel.loads(parallel.dumps(_check(archive, None)))
    for _ in range(3):
        archive.remove_source()
        memo = parallel.loads(parallel.dumps(_check(archive, memo)))
        assert len(memo.grouping.places) == len(memo.grouping.key_lengths)
    archive.add_reprint("900_r")
    _check(archive, parallel.loads(parallel.dumps(memo)))


def test_an_unchanged_witness_inherits_the_year_its_dispatch_has_now() -> None:
    # Unchanged articles of an unchanged dispatch come back as they were; this one's
    # dispatch is made again (another witness's date was corrected) and gives another year.
    rng = random.Random(7)
    words = _words(rng)
    body = [_sentence(rng, words) for _ in range(6)]
    dated = make_article("a-1", body, date=DateInfo("2022-05-06", "day", "text"))
    undated = make_article("b-1", body, date=DateInfo("--05-06", "month-day", "text"))
    others = [make_article(f"c-{n}", [f"另一篇报道第{n}段。"]) for n in range(1, 4)]
    collated, _, memo = collate_incremental((dated, undated, *others), CONFIG, None)
    assert collated[1].date.value == "2022-05-06"
    corrected = dataclasses.replace(dated, date=DateInfo("2023-05-06", "day", "text"))
    articles = (corrected, undated, *others)
    collated, dispatches, memo = collate_incremental(articles, CONFIG, memo)
    assert (collated, dispatches) == collate(articles, CONFIG)
    assert collated[1].date.value == "2023-05-06" and collated[1].dispatch == collated[0].dispatch
