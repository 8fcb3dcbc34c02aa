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

Incremental collation
    ``collate_incremental`` keeps, in a ``CollateMemo``, the shingle index, each
    article's probes, the candidate pairs with the verdicts found for them, the
    groups and their dispatches, and what linking found (see ``related``). Given
    the memo of the last run it redoes only what the changed articles (those not
    equal to the article of the same id last time) need: their shingles; the
    probes of the unchanged articles whose rarest shingles a changed count can
    move; the pairs of both; the groups those pairs touch; the dispatches of the
    groups that changed; and the links those can move. The result equals a run
    from scratch, which is the same code given no memo.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import collector
from .config import CollateConfig, Config
from .models import Article, DateInfo, Dispatch, Reading, Variant
from .related import RelatedMemo, related_links_incremental

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
    own text, which no unrelated article has.
    """
    holders: dict[str, list[int]] = defaultdict(list)
    for number, shingle_set in enumerate(shingle_sets):
        for shingle in shingle_set:
            holders[shingle].append(number)
    pairs: set[tuple[int, int]] = set()
    for number, shingle_set in enumerate(shingle_sets):
        probed, _ = _rarest_shared(shingle_set, holders, probes)
        for shingle in probed:
            pairs.update((min(number, other), max(number, other)) for other in holders[shingle] if other != number)
    return sorted(pairs)


# A probe's rank: (how many articles have the shingle, the shingle).
_Rank = tuple[int, str]


def _rarest_shared(
    shingle_set: frozenset[str], holders: Mapping[str, Sequence[object]], probes: int
) -> tuple[tuple[str, ...], _Rank | None]:
    """The ``probes`` smallest (frequency, shingle) of the shingles other articles have too, and the last one's rank.

    The rank is None when the article has fewer such shingles than ``probes``: then
    any shingle that becomes shared is probed. Sorting whole lists of pairs is slow;
    the frequencies alone sort fast, give the highest frequency that can be chosen,
    and only the pairs up to it are sorted.
    """
    counts = list(map(len, map(holders.__getitem__, shingle_set)))
    ordered = sorted(counts)
    first_shared = bisect.bisect_right(ordered, 1)
    if first_shared == len(ordered):
        return (), None
    highest = ordered[min(first_shared + probes, len(ordered)) - 1]
    eligible = map(range(2, highest + 1).__contains__, counts)
    chosen = sorted(itertools.compress(zip(counts, shingle_set), eligible))[:probes]
    return tuple(shingle for _, shingle in chosen), (chosen[-1] if len(chosen) == probes else None)


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


@dataclass(eq=False, slots=True)
class _Grouping:
    """Grouping's state between runs, so that a run redoes only what changed articles touch.

    Which shingles an article probes depends on how many articles have each shingle;
    a change moves those counts for the changed articles' shingles only, and an
    unchanged article probes differently only when one of those shingles ranks (before
    or after the change) at or below its last probe. Candidate pairs change only at
    the articles whose probes or text changed, and the groups only where such an
    article stands or where a pair it forms may join it: every other group, its
    pairs and their verdicts are kept. Groups are the connected components of the
    verified pairs, which do not depend on the order pairs are verified in.
    """

    settings: CollateConfig
    shingles: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)  # by article id
    key_lengths: dict[str, int] = dataclasses.field(default_factory=dict)  # by article id
    holders: dict[str, list[str]] = dataclasses.field(default_factory=lambda: defaultdict(list))  # shingle -> ids
    probes: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # article id -> its probes
    last_probe: dict[str, _Rank | None] = dataclasses.field(default_factory=dict)  # article id -> rank
    probers: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # shingle -> ids probing it
    neighbours: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # candidate pairs, both ways
    verdicts: dict[tuple[str, str], bool] = dataclasses.field(default_factory=dict)  # (smaller id, larger id)
    group_of: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # id -> its group's ids

    # Article id by place: an article's place is the character it packs into (see
    # ``__getstate__``). Places stay with their articles from one save to the next, so a
    # collection left packed since the memo was loaded is written back as it was read.
    places: list[str | None] = dataclasses.field(default_factory=list)

    def __getstate__(self) -> dict[str, object]:
        """The state with each collection of the index packed into one string.

        Unpickling builds one object per string, and the index holds millions of
        references: packed, a memo of 10,000 articles loads in a fraction of the time.
        Shingles are joined; article ids are written as one character each, their
        place (``places``). Only the collections opened since the memo was loaded are
        packed again: repacking them all cost 9 s at 10,000 articles.
        """
        places, moved = self._settle_places()
        character = {article_id: chr(_FIRST_PLACE + number) for number, article_id in enumerate(places) if article_id is not None}
        state: dict[str, object] = {name: getattr(self, name) for name in self.__slots__}
        state["shingles"] = _Packed.packed(self.shingles, _JOIN.join, None)
        for name in _ARTICLE_SETS:
            packed = _Packed.packed(getattr(self, name), lambda ids: "".join(map(character.__getitem__, ids)), moved)
            # A million shingles each: as two strings, not two million (shingles and places hold no NUL).
            state[name] = (_JOIN.join(packed), _JOIN.join(packed.values())) if name in _BY_SHINGLE else packed
        state["places"] = places
        return state

    def _settle_places(self) -> tuple[list[str | None], dict[int, str] | None]:
        """The places of the articles indexed now, and how packed strings must be rewritten (None: as they are).

        A new article takes a new place at the end; a gone one leaves a hole, and when
        the holes outnumber the articles every article is placed anew, in id order.
        """
        places = list(self.places)
        placed = {article_id for article_id in places if article_id is not None}
        for number, article_id in enumerate(places):
            if article_id is not None and article_id not in self.key_lengths:
                places[number] = None
        places.extend(sorted(self.key_lengths.keys() - placed))
        if len(places) - len(self.key_lengths) <= _spare_places(len(self.key_lengths)):
            return places, None
        renumbered = sorted(self.key_lengths)
        number = {article_id: chr(_FIRST_PLACE + n) for n, article_id in enumerate(renumbered)}
        moved = {_FIRST_PLACE + n: number[article_id] for n, article_id in enumerate(places) if article_id is not None}
        return list(renumbered), moved

    def __setstate__(self, state: dict[str, object]) -> None:
        places = state["places"]
        for name, value in state.items():
            if name == "shingles":
                value = _Packed(value, frozenset, None)
            elif name in _ARTICLE_SETS:
                if name in _BY_SHINGLE:
                    keys, values = value
                    value = dict(zip(keys.split(_JOIN), values.split(_JOIN))) if keys else {}
                value = _Packed(value, _ARTICLE_SETS[name], places)
            setattr(self, name, value)

    def update(self, reports: Mapping[str, Article], stale: set[str], fresh: set[str]) -> list[tuple[str, ...]]:
        """Take out the ``stale`` articles' old versions, put in the ``fresh`` ones; the groups of ``reports``.

        Groups are in (source file, position) order of their first witness, and witnesses
        in that order within a group.
        """
        # shingle -> how many articles had it before the change; not needed when all is new
        before: dict[str, int] | None = {} if self.shingles else None
        self._withdraw(stale, before)
        self._deposit(fresh, reports, before)
        moved = self._reprobe(fresh, before or {})
        touched = self._repair_pairs(moved, everything=len(moved) == len(self.shingles)) | stale
        # Whole old groups are grouped again: a group that loses a pair may split.
        regroup: set[str] = set()
        for article_id in touched:
            regroup.update(self.group_of.get(article_id, (article_id,)))
        for article_id in regroup:
            self.group_of.pop(article_id, None)
        regroup.intersection_update(reports)
        for group in self._components(regroup, reports):
            for article_id in group:
                self.group_of[article_id] = group
        return sorted(set(self.group_of.values()), key=lambda group: _reading_order(reports[group[0]]))

    def _withdraw(self, stale: set[str], before: dict[str, int] | None) -> None:
        """Forget the stale articles, noting in ``before`` how many articles had each of their shingles."""
        emptied = []
        for article_id in stale:
            for shingle in self.shingles.pop(article_id):
                holding = self.holders[shingle]
                if before is not None:
                    before.setdefault(shingle, len(holding))
                holding.remove(article_id)
                if not holding:
                    emptied.append(shingle)
            del self.key_lengths[article_id], self.last_probe[article_id]
            self._unprobe(article_id)
            for other in self.neighbours.pop(article_id, ()):
                self.neighbours[other].discard(article_id)
                self.verdicts.pop(_pair_key(article_id, other), None)
        for shingle in emptied:
            del self.holders[shingle]

    def _deposit(self, fresh: set[str], reports: Mapping[str, Article], before: dict[str, int] | None) -> None:
        """Index the fresh articles, noting in ``before`` how many articles had each of their shingles."""
        settings, holders = self.settings, self.holders
        for article_id in sorted(fresh):
            key = matching_key(_align_text(reports[article_id]))
            found = shingles(key, settings.shingle, settings.sample)
            self.shingles[article_id] = found
            self.key_lengths[article_id] = len(key)
            if before is None and type(holders) is defaultdict:  # a first run: index in bulk
                for shingle in found:
                    holders[shingle].append(article_id)
                continue
            for shingle in found:
                holding = holders.get(shingle)
                if before is not None:
                    before.setdefault(shingle, 0 if holding is None else len(holding))
                if holding is None:
                    holders[shingle] = [article_id]
                else:
                    holding.append(article_id)

    def _unprobe(self, article_id: str) -> None:
        for shingle in self.probes.pop(article_id, ()):
            probing = self.probers[shingle]
            probing.remove(article_id)
            if not probing:
                del self.probers[shingle]

    def _reprobe(self, fresh: set[str], before: Mapping[str, int]) -> set[str]:
        """Choose the probes of the fresh articles and of those whose probes a changed count may move.

        Returns the articles whose candidate pairs must be found again: the fresh ones
        and those whose probes changed.
        """
        suspects = set(fresh)
        for shingle, count in before.items():
            holding = self.holders.get(shingle, ())
            now = len(holding)
            if now == count:
                continue
            for holder in holding:
                if holder in suspects:
                    continue
                last = self.last_probe[holder]
                if last is None:
                    if count >= 2 or now >= 2:
                        suspects.add(holder)
                elif (count >= 2 and (count, shingle) <= last) or (now >= 2 and (now, shingle) <= last):
                    suspects.add(holder)
        moved = set(fresh)
        probes = self.settings.probes
        for article_id in suspects:
            chosen, self.last_probe[article_id] = _rarest_shared(self.shingles[article_id], self.holders, probes)
            if article_id in fresh or set(chosen) != set(self.probes.get(article_id, ())):
                self._unprobe(article_id)
                self.probes[article_id] = chosen
                for shingle in chosen:
                    self.probers.setdefault(shingle, []).append(article_id)
                moved.add(article_id)
        return moved

    def _repair_pairs(self, moved: set[str], everything: bool) -> set[str]:
        """Find again the candidate pairs of the ``moved`` articles; the articles whose groups may change.

        A pair is a candidate when either article probes a shingle the other has. When
        every article moved, the pairs each article's own probes find are all of them.
        """
        found: dict[str, set[str]] = {article_id: set() for article_id in moved}
        for article_id in moved:
            partners = found[article_id]
            for shingle in self.probes[article_id]:
                partners.update(self.holders[shingle])
            if not everything:
                for shingle in self.shingles[article_id]:
                    probing = self.probers.get(shingle)
                    if probing:
                        partners.update(probing)
            partners.discard(article_id)
        if everything:
            for article_id, partners in list(found.items()):
                for other in partners:
                    found[other].add(article_id)
            self.neighbours = found
            self.verdicts = {key: verdict for key, verdict in self.verdicts.items() if key[1] in found[key[0]]}
            return set(found)
        regroup = set(moved)
        for article_id, partners in found.items():
            known = self.neighbours.setdefault(article_id, set())
            for other in known - partners:
                self.neighbours[other].discard(article_id)
                self.verdicts.pop(_pair_key(article_id, other), None)
            for other in partners - known:
                self.neighbours.setdefault(other, set()).add(article_id)
            self.neighbours[article_id] = partners
            regroup.update(partners)
        return regroup

    def _components(self, members: set[str], reports: Mapping[str, Article]) -> list[tuple[str, ...]]:
        """The groups of ``members``: no verified pair joins one of them to an article outside."""
        ordered = sorted(members, key=lambda article_id: _reading_order(reports[article_id]))
        number = {article_id: position for position, article_id in enumerate(ordered)}
        pairs = sorted(
            (position, number[other])
            for position, article_id in enumerate(ordered)
            for other in self.neighbours.get(article_id, ())
            if number.get(other, -1) > position
        )
        parent = list(range(len(ordered)))
        for first, second in pairs:
            if _find(parent, first) == _find(parent, second):
                continue
            if self._verdict(ordered[first], ordered[second], reports):
                parent[_find(parent, second)] = _find(parent, first)
        groups: dict[int, list[str]] = defaultdict(list)
        for position, article_id in enumerate(ordered):
            groups[_find(parent, position)].append(article_id)
        return [tuple(group) for group in groups.values()]

    def _verdict(self, first: str, second: str, reports: Mapping[str, Article]) -> bool:
        """Whether ``first`` and ``second`` (in reading order) are copies of one report; asked once per pair."""
        key = _pair_key(first, second)
        verdict = self.verdicts.get(key)
        if verdict is None:
            witnesses = self._witness(first, reports), self._witness(second, reports)
            verdict = self.verdicts[key] = is_reprint(*witnesses, self.settings)
        return verdict

    def _witness(self, article_id: str, reports: Mapping[str, Article]) -> _Witness:
        return _Witness(reports[article_id], self.key_lengths[article_id], self.shingles[article_id])


# Joins the shingles of a packed set (shingles are letters and digits).
_JOIN = "\0"
# An article id packs into the character at this code point plus its place in the id list
# (past the surrogates, so the packed strings encode to UTF-8).
_FIRST_PLACE = 0x10000


def _spare_places(indexed: int) -> int:
    """How many places of gone articles are kept before every article is placed anew."""
    return indexed + 1024


class _Packed(dict):  # type: ignore[type-arg]
    """A dict loaded with its collections packed into strings; each is unpacked when first read.

    With ``ids``, a value is a string of article places (see ``_Grouping.__getstate__``);
    without, a string of shingles joined by ``_JOIN``. ``unpacked`` holds the keys whose
    values are no longer strings, so that packing it again touches only those.
    """

    __slots__ = ("_form", "ids", "unpacked")

    def __init__(self, packed: dict[str, str], form: Callable[[Iterable[str]], object], ids: list[str | None] | None) -> None:
        super().__init__(packed)
        self._form = form
        self.ids = ids
        self.unpacked: set[str] = set()

    @staticmethod
    def packed(mapping: dict[str, Any], pack: Callable[[Any], str], moved: dict[int, str] | None) -> dict[str, str]:
        """``mapping`` with every value a string: ``pack`` of those unpacked, the others
        as they were loaded (their places rewritten by ``moved`` when it is given)."""
        if not isinstance(mapping, _Packed):
            return {key: pack(value) for key, value in dict.items(mapping)}
        state = dict(mapping)
        if moved is not None:
            state = {key: value.translate(moved) if type(value) is str else value for key, value in state.items()}
        for key in mapping.unpacked:
            value = dict.get(mapping, key)
            if value is not None and type(value) is not str:
                state[key] = pack(value)
        return state

    @staticmethod
    def opened(value: object, ids: list[str | None] | None, form: Callable[[Iterable[str]], object]) -> Any:
        if type(value) is not str:
            return value
        if ids is None:
            return form(value.split(_JOIN) if value else ())
        return form(ids[ord(character) - _FIRST_PLACE] for character in value)

    def _open(self, key: str, value: object) -> Any:
        if type(value) is str:
            value = self.opened(value, self.ids, self._form)
            dict.__setitem__(self, key, value)
            self.unpacked.add(key)
        return value

    def __getitem__(self, key: str) -> Any:
        return self._open(key, dict.__getitem__(self, key))

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self.unpacked.add(key)

    def get(self, key: str, default: object = None) -> Any:
        return self._open(key, dict.__getitem__(self, key)) if key in self else default

    def pop(self, key: str, *default: object) -> Any:
        return self.opened(dict.pop(self, key, *default), self.ids, self._form)

    def setdefault(self, key: str, default: object = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default


# The grouping's fields that hold collections of article ids, and what each collection is.
_ARTICLE_SETS: dict[str, Callable[[Iterable[str]], object]] = {"holders": list, "probers": list, "neighbours": set}
# Those of them keyed by shingle.
_BY_SHINGLE = frozenset({"holders", "probers"})


def _pair_key(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first < second else (second, first)


def group_witnesses(articles: Sequence[Article], settings: CollateConfig) -> list[list[Article]]:
    """Partition ``articles`` into groups of witnesses of one dispatch.

    Every article is in exactly one group; groups are in (source file, position)
    order of their first witness, and witnesses in that order within a group.
    """
    reports = {article.id: article for article in articles}
    groups = _Grouping(settings).update(reports, set(), set(reports))
    return [[reports[article_id] for article_id in group] for group in groups]


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


@dataclass(eq=False, slots=True)
class _Recent:
    """The last run's records, by which the next run tells what changed.

    Unchanged articles are told by identity (or equality), and unchanged results are
    handed back as the very same records, whose digests ``render`` then keeps. Pickled
    with the memo: in a build's memo these are the records of its collection, so they
    cost a reference each and stay the same objects after loading.
    """

    articles: dict[str, Article]  # article id -> the article as given
    collated: dict[str, Article]  # article id -> the article as returned
    dispatches: dict[str, Dispatch]  # dispatch id -> the dispatch as returned, with its links


@dataclass(eq=False, slots=True)
class CollateMemo:
    """What ``collate_incremental`` keeps from one run for the next.

    It is updated in place by the run it is passed to (copying it would cost what it
    saves), so a memo must not be passed twice; after a failed run, pass None.
    Picklable: ``build`` keeps it in its cache, ``serve`` in memory. A memo holds
    what this code computed: one made by other code (another generator version) must
    not be passed. A memo made under other collate or related settings is ignored.
    """

    settings: CollateConfig
    grouping: _Grouping
    dispatches: dict[tuple[str, ...], Dispatch]  # witness ids -> the dispatch, without related links
    related: RelatedMemo | None
    recent: _Recent | None  # None before the first run

    @classmethod
    def empty(cls, settings: CollateConfig) -> CollateMemo:
        return cls(settings, _Grouping(settings), {}, None, None)

    def changes(self, reports: Mapping[str, Article]) -> tuple[set[str], set[str]]:
        """The ids of the articles whose last version goes (stale) and of those whose new one comes (fresh)."""
        if self.recent is None:
            return set(), set(reports)
        last = self.recent.articles
        fresh = {key for key, article in reports.items() if (old := last.get(key)) is not article and old != article}
        stale = (last.keys() - reports.keys()) | (fresh & last.keys())
        return stale, fresh


def collate(articles: tuple[Article, ...], config: Config) -> tuple[tuple[Article, ...], tuple[Dispatch, ...]]:
    """Group, collate and link: the articles (with ``dispatch`` and inherited dates) and the dispatches.

    Articles come back in the order given; dispatches in the order of their base
    witness. Notices are returned unchanged and form no dispatch.
    """
    collated, dispatches, _ = collate_incremental(articles, config, None)
    return collated, dispatches


def collate_incremental(
    articles: tuple[Article, ...], config: Config, previous: CollateMemo | None
) -> tuple[tuple[Article, ...], tuple[Dispatch, ...], CollateMemo]:
    """``collate``, redoing only the work that the articles changed since ``previous`` need.

    The result equals ``collate(articles, config)`` whatever ``previous`` holds; an
    article counts as unchanged when it equals the one of the same id in the previous
    run. ``previous`` (from the last call's result) is updated in place and returned.
    """
    # The memo holds millions of containers; the collector walked them again and again
    # as the run made its own (a fifth of the time at 10,000 articles).
    with collector.paused():
        return _collate_incremental(articles, config, previous)


def _collate_incremental(
    articles: tuple[Article, ...], config: Config, previous: CollateMemo | None
) -> tuple[tuple[Article, ...], tuple[Dispatch, ...], CollateMemo]:
    memo = previous if previous is not None and previous.settings == config.collate else None
    memo = memo or CollateMemo.empty(config.collate)
    reports = {article.id: article for article in articles if article.kind == "article"}
    stale, fresh = memo.changes(reports)
    groups = memo.grouping.update(reports, stale, fresh)
    key_lengths = memo.grouping.key_lengths
    built = {}
    rebuilt = set()
    for group in groups:
        dispatch = memo.dispatches.get(group)
        if dispatch is None or not stale.isdisjoint(group):
            dispatch = build_dispatch([reports[article_id] for article_id in group], key_lengths)
            rebuilt.add(dispatch.id)
        built[group] = dispatch
    memo.dispatches = built
    unlinked = list(built.values())
    links, memo.related = related_links_incremental(unlinked, config.related, memo.related)
    last = memo.recent or _Recent({}, {}, {})
    dispatches = []
    for dispatch in unlinked:
        related = links.get(dispatch.id, ())
        before = last.dispatches.get(dispatch.id)
        # Not rebuilt: the last run's dispatch was made from this very record.
        if before is None or dispatch.id in rebuilt or before.related != related:
            before = dataclasses.replace(dispatch, related=related)
        dispatches.append(before)
    membership = {witness: d for d in dispatches for witness in d.witnesses}
    updated = []
    for article in articles:
        dispatch = membership.get(article.id)
        if dispatch is None:
            updated.append(article)
            continue
        before = last.collated.get(article.id)
        if before is not None and before.dispatch == dispatch.id and dispatch.id not in rebuilt and article.id not in fresh:
            # The article and its dispatch (so the date it inherits) are the last run's.
            updated.append(before)
            continue
        date = inherit_date(article, dispatch.date, dispatch.id)
        if before is None or article.id in fresh or before.dispatch != dispatch.id or before.date != date:
            before = dataclasses.replace(article, dispatch=dispatch.id, date=date)
        updated.append(before)
    memo.recent = _Recent(
        dict(reports), {article.id: article for article in updated}, {dispatch.id: dispatch for dispatch in dispatches}
    )
    return tuple(updated), tuple(dispatches), memo
