"""Debian's Chromium for the browser tests: where it is and how it is started.

Playwright drives it with ``executable_path``; it never downloads a browser. The flags
keep Chromium from reaching for the network, which this machine does not have.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
