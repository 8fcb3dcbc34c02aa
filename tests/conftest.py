"""Fixtures shared by the test modules. Add to this file; do not remove what others use."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.ingest import source_id
from generator.models import Sidecar, Source
from tests.chromium import launched

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def _source_from_text(text: str, file: str = "sample.txt", sidecar: Sidecar | None = None) -> Source:
    raw = text.encode("utf-8")
    return Source(
        id=source_id(file),
        file=file,
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding="utf-8",
        text=text,
        sidecar=sidecar or Sidecar(),
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, started once for each module of browser tests (tests/chromium.py)."""
    with launched() as chromium:
        yield chromium


@pytest.fixture
def source_from_text() -> Callable[..., Source]:
    """Build a Source straight from a string (UTF-8, LF newlines), skipping the disk."""
    return _source_from_text


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``fixture_case`` runs once per input/expected pair of its module's stage.

    The module names the stage with ``FIXTURE_STAGE = "clean"``; the pairs are
    tests/fixtures/<stage>/NAME.txt (the input) and NAME.yaml (what is expected).
    """
    if "fixture_case" not in metafunc.fixturenames:
        return
    folder = FIXTURES / metafunc.module.FIXTURE_STAGE
    inputs = sorted(folder.glob("*.txt"))
    assert inputs, f"no fixtures in {folder}"
    cases = []
    for text in inputs:
        expected = yaml.safe_load(text.with_suffix(".yaml").read_text(encoding="utf-8"))
        assert isinstance(expected, dict), f"{text.with_suffix('.yaml')}: expected a mapping"
        cases.append((text, expected))
    metafunc.parametrize("fixture_case", cases, ids=[text.stem for text in inputs])
