"""Stage 2, clean: every pair in tests/fixtures/clean/ (NAME.txt in, NAME.yaml expected)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from generator.clean import clean
from generator.ingest import read_file

FIXTURE_STAGE = "clean"


def test_clean_fixture(fixture_case: tuple[Path, dict]) -> None:
    path, expected = fixture_case
    source, skipped, problems = read_file(path, path.name)
    assert source is not None and skipped is None and problems == []
    text = clean(source)

    assert [block.text for block in text.blocks] == expected["blocks"]
    assert [{"kind": f.kind, "text": f.text, "line": f.line} for f in text.flags] == expected["flags"]
    assert dict(Counter(change.kind for change in text.changes)) == expected["changes"]
    # Every flagged text stands in the cleaned text, with its context around it.
    for flag in text.flags:
        assert flag.text in flag.context
        assert any(flag.context in block.text for block in text.blocks)


def test_clean_records_where_each_change_happened(source_from_text) -> None:
    text = clean(source_from_text("标题\n\n　　今年 3 月,我们\n完成了任务。\n"))
    assert [(c.kind, c.line) for c in text.changes] == [
        ("indent", 3),
        ("punctuation", 3),
        ("spacing", 3),
        ("spacing", 3),
        ("join-lines", 4),
    ]
    assert [(b.text, b.line, b.end_line) for b in text.blocks] == [
        ("标题", 1, 1),
        ("今年3月，我们完成了任务。", 3, 4),
    ]


def test_clean_is_deterministic(source_from_text) -> None:
    source = source_from_text("会议指出,疫情防控工作正处于关键时期,各区各部门要坚决落实各项防\n\n控措施。\n")
    assert clean(source) == clean(source)
