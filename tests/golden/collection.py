"""Collections built by hand from the models, for the render tests.

``golden_collection`` is small and fixed: the golden-site test renders it and compares
every byte with tests/golden/site/. It holds what every page type must cope with: a
dispatch in three witnesses with a change, an omission, an insertion and an
unsettled place; a source in traditional characters; a notice; a year-unknown date;
an undated dispatch; a file name with a space; a skipped file; and a source full of
hostile markup.

``synthetic_collection`` is large and made up, for timing the render and for
pagination: N dispatches of Chinese-looking text, a fifth of them reprinted.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path

from generator import pipeline
from generator.config import Config, FeedConfig, load_config
from generator.models import (
    Article,
    Change,
    Collection,
    DateInfo,
    Dateline,
    Dispatch,
    Flag,
    Page,
    Reading,
    RelatedLink,
    Sidecar,
    Skipped,
    Source,
    Text,
    Variant,
)

ROOT = Path(__file__).resolve().parent.parent.parent

HOSTILE_HEADLINE = "<script>alert('headline')</script>标题"
HOSTILE_PARAGRAPHS = (
    "正文<img src=x onerror=alert('img')>继续。",
    "[点我](javascript:alert('link'))，又见<a href=\"javascript:alert(1)\">链接</a>。",
    "模板{{ 7*7 }}与{% if true %}语句{% endif %}都是文字。",
    "# 不是标题",
    "- 不是列表 *不是强调* `不是代码` &amp; 不是实体",
)


def golden_config(root: Path = ROOT) -> Config:
    return Config(
        title="剪报测试",
        description="渲染测试用的小档案",
        base_url="https://archive.example/jianbao/",
        page_size=2,
        feed=FeedConfig(limit=3),
        root=root,
    )


def _source(file: str, text: str, sidecar: Sidecar | None = None) -> Source:
    raw = text.encode("utf-8")
    stem = file.rsplit(".", 1)[0].replace(" ", "-")
    return Source(stem, file, raw, hashlib.sha256(raw).hexdigest(), "utf-8", text, sidecar or Sidecar())


def _article(source: Source, index: int, headline: str | None, paragraphs: tuple[str, ...], **fields: object) -> Article:
    values: dict[str, object] = dict(
        id=f"{source.id}-{index}",
        source_id=source.id,
        source=source.file,
        index=index,
        kind="article",
        headline=headline,
        subheadline=None,
        kicker=None,
        dateline=None,
        paragraphs=paragraphs,
        pull_quotes=(),
        line=index * 10,
        end_line=index * 10 + 5,
        date=DateInfo("2022-05-05", "day", "text"),
        agency="新华社",
        place="北京",
        via=None,
        people=(),
        keywords=(),
        flags=(),
        dispatch=None,
    )
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


def golden_collection() -> Collection:
    consensus = ("会议指出，我们一定能够打赢大上海保卫战。", "要坚持动态清零总方针。")
    alpha = _source("甲报.txt", "（原文略）\n")
    beta = _source("beta paper.txt", "（原文略）\n", Sidecar(publication="乙报", date="2022-05-06"))
    gamma = _source("丙報.txt", "（原文略）\n", Sidecar(language="zh-Hant"))
    hostile = _source("hostile.txt", "\n\n".join((HOSTILE_HEADLINE, *HOSTILE_PARAGRAPHS)) + "\n")
    dateline = Dateline("新华社北京5月5日电", "新华社", "北京", "5月5日", None, "start")
    people = ("习近平",)
    keywords = ("疫情防控", "动态清零")
    articles = (
        _article(
            alpha, 1, "我们一定能打赢大上海保卫战", consensus,
            kicker="习近平主持召开中共中央政治局常委会", subheadline="始终保持清醒头脑",
            dateline=dateline, people=people, keywords=keywords, dispatch="d-甲报-1",
        ),
        _article(
            alpha, 2, None, ("勤通风 讲卫生",), kind="notice", agency=None, place=None,
            date=DateInfo(None, None, None), line=30, end_line=31,
        ),
        _article(
            beta, 1, "一定能打赢保卫战", ("会议指出，我们都一定能打赢大上海保卫仗。", "要坚持动态清零总方针。"),
            dateline=replace(dateline, via="据", position="end", text="据新华社电"), via="据",
            people=people, keywords=keywords, pull_quotes=("一定能打赢",), dispatch="d-甲报-1",
        ),
        _article(
            gamma, 1, "會議指出", ("會議指出，我们一定能够打赢大上海保衛戰。",),
            people=people, keywords=("疫情防控",), dispatch="d-甲报-1",
            flags=(Flag("latin-stand-in", "risk", 11, "risk 人群"),),
        ),
        _article(
            gamma, 2, "中共中央政治局召开会议", ("中共中央政治局2月21日召开会议。",),
            date=DateInfo("--02-21", "month-day", "text", "year unknown"), agency=None, place=None,
            people=people, keywords=("疫情防控",), dispatch="d-丙報-2",
        ),
        _article(
            hostile, 1, HOSTILE_HEADLINE, HOSTILE_PARAGRAPHS, date=DateInfo(None, None, None),
            agency="<b>社</b>", people=("<i>某人</i>",), keywords=("{{ kw }}",), dispatch="d-hostile-1",
        ),
    )
    text = "\n\n".join(consensus)
    ids = ("甲报-1", "beta-paper-1", "丙報-1")

    def place(at: int, length: int, *readings: str, settled: bool = True, rule: str = "majority") -> Variant:
        return Variant(at, length, text[at : at + length], tuple(map(Reading, ids, readings)), settled, rule)

    variants = (
        place(text.index("能够"), 2, "能够", "能", "能够"),
        place(0, 2, "会议", "会议", "會議"),
        place(text.index("一定"), 0, "", "都", ""),
        place(len(consensus[0]), len(text) - len(consensus[0]), text[len(consensus[0]) :], text[len(consensus[0]) :], ""),
        place(text.index("保卫战"), 3, "保卫战", "保卫仗", "保衛戰", settled=False, rule="no majority: the reading of the most complete, least-flagged witness"),
    )
    dispatches = (
        Dispatch(
            "d-甲报-1", "我们一定能打赢大上海保卫战", DateInfo("2022-05-05", "day", "text"),
            ("甲报-1", "beta-paper-1", "丙報-1"), consensus, variants,
            (RelatedLink("d-丙報-2", 5.5, "共同人物：习近平；共同关键词：疫情防控"),),
            "新华社", "北京", people, keywords,
        ),
        Dispatch(
            "d-丙報-2", "中共中央政治局召开会议", DateInfo("--02-21", "month-day", "text", "year unknown"),
            ("丙報-2",), ("中共中央政治局2月21日召开会议。",), (),
            (RelatedLink("d-甲报-1", 5.5, "共同人物：习近平；共同关键词：疫情防控"),),
            None, None, people, ("疫情防控",),
        ),
        Dispatch(
            "d-hostile-1", HOSTILE_HEADLINE, DateInfo(None, None, None), ("hostile-1",), HOSTILE_PARAGRAPHS, (), (),
            "<b>社</b>", None, ("<i>某人</i>",), ("{{ kw }}",),
        ),
    )
    sources = (alpha, beta, gamma, hostile)
    texts = (
        Text(alpha, (), (Change("join-lines", 3, "保卫\n战", "保卫战"), Change("punctuation", 4, ",", "，")), ()),
        Text(beta, (), (), ()),
        Text(gamma, (), (), (Flag("latin-stand-in", "risk", 11, "risk 人群"),)),
        Text(hostile, (), (Change("spacing", 2, "<b> 3 </b>", "<b>3</b>"),), ()),
    )
    return Collection(sources, (Skipped("empty.txt", "empty file"),), texts, articles, dispatches, ())


# ---------------------------------------------------------------- synthetic

_HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"
_PEOPLE = tuple(a + b for a in "王李张刘陈杨黄赵吴周" for b in "伟芳娜敏静丽强磊军洋")
_KEYWORDS = tuple(a + b for a in ("疫情", "经济", "外贸", "就业", "能源") for b in ("防控", "发展", "政策", "保障", "改革", "合作"))
_AGENCIES = ("新华社", "中新社", "本报讯", "人民日报")


def _paragraph(rng: random.Random, pool: str, length: int) -> str:
    start = rng.randrange(len(pool) - length)
    return pool[start : start + length - 1] + "。"


def synthetic_collection(dispatch_count: int, seed: int = 1, articles_per_source: int = 10) -> Collection:
    """A made-up collection of ``dispatch_count`` dispatches, a fifth with two or three witnesses."""
    rng = random.Random(seed)
    # Paragraphs are slices of one long random text: drawing every character is slow.
    pool = "".join(rng.choice(_HAN) for _ in range(100_000))
    sources: list[Source] = []
    texts: list[Text] = []
    articles: list[Article] = []
    dispatches: list[Dispatch] = []
    pending: list[Article] = []

    def flush() -> None:
        source = _source(f"synthetic-{len(sources):05d}.txt", "\n\n".join("\n\n".join(a.paragraphs) for a in pending))
        for article in pending:
            articles.append(replace(article, id=f"{source.id}-{article.index}", source_id=source.id, source=source.file))
        sources.append(source)
        texts.append(Text(source, (), tuple(Change("join-lines", n, "甲\n乙", "甲乙") for n in range(1, 6)), ()))
        pending.clear()

    for number in range(dispatch_count):
        paragraphs = tuple(_paragraph(rng, pool, rng.randint(60, 200)) for _ in range(rng.randint(6, 12)))
        day = f"20{rng.randint(18, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        people = tuple(sorted(set(rng.sample(_PEOPLE, rng.randint(0, 3)))))
        keywords = tuple(sorted(set(rng.sample(_KEYWORDS, rng.randint(1, 4)))))
        agency = rng.choice(_AGENCIES)
        dispatch_id = f"d-{number:05d}"
        witness_count = rng.choice((1, 1, 1, 1, 2, 2, 3)) if rng.random() < 0.3 else 1
        witness_ids = []
        for _ in range(witness_count):
            if len(pending) == articles_per_source:
                flush()
            index = len(pending) + 1
            witness_ids.append(f"synthetic-{len(sources):05d}-{index}")
            pending.append(
                _article(
                    sources[0] if sources else _source("x.txt", ""), index, f"合成电讯第{number}号", paragraphs,
                    date=DateInfo(day, "day", "text"), agency=agency, people=people, keywords=keywords,
                    dispatch=dispatch_id,
                )
            )
        text = "\n\n".join(paragraphs)
        variants = tuple(
            Variant(
                position, 2, text[position : position + 2],
                tuple(Reading(w, text[position : position + 2] if i == 0 else "异文") for i, w in enumerate(witness_ids)),
                True, "majority",
            )
            for position in sorted(rng.sample(range(0, len(paragraphs[0]) - 3, 3), 3))
        ) if witness_count > 1 else ()
        related = tuple(
            RelatedLink(f"d-{other:05d}", 5.0, "共同关键词：" + keywords[0]) for other in rng.sample(range(dispatch_count), 3) if other != number
        )
        dispatches.append(
            Dispatch(dispatch_id, f"合成电讯第{number}号", DateInfo(day, "day", "text"), tuple(witness_ids), paragraphs,
                     variants, related, agency, "北京", people, keywords)
        )
    if pending:
        flush()
    return Collection(tuple(sources), (), tuple(texts), tuple(articles), tuple(dispatches), ())


# ---------------------------------------------------------------- built sites


def write_pages(pages: tuple[Page, ...], folder: Path) -> Path:
    for page in pages:
        target = folder / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.content)
    return folder


def seed_site(folder: Path) -> Path:
    """The whole site (search and manifest included) of the seed collection in content/."""
    config = replace(load_config(ROOT / "config.yaml"), root=ROOT)
    return write_pages(pipeline.render_site(pipeline.gather(config), config), folder)


def golden_site(folder: Path) -> Path:
    """The whole site (search and manifest included) of the golden collection."""
    return write_pages(pipeline.render_site(golden_collection(), golden_config()), folder)
