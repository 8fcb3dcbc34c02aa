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

import bisect
import dataclasses
import difflib
import functools
import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
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


_ALNUM_RUN = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"[^\S\n]+")
# A paragraph of a consensus: the text between alignment breaks.
_PARAGRAPH = re.compile(f"[^{_ALIGN_BREAK}]+")
# Characters that NFKC folds to plain ones: full-width forms, circled digits, ligatures ...
_FOLDABLE = re.compile(r"[\u2460-\u24ff\u3200-\u33ff\ufb00-\ufb4f\uff00-\uffef]")
# A segment runs to the end of a sentence or clause (either width), or of a paragraph.
_STOPS = "。．！？!?.；;\uff01\uff1f\uff1b\n"
_SEGMENT = re.compile(f"[^{_STOPS}]*[{_STOPS}]|[^{_STOPS}]+")


def matching_key(text: str) -> str:
    """The text reduced to what identifies a reprint: letters and digits, width- and case-folded."""
    key = "".join(_ALNUM_RUN.findall(text.casefold()))
    if _FOLDABLE.search(key):  # NFKC is slow on long text: only where it changes something
        key = "".join(_ALNUM_RUN.findall(unicodedata.normalize("NFKC", key).casefold()))
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
    if a == b:  # what difflib answers for equal texts, without building its index
        return [("equal", 0, len(a), 0, len(b))] if a else []
    result: list[tuple[str, int, int, int, int]] = []
    for tag, a1, a2, b1, b2 in _sentence_opcodes(a, b):
        if tag != "replace":
            result.append((tag, a1, a2, b1, b2))
        else:
            result.extend(_character_opcodes(a, b, a1, a2, b1, b2))
    return result


def _sentence_opcodes(a: str, b: str) -> list[tuple[str, int, int, int, int]]:
    """The sentence-level opcodes of ``opcodes``, in character offsets."""
    segments_a, segments_b = _SEGMENT.findall(a), _SEGMENT.findall(b)
    starts_a = list(itertools.accumulate(map(len, segments_a), initial=0))
    starts_b = list(itertools.accumulate(map(len, segments_b), initial=0))
    matcher = difflib.SequenceMatcher(None, segments_a, segments_b, autojunk=False)
    return [
        (tag, starts_a[s1], starts_a[s2], starts_b[t1], starts_b[t2]) for tag, s1, s2, t1, t2 in matcher.get_opcodes()
    ]


def _character_opcodes(a: str, b: str, a1: int, a2: int, b1: int, b2: int) -> list[tuple[str, int, int, int, int]]:
    """The character-level opcodes of the replaced stretch ``a[a1:a2]`` -> ``b[b1:b2]``."""
    inner = difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
    return [(tag, a1 + i1, a1 + i2, b1 + j1, b1 + j2) for tag, i1, i2, j1, j2 in inner.get_opcodes()]


def _aligns_at_least(a: str, b: str, needed: float) -> bool:
    """Whether at least ``needed`` characters of ``a`` and ``b`` align (as ``opcodes`` aligns them).

    A replaced stretch can add at most its shorter side to the count, so once the
    aligned sentences (and what the remaining stretches could add) decide the
    answer, the characters of the remaining stretches are not aligned.
    """
    if a == b:
        return len(a) >= needed
    sentences = _sentence_opcodes(a, b)
    aligned = sum(a2 - a1 for tag, a1, a2, _, _ in sentences if tag == "equal")
    replaced = [op for op in sentences if op[0] == "replace"]
    possible = aligned + sum(min(a2 - a1, b2 - b1) for _, a1, a2, b1, b2 in replaced)
    for _, a1, a2, b1, b2 in replaced:
        if aligned >= needed or possible < needed:
            break
        found = sum(i2 - i1 for tag, i1, i2, _, _ in _character_opcodes(a, b, a1, a2, b1, b2) if tag == "equal")
        aligned += found
        possible -= min(a2 - a1, b2 - b1) - found
    return aligned >= needed


# -- grouping -------------------------------------------------------------------------


def candidate_pairs(shingle_sets: Sequence[frozenset[str]], probes: int) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, that share one of either's ``probes`` rarest shingles.

    Rarity is counted over the whole collection; shingles found in one article only
    cannot pair anything and are passed over. Ties go by the shingle itself, so
    every copy of a dispatch probes with the same shingles: those of the dispatch's
    own text, which no unrelated article has. (Equal shingles should be one string
    object, as ``group_witnesses`` makes them: the counting then compares by identity.)
    """
    frequency = Counter(itertools.chain.from_iterable(shingle_sets))
    chosen = [_rarest_shared(shingle_set, frequency, probes) for shingle_set in shingle_sets]
    probed = frozenset(itertools.chain.from_iterable(chosen))
    postings: dict[str, list[int]] = defaultdict(list)
    for number, shingle_set in enumerate(shingle_sets):
        for shingle in probed.intersection(shingle_set):
            postings[shingle].append(number)
    pairs: set[tuple[int, int]] = set()
    for number, own in enumerate(chosen):
        for shingle in own:
            holders = postings[shingle]
            pairs.update(zip(holders, itertools.repeat(number)))
            pairs.update(zip(itertools.repeat(number), holders))
    return sorted(pair for pair in pairs if pair[0] < pair[1])


def _rarest_shared(shingle_set: frozenset[str], frequency: Counter[str], probes: int) -> list[str]:
    """The ``probes`` smallest (frequency, shingle) of the shingles that other articles have too.

    Sorting whole lists of pairs is slow; the frequencies alone sort fast, give the
    highest frequency that can be chosen, and only the pairs up to it are sorted.
    """
    counts = list(map(frequency.__getitem__, shingle_set))
    ordered = sorted(counts)
    first_shared = bisect.bisect_right(ordered, 1)
    if first_shared == len(ordered):
        return []
    highest = ordered[min(first_shared + probes, len(ordered)) - 1]
    eligible = map(range(2, highest + 1).__contains__, counts)
    return [shingle for _, shingle in sorted(itertools.compress(zip(counts, shingle_set), eligible))[:probes]]


@dataclass(frozen=True)
class _Witness:
    article: Article
    key_length: int
    shingles: frozenset[str]


def is_reprint(a: _Witness, b: _Witness, settings: CollateConfig) -> bool:
    """The verification of a candidate pair: length share, containment, alignment (cheapest first)."""
    if min(a.key_length, b.key_length) < settings.min_length_share * max(a.key_length, b.key_length):
        return False
    small, large = (a, b) if len(a.shingles) <= len(b.shingles) else (b, a)
    if not small.shingles:
        return False
    if len(small.shingles & large.shingles) < settings.containment * len(small.shingles):
        return False
    folded_a, folded_b = _folded(_align_text(a.article)), _folded(_align_text(b.article))
    return _aligns_at_least(folded_a, folded_b, settings.aligned * min(len(folded_a), len(folded_b)))


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
    return _group_witnesses(articles, settings)[0]


def _group_witnesses(
    articles: Sequence[Article], settings: CollateConfig
) -> tuple[list[list[Article]], dict[str, int]]:
    """``group_witnesses``, and the length of each article's matching key (by article id)."""
    ordered = sorted(articles, key=_reading_order)
    # One string object per distinct shingle: a few hundred thousand where the
    # articles hold millions, and set operations between articles compare identities.
    canonical: dict[str, str] = {}
    witnesses = []
    for article in ordered:
        key = matching_key(_align_text(article))
        found = shingles(key, settings.shingle, settings.sample)
        witnesses.append(_Witness(article, len(key), frozenset(map(canonical.setdefault, found, found))))
    del canonical
    parent = list(range(len(ordered)))
    for first, second in candidate_pairs([w.shingles for w in witnesses], settings.probes):
        if _find(parent, first) == _find(parent, second):
            continue
        if is_reprint(witnesses[first], witnesses[second], settings):
            parent[_find(parent, second)] = _find(parent, first)
    groups: dict[int, list[Article]] = defaultdict(list)
    for number, article in enumerate(ordered):
        groups[_find(parent, number)].append(article)
    key_lengths = {witness.article.id: witness.key_length for witness in witnesses}
    return sorted(groups.values(), key=lambda group: _reading_order(group[0])), key_lengths


# -- alignment ------------------------------------------------------------------------


def _reading_order(article: Article) -> tuple[str, int]:
    return (article.source, article.index)


def _align_text(article: Article) -> str:
    return _ALIGN_BREAK.join(paragraph.replace("\n", " ") for paragraph in article.paragraphs)


@dataclass(frozen=True)
class _Aligned:
    """One witness aligned to the base, answering where each base gap falls in the witness.

    ``covering`` are the opcodes that cover base characters (all but insertions), in
    base order, and ``starts`` their first base characters, for bisection.
    """

    text: str
    base_length: int
    edits: tuple[tuple[int, int], ...]  # base spans the witness changes; (i, i) inserts at gap i
    covering: tuple[tuple[str, int, int, int, int], ...]
    starts: tuple[int, ...]

    def before(self, gap: int) -> int:
        """The witness offset at base gap ``gap`` (between base characters gap-1 and gap), before any insertion there.

        Inside a replaced or deleted stretch the value is not meaningful, and no
        place boundary ever falls there.
        """
        if gap == 0:
            return 0
        tag, i1, _, j1, j2 = self.covering[bisect.bisect_right(self.starts, gap - 1) - 1]
        return j1 + gap - i1 if tag == "equal" else j2

    def after(self, gap: int) -> int:
        """The witness offset at base gap ``gap`` after anything the witness inserts there."""
        if gap == self.base_length:
            return len(self.text)
        tag, i1, _, j1, _ = self.covering[bisect.bisect_right(self.starts, gap) - 1]
        return j1 + gap - i1 if tag == "equal" else j1


def _align(base: str, witness: str) -> _Aligned:
    operations = opcodes(base, witness)
    covering = tuple(operation for operation in operations if operation[0] != "insert")
    return _Aligned(
        text=witness,
        base_length=len(base),
        edits=tuple((i1, i2) for tag, i1, i2, _, _ in operations if tag != "equal"),
        covering=covering,
        starts=tuple(operation[1] for operation in covering),
    )


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


def rank_witnesses(witnesses: Sequence[Article], key_lengths: Mapping[str, int]) -> list[Article]:
    """Best first: complete before incomplete, then fewest flags, then longest, then earliest.

    A witness's length is that of its matching key, ``key_lengths[article id]``.
    """
    longest = max((key_lengths[article.id] for article in witnesses), default=0)

    def key(article: Article) -> tuple[bool, int, int, str, int]:
        length = key_lengths[article.id]
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


def collate_witnesses(witnesses: Sequence[Article], ranked: Sequence[Article]) -> Collation:
    """Align ``witnesses`` (base first) and vote the consensus; ``ranked``: the same, best first."""
    texts = [_align_text(article) for article in witnesses]
    base = texts[0]
    if len(witnesses) == 1:
        return Collation(tuple(p for p in base.split(_ALIGN_BREAK) if p) if base else (), ())
    alignments = [_align(base, text) for text in texts]
    order = {article.id: number for number, article in enumerate(ranked)}
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
        spans = [(aligned.before(start), aligned.after(end)) for aligned in alignments]
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
    published = _Published.of("".join(pieces))
    variants = []
    for at, chosen, readings, choice in found:
        position, end = published.offset(at), published.offset(at + len(chosen))
        variants.append(
            Variant(
                position=position,
                length=end - position,
                consensus=published.text[position:end],
                readings=tuple(
                    Reading(article.id, _published(reading)) for article, reading in zip(witnesses, readings)
                ),
                settled=choice.settled,
                rule=choice.rule,
            )
        )
    return Collation(published.paragraphs, tuple(variants))


def _published(reading: str) -> str:
    return reading.replace(_ALIGN_BREAK, _TEXT_BREAK)


@dataclass(frozen=True)
class _Published:
    """The consensus as published text, and where each of its offsets lands there.

    Runs of breaks collapse into one paragraph break and breaks at either end are
    dropped, so no paragraph is empty. An offset at a character lands after any
    break emitted before it; an offset at a break lands before the break.
    """

    text: str
    paragraphs: tuple[str, ...]
    starts: tuple[int, ...]  # where each paragraph starts in the consensus
    published_starts: tuple[int, ...]  # ... and in the published text

    @classmethod
    def of(cls, consensus: str) -> _Published:
        runs = list(_PARAGRAPH.finditer(consensus))
        paragraphs = tuple(run.group() for run in runs)
        lengths = [len(paragraph) + len(_TEXT_BREAK) for paragraph in paragraphs]
        starts = tuple(run.start() for run in runs)
        return cls(_TEXT_BREAK.join(paragraphs), paragraphs, starts, tuple(itertools.accumulate(lengths, initial=0)))

    def offset(self, at: int) -> int:
        """Where consensus offset ``at`` lands in the published text."""
        number = bisect.bisect_right(self.starts, at) - 1  # the last paragraph starting at or before it
        if number < 0:
            return 0
        into = at - self.starts[number]
        return self.published_starts[number] + min(into, len(self.paragraphs[number]))


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


def build_dispatch(witnesses: Sequence[Article], key_lengths: Mapping[str, int]) -> Dispatch:
    """The dispatch attested by ``witnesses`` (base first), without related links.

    ``key_lengths``: the length of each witness's matching key, by article id.
    """
    ranked = rank_witnesses(witnesses, key_lengths)
    collation = collate_witnesses(witnesses, ranked)
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
    groups, key_lengths = _group_witnesses(reports, config.collate)
    dispatches = [build_dispatch(group, key_lengths) for group in groups]
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
