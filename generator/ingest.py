"""Stage 1: read every file of content/ as bytes and decode it.

The original bytes are kept untouched (they are published beside the cleaned
page) together with their SHA-256 and the encoding that decoded them. A file
that is empty, only white space, or not text is skipped with a reason; the rest
of the collection goes on.
"""

from __future__ import annotations

import codecs
import datetime
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from .config import TextDatesLoader
from .models import Problem, Sidecar, Skipped, Source

# The suffix of the optional per-source metadata file: ``000.txt`` -> ``000.txt.yaml``.
SIDECAR_SUFFIX = ".yaml"

# Files in content/ that are not sources: sidecars and editor/OS litter.
# A file is skipped when its name or a folder's on its path (relative, '/'-separated) is a
# sidecar, hidden, an editor's backup or swap file, or Windows' thumbnail cache: one
# search of the whole path, as ingest asks it of every file of every build.
_IGNORED_PATH = re.compile(r"(?:^|/)(?:\.|Thumbs\.db(?:/|$))|(?:~|\.swp|\.ya?ml)(?:/|$)")

# Characters that mark a decoding as wrong when they appear in ordinary text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# The commonest characters of Chinese news text, simplified and traditional. A legacy
# double-byte decoding that is wrong produces rare characters instead, so the share of
# these tells GB18030 from Big5 (both decode most byte sequences without error).
_COMMON_HAN = set(
    "的一是不了在人有我他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后"
    "小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
    "知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最"
    "间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市"
    "眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计"
    "或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让"
    "認這個們為時來國說會對發現過經還點從當樣與關進動實種長開門問見頭東車電話學體聽員將應數節機語覺讓業樂"
    "務議據衛報導區權決總國產黨當屆條麼於後無兒並離飛價錢雖邊"
)


# Below this share of ordinary characters a legacy decoding is taken for noise.
LEGACY_MIN_SCORE = 0.2


def _is_sidecar_or_litter(relative: str) -> bool:
    return _IGNORED_PATH.search(relative) is not None


def _han_score(text: str) -> float:
    """Share of characters that are common Han characters, ASCII or ordinary punctuation."""
    if not text:
        return 0.0
    # Each distinct character is judged once: a text holds a few hundred of them.
    counts = Counter(text)
    good = sum(
        count
        for char, count in counts.items()
        if char in _COMMON_HAN or char.isascii() or unicodedata.category(char).startswith(("P", "Z"))
    )
    return good / len(text)


def detect_encoding(raw: bytes) -> tuple[str, str] | None:
    """Return (encoding, text) for bytes that are text, else None.

    Byte-order marks decide first. Then strict UTF-8, which almost never decodes
    bytes that are not UTF-8. Legacy Chinese encodings decode almost anything, so
    each candidate is scored by how ordinary the decoded text looks.
    """
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, encoding in boms:
        if raw.startswith(bom):
            try:
                return encoding, raw.decode(encoding)
            except UnicodeDecodeError:
                return None
    if b"\x00" in raw:
        return None
    try:
        return "utf-8", raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best: tuple[float, str, str] | None = None
    for encoding in ("gb18030", "big5hkscs"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _han_score(text)
        if best is None or score > best[0]:
            best = (score, encoding, text)
    # The score only chooses between codecs; the floor only keeps out bytes that decode
    # to noise. Ordinary text scores far above it even when its words are uncommon.
    if best is None or best[0] < LEGACY_MIN_SCORE:
        return None
    return best[1], best[2]


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def source_id(relative: str) -> str:
    """A stable id from the file name: the name without its extension, path parts joined by '-'.

    It is the archivist's own name for the file, so it survives edits to the text
    (a hash of the bytes would rename the page whenever an OCR error is fixed).
    """
    stem = relative.rsplit(".", 1)[0] if "." in relative.rsplit("/", 1)[-1] else relative
    slug = re.sub(r"[^\w.-]+", "-", stem.replace("/", "-"), flags=re.UNICODE).strip("-")
    return slug or "source"


# What a sidecar may say, and the type of each value.
SIDECAR_KEYS: dict[str, type] = {"added": str, "date": str, "language": str, "publication": str, "year": int}
_SIDECAR_DATES = ("added", "date")


def _is_iso_date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _sidecar_value(key: str, value: object) -> str | None:
    """Why ``value`` is not acceptable for ``key``, or None when it is."""
    expected = SIDECAR_KEYS[key]
    if not isinstance(value, expected) or isinstance(value, bool):
        return f"'{key}' must be {'an integer' if expected is int else 'a string'}, not {value!r}"
    if key in _SIDECAR_DATES and not _is_iso_date(str(value)):
        return f"'{key}' must be an ISO date like 2022-05-05, not {value!r}"
    if key == "year" and not 1000 <= int(str(value)) <= 9999:
        return f"'year' must be a year of four digits, not {value!r}"
    return None


def _read_sidecar(path: Path, relative: str) -> tuple[Sidecar, list[Problem]]:
    sidecar_path = path.with_name(path.name + SIDECAR_SUFFIX)
    name = relative + SIDECAR_SUFFIX
    if not sidecar_path.is_file():
        return Sidecar(), []
    try:
        text = sidecar_path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return Sidecar(), [Problem(name, None, f"sidecar ignored: not UTF-8 ({error.reason} at byte {error.start})", "error")]
    try:
        node = yaml.compose(text, Loader=TextDatesLoader)
        data = yaml.load(text, Loader=TextDatesLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        return Sidecar(), [Problem(name, line, f"sidecar ignored: not valid YAML ({problem})", "error")]
    if data is None:
        data = {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return Sidecar(), [Problem(name, None, "sidecar ignored: must be a mapping of keys to values", "error")]
    # The line each key stands on, so every complaint can point at it.
    lines = {key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    problems: list[Problem] = []
    values: dict[str, object] = {}
    for key, value in data.items():
        line = lines.get(str(key))
        if key not in SIDECAR_KEYS:
            known = ", ".join(sorted(SIDECAR_KEYS))
            problems.append(Problem(name, line, f"unknown key '{key}' (known keys: {known})", "error"))
            continue
        wrong = _sidecar_value(key, value)
        if wrong is not None:
            problems.append(Problem(name, line, wrong, "error"))
            continue
        values[key] = value
    return Sidecar(**values), problems  # type: ignore[arg-type]


def read_file(path: Path, relative: str) -> tuple[Source | None, Skipped | None, list[Problem]]:
    """Read one file; return the Source, or the reason it was skipped."""
    raw = path.read_bytes()
    if not raw:
        return None, Skipped(relative, "empty file"), []
    detected = detect_encoding(raw)
    if detected is None:
        reason = "not text (contains NUL bytes)" if b"\x00" in raw and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "not text (no known encoding decodes it)"
        return None, Skipped(relative, reason), []
    encoding, text = detected
    text = _normalise_newlines(text.lstrip("\ufeff"))
    if _CONTROL.search(text):
        return None, Skipped(relative, "not text (contains control characters)"), []
    if not text.strip():
        return None, Skipped(relative, "only white space"), []
    sidecar, problems = _read_sidecar(path, relative)
    source = Source(
        id=source_id(relative),
        file=relative,
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
        text=text,
        sidecar=sidecar,
    )
    return source, None, problems


ReadFile = Callable[[Path, str], tuple[Source | None, Skipped | None, list[Problem]]]


def ingest(
    content: Path, read: ReadFile = read_file, files: Iterable[str] | None = None
) -> tuple[tuple[Source, ...], tuple[Skipped, ...], tuple[Problem, ...]]:
    """Read every file below ``content`` in a fixed (sorted) order.

    ``read`` reads one file (``read_file``); an incremental build passes one that reuses
    what it read before from files whose bytes, and sidecar's bytes, did not change,
    and ``files``, the paths (relative to ``content``) it found there, so the folder is
    not walked twice.
    """
    if not content.is_dir():
        raise FileNotFoundError(f"{content}: content folder not found")
    sources: list[Source] = []
    skipped: list[Skipped] = []
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    if files is None:
        files = (path.relative_to(content).as_posix() for path in content.rglob("*") if path.is_file())
    for relative in sorted(files):
        if _is_sidecar_or_litter(relative):
            continue
        source, skip, file_problems = read(content / relative, relative)
        problems.extend(file_problems)
        if skip is not None:
            skipped.append(skip)
            problems.append(Problem(relative, None, f"skipped: {skip.reason}", "error"))
            continue
        assert source is not None
        if source.id in seen_ids:
            reason = f"its id '{source.id}' is already taken by {seen_ids[source.id]}"
            skipped.append(Skipped(relative, reason))
            problems.append(Problem(relative, None, f"skipped: {reason}", "error"))
            continue
        seen_ids[source.id] = relative
        sources.append(source)
    return tuple(sources), tuple(skipped), tuple(problems)
