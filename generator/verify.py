"""``python -m generator verify [DIR]``: prove a copy of the site is whole and unaltered.

DIR is a built site, or a snapshot (``snapshot.py``) unpacked or not:

- a site folder (or an unzipped zip snapshot): every file is checked against
  ``manifest.json``;
- a BagIt bag (``bagit.txt`` beside ``data/``): the bag is validated with the ``bagit``
  package, then ``data/`` is checked as a site;
- a WACZ package (``datapackage.json`` beside ``archive/``): every file is checked
  against ``datapackage.json``, then the responses recorded in the WARC files are
  checked as a site;
- a ``.zip`` or ``.wacz`` file: unpacked into a temporary folder, then as above.

Every missing, altered or unexpected file is reported; the exit code is 1 if there
is any, 2 if the copy cannot be checked at all (no or unreadable manifest).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from typing import Literal

import bagit
from warcio.archiveiterator import ArchiveIterator

from .config import ConfigError
from .manifest import MANIFEST_PATH

# Files a WACZ package holds besides those its datapackage.json lists.
WACZ_PACKAGE_FILES = ("datapackage.json", "datapackage-digest.json")

_SHA256 = re.compile(r"[0-9a-f]{64}")


class VerifyError(Exception):
    """The copy cannot be checked at all: no manifest, or one that cannot be read."""


@dataclass(frozen=True)
class Fixity:
    sha256: str
    size: int


@dataclass(frozen=True)
class Discrepancy:
    kind: Literal["missing", "altered", "unexpected", "invalid"]
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path} ({self.detail})"


@dataclass(frozen=True)
class VerifyReport:
    checked: str  # what was checked, e.g. 'output/manifest.json'
    files: int  # how many files the manifest lists
    discrepancies: tuple[Discrepancy, ...]

    @property
    def ok(self) -> bool:
        return not self.discrepancies


def fixity_of(data: bytes) -> Fixity:
    return Fixity(hashlib.sha256(data).hexdigest(), len(data))


def fixity_of_file(path: Path) -> Fixity:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return Fixity(digest, path.stat().st_size)


def _safe_relative(path: object) -> bool:
    if not isinstance(path, str) or not path or "\\" in path:
        return False
    parts = PurePosixPath(path).parts
    return not path.startswith("/") and all(part not in ("", ".", "..") for part in parts)


def read_manifest(data: bytes, name: str) -> dict[str, Fixity]:
    """The files a manifest.json lists: path -> Fixity. VerifyError naming ``name`` if unreadable."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VerifyError(f"{name}: not a JSON manifest ({error})") from None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list):
        raise VerifyError(f"{name}: no 'files' list")
    listed: dict[str, Fixity] = {}
    for number, entry in enumerate(files, start=1):
        where = f"{name}: files entry {number}"
        if not isinstance(entry, dict):
            raise VerifyError(f"{where}: not an object")
        path, digest, size = entry.get("path"), entry.get("sha256"), entry.get("size")
        # A path leaving the folder would make verify read (and vouch for) files outside the copy.
        if not _safe_relative(path):
            raise VerifyError(f"{where}: path must be relative, with '/' and no '..', not {path!r}")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise VerifyError(f"{where} ({path}): sha256 must be 64 lowercase hex digits, not {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise VerifyError(f"{where} ({path}): size must be a whole number of bytes, not {size!r}")
        assert isinstance(path, str)
        if path in listed or path == MANIFEST_PATH:
            raise VerifyError(f"{where}: {path} is listed twice" if path in listed else f"{where}: lists itself")
        listed[path] = Fixity(digest, size)
    return listed


def compare(expected: Mapping[str, Fixity], found: Mapping[str, Fixity], ignore: Iterable[str] = ()) -> tuple[Discrepancy, ...]:
    """Every file missing from ``found``, altered in it, or in it but not expected."""
    ignored = set(ignore)
    discrepancies: list[Discrepancy] = []
    for path in sorted(set(expected) | set(found)):
        want, have = expected.get(path), found.get(path)
        if want is None:
            if path not in ignored:
                discrepancies.append(Discrepancy("unexpected", path, "not listed in the manifest"))
        elif have is None:
            discrepancies.append(Discrepancy("missing", path, "listed in the manifest, not found"))
        elif have != want:
            detail = f"sha256 {have.sha256[:12]}… expected {want.sha256[:12]}…"
            if have.size != want.size:
                detail += f", {have.size} bytes expected {want.size}"
            discrepancies.append(Discrepancy("altered", path, detail))
    return tuple(discrepancies)


def files_below(root: Path) -> dict[str, Path]:
    """Every file below ``root`` by its '/'-separated path relative to it."""
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*")) if path.is_file()}


def verify_site(root: Path) -> VerifyReport:
    manifest = root / MANIFEST_PATH
    if not manifest.is_file():
        raise VerifyError(f"{manifest}: no manifest (is {root} a built site?)")
    expected = read_manifest(manifest.read_bytes(), str(manifest))
    found = {path: fixity_of_file(file) for path, file in files_below(root).items()}
    return VerifyReport(str(manifest), len(expected), compare(expected, found, ignore=[MANIFEST_PATH]))


def verify_bag(root: Path) -> VerifyReport:
    """Validate the bag with the bagit package, then check its payload as a site."""
    discrepancies: list[Discrepancy] = []
    try:
        bagit.Bag(str(root)).validate()
    except bagit.BagValidationError as error:
        for detail in error.details or [error]:
            path = getattr(detail, "path", None) or "bag"
            discrepancies.append(Discrepancy("invalid", str(path), f"bag validation: {detail}"))
    except bagit.BagError as error:
        discrepancies.append(Discrepancy("invalid", "bag", f"bag validation: {error}"))
    site = verify_site(root / "data")
    payload = tuple(
        Discrepancy(d.kind, f"data/{d.path}", d.detail) for d in site.discrepancies
    )
    return VerifyReport(site.checked, site.files, tuple(discrepancies) + payload)


def _wacz_resources(root: Path) -> tuple[dict[str, Fixity], dict, tuple[Discrepancy, ...]]:
    package_path = root / "datapackage.json"
    name = str(package_path)
    try:
        package_bytes = package_path.read_bytes()
        package = json.loads(package_bytes.decode("utf-8"))
        resources = package["resources"]
        expected: dict[str, Fixity] = {}
        for resource in resources:
            algorithm, _, digest = resource["hash"].partition(":")
            if algorithm != "sha256" or not _safe_relative(resource["path"]):
                raise VerifyError(f"{name}: resource {resource['path']!r} must have a relative path and a sha256 hash")
            expected[resource["path"]] = Fixity(digest, int(resource["bytes"]))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, VerifyError):
            raise
        raise VerifyError(f"{name}: not a readable WACZ datapackage ({error})") from None
    problems: list[Discrepancy] = []
    digest_path = root / "datapackage-digest.json"
    if digest_path.is_file():
        try:
            stated = json.loads(digest_path.read_bytes().decode("utf-8")).get("hash")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            stated = None
        if stated != "sha256:" + hashlib.sha256(package_bytes).hexdigest():
            problems.append(Discrepancy("altered", "datapackage.json", "does not match datapackage-digest.json"))
    return expected, package, tuple(problems)


def verify_wacz(root: Path) -> VerifyReport:
    """Check the package files against datapackage.json, then the recorded site against its manifest."""
    expected, package, problems = _wacz_resources(root)
    found = {path: fixity_of_file(file) for path, file in files_below(root).items()}
    discrepancies = list(problems) + list(compare(expected, found, ignore=WACZ_PACKAGE_FILES))
    main_page = package.get("mainPageURL")
    if not isinstance(main_page, str) or "/" not in main_page:
        raise VerifyError(f"{root / 'datapackage.json'}: no mainPageURL, so the site's address is unknown")
    site_root = main_page.rsplit("/", 1)[0] + "/"
    served: dict[str, bytes] = {}
    for path in sorted(found):
        if path.startswith("archive/") and path.endswith((".warc", ".warc.gz")) and path in expected:
            with (root / path).open("rb") as stream:
                for record in ArchiveIterator(stream):
                    url = record.rec_headers.get_header("WARC-Target-URI") or ""
                    if record.rec_type == "response" and url.startswith(site_root):
                        served[unquote(url[len(site_root):])] = record.content_stream().read()
    if MANIFEST_PATH not in served:
        raise VerifyError(f"{root}: the WARC records hold no {site_root}{MANIFEST_PATH}")
    site_expected = read_manifest(served[MANIFEST_PATH], f"{site_root}{MANIFEST_PATH}")
    site_found = {path: fixity_of(data) for path, data in served.items()}
    recorded = compare(site_expected, site_found, ignore=[MANIFEST_PATH])
    discrepancies += [Discrepancy(d.kind, f"{site_root}{d.path}", d.detail) for d in recorded]
    return VerifyReport(f"{root / 'datapackage.json'} and {site_root}{MANIFEST_PATH}", len(site_expected), tuple(discrepancies))


def verify_folder(root: Path) -> VerifyReport:
    if (root / "bagit.txt").is_file() and (root / "data").is_dir():
        return verify_bag(root)
    if (root / "datapackage.json").is_file() and (root / "archive").is_dir():
        return verify_wacz(root)
    return verify_site(root)


def verify_path(path: Path) -> VerifyReport:
    """Verify a site folder, an unpacked snapshot, or a .zip/.wacz snapshot file."""
    if path.is_dir():
        return verify_folder(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="jianbao-verify-") as unpacked:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(unpacked)  # extractall drops '..' and absolute parts
            contents = [p for p in Path(unpacked).iterdir()]
            # A zip of a folder (rather than of its contents) unpacks to that one folder.
            root = contents[0] if len(contents) == 1 and contents[0].is_dir() else Path(unpacked)
            report = verify_folder(root)
            # Name the packed file, not the temporary folder that is gone once this returns.
            checked = report.checked.replace(unpacked + os.sep, "")
            return VerifyReport(f"{path}: {checked}", report.files, report.discrepancies)
    raise VerifyError(f"{path}: not a folder or a zip/WACZ file")


def run(args: argparse.Namespace) -> int:
    from . import cli  # here, not at the top: cli imports this module to register it

    try:
        target = args.dir if args.dir is not None else cli.load_from_args(args).output_path
        report = verify_path(Path(target))
    except (VerifyError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for discrepancy in report.discrepancies:
        print(discrepancy)
    if report.ok:
        print(f"verify: all {report.files} files match {report.checked}")
        return 0
    print(f"verify: {len(report.discrepancies)} problems against {report.checked} ({report.files} files listed)", file=sys.stderr)
    return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a built site or a snapshot against its manifest",
        description="Report every missing, altered or unexpected file of a built site or a snapshot "
        "(site folder, unpacked or packed zip, BagIt bag, WACZ). Exit 1 on any, 2 if it cannot be checked.",
    )
    parser.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="what to check (default: the configured output folder)")
    from . import cli  # here, not at the top: cli imports this module to register it

    cli.add_site_arguments(parser)
    parser.set_defaults(func=run)
