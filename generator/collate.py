"""Stage 5: group the witnesses of each dispatch, collate them, vote a consensus.

A newspaper reprints an agency dispatch; several papers reprint the same one, each
copy damaged or edited in its own way. Collation finds those copies (the
*witnesses*) across the whole collection and reconstructs the text they attest.

Grouping
    Each article's body is reduced to a *matching key* (case- and width-folded,
    letters and digits only, so punctuation, spacing and line breaks do not
    matter) and cut into character shingles of ``collate.shingle`` characters; only
    the shingles that start at an anchor character (one code point in
    ``collate.sample``) are kept, a content-defined sample, so every copy of a
    passage keeps the same shingles wherever the passage stands. An inverted index
    counts in how many articles each shingle stands. Each article then looks up its
    ``collate.probes`` rarest shingles that some other article also has (ties by
    the shingle itself, so all copies of a dispatch probe alike): the rarest
    shingles of a reprint are its dispatch's own, which unrelated articles lack,
    and boilerplate shared by many articles is never probed. Only the pairs found
    so are compared: the work grows with the collection, not with its square.
    A candidate is a reprint when the smaller witness has ``collate.containment`` of
    its shingles in the larger (containment, not Jaccard, so an abridged copy
    joins), is at least ``collate.min_length_share`` of the larger's length (a short
    text found whole inside a long one is a quotation), and alignment covers
    ``collate.aligned`` of the shorter. Quoting a few phrases of another report
    meets none of these. Verified pairs are joined transitively (union-find); every
    article of kind 'article' ends in exactly one dispatch, alone if need be.
    Notices form no dispatch.

Alignment and consensus
    The *base witness* is the earliest witness in (source file, position) order;
    every other witness is aligned to it character by character (sentences first,
    then the characters of the sentences that differ; difflib, no automatic junk). The places where any witness departs from the base are merged
    when they overlap or touch; at each merged place every witness has a reading
    (possibly empty: an omission is a reading). The consensus at a place is, in
    order of the rules:

    1. the reading of a strict majority of the witnesses (settled);
    2. otherwise, with readings that fall on a flagged span of their own witness
       (a Latin stand-in, a character doubled at a page break) set aside, the one
       reading that remains (settled: the flag is the evidence);
    3. otherwise the reading shared by most of the remaining witnesses, ties going
       to the best-ranked witness (unsettled).

    A place where a flagged reading lost is listed in the apparatus even when the
    vote was unanimous among the others, so a repair is always visible. Paragraph
    breaks are voted like text but are layout, not readings: a place where the
    witnesses differ only in where a paragraph ends is not a variant.

    Witness rank ("the most complete, least-flagged witness"): witnesses whose body
    is at least 95% as long as the longest count as complete; complete before
    incomplete, then fewer flags, then longer, then earlier.

Identity, title, date
    A dispatch's id is ``d-`` followed by its base witness's article id. It is stable
    as long as no earlier-sorting source adds a copy, and it says where the
    dispatch was first found. The title is the headline of the best-ranked witness
    that has one. The date comes from the witness dates: full dates (year known)
    before month-day dates, then by where they came from (text, source, sidecar,
    config), then the most common value, then the best-ranked witness. A witness
    with no year inherits the dispatch's year (source 'dispatch'), keeping its own
    month and day when it has them; where no witness knows the year, none is
    guessed.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import heapq
import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .config import CollateConfig, Config
from .models import Article, DateInfo, Dispatch, Reading, Variant
from .related import related_links

# Witnesses at least this share of the longest witness's length count as complete.
COMPLETE_SHARE = 0.95

# How a date's origin ranks when witnesses disagree (lower is better).
_DATE_SOURCE_RANK = {"text": 0, "source": 1, "sidecar": 2, "config": 3, "dispatch": 4}

# Paragraphs are joined with one newline for alignment, so that a paragraph break
# aligns as a single character; the consensus uses the published "\n\n".
_ALIGN_BREAK = "\n"
_TEXT_BREAK = "\n\n"


_NOT_ALNUM = re.compile(r"[\W_]+")
_SPACE = re.compile(r"[^\S\n]+")
# Characters that NFKC folds to plain ones: full-width forms, circled digits, ligatures ...
_FOLDABLE = re.compile(r"[\u2460-\u24ff\u3200-\u33ff\ufb00-\ufb4f\uff00-\uffef]")
# A segment runs to the end of a sentence or clause (either width), or of a paragraph.
_STOPS = "。．！？!?.；;\uff01\uff1f\uff1b\n"
_SEGMENT = re.compile(f"[^{_STOPS}]*[{_STOPS}]|[^{_STOPS}]+")


def matching_key(text: str) -> str:
    """The text reduced to what identifies a reprint: letters and digits, width- and case-folded."""
    key = _NOT_ALNUM.sub("", text.casefold())
    if _FOLDABLE.search(key):  # NFKC is slow on long text: only where it changes something
        key = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", key).casefold())
    return key


def _folded(text: str) -> str:
    """The text case-folded without spaces, punctuation kept (segments need it)."""
    return _SPACE.sub("", text.casefold())


@functools.lru_cache(maxsize=8)
def _shingle_pattern(size: int, sample: int) -> re.Pattern[str]:
    """Finds the shingles whose first character is an anchor: one code point in ``sample``.

    The choice depends on the characters alone, so every copy of a passage keeps the
    same shingles wherever the passage stands (a content-defined sample).
    """
    anchors = "".join(chr(code) for code in range(0x30, 0xA000) if code % sample == 0 and chr(code).isalnum())
    return re.compile(f"(?=([{re.escape(anchors)}].{{{size - 1}}}))", re.DOTALL)


def shingles(key: str, size: int, sample: int = 1) -> frozenset[str]:
    """The distinct sampled character n-grams of ``key``; a key with none is its own shingle."""
    found = frozenset(_shingle_pattern(size, sample).findall(key))
    if not found and key:
        return frozenset((key[:size],))
    return found


def opcodes(a: str, b: str) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes turning ``a`` into ``b``, character by character.

    Two levels, so that long, mostly equal texts align fast: sentences are aligned
    first, then the characters of the sentences that differ (difflib, no automatic
    junk, at both levels).
    """
    segments_a, segments_b = _SEGMENT.findall(a), _SEGMENT.findall(b)
    starts_a = list(itertools.accumulate(map(len, segments_a), initial=0))
    starts_b = list(itertools.accumulate(map(len, segments_b), initial=0))
    result: list[tuple[str, int, int, int, int]] = []
    matcher = difflib.SequenceMatcher(None, segments_a, segments_b, autojunk=False)
    for tag, s1, s2, t1, t2 in matcher.get_opcodes():
        a1, a2, b1, b2 = starts_a[s1], starts_a[s2], starts_b[t1], starts_b[t2]
        if tag != "replace":
            result.append((tag, a1, a2, b1, b2))
            continue
        inner = difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
        result.extend((t, a1 + i1, a1 + i2, b1 + j1, b1 + j2) for t, i1, i2, j1, j2 in inner.get_opcodes())
    return result


def aligned_chars(a: str, b: str) -> int:
    """How many characters of ``a`` and ``b`` align."""
    return sum(i2 - i1 for tag, i1, i2, _, _ in opcodes(a, b) if tag == "equal")


# -- grouping -------------------------------------------------------------------------


def candidate_pairs(shingle_sets: Sequence[frozenset[str]], probes: int) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, that share one of either's ``probes`` rarest shingles.

    Rarity is counted over the whole collection; shingles found in one article only
    cannot pair anything and are passed over. Ties go by the shingle itself, so
    every copy of a dispatch probes with the same shingles: those of the dispatch's
    own text, which no unrelated article has.
    """
    frequency: Counter[str] = Counter()
    for shingle_set in shingle_sets:
        frequency.update(shingle_set)
    shared = {shingle: count for shingle, count in frequency.items() if count > 1}
    chosen: list[list[str]] = []
    for shingle_set in shingle_sets:
        common = shingle_set & shared.keys()
        rarest = heapq.nsmallest(probes, zip(map(shared.__getitem__, common), common))
        chosen.append([shingle for _, shingle in rarest])
    probed = set().union(*chosen) if chosen else set()
    postings: dict[str, list[int]] = defaultdict(list)
    for number, shingle_set in enumerate(shingle_sets):
        for shingle in shingle_set & probed:
            postings[shingle].append(number)
    pairs: set[tuple[int, int]] = set()
    for number, own in enumerate(chosen):
        for shingle in own:
            for other in postings[shingle]:
                if other != number:
                    pairs.add((min(number, other), max(number, other)))
    return sorted(pairs)


def is_reprint(a: _Witness, b: _Witness, settings: CollateConfig) -> bool:
    """The verification of a candidate pair: containment, length share, alignment."""
    small, large = sorted((a, b), key=lambda witness: len(witness.shingles))
    if not small.shingles:
        return False
    if len(small.shingles & large.shingles) < settings.containment * len(small.shingles):
        return False
    short, long_ = sorted((len(a.key), len(b.key)))
    if short < settings.min_length_share * long_:
        return False
    shorter = min(len(a.folded), len(b.folded))
    return aligned_chars(a.folded, b.folded) >= settings.aligned * shorter


@dataclass(frozen=True)
class _Witness:
    folded: str
    key: str
    shingles: frozenset[str]


def _find(parent: list[int], item: int) -> int:
    while parent[item] != item:
        parent[item] = parent[parent[item]]
        item = parent[item]
    return item


def group_witnesses(articles: Sequence[Article], settings: CollateConfig) -> list[list[Article]]:
    """Partition ``articles`` into groups of witnesses of one dispatch.

    Every article is in exactly one group; groups are in (source file, position)
    order of their first witness, and witnesses in that order within a group.
    """
    ordered = sorted(articles, key=_reading_order)
    witnesses = []
    for article in ordered:
        text = _align_text(article)
        folded, key = _folded(text), matching_key(text)
        witnesses.append(_Witness(folded, key, shingles(key, settings.shingle, settings.sample)))
    parent = list(range(len(ordered)))
    for first, second in candidate_pairs([w.shingles for w in witnesses], settings.probes):
        if _find(parent, first) == _find(parent, second):
            continue
        if is_reprint(witnesses[first], witnesses[second], settings):
            parent[_find(parent, second)] = _find(parent, first)
    groups: dict[int, list[Article]] = defaultdict(list)
    for number, article in enumerate(ordered):
        groups[_find(parent, number)].append(article)
    return sorted(groups.values(), key=lambda group: _reading_order(group[0]))


# -- alignment ------------------------------------------------------------------------


def _reading_order(article: Article) -> tuple[str, int]:
    return (article.source, article.index)


def _align_text(article: Article) -> str:
    return _ALIGN_BREAK.join(paragraph.replace("\n", " ") for paragraph in article.paragraphs)


@dataclass(frozen=True)
class _Aligned:
    """One witness aligned to the base: where each base gap falls in the witness text.

    ``before[g]`` is the witness offset at base gap ``g`` (between base characters
    g-1 and g) before anything the witness inserts there, ``after[g]`` the offset
    after it. Inside a replaced or deleted stretch the values are not meaningful,
    and no place boundary ever falls there.
    """

    text: str
    edits: tuple[tuple[int, int], ...]  # base spans the witness changes; (i, i) inserts at gap i
    before: tuple[int, ...]
    after: tuple[int, ...]


def _align(base: str, witness: str) -> _Aligned:
    size = len(base)
    before = [0] * (size + 1)
    after = [0] * (size + 1)
    after[size] = len(witness)
    edits: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in opcodes(base, witness):
        if tag == "equal":
            before[i1 + 1 : i2 + 1] = range(j1 + 1, j2 + 1)
            after[i1:i2] = range(j1, j2)
            continue
        edits.append((i1, i2))
        if tag == "insert":
            before[i1] = j1
            after[i1] = j2
        else:  # 'delete' or 'replace': the stretch i1..i2 becomes witness[j1:j2]
            before[i1 + 1 : i2 + 1] = [j2] * (i2 - i1)
            after[i1:i2] = [j1] * (i2 - i1)
    return _Aligned(witness, tuple(edits), tuple(before), tuple(after))


def _places(alignments: Sequence[_Aligned]) -> list[tuple[int, int]]:
    """Merge every witness's edits into places: base spans that overlap or touch join."""
    spans = sorted(span for aligned in alignments for span in aligned.edits)
    places: list[tuple[int, int]] = []
    for start, end in spans:
        if places and start <= places[-1][1]:
            places[-1] = (places[-1][0], max(places[-1][1], end))
        else:
            places.append((start, end))
    return places


def _flag_spans(article: Article, text: str) -> list[tuple[int, int]]:
    """Where the article's flags stand in its alignment text (found by their context)."""
    spans: list[tuple[int, int]] = []
    for flag in article.flags:
        if not flag.text:
            continue
        found = text.find(flag.context) if flag.context else -1
        if found >= 0 and flag.text in flag.context:
            start = found + flag.context.index(flag.text)
        elif text.count(flag.text) == 1:
            start = text.index(flag.text)
        else:
            continue  # the flag cannot be placed in the body (e.g. it stands in a headline)
        spans.append((start, start + len(flag.text)))
    return spans


def _on_flag(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """True when the witness stretch [start, end) touches a flagged span (an empty one: lies inside it)."""
    if start == end:
        return any(flag_start < start < flag_end for flag_start, flag_end in spans)
    return any(start < flag_end and flag_start < end for flag_start, flag_end in spans)


def rank_witnesses(witnesses: Sequence[Article]) -> list[Article]:
    """Best first: complete before incomplete, then fewest flags, then longest, then earliest."""
    lengths = {article.id: len(matching_key(article.text)) for article in witnesses}
    longest = max(lengths.values(), default=0)

    def key(article: Article) -> tuple[bool, int, int, str, int]:
        length = lengths[article.id]
        return (length < COMPLETE_SHARE * longest, len(article.flags), -length, *_reading_order(article))

    return sorted(witnesses, key=key)


@dataclass(frozen=True)
class _Choice:
    reading: str  # the chosen reading, with alignment breaks
    settled: bool
    rule: str
    flagged_lost: bool  # a flagged reading was set aside: list the place even if otherwise unanimous


def _vote(readings: Sequence[str], flagged: Sequence[bool], rank: Sequence[int]) -> _Choice:
    """Choose a reading at one place; ``rank[i]`` is witness i's rank (0 = best)."""
    total = len(readings)
    words = [reading.replace(_ALIGN_BREAK, "") for reading in readings]

    def strongest(pool: Sequence[int]) -> int:
        """The witness in ``pool`` whose reading most of the pool shares; ties: best rank."""
        return min(pool, key=lambda i: (-sum(1 for j in pool if words[j] == words[i]), rank[i]))

    everyone = range(total)
    leader = strongest(everyone)
    votes = words.count(words[leader])
    if votes * 2 > total:
        lost = any(flagged[i] and words[i] != words[leader] for i in everyone)
        return _Choice(_form(words[leader], readings, words, rank), True, f"多数见证 {votes}/{total}", lost)
    unflagged = [i for i in everyone if not flagged[i]]
    if unflagged and len({words[i] for i in unflagged}) == 1:
        word = words[unflagged[0]]
        return _Choice(_form(word, readings, words, rank), True, "被标记的读法弃用，取其余见证的读法", True)
    pool = unflagged or list(everyone)
    chosen = strongest(pool)
    rule = "无多数：取见证最多的读法，同数时取最完整、标记最少的见证"
    return _Choice(_form(words[chosen], readings, words, rank), False, rule, len(pool) < total)


def _form(word: str, readings: Sequence[str], words: Sequence[str], rank: Sequence[int]) -> str:
    """Among the readings of ``word``, the paragraph layout most witnesses have (ties: best rank)."""
    forms = Counter(readings[i] for i in range(len(readings)) if words[i] == word)
    return min(
        forms,
        key=lambda form: (-forms[form], min(rank[i] for i in range(len(readings)) if readings[i] == form)),
    )


@dataclass(frozen=True)
class Collation:
    """The consensus of a group of witnesses and its apparatus."""

    paragraphs: tuple[str, ...]
    variants: tuple[Variant, ...]


def collate_witnesses(witnesses: Sequence[Article]) -> Collation:
    """Align ``witnesses`` (base first) and vote the consensus; see the module docstring."""
    texts = [_align_text(article) for article in witnesses]
    base = texts[0]
    if len(witnesses) == 1:
        return Collation(tuple(p for p in base.split(_ALIGN_BREAK) if p) if base else (), ())
    alignments = [_align(base, text) for text in texts]
    order = {article.id: number for number, article in enumerate(rank_witnesses(witnesses))}
    rank = [order[article.id] for article in witnesses]
    flags = [_flag_spans(article, text) for article, text in zip(witnesses, texts)]
    pieces: list[str] = []
    # (offset in the consensus, chosen reading, every witness's reading, the vote)
    found: list[tuple[int, str, tuple[str, ...], _Choice]] = []
    offset = 0
    cursor = 0
    for start, end in _places(alignments):
        pieces.append(base[cursor:start])
        offset += start - cursor
        spans = [(aligned.before[start], aligned.after[end]) for aligned in alignments]
        readings = tuple(aligned.text[a:b] for aligned, (a, b) in zip(alignments, spans))
        flagged = [_on_flag(a, b, flags[i]) for i, (a, b) in enumerate(spans)]
        choice = _vote(readings, flagged, rank)
        textual = len({reading.replace(_ALIGN_BREAK, "") for reading in readings}) > 1
        if textual or choice.flagged_lost:
            found.append((offset, choice.reading, readings, choice))
        pieces.append(choice.reading)
        offset += len(choice.reading)
        cursor = end
    pieces.append(base[cursor:])
    published, offsets = _publish("".join(pieces))
    variants = []
    for at, chosen, readings, choice in found:
        position, end = offsets[at], offsets[at + len(chosen)]
        variants.append(
            Variant(
                position=position,
                length=end - position,
                consensus=published[position:end],
                readings=tuple(
                    Reading(article.id, _published(reading)) for article, reading in zip(witnesses, readings)
                ),
                settled=choice.settled,
                rule=choice.rule,
            )
        )
    paragraphs = tuple(published.split(_TEXT_BREAK)) if published else ()
    return Collation(paragraphs, tuple(variants))


def _published(reading: str) -> str:
    return reading.replace(_ALIGN_BREAK, _TEXT_BREAK)


def _publish(consensus: str) -> tuple[str, list[int]]:
    """The consensus as published text, and where each of its offsets lands there.

    Runs of breaks collapse into one paragraph break and breaks at either end are
    dropped, so no paragraph is empty. An offset at a character lands after any
    break emitted before it; an offset at a break lands before the break.
    """
    out: list[str] = []
    length = 0
    offsets: list[int] = []
    pending = False
    for char in consensus:
        if char == _ALIGN_BREAK:
            offsets.append(length)
            pending = length > 0
            continue
        if pending:
            out.append(_TEXT_BREAK)
            length += len(_TEXT_BREAK)
            pending = False
        offsets.append(length)
        out.append(char)
        length += 1
    offsets.append(length)
    return "".join(out), offsets


# -- metadata -------------------------------------------------------------------------


def dispatch_id(base: Article) -> str:
    return f"d-{base.id}"


def dispatch_date(witnesses: Sequence[Article], ranked: Sequence[Article]) -> DateInfo:
    """The best-attested date of the witnesses (see the module docstring), or none."""
    dated = [article for article in witnesses if article.date.value]
    if not dated:
        return DateInfo(None, None, None, "no witness is dated")
    values = Counter(article.date.value for article in dated)
    best = min(
        dated,
        key=lambda article: (
            article.date.precision != "day",
            _DATE_SOURCE_RANK.get(article.date.source or "", len(_DATE_SOURCE_RANK)),
            -values[article.date.value],
            ranked.index(article),
        ),
    )
    note = f"from witness {best.id}" + (f"; {best.date.note}" if best.date.note else "")
    return dataclasses.replace(best.date, note=note)


def inherit_date(article: Article, date: DateInfo, dispatch: str) -> DateInfo:
    """The article's date, with the year taken from its dispatch where the article has none."""
    own = article.date
    if own.precision in ("day", "year") or date.precision != "day" or date.value is None:
        return own
    year = date.value[:4]
    if own.precision == "month-day" and own.value:
        value = year + own.value[1:]  # '--05-06' -> '2022-05-06': its own day, the dispatch's year
    elif own.precision == "month" and own.value:
        return DateInfo(year + own.value[1:], "month", "dispatch", f"year from dispatch {dispatch}")
    else:
        value = date.value
    return DateInfo(value, "day", "dispatch", f"year from dispatch {dispatch}")


def _most_common(values: Sequence[str | None]) -> str | None:
    """The commonest non-empty value, ties going to the earliest (values come best witness first)."""
    present = [value for value in values if value]
    if not present:
        return None
    counts = Counter(present)
    return max(present, key=lambda value: (counts[value], -present.index(value)))


def _merged(lists: Sequence[Sequence[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for items in lists for item in items))


def build_dispatch(witnesses: Sequence[Article]) -> Dispatch:
    """The dispatch attested by ``witnesses`` (base first), without related links."""
    ranked = rank_witnesses(witnesses)
    collation = collate_witnesses(witnesses)
    title = next((article.headline for article in ranked if article.headline), None)
    if title is None:
        first = collation.paragraphs[0] if collation.paragraphs else witnesses[0].id
        title = first[:30]
    return Dispatch(
        id=dispatch_id(witnesses[0]),
        title=title,
        date=dispatch_date(witnesses, ranked),
        witnesses=tuple(article.id for article in witnesses),
        paragraphs=collation.paragraphs,
        variants=collation.variants,
        related=(),
        agency=_most_common([article.agency for article in ranked]),
        place=_most_common([article.place for article in ranked]),
        people=_merged([article.people for article in ranked]),
        keywords=_merged([article.keywords for article in ranked]),
    )


def collate(articles: tuple[Article, ...], config: Config) -> tuple[tuple[Article, ...], tuple[Dispatch, ...]]:
    """Group, collate and link: the articles (with ``dispatch`` and inherited dates) and the dispatches.

    Articles come back in the order given; dispatches in the order of their base
    witness. Notices are returned unchanged and form no dispatch.
    """
    reports = [article for article in articles if article.kind == "article"]
    dispatches = [build_dispatch(group) for group in group_witnesses(reports, config.collate)]
    links = related_links(dispatches, config.related)
    dispatches = [dataclasses.replace(d, related=links.get(d.id, ())) for d in dispatches]
    membership = {witness: d for d in dispatches for witness in d.witnesses}
    updated = []
    for article in articles:
        dispatch = membership.get(article.id)
        if dispatch is None:
            updated.append(article)
            continue
        date = inherit_date(article, dispatch.date, dispatch.id)
        updated.append(dataclasses.replace(article, dispatch=dispatch.id, date=date))
    return tuple(updated), tuple(dispatches)
