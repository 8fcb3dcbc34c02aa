"""Every href and src in the built site resolves to a file of the site (and its anchor exists).

Checked on the whole site (search and manifest included) of the seeds and of the golden
collection, whose names hold spaces and Han characters. Absolute URLs are allowed only
where the site needs them: canonical links (base_url) and nowhere else.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.golden.collection import golden_site, seed_site


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, dict[str, str | None]]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for name in ("href", "src", "action"):
            if values.get(name) is not None:
                self.links.append((tag, values[name] or "", values))


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(root: Path) -> list[str]:
    problems = []
    ids: dict[Path, set[str]] = {}
    for page in sorted(root.rglob("*.html")):
        parsed = _parse(page)
        ids[page] = parsed.ids
        for tag, link, attributes in parsed.links:
            where = f"{page.relative_to(root)}: <{tag}> {link}"
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                if not (tag == "link" and attributes.get("rel") == "canonical" and parts.scheme == "https"):
                    problems.append(f"{where}: absolute URL outside a canonical link")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_file():
                problems.append(f"{where}: no such file")
                continue
            if not target.is_relative_to(root.resolve()):
                problems.append(f"{where}: leaves the site")
            if parts.fragment and target.suffix == ".html":
                target_ids = ids.get(target) or _parse(target).ids
                ids[target] = target_ids
                if unquote(parts.fragment) not in target_ids:
                    problems.append(f"{where}: no element with id '{unquote(parts.fragment)}'")
    return problems


@pytest.mark.parametrize("build", [seed_site, golden_site], ids=["seeds", "golden"])
def test_every_link_resolves(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = build(tmp_path / "site")
    assert (root / "index.html").is_file()
    assert broken_links(root) == []


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<a href="../b.html">x</a><a href="#nowhere">y</a><img src="c.png">'
        '<a href="https://example.org/">z</a><a href="index.html#here" id="here">w</a>',
        encoding="utf-8",
    )
    assert broken_links(tmp_path) == [
        "a/index.html: <a> ../b.html: no such file",
        "a/index.html: <a> #nowhere: no element with id 'nowhere'",
        "a/index.html: <img> c.png: no such file",
        "a/index.html: <a> https://example.org/: absolute URL outside a canonical link",
    ]
