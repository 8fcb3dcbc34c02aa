"""``python -m generator snapshot --format wacz|bagit|zip``: package a built site to outlive its host.

- ``zip``: the site's files, sorted, with one fixed time; unzip and open index.html.
- ``bagit``: a BagIt bag (folder) made by the ``bagit`` package, sha256 manifests, the
  site as its payload, bag-info dates by the rule of ``reproducible.py``.
- ``wacz``: a WACZ package: one WARC file with a response record for every file as a
  web server would send it, a CDXJ index, pages/pages.jsonl and datapackage.json.

The site is verified against its manifest first: a snapshot never vouches for a copy
that was altered after the build. Two snapshots of the same build are byte-identical:
every time comes from SOURCE_DATE_EPOCH or the manifest's date (never the clock), record
ids are derived from content, and every list is sorted.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import bagit
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from . import __version__
from .config import Config, ConfigError
from .feeds import absolute_url
from .manifest import MANIFEST_PATH
from .reproducible import FIXED_EPOCH, SourceDateEpochError, iso_time, source_date_epoch
from .verify import VerifyError, compare, files_below, fixity_of, read_manifest

FORMATS = ("wacz", "bagit", "zip")
SUFFIXES = {"wacz": ".wacz", "bagit": ".bag", "zip": ".zip"}

WACZ_VERSION = "1.1.1"
WARC_PATH = "archive/data.warc.gz"
CDXJ_PATH = "indexes/index.cdxj"
PAGES_PATH = "pages/pages.jsonl"

# A fixed table rather than the mimetypes module, which reads the machine's own
# /etc/mime.types and so could give another Content-Type on another machine.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}
# The codecs ingest can report, by the charset name a browser knows them under.
CHARSETS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32", "gb18030": "gb18030", "big5hkscs": "big5-hkscs"}

# Record ids are UUIDs derived from what the record holds, under this namespace.
_RECORD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://jianbao.invalid/warc-record")


class SnapshotError(Exception):
    """The site cannot be packaged: not built, or altered since it was built."""


@dataclass(frozen=True)
class SiteFile:
    path: str  # relative to the site root, '/' separators
    content: bytes


def read_site(site: Path) -> tuple[SiteFile, ...]:
    """Every file of the built site, sorted by path, checked against its manifest.

    The bytes checked are the bytes packaged: each file is read once.
    """
    manifest = site / MANIFEST_PATH
    if not manifest.is_file():
        raise SnapshotError(f"{manifest}: no manifest; run 'python -m generator build' first")
    files = tuple(SiteFile(path, file.read_bytes()) for path, file in sorted(files_below(site).items()))
    by_path = {file.path: file.content for file in files}
    try:
        expected = read_manifest(by_path[MANIFEST_PATH], str(manifest))
    except VerifyError as error:
        raise SnapshotError(str(error)) from None
    found = {path: fixity_of(content) for path, content in by_path.items()}
    discrepancies = compare(expected, found, ignore=[MANIFEST_PATH])
    if discrepancies:
        problems = "\n  ".join(str(d) for d in discrepancies)
        raise SnapshotError(f"{site} does not match its manifest; rebuild it before taking a snapshot:\n  {problems}")
    return files


def snapshot_time(files: Iterable[SiteFile], environ: Mapping[str, str] | None = None) -> datetime:
    """SOURCE_DATE_EPOCH if set, else the build time the manifest states, else the fixed epoch."""
    pinned = source_date_epoch(environ)
    if pinned is not None:
        return pinned
    manifest = next((f for f in files if f.path == MANIFEST_PATH), None)
    if manifest is not None:
        stated = json.loads(manifest.content).get("date")
        if isinstance(stated, str):
            try:
                return datetime.strptime(stated, "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                pass
    return FIXED_EPOCH


# --- zip ---------------------------------------------------------------------------------


def _zip_date_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    # A zip entry's time has no zone and fits 1980..2107 only.
    year = min(max(moment.year, 1980), 2107)
    if year != moment.year:
        return (year, 1, 1, 0, 0, 0) if year == 1980 else (year, 12, 31, 23, 59, 58)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def zip_archive(entries: Iterable[tuple[str, bytes, bool]], moment: datetime) -> bytes:
    """A zip of (name, content, compress) entries in name order, every header fixed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, compress in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=_zip_date_time(moment))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.create_system = 3  # Unix, whatever machine writes it, so the permissions below apply
            info.external_attr = 0o100644 << 16
            archive.writestr(info, content, compresslevel=9 if compress else None)
    return buffer.getvalue()


def site_zip(files: tuple[SiteFile, ...], moment: datetime) -> bytes:
    return zip_archive(((f.path, f.content, True) for f in files), moment)


# --- BagIt ---------------------------------------------------------------------------------


def _sort_tagmanifests(bag: Path) -> None:
    # bagit lists tag files in os.listdir order, which differs between file systems.
    for tagmanifest in sorted(bag.glob("tagmanifest-*.txt")):
        lines = tagmanifest.read_text(encoding="utf-8").splitlines()
        ordered = sorted(lines, key=lambda line: line.split(" ", 1)[1])
        tagmanifest.write_text("".join(line + "\n" for line in ordered), encoding="utf-8")


def write_bag(files: tuple[SiteFile, ...], out: Path, moment: datetime, config: Config) -> None:
    """Make the BagIt bag ``out`` (a folder) holding the site as its payload."""
    if out.exists() and not (out / "bagit.txt").is_file():
        raise SnapshotError(f"{out}: exists and is not a bag; not replacing it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".jianbao-bag-", dir=out.parent))
    try:
        staging.chmod(0o755)
        for file in files:
            target = staging / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.content)
        bag_info = {
            "Bagging-Date": moment.strftime("%Y-%m-%d"),
            "Bag-Software-Agent": f"jianbao {__version__} (bagit.py {bagit.VERSION})",
            "External-Description": f"{config.title}: {config.description}",
        }
        bagit.make_bag(str(staging), bag_info=bag_info, processes=1, checksums=["sha256"])
        _sort_tagmanifests(staging)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- WACZ ----------------------------------------------------------------------------------


def _record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(_RECORD_NAMESPACE, chr(10).join(parts))}>"


def _content_type(path: str, charsets: Mapping[str, str]) -> str:
    if path in charsets:  # an original source, in the encoding it came in
        return f"text/plain; charset={charsets[path]}"
    suffix = os.path.splitext(path)[1].lower()
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


def _source_charsets(files: tuple[SiteFile, ...]) -> dict[str, str]:
    """The published original of each source -> the charset it is encoded in."""
    manifest = next((f for f in files if f.path == MANIFEST_PATH), None)
    if manifest is None:
        return {}
    sources = json.loads(manifest.content).get("sources", [])
    return {
        source["published_as"]: CHARSETS.get(source.get("encoding", ""), "utf-8")
        for source in sources
        if isinstance(source, dict) and isinstance(source.get("published_as"), str)
    }


def warc_file(files: tuple[SiteFile, ...], moment: datetime, config: Config) -> bytes:
    """A gzipped WARC: a warcinfo record, then a response record per file in path order."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.0")
    warc_date = datetime_to_iso_date(moment.replace(tzinfo=None))
    info_fields = (
        f"software: jianbao {__version__}\r\n"
        f"format: WARC File Format 1.0\r\n"
        f"title: {config.title}\r\n"
        f"description: {config.description}\r\n"
    ).encode("utf-8")
    warcinfo = writer.create_warc_record(
        "",
        "warcinfo",
        payload=io.BytesIO(info_fields),
        length=len(info_fields),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Record-ID": _record_id("warcinfo", hashlib.sha256(info_fields).hexdigest()),
            "WARC-Date": warc_date,
            "WARC-Filename": os.path.basename(WARC_PATH),
        },
    )
    writer.write_record(warcinfo)
    charsets = _source_charsets(files)
    for file in files:
        url = absolute_url(config, file.path)
        http_headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", _content_type(file.path, charsets)), ("Content-Length", str(len(file.content)))],
            protocol="HTTP/1.1",
        )
        record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(file.content),
            length=len(file.content),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Record-ID": _record_id("response", url, hashlib.sha256(file.content).hexdigest()),
                "WARC-Date": warc_date,
            },
        )
        writer.write_record(record)
    return buffer.getvalue()


def cdxj_index(warc: bytes) -> bytes:
    """The CDXJ index of ``warc`` (lines sorted by SURT key and time), as the cdxj-indexer writes it."""
    out = io.StringIO()
    # The record types are named, not left to the default: importing the wacz package adds
    # 'warcinfo' to CDXJIndexer's default list, which would change the index behind our back.
    # Imported here, not at the top: it costs 0.4 s at the start of every command, and
    # only a WACZ snapshot needs it.
    from cdxj_indexer.main import CDXJIndexer

    indexer = CDXJIndexer(out, [io.BytesIO(warc)], sort=True, filename=os.path.basename(WARC_PATH), records="response")
    indexer.process_all()
    return out.getvalue().encode("utf-8")


def _page_title(content: bytes, fallback: str) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", content, re.DOTALL | re.IGNORECASE)
    if match is None:
        return fallback
    title = " ".join(html.unescape(match.group(1).decode("utf-8", "replace")).split())
    return title or fallback


def pages_jsonl(files: tuple[SiteFile, ...], moment: datetime, config: Config) -> bytes:
    """pages/pages.jsonl: a header line, then every HTML page with its title."""
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": config.title}]
    for file in files:
        if not file.path.endswith(".html"):
            continue
        url = absolute_url(config, file.path)
        lines.append(
            {
                "id": uuid.uuid5(_RECORD_NAMESPACE, "page\n" + url).hex,
                "url": url,
                "ts": iso_time(moment),
                "title": _page_title(file.content, file.path),
            }
        )
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def _resource(path: str, content: bytes) -> dict[str, object]:
    return {
        "name": os.path.basename(path).lower(),
        "path": path,
        "hash": "sha256:" + hashlib.sha256(content).hexdigest(),
        "bytes": len(content),
    }


def site_wacz(files: tuple[SiteFile, ...], moment: datetime, config: Config) -> bytes:
    warc = warc_file(files, moment, config)
    contents = {
        WARC_PATH: warc,
        CDXJ_PATH: cdxj_index(warc),
        PAGES_PATH: pages_jsonl(files, moment, config),
    }
    package = {
        "profile": "data-package",
        "resources": [_resource(path, contents[path]) for path in sorted(contents)],
        "title": config.title,
        "description": config.description,
        "mainPageURL": absolute_url(config, "index.html"),
        "mainPageDate": iso_time(moment),
        "created": iso_time(moment),
        "wacz_version": WACZ_VERSION,
        "software": f"jianbao {__version__}",
    }
    package_bytes = (json.dumps(package, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
    # WARC data is already gzipped and replay reads it by offset, so the spec asks for it stored.
    entries = [(path, content, path != WARC_PATH) for path, content in contents.items()]
    entries.append(("datapackage.json", package_bytes, True))
    entries.append(("datapackage-digest.json", (json.dumps(digest, indent=2) + "\n").encode("utf-8"), True))
    return zip_archive(entries, moment)


# --- command -------------------------------------------------------------------------------


def default_out(site: Path, format: str) -> Path:
    """The snapshot beside the site folder: output/ -> output.zip, output.wacz, output.bag/."""
    site = site.resolve()
    return site.with_name(site.name + SUFFIXES[format])


def write_file_atomically(out: Path, content: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def take_snapshot(site: Path, format: str, out: Path, config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Package the built site at ``site`` as ``format`` into ``out``."""
    files = read_site(site)
    moment = snapshot_time(files, environ)
    if format == "zip":
        write_file_atomically(out, site_zip(files, moment))
    elif format == "wacz":
        write_file_atomically(out, site_wacz(files, moment, config))
    elif format == "bagit":
        write_bag(files, out, moment, config)
    else:
        raise ValueError(f"unknown snapshot format {format!r} (known: {', '.join(FORMATS)})")


def run(args: argparse.Namespace) -> int:
    from . import cli  # here, not at the top: cli imports this module to register it

    try:
        config = cli.load_from_args(args)
        site = config.output_path
        out = args.out if args.out is not None else default_out(site, args.format)
        take_snapshot(site, args.format, out, config)
    except (ConfigError, SourceDateEpochError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SnapshotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"snapshot: {args.format} of {site} written to {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "snapshot",
        help="package the built site as a WACZ, a BagIt bag or a zip",
        description="Package the built site (output/ or --output DIR) for long-term keeping. "
        "Two snapshots of the same build are byte-identical.",
    )
    parser.add_argument("--format", required=True, choices=FORMATS, help="wacz (web archive), bagit (bag folder) or zip")
    parser.add_argument("--out", type=Path, metavar="FILE", help="where to write it (default: beside the site, e.g. output.zip)")
    from . import cli  # here, not at the top: cli imports this module to register it

    cli.add_site_arguments(parser)
    parser.set_defaults(func=run)
