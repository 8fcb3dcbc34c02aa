"""Rewrite the golden site after a deliberate change to the render or the default theme.

    python -m tests.golden.regenerate

Renders tests/golden/collection.py's fixed collection (render stage only, with no
SOURCE_DATE_EPOCH) into tests/golden/site/, replacing what was there. Review the
diff before committing it: it is the change every reader of the site will see.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from generator import render
from generator.models import Page
from tests.golden.collection import golden_collection, golden_config

GOLDEN_SITE = Path(__file__).resolve().parent / "site"


def golden_pages() -> tuple[Page, ...]:
    """The pages the golden test compares: everything but the theme's static files,
    which are copies of themes/default/static and tested on their own."""
    os.environ.pop("SOURCE_DATE_EPOCH", None)
    pages = render.render_site(golden_collection(), golden_config()).pages
    return tuple(page for page in pages if not page.path.startswith("static/"))


def main() -> None:
    shutil.rmtree(GOLDEN_SITE, ignore_errors=True)
    for page in golden_pages():
        target = GOLDEN_SITE / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.content)
    print(f"wrote {GOLDEN_SITE}")


if __name__ == "__main__":
    main()
