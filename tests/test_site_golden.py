"""The golden site: a small fixed collection renders to exactly the files in tests/golden/site/.

After a deliberate change to the render or the default theme, regenerate with
``python -m tests.golden.regenerate`` and review the diff.
"""

from __future__ import annotations

import difflib

import pytest

from tests.golden.regenerate import GOLDEN_SITE, golden_pages

REGENERATE = "python -m tests.golden.regenerate"


def test_golden_site_has_exactly_the_expected_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    rendered = {page.path for page in golden_pages()}
    expected = {path.relative_to(GOLDEN_SITE).as_posix() for path in GOLDEN_SITE.rglob("*") if path.is_file()}
    assert rendered == expected, f"files differ; if the change is deliberate run {REGENERATE}"


def test_golden_site_pages_match_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    for page in golden_pages():
        golden = GOLDEN_SITE / page.path
        if not golden.is_file():
            continue  # reported by the test above
        expected = golden.read_bytes()
        if page.content != expected:
            diff = "\n".join(
                difflib.unified_diff(
                    expected.decode("utf-8", "replace").splitlines(),
                    page.content.decode("utf-8", "replace").splitlines(),
                    f"golden/{page.path}",
                    f"rendered/{page.path}",
                    lineterm="",
                    n=2,
                )
            )
            pytest.fail(f"{page.path} differs from the golden site (run {REGENERATE} if deliberate):\n{diff[:4000]}")
