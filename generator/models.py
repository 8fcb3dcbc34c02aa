"""The typed records that flow through the pipeline.

Every stage is a pure function from one of these records to the next:
``Source -> Text -> Article -> Dispatch -> Page``. All records are frozen so a
stage can never change what an earlier stage produced; a stage that needs a
variation builds a new record (``dataclasses.replace``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the input, reported to the user with its place."""

    file: str
    line: int | None
    message: str
    # 'error' stops a file from being used; 'warning' is reported and the file is used.
    severity: Literal["error", "warning"] = "warning"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Source:
    """One file of content/, read as bytes and decoded."""

    id: str  # stable, derived from the file name: the archivist's own identifier
    file: str  # path relative to the content folder, with '/' separators
    raw: bytes  # the original bytes, unchanged
    sha256: str  # of ``raw``
    encoding: str  # the codec that decoded ``raw`` (e.g. 'utf-8', 'utf-8-sig', 'gb18030')
    text: str  # decoded, BOM removed, CRLF and CR turned into LF
    # Per-source overrides from the optional sidecar file (``NAME.txt.yaml``).
    sidecar: "Sidecar" = field(default_factory=lambda: Sidecar())
    # The day the accession register says the file entered the archive (accessions.py).
    accession: str | None = None

    @property
    def added(self) -> str | None:
        """The ISO day the source entered the archive: the sidecar's word, else the register's."""
        return self.sidecar.added or self.accession

    @property
    def added_from(self) -> Literal["sidecar", "register"] | None:
        if self.sidecar.added:
            return "sidecar"
        return "register" if self.accession else None


@dataclass(frozen=True, slots=True)
class Sidecar:
    """Metadata an archivist states about a source, next to it as ``FILE.yaml``."""

    date: str | None = None  # ISO date of publication, e.g. 2022-05-06
    year: int | None = None  # the year alone, when the day is unknown
    publication: str | None = None  # the newspaper or site the copy came from
    added: str | None = None  # ISO date the source entered the archive
    language: str | None = None  # BCP 47 tag, e.g. zh-Hans, zh-Hant, en


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file of content/ that could not be used, and why."""

    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class Change:
    """One edit made by cleaning; the list of them is the cleaning report."""

    kind: str  # e.g. 'join-lines', 'join-page-break', 'punctuation', 'spacing', 'indent'
    line: int  # 1-based line of the source text where the edit happened
    before: str  # the text as found (with a little context)
    after: str  # the text as cleaned


@dataclass(frozen=True, slots=True)
class Flag:
    """Something that looks corrupt; the witness's reading is kept."""

    kind: str  # e.g. 'latin-stand-in', 'doubled-at-break'
    text: str  # the flagged text exactly as it stands in the cleaned text
    line: int  # 1-based line of the source text
    context: str  # the flagged text with a few characters either side


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph of cleaned text, or a single heading line."""

    text: str
    line: int  # first source line
    end_line: int  # last source line
    # True when no blank line separates this block from the one before it.
    attached: bool = False
    # The source lines the block was joined from (cleaned), for headings and notices
    # whose line breaks carry meaning.
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Text:
    """A source after cleaning: its paragraphs, what was changed, what looks wrong."""

    source: Source
    blocks: tuple[Block, ...]
    changes: tuple[Change, ...]
    flags: tuple[Flag, ...]


@dataclass(frozen=True, slots=True)
class Dateline:
    """The agency line that opens (新华社北京5月5日电) or closes (据新华社电) a report."""

    text: str  # as written
    agency: str | None  # 新华社, 中新社, 本报讯 ...
    place: str | None  # 北京
    date: str | None  # as written: 5月5日
    via: str | None  # 据 when the paper took the report from the agency
    position: Literal["start", "end"]


@dataclass(frozen=True, slots=True)
class DateInfo:
    """A date and where it came from."""

    value: str | None  # ISO 'YYYY-MM-DD', or '--MM-DD' when the year is unknown
    precision: Literal["day", "month-day", "month", "year"] | None
    source: Literal["text", "source", "dispatch", "config", "sidecar"] | None
    note: str = ""  # e.g. 'year unknown'


@dataclass(frozen=True, slots=True)
class Article:
    """One article (or notice) cut out of a source, with its metadata."""

    id: str  # '<source id>-<n>', n counting from 1 in reading order
    source_id: str
    source: str  # the source's file name in content/
    index: int  # 1-based position in the source
    kind: Literal["article", "notice"]
    headline: str | None
    subheadline: str | None
    kicker: str | None
    dateline: Dateline | None
    paragraphs: tuple[str, ...]  # cleaned body paragraphs
    pull_quotes: tuple[str, ...]
    line: int  # first source line of the article (its first heading or body line)
    end_line: int
    date: DateInfo
    agency: str | None
    place: str | None
    via: str | None
    people: tuple[str, ...]
    keywords: tuple[str, ...]
    flags: tuple[Flag, ...]
    dispatch: str | None = None  # set by collate

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def char_count(self) -> int:
        return sum(len(p) for p in self.paragraphs)


@dataclass(frozen=True, slots=True)
class Reading:
    witness: str  # article id
    text: str  # '' for an omission


@dataclass(frozen=True, slots=True)
class Variant:
    """A place where the witnesses of a dispatch differ (one entry of the apparatus)."""

    position: int  # offset in the consensus text (characters)
    length: int  # how many consensus characters the place covers (0 for an insertion point)
    consensus: str  # the reading chosen for the consensus
    readings: tuple[Reading, ...]  # one per witness, in witness order
    settled: bool  # False when no reading had a majority and a rule decided
    rule: str  # why the consensus reading was chosen


@dataclass(frozen=True, slots=True)
class RelatedLink:
    dispatch: str  # the other dispatch's id
    score: float
    reason: str  # e.g. '共同人物：习近平；共同关键词：疫情防控'


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One report, attested by one or more witnesses (articles) across the collection."""

    id: str
    title: str
    date: DateInfo
    witnesses: tuple[str, ...]  # article ids, the base witness first
    paragraphs: tuple[str, ...]  # the consensus text
    variants: tuple[Variant, ...]
    related: tuple[RelatedLink, ...]
    agency: str | None
    place: str | None
    people: tuple[str, ...]
    keywords: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True, slots=True)
class Collection:
    """Everything known about the content before anything is rendered."""

    sources: tuple[Source, ...]
    skipped: tuple[Skipped, ...]
    texts: tuple[Text, ...]
    articles: tuple[Article, ...]
    dispatches: tuple[Dispatch, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """One output file: its path relative to the output root and its bytes."""

    path: str
    content: bytes


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did, in numbers, with what it skipped and flagged.

    It holds no collection, so a build that changes nothing can answer from its record.
    """

    sources: int
    articles: int
    dispatches: int
    skipped: tuple[Skipped, ...]
    problems: tuple[Problem, ...]
    pages: int
    written: int
    seconds: float

    @classmethod
    def of(cls, collection: Collection, pages: int, written: int, seconds: float) -> "BuildReport":
        return cls(
            sources=len(collection.sources),
            articles=len(collection.articles),
            dispatches=len(collection.dispatches),
            skipped=collection.skipped,
            problems=collection.problems,
            pages=pages,
            written=written,
            seconds=seconds,
        )

    def summary(self) -> str:
        return (
            f"{self.sources} sources, {self.articles} articles, {self.dispatches} dispatches, "
            f"{len(self.skipped)} skipped, {len(self.problems)} problems, {self.pages} files "
            f"({self.written} written) in {self.seconds:.2f} s"
        )
