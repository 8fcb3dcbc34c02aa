"""Sites for the archival tests (reproducibility, verify, snapshot).

Two kinds: a small hand-made site (the seed sources' original bytes, a few pages and
the real manifest), which tests verify and snapshot without depending on rendering;
and the real build of the seed collection, made once per test session.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from generator.config import Config, load_config
from generator.ingest import ingest
from generator.manifest import manifest_pages, original_file_name
from generator.models import Collection, Page

REPO = Path(__file__).resolve().parent.parent
SEED_CONTENT = REPO / "content"

# The one real build of the seeds, shared by every test module that asks for it.
_seed_build: dict[str, Path] = {}


def seed_collection_sources() -> Collection:
    """The seed sources as ingest reads them, with nothing else gathered."""
    sources, skipped, problems = ingest(SEED_CONTENT)
    return Collection(sources, skipped, (), (), (), problems)


def handmade_pages() -> tuple[Page, ...]:
    collection = seed_collection_sources()
    pages = [
        Page("index.html", "<!doctype html><title>剪报 &amp; 首页</title><a href=\"sources/\">来源</a>\n".encode()),
        Page("static/style.css", b"body { margin: 0 }\n"),
        Page("robots.txt", b"User-agent: *\nAllow: /\n"),
        Page("catalog.json", b"{}\n"),
    ]
    for source in collection.sources:
        pages.append(Page(f"sources/{source.id}/index.html", f"<title>{source.id}</title>\n".encode()))
        pages.append(Page(f"sources/{source.id}/{original_file_name(source)}", source.raw))
    return tuple(pages) + manifest_pages(tuple(pages), collection, Config())


def write_pages(pages: tuple[Page, ...], root: Path) -> Path:
    for page in pages:
        target = root / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.content)
    return root


def handmade_site(root: Path) -> Path:
    return write_pages(handmade_pages(), root)


def seed_config(content: Path, output: Path) -> Config:
    """The repository's config.yaml with content and output elsewhere (absolute paths)."""
    config = load_config(REPO / "config.yaml")
    return dataclasses.replace(config, content_dir=str(content), output_dir=str(output))


def seed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed collection built once per session; tests copy it before changing it."""
    if "site" not in _seed_build:
        from generator import pipeline

        output = tmp_path_factory.mktemp("seed-build") / "output"
        pipeline.build(seed_config(SEED_CONTENT, output), quiet=True)
        _seed_build["site"] = output
    return _seed_build["site"]


def copy_site(site: Path, target: Path) -> Path:
    shutil.copytree(site, target)
    return target


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative path, with its bytes."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}
