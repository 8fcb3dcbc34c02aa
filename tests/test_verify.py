"""verify: every missing, altered or unexpected file is named, and the exit code says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archival_sites import copy_site, handmade_site, seed_site
from generator.cli import main
from generator.manifest import MANIFEST_PATH
from generator.verify import VerifyError, read_manifest, verify_path

SOURCE_PAGE = "sources/001_cd7b67e673771ba7/index.html"
ORIGINAL = "sources/002_839932d49a813d9b/002_839932d49a813d9b.txt"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return handmade_site(tmp_path / "site")


def test_an_untouched_site_verifies(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(site)]) == 0
    listed = len(json.loads((site / MANIFEST_PATH).read_text(encoding="utf-8"))["files"])
    assert capsys.readouterr().out == f"verify: all {listed} files match {site / MANIFEST_PATH}\n"


def test_an_altered_file_is_named(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = site / SOURCE_PAGE
    page.write_bytes(page.read_bytes() + b"<!-- edited -->")
    assert main(["verify", str(site)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"altered: {SOURCE_PAGE} (sha256 ")
    assert out[0].endswith(f", {page.stat().st_size} bytes expected {page.stat().st_size - 15})")


def test_an_altered_byte_of_the_same_size_is_found(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = site / ORIGINAL
    data = bytearray(original.read_bytes())
    data[100] ^= 0x01
    original.write_bytes(bytes(data))
    assert main(["verify", str(site)]) == 1
    assert capsys.readouterr().out.startswith(f"altered: {ORIGINAL} (sha256 ")


def test_missing_and_unexpected_files_are_named_together(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "robots.txt").unlink()
    (site / "sources" / "extra.html").write_text("<p>not built</p>", encoding="utf-8")
    assert main(["verify", str(site)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "missing: robots.txt (listed in the manifest, not found)",
        "unexpected: sources/extra.html (not listed in the manifest)",
    ]
    assert captured.err == f"verify: 2 problems against {site / MANIFEST_PATH} (12 files listed)\n"


def test_verify_defaults_to_the_output_folder(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "catalog.json").unlink()
    assert main(["verify", "--output", str(site)]) == 1
    assert capsys.readouterr().out == "missing: catalog.json (listed in the manifest, not found)\n"


def test_a_folder_without_manifest_cannot_be_verified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "index.html").write_text("<p>hello</p>", encoding="utf-8")
    assert main(["verify", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / MANIFEST_PATH}: no manifest (is {tmp_path} a built site?)\n"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "../etc/passwd", "sha256": "0" * 64, "size": 1}, "m.json: files entry 1: path must be relative, with '/' and no '..', not '../etc/passwd'"),
        ({"path": "/index.html", "sha256": "0" * 64, "size": 1}, "m.json: files entry 1: path must be relative, with '/' and no '..', not '/index.html'"),
        ({"path": "a.html", "sha256": "XYZ", "size": 1}, "m.json: files entry 1 (a.html): sha256 must be 64 lowercase hex digits, not 'XYZ'"),
        ({"path": "a.html", "sha256": "0" * 64, "size": -1}, "m.json: files entry 1 (a.html): size must be a whole number of bytes, not -1"),
        ({"path": MANIFEST_PATH, "sha256": "0" * 64, "size": 1}, "m.json: files entry 1: lists itself"),
    ],
)
def test_a_bad_manifest_entry_is_refused_with_its_place(entry: dict, message: str) -> None:
    with pytest.raises(VerifyError) as raised:
        read_manifest(json.dumps({"files": [entry]}).encode(), "m.json")
    assert str(raised.value) == message


def test_a_manifest_that_is_not_json_is_refused() -> None:
    with pytest.raises(VerifyError, match=r"^m\.json: not a JSON manifest \("):
        read_manifest(b"{files", "m.json")


def test_the_real_build_verifies_and_an_edit_to_it_is_named(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    site = copy_site(seed_site(tmp_path_factory), tmp_path / "site")
    assert verify_path(site).ok
    home = site / "index.html"
    home.write_bytes(home.read_bytes() + b"<script>alert(1)</script>")
    report = verify_path(site)
    assert [(d.kind, d.path) for d in report.discrepancies] == [("altered", "index.html")]
