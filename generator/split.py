"""Stage 3a: cut a cleaned source into its articles.

A page is a sequence of blocks of a few kinds: headings (short, no sentence end),
datelines that open a report (新华社北京5月5日电 …) or close one (据新华社电), bullets
(pull quotes) and prose. A report's body runs from a dateline, or from the first
prose after a run of headings, to the next heading run, opening dateline or closing
dateline.

Headings usually stand right above their body. Papers set in columns also print
headline blocks away from their bodies, so every heading run is checked against
the text it would head: a run that shares little with the body below it, while its
headings match other bodies well, is taken apart and each heading given to the body
it describes. A heading run that describes no body is kept as a notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from .lexicon import BULLET, CLAUSE_PUNCT, DATELINE_END, DATELINE_START, ends_sentence, pair_codes
from .models import Article, Block, DateInfo, Dateline, Problem, Text

# Headings are short; a line longer than this is prose even without a full stop.
HEADING_MAX_CHARS = 100
# Prose-like punctuation is allowed in a heading only below this length.
HEADING_PUNCT_MAX_CHARS = 40
# A heading run belongs to the body below it when one of its headings has at least this
# share of its character pairs in that body.
POSITIONAL_SUPPORT = 0.6
# A detached heading is given to the body that contains this share of its pairs at least.
DETACHED_SUPPORT = 0.3
# A heading longer than this with spaces in it is a headline followed by its deck.
DECK_SPLIT_MIN_CHARS = 40


_NOT_ALNUM = re.compile(r"[\W_]+")


def _pairs(text: str) -> set[int]:
    """Character pairs of the letters and digits in text: the unit of heading-body matching.

    Each pair is its integer code (``pair_codes``): a set of a body's pairs is made in C.
    """
    even, odd = pair_codes(_NOT_ALNUM.sub("", text))
    pairs = set(even)
    pairs.update(odd)
    return pairs


def support(heading: str, body_pairs: set[int]) -> float:
    """Share of a heading's character pairs that occur in a body."""
    pairs = _pairs(heading)
    if not pairs:
        return 0.0
    return len(pairs & body_pairs) / len(pairs)


def is_heading(block: Block) -> bool:
    text = block.text
    if ends_sentence(text) or len(text) > HEADING_MAX_CHARS:
        return False
    if BULLET.match(text) or DATELINE_START.match(text) or DATELINE_END.match(text):
        return False
    return len(text) <= HEADING_PUNCT_MAX_CHARS or not any(mark in text for mark in CLAUSE_PUNCT)


@dataclass
class _Draft:
    """An article under construction."""

    headings: list[Block] = field(default_factory=list)
    body: list[Block] = field(default_factory=list)
    pull_quotes: list[Block] = field(default_factory=list)
    dateline: Dateline | None = None
    closing: Dateline | None = None
    # The heading run printed right above the body, before it is judged.
    run_above: list[Block] = field(default_factory=list)
    # The line the report starts on (its dateline or first paragraph), so that a report
    # with a dateline and nothing else still has a place.
    start_line: int = 0

    @property
    def body_line(self) -> int:
        """Where the text starts: the order of articles is the order of their bodies."""
        blocks = self.body or self.pull_quotes
        return min([block.line for block in blocks] or [self.start_line])

    @property
    def first_line(self) -> int:
        return min([block.line for block in self.headings + self.body + self.pull_quotes] + [self.start_line])

    @property
    def last_line(self) -> int:
        return max([block.end_line for block in self.headings + self.body + self.pull_quotes] + [self.start_line])


def _parse_dateline(match: re.Match[str], position: str) -> Dateline:
    groups = match.groupdict()
    # The paper's own report, with or without place and date, is signed 本报讯 (本報訊 in
    # traditional characters) so that all of them share one agency.
    paper = groups.get("paper")
    agency = groups.get("agency") or groups.get("paper2") or (paper and paper + ("訊" if paper == "本報" else "讯"))
    place = groups.get("place") or groups.get("pplace")
    date = groups.get("date") or groups.get("pdate")
    return Dateline(
        text=match.group().strip(),
        agency=agency or None,
        place=place or None,
        date=date or None,
        via=groups.get("via") or None,
        position=position,  # type: ignore[arg-type]
    )


def _layout(blocks: tuple[Block, ...]) -> tuple[list[_Draft], list[list[Block]]]:
    """Walk the blocks: bodies with the heading run right above each, and runs with no body."""
    drafts: list[_Draft] = []
    orphan_runs: list[list[Block]] = []
    run: list[Block] = []
    bullets: list[Block] = []
    current: _Draft | None = None

    def start(dateline: Dateline | None, line: int) -> _Draft:
        nonlocal run, bullets
        draft = _Draft(dateline=dateline, run_above=run, pull_quotes=bullets, start_line=line)
        drafts.append(draft)
        run, bullets = [], []
        return draft

    for block in blocks:
        text = block.text
        opening = DATELINE_START.match(text)
        closing = DATELINE_END.match(text)
        if closing and current is not None:
            current.closing = _parse_dateline(closing, "end")
            current = None
        elif BULLET.match(text):
            if current is not None:
                current.pull_quotes.append(block)
            else:
                bullets.append(block)
        elif opening:
            current = start(_parse_dateline(opening, "start"), block.line)
            rest = text[opening.end():]
            if rest:
                current.body.append(Block(rest, block.line, block.end_line, block.attached, block.lines))
        elif is_heading(block) and not (current is not None and current.dateline is not None and not current.body):
            # (A dateline is always followed by its text, however short the first block.)
            current = None
            run.append(block)
        else:
            if current is None:
                current = start(None, block.line)
            current.body.append(block)
    if run or bullets:
        orphan_runs.append(run + bullets)
    return drafts, orphan_runs


def _assign_headings(drafts: list[_Draft], orphan_runs: list[list[Block]]) -> list[list[Block]]:
    """Give every heading to the body it describes; return the runs that describe none."""
    # A body's pairs are read when a heading is first matched against it: a run that
    # matches the body below it well is never matched against the others.
    body_pairs: dict[int, set[int]] = {}

    def pairs_of(index: int) -> set[int]:
        if index not in body_pairs:
            body_pairs[index] = _pairs(" ".join(block.text for block in drafts[index].body))
        return body_pairs[index]

    detached: list[Block] = []
    for index, draft in enumerate(drafts):
        if not draft.run_above:
            continue
        own = max(support(block.text, pairs_of(index)) for block in draft.run_above)
        # A run is taken from the body below it only for a body it describes better, and
        # well enough to be given to it: one that shares a pair or two by chance with
        # another body (上海 in both, say) stays a headline, not a stray notice.
        if own >= POSITIONAL_SUPPORT:
            draft.headings.extend(draft.run_above)
            continue
        elsewhere = max(
            (support(block.text, pairs_of(other)) for block in draft.run_above for other in range(len(drafts)) if other != index),
            default=0.0,
        )
        if own >= elsewhere or elsewhere < DETACHED_SUPPORT:
            draft.headings.extend(draft.run_above)
        else:
            detached.extend(draft.run_above)
    for run in orphan_runs:
        detached.extend(block for block in run if not BULLET.match(block.text))
    # Detached headings go to bodies that have none of their own, best match first.
    headless = [index for index, draft in enumerate(drafts) if not draft.headings]
    leftovers: list[Block] = []
    for block in detached:
        scored = [(support(block.text, pairs_of(index)), -index) for index in headless]
        best = max(scored, default=(0.0, 0))
        if best[0] >= DETACHED_SUPPORT:
            drafts[-best[1]].headings.append(block)
        else:
            leftovers.append(block)
    for draft in drafts:
        draft.headings.sort(key=lambda block: block.line)
    # Leftover headings that stood together form one notice each.
    notices: list[list[Block]] = []
    for block in sorted(leftovers, key=lambda block: block.line):
        if notices and block.line - notices[-1][-1].end_line <= 3:
            notices[-1].append(block)
        else:
            notices.append([block])
    return notices


def _uses_kickers(drafts: list[_Draft]) -> bool:
    """A paper that sets any three-deck heading sets kickers: its two-deck headings are
    kicker + headline. Otherwise two decks are headline + subheadline."""
    return any(len([b for b in draft.headings if not b.attached]) >= 3 for draft in drafts)


def _roles(draft: _Draft, kickers: bool) -> tuple[str | None, str | None, str | None]:
    """(kicker, headline, subheadline) from the draft's headings in reading order."""
    headings = list(draft.headings)
    section: str | None = None
    # A heading set flush on the body's first line is a column or section title.
    if headings and draft.body and headings[-1].end_line + 1 == draft.body[0].line and draft.body[0].attached:
        section = headings.pop().text
    texts = [block.text for block in headings]
    kicker = headline = subheadline = None
    if len(texts) == 1:
        headline = texts[0]
    elif len(texts) == 2:
        if kickers:
            kicker, headline = texts
        else:
            headline, subheadline = texts
    elif len(texts) >= 3:
        kicker, headline = texts[0], texts[1]
        subheadline = " ".join(texts[2:])
    if headline and subheadline is None and len(headline) > DECK_SPLIT_MIN_CHARS and " " in headline:
        headline, subheadline = headline.split(" ", 1)
    if section is not None:
        # Above a headline it is the column's title; alone, it is the headline itself.
        if headline is None:
            headline = section
        elif kicker is None:
            kicker = section
        else:
            subheadline = f"{subheadline} {section}" if subheadline else section
    return kicker, headline, subheadline


def split(text: Text) -> tuple[tuple[Article, ...], tuple[Problem, ...]]:
    """The articles of one cleaned source, in reading order, and what could not be placed."""
    source = text.source
    drafts, orphan_runs = _layout(text.blocks)
    notice_runs = _assign_headings(drafts, orphan_runs)
    kickers = _uses_kickers(drafts)
    problems: list[Problem] = []

    entries: list[Article] = []
    for draft in drafts:
        if not draft.body:
            problems.append(Problem(source.file, draft.first_line, "a dateline with no text after it"))
        kicker, headline, subheadline = _roles(draft, kickers)
        entries.append(
            _article(
                text,
                "article",
                (kicker, headline, subheadline),
                draft.dateline or draft.closing,
                tuple(block.text for block in draft.body),
                tuple(BULLET.sub("", block.text) for block in draft.pull_quotes),
                (draft.body_line, draft.first_line, draft.last_line),
            )
        )
    for run in notice_runs:
        words = " ".join(line for block in run for line in (block.lines or (block.text,)))
        first, last = run[0].line, run[-1].end_line
        entries.append(_article(text, "notice", (None, None, None), None, (words,), (), (first, first, last)))
    # Reading order is the order of the bodies (article.line), not of the headings.
    entries.sort(key=lambda article: article.line)
    articles = tuple(_renumber(article, source.id, number) for number, article in enumerate(entries, start=1))
    return articles, tuple(problems)


def _article(
    text: Text,
    kind: Literal["article", "notice"],
    headings: tuple[str | None, str | None, str | None],
    dateline: Dateline | None,
    paragraphs: tuple[str, ...],
    pull_quotes: tuple[str, ...],
    lines: tuple[int, int, int],
) -> Article:
    """An article (not yet numbered or described) whose body starts on lines[0] and which
    spans lines[1] to lines[2] with its headings; the flags raised in that span are its own."""
    kicker, headline, subheadline = headings
    start, first, last = lines
    return Article(
        id="",
        source_id=text.source.id,
        source=text.source.file,
        index=0,
        kind=kind,
        headline=headline,
        subheadline=subheadline,
        kicker=kicker,
        dateline=dateline,
        paragraphs=paragraphs,
        pull_quotes=pull_quotes,
        line=start,
        end_line=last,
        date=DateInfo(None, None, None),
        agency=dateline.agency if dateline else None,
        place=dateline.place if dateline else None,
        via=dateline.via if dateline else None,
        people=(),
        keywords=(),
        flags=tuple(flag for flag in text.flags if first <= flag.line <= last),
    )


def _renumber(article: Article, source_id: str, number: int) -> Article:
    return replace(article, id=f"{source_id}-{number}", index=number)
