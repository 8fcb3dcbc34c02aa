"""snapshot: zip, BagIt and WACZ packages that are complete, valid and byte-identical when repeated."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import bagit
import pytest
from warcio.archiveiterator import ArchiveIterator
from wacz.main import main as wacz_main

from archival_sites import copy_site, handmade_site, seed_site, tree_bytes
from generator.cli import main
from generator.config import Config
from generator.snapshot import SnapshotError, take_snapshot
from generator.verify import verify_path

# 2022-05-06T12:34:56Z
EPOCH = {"SOURCE_DATE_EPOCH": "1651840496"}
NO_EPOCH: dict[str, str] = {}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return handmade_site(tmp_path / "site")


def _snapshot(site: Path, format: str, out: Path, environ: dict[str, str] = NO_EPOCH) -> Path:
    take_snapshot(site, format, out, Config(), environ)
    return out


@pytest.mark.parametrize("format", ["zip", "wacz"])
def test_two_snapshots_of_one_build_are_byte_identical(site: Path, tmp_path: Path, format: str) -> None:
    first = _snapshot(site, format, tmp_path / f"first.{format}")
    # A copy of the site made in another order, at another time, in another folder.
    copy = tmp_path / "copy"
    for path, data in reversed(list(tree_bytes(site).items())):
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_bytes(data)
    second = _snapshot(copy, format, tmp_path / f"second.{format}")
    assert first.read_bytes() == second.read_bytes()


def test_two_bags_of_one_build_are_byte_identical(site: Path, tmp_path: Path) -> None:
    first = tree_bytes(_snapshot(site, "bagit", tmp_path / "first.bag"))
    second = tree_bytes(_snapshot(site, "bagit", tmp_path / "second.bag"))
    assert first == second


def test_the_zip_holds_every_file_sorted_with_one_fixed_time(site: Path, tmp_path: Path) -> None:
    archive = zipfile.ZipFile(_snapshot(site, "zip", tmp_path / "site.zip", EPOCH))
    names = archive.namelist()
    assert names == sorted(tree_bytes(site))
    assert {info.date_time for info in archive.infolist()} == {(2022, 5, 6, 12, 34, 56)}
    assert {name: archive.read(name) for name in names} == tree_bytes(site)


def test_without_source_date_epoch_the_time_is_the_manifests(site: Path, tmp_path: Path) -> None:
    stated = json.loads((site / "manifest.json").read_bytes())["date"]
    archive = zipfile.ZipFile(_snapshot(site, "zip", tmp_path / "site.zip"))
    year, month, day, hour, minute, second = archive.infolist()[0].date_time
    assert f"{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z" == stated


def test_the_bag_validates_with_sha256_manifests_and_the_pinned_date(site: Path, tmp_path: Path) -> None:
    out = _snapshot(site, "bagit", tmp_path / "site.bag", EPOCH)
    bag = bagit.Bag(str(out))
    bag.validate()
    assert bag.algorithms == ["sha256"]
    assert bag.info["Bagging-Date"] == "2022-05-06"
    assert sorted(bag.payload_entries()) == sorted(f"data/{path}" for path in tree_bytes(site))
    tagmanifest = (out / "tagmanifest-sha256.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[1] for line in tagmanifest] == ["bag-info.txt", "bagit.txt", "manifest-sha256.txt"]
    assert verify_path(out).ok


def test_an_altered_bag_is_reported(site: Path, tmp_path: Path) -> None:
    out = _snapshot(site, "bagit", tmp_path / "site.bag")
    robots = out / "data" / "robots.txt"
    robots.write_bytes(robots.read_bytes().replace(b"Allow", b"Aloud"))  # same size, so the oxum still agrees
    found = [(d.kind, d.path) for d in verify_path(out).discrepancies]
    assert found == [("invalid", "data/robots.txt"), ("altered", "data/robots.txt")]


def test_the_wacz_passes_wacz_validate(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _snapshot(site, "wacz", tmp_path / "site.wacz", EPOCH)
    assert wacz_main(["validate", "-f", str(out)]) == 0
    assert "Validation succeeded, the passed WACZ is valid" in capsys.readouterr().out


def test_the_wacz_records_every_file_as_served(site: Path, tmp_path: Path) -> None:
    out = _snapshot(site, "wacz", tmp_path / "site.wacz", EPOCH)
    archive = zipfile.ZipFile(out)
    assert archive.namelist() == sorted(
        ["archive/data.warc.gz", "datapackage-digest.json", "datapackage.json", "indexes/index.cdxj", "pages/pages.jsonl"]
    )
    assert archive.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
    served: dict[str, bytes] = {}
    ids: set[str] = set()
    for record in ArchiveIterator(io.BytesIO(archive.read("archive/data.warc.gz"))):
        assert record.rec_headers.get_header("WARC-Date") == "2022-05-06T12:34:56Z"
        ids.add(record.rec_headers.get_header("WARC-Record-ID"))
        if record.rec_type == "response":
            assert record.http_headers.get_statuscode() == "200"
            url = record.rec_headers.get_header("WARC-Target-URI")
            served[unquote(url.removeprefix("https://example.org/"))] = record.content_stream().read()
    assert served == tree_bytes(site)
    assert len(ids) == len(served) + 1  # and a warcinfo record
    index = archive.read("indexes/index.cdxj").decode().splitlines()
    assert index == sorted(index) and len(index) == len(served)
    pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").decode().splitlines()]
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "剪报 Jianbao"}
    assert [page["url"] for page in pages[1:]] == [f"https://example.org/{p}" for p in sorted(served) if p.endswith(".html")]
    assert pages[1]["title"] == "剪报 & 首页"
    package = json.loads(archive.read("datapackage.json"))
    assert package["created"] == "2022-05-06T12:34:56Z"
    assert [r["path"] for r in package["resources"]] == ["archive/data.warc.gz", "indexes/index.cdxj", "pages/pages.jsonl"]


def test_an_altered_wacz_is_reported(site: Path, tmp_path: Path) -> None:
    out = _snapshot(site, "wacz", tmp_path / "site.wacz")
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(out).extractall(unpacked)
    pages = unpacked / "pages" / "pages.jsonl"
    pages.write_bytes(pages.read_bytes() + b"\n")
    assert [(d.kind, d.path) for d in verify_path(unpacked).discrepancies] == [("altered", "pages/pages.jsonl")]


def test_a_site_altered_after_its_build_is_not_packaged(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "robots.txt").write_text("changed\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="does not match its manifest"):
        _snapshot(site, "zip", tmp_path / "site.zip")
    assert main(["snapshot", "--format", "zip", "--output", str(site), "--out", str(tmp_path / "s.zip")]) == 1
    assert "altered: robots.txt (" in capsys.readouterr().err
    assert not (tmp_path / "s.zip").exists()


def test_a_bad_source_date_epoch_is_an_error(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    assert main(["snapshot", "--format", "zip", "--output", str(site)]) == 2
    assert capsys.readouterr().err == (
        "error: SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not 'yesterday'\n"
    )


def test_the_command_writes_beside_the_site_by_default(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--format", "zip", "--output", str(site)]) == 0
    out = site.with_name("site.zip")
    assert capsys.readouterr().out == f"snapshot: zip of {site} written to {out}\n"
    assert verify_path(out).ok


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)


def test_the_unzipped_real_build_opens_from_disk(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """Every relative link and asset of every page resolves to a file of the unzipped snapshot."""
    site = seed_site(tmp_path_factory)
    out = tmp_path / "seed.zip"
    take_snapshot(site, "zip", out, Config(), NO_EPOCH)
    unzipped = tmp_path / "unzipped"
    zipfile.ZipFile(out).extractall(unzipped)
    assert tree_bytes(unzipped) == tree_bytes(site)
    assert (unzipped / "index.html").is_file()
    broken = []
    for page in sorted(unzipped.rglob("*.html")):
        links = _Links()
        links.feed(page.read_text(encoding="utf-8"))
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path or target.startswith("/"):
                continue  # absolute (canonical links, feeds) or a fragment on the same page
            resolved = (page.parent / unquote(parts.path)).resolve()
            if resolved.is_dir() or not resolved.is_file():
                broken.append(f"{page.relative_to(unzipped)} -> {target}")
    assert broken == []


def test_snapshots_of_the_real_build_are_identical_and_valid(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    site = copy_site(seed_site(tmp_path_factory), tmp_path / "site")
    first = _snapshot(site, "wacz", tmp_path / "first.wacz")
    second = _snapshot(site, "wacz", tmp_path / "second.wacz")
    assert first.read_bytes() == second.read_bytes()
    assert wacz_main(["validate", "-f", str(first)]) == 0
    bag = _snapshot(site, "bagit", tmp_path / "site.bag")
    bagit.Bag(str(bag)).validate()
    assert verify_path(first).ok and verify_path(bag).ok
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", bagit.Bag(str(bag)).info["Bagging-Date"])
    with gzip.open(io.BytesIO(zipfile.ZipFile(first).read("archive/data.warc.gz"))) as warc:
        assert warc.read(9) == b"WARC/1.0\r"


def test_a_folder_that_was_never_built_is_not_packaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "output"
    empty.mkdir()
    assert main(["snapshot", "--format", "bagit", "--output", str(empty)]) == 1
    assert capsys.readouterr().err == (
        f"error: {empty / 'manifest.json'}: no manifest; run 'python -m generator build' first\n"
    )
    assert not empty.with_name("output.bag").exists()
