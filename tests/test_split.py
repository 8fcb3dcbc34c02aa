"""Stage 3a, split: every pair in tests/fixtures/split/ (NAME.txt in, NAME.yaml expected)."""

from __future__ import annotations

from pathlib import Path

from generator.clean import clean
from generator.ingest import read_file
from generator.split import split

FIXTURE_STAGE = "split"
HEADING_FIELDS = ("kind", "kicker", "headline", "subheadline")
DATELINE_FIELDS = ("agency", "place", "date", "via", "position")


def test_split_fixture(fixture_case: tuple[Path, dict]) -> None:
    path, expected = fixture_case
    source, _, _ = read_file(path, path.name)
    assert source is not None
    articles, problems = split(clean(source))

    assert [str(problem) for problem in problems] == expected.get("problems", [])
    assert len(articles) == len(expected["articles"]), [a.headline or a.text[:20] for a in articles]
    for number, (article, want) in enumerate(zip(articles, expected["articles"]), start=1):
        assert article.id == f"{source.id}-{number}" and article.index == number
        assert {name: getattr(article, name) for name in HEADING_FIELDS} == {name: want[name] for name in HEADING_FIELDS}
        if want["dateline"] is None:
            assert article.dateline is None
        else:
            assert article.dateline is not None
            got = {name: getattr(article.dateline, name) for name in DATELINE_FIELDS}
            assert got == {name: want["dateline"][name] for name in DATELINE_FIELDS}
            assert (article.agency, article.place, article.via) == (got["agency"], got["place"], got["via"])
        assert article.text.startswith(want["body_starts"]), article.text[:40]
        assert article.text.endswith(want["body_ends"]), article.text[-40:]
        assert len(article.paragraphs) == want["paragraphs"]
        assert list(article.pull_quotes) == want.get("pull_quotes", [])
        # Nothing of the headings, dateline or pull quotes leaks into the body.
        for heading in (article.kicker, article.headline, article.subheadline):
            if heading and article.kind == "article":
                assert heading not in article.paragraphs
        for quote in article.pull_quotes:
            assert quote not in article.paragraphs


HOSTILE = (
    '<script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">',
    "{{ config.__class__ }}",
    "{% include '/etc/passwd' %}",
)


def test_hostile_markup_survives_as_text(tmp_path: Path) -> None:
    # Markup and template syntax in a source are text like any other: no stage drops,
    # rewrites or interprets them (escaping them is the renderer's job).
    path = tmp_path / "hostile.txt"
    path.write_text(
        f"{HOSTILE[0]}标题\n\n"
        f"新华社北京5月5日电 正文{HOSTILE[1]}，详见{HOSTILE[2]}链接</a>。\n\n"
        f"模板{HOSTILE[3]}与{HOSTILE[4]}不会被执行。\n",
        encoding="utf-8",
    )
    source, _, _ = read_file(path, path.name)
    assert source is not None
    assert all(snippet in source.text for snippet in HOSTILE)
    text = clean(source)
    assert all(any(snippet in block.text for block in text.blocks) for snippet in HOSTILE)
    (article,) = split(text)[0]
    assert article.headline == f"{HOSTILE[0]}标题"
    assert article.paragraphs == (
        f"正文{HOSTILE[1]}，详见{HOSTILE[2]}链接</a>。",
        f"模板{HOSTILE[3]}与{HOSTILE[4]}不会被执行。",
    )
