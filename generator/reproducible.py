"""The one rule for any time that has to appear in the output.

A build must give the same bytes whenever and wherever it runs, so no file may
carry the clock. Where a format demands a time (feed ``updated``, sitemap
``lastmod``, the manifest, bag-info dates, WARC record dates, zip entry times) it
is taken, in this order, from:

1. ``SOURCE_DATE_EPOCH`` (https://reproducible-builds.org/specs/source-date-epoch/),
   so a packager can pin it;
2. the newest date the collection itself knows: a source's sidecar ``date``, the day
   it was added (sidecar or accession register), an article's or dispatch's full
   date; midnight UTC of that day;
3. ``FIXED_EPOCH``, when the collection knows no full date at all.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone

from .models import Collection

# 1980-01-01 is the earliest time a zip entry can carry, so one constant serves every format.
FIXED_EPOCH = datetime(1980, 1, 1, tzinfo=timezone.utc)

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only, as in ISO 8601


class SourceDateEpochError(ValueError):
    """SOURCE_DATE_EPOCH is set but is not a whole number of seconds."""


def source_date_epoch(environ: Mapping[str, str] | None = None) -> datetime | None:
    """The time SOURCE_DATE_EPOCH names, or None when it is unset or empty."""
    env = os.environ if environ is None else environ
    value = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    # The specification asks for a decimal integer and for tools to refuse anything else,
    # rather than silently fall back to another time.
    if not re.fullmatch(r"\d+", value):
        raise SourceDateEpochError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {value!r}")
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise SourceDateEpochError(f"SOURCE_DATE_EPOCH is out of range: {value!r}") from None


def _known_days(collection: Collection) -> Iterator[str]:
    for source in collection.sources:
        yield from (day for day in (source.sidecar.date, source.added) if day)
    for article in collection.articles:
        if article.date.precision == "day" and article.date.value:
            yield article.date.value
    for dispatch in collection.dispatches:
        if dispatch.date.precision == "day" and dispatch.date.value:
            yield dispatch.date.value


def newest_source_date(collection: Collection) -> datetime | None:
    """Midnight UTC of the newest full date the collection knows, or None."""
    # Each distinct day is checked once: tens of thousands of dates name a few thousand days.
    days = [day for day in set(_known_days(collection)) if is_iso_day(day)]
    return datetime.fromisoformat(max(days)).replace(tzinfo=timezone.utc) if days else None


@functools.lru_cache(maxsize=65536)
def is_iso_day(value: str) -> bool:
    """Whether ``value`` is a day written YYYY-MM-DD that exists (2022-02-30, read from a
    damaged text, does not). Cached: builds ask for the same days again and again."""
    if not _ISO_DAY.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def build_time(collection: Collection, environ: Mapping[str, str] | None = None) -> datetime:
    """The time a build of ``collection`` states wherever a time must appear. Never the clock."""
    return source_date_epoch(environ) or newest_source_date(collection) or FIXED_EPOCH


def iso_time(moment: datetime) -> str:
    """``2022-05-06T00:00:00Z``: the one textual form used for these times."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
