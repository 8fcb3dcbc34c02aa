"""The accession register: the day each file of content/ entered the archive.

An archive states when it received each item. A sidecar's ``added`` says so where the
archivist knows; for every other file the first build that sees it writes the day into
``accessions.yaml`` in the content folder, and every later build reads it from there.
The register is part of the content from then on (keep it, commit it, back it up): the
output depends on the files of content/ alone, so two builds of the same folder agree
byte for byte, and a rebuild years later states the same dates.

The day written is that of ``SOURCE_DATE_EPOCH`` when it is set (a reproducible build
of a fresh collection states a chosen day), else today's date in UTC: the clock is read
once per new file, at the moment the archive receives it, and never again.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import yaml

from .config import TextDatesLoader
from .models import Problem
from .reproducible import is_iso_day, source_date_epoch

REGISTER_NAME = "accessions.yaml"

_HEADER = (
    "# Jianbao accession register: the day each file of this folder entered the archive.\n"
    "# Written by `python -m generator build` the first time it sees a file; read by every\n"
    "# build after. Keep it with the content. A date may be corrected by hand (YYYY-MM-DD);\n"
    "# a sidecar's `added:` takes precedence over it.\n"
)


def register_path(content: Path) -> Path:
    return content / REGISTER_NAME


def _line_of(text: str, key: str) -> int | None:
    """The 1-based line where ``key`` starts an entry of the register, for error messages."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip("'\"").startswith(key):
            return number
    return None


def read_register(content: Path) -> tuple[dict[str, str], tuple[Problem, ...]]:
    """The register's dates by file (path relative to content/), and what is wrong with it.

    A register that cannot be read is reported and treated as holding only its valid
    entries; ``record_new`` then refuses to rewrite it, so nothing in it is lost.
    """
    path = register_path(content)
    if not path.is_file():
        return {}, ()
    dates, problems = _interpret(path.read_bytes())
    return dict(dates), problems


@functools.lru_cache(maxsize=2)
def _interpret(register: bytes) -> tuple[dict[str, str], tuple[Problem, ...]]:
    # Kept by the register's bytes: ``serve`` reads the register on every rebuild, and
    # parsing 10,000 entries took 0.4 s of a one-source rebuild at 10,000 articles.
    try:
        text = register.decode("utf-8-sig")
        data = _parse(text)
    except UnicodeDecodeError as error:
        return {}, (Problem(REGISTER_NAME, None, f"accession register ignored: not UTF-8 ({error.reason} at byte {error.start})", "error"),)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return {}, (Problem(REGISTER_NAME, line, f"accession register ignored: not valid YAML ({getattr(error, 'problem', error)})", "error"),)
    if data is None:
        return {}, ()
    if not isinstance(data, dict):
        return {}, (Problem(REGISTER_NAME, None, "accession register ignored: must map file names to dates", "error"),)
    dates: dict[str, str] = {}
    problems: list[Problem] = []
    for file, day in data.items():
        if not isinstance(file, str) or not isinstance(day, str) or not is_iso_day(day):
            problems.append(
                Problem(
                    REGISTER_NAME,
                    _line_of(text, str(file)),
                    f"accession of {file!r} ignored: the date must be an ISO date like 2022-05-05, not {day!r}",
                    "error",
                )
            )
            continue
        dates[file] = day
    return dates, tuple(problems)


class _LibyamlTextDatesLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """TextDatesLoader's rules on libyaml's parser, where PyYAML was built with it."""


_LibyamlTextDatesLoader.yaml_implicit_resolvers = TextDatesLoader.yaml_implicit_resolvers


def _parse(text: str) -> object:
    # A register lists every file ever received (10,000 lines and more), which PyYAML's
    # own parser takes a second over on every build; libyaml takes a tenth of that. A
    # register it refuses is read again by PyYAML's parser, whose messages say the same
    # on every machine.
    try:
        return yaml.load(text, Loader=_LibyamlTextDatesLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=TextDatesLoader)


def today(environ: Mapping[str, str] | None = None) -> str:
    """The day a file received now enters the archive (see the module's note)."""
    moment = source_date_epoch(environ) or datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%d")


def render_register(dates: Mapping[str, str]) -> str:
    body = yaml.safe_dump(dict(sorted(dates.items())), allow_unicode=True, default_flow_style=False, sort_keys=False, width=1000)
    return _HEADER + body


def record_new(content: Path, files: Iterable[str], day: str) -> tuple[dict[str, str], tuple[Problem, ...]]:
    """Add every file of ``files`` the register lacks, dated ``day``; the register as it now stands.

    Entries of files no longer in content/ are kept: the archive received them once.
    A register with errors is left untouched (the problems say why).
    """
    dates, problems = read_register(content)
    missing = sorted(set(files) - dates.keys())
    if not missing or problems:
        return dates, problems
    updated = {**dates, **{file: day for file in missing}}
    path = register_path(content)
    partial = path.with_name(f".{REGISTER_NAME}.{os.getpid()}.partial")
    try:
        partial.write_text(render_register(updated), encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        reason = error.strerror or str(error)
        return dates, (Problem(REGISTER_NAME, None, f"could not record the accession of {len(missing)} file(s): {reason}", "error"),)
    return updated, ()
