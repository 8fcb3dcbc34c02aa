"""Debian's Chromium for the browser tests: where it is and how it is started.

Playwright drives it with ``executable_path``; it never downloads a browser. The flags
keep Chromium from reaching for the network, which this machine does not have.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright with the flags above, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        started = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield started
        finally:
            started.close()


@contextmanager
def launched() -> Iterator[Any]:
    """Debian's Chromium under Playwright, closed afterwards; a skip saying what is missing
    (a failure in CI, where the browser tests must run)."""
    try:
        import playwright.sync_api  # noqa: F401  (only whether it is there)
    except ImportError:
        missing = "the playwright package is not installed"
    else:
        missing = "" if CHROMIUM.is_file() else f"{CHROMIUM} is not installed (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI, but {missing}")
        pytest.skip(missing)
    with browser() as started:
        yield started
