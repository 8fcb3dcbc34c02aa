"""Related dispatches: what two reports share, weighed by how rare it is.

Each dispatch is described by *terms* of five kinds: the people it names, its
place, its keywords, its date (a full date only: '--05-05' recurs every year) and
the sources its witnesses stand in (reports printed in one paper are of one day).
A term's weight is its kind's weight (``related.*_weight``) times its rarity,
``ln(1 + S/df) / ln(1 + S)``: 1 for a term of one dispatch, falling towards 0 for a
term of all, and independent of the size of the archive. S is the number N of
dispatches rounded up to a step of an eighth of a doubling (``archive_scale``), so
that one dispatch more or less moves no weight unless N crosses a step, about every
9% of growth: the next build then rescores only the pairs the change touches,
instead of every pair in the archive. As in Hugo's related content, a term held by
more than ``related.cardinality_threshold`` of S dispatches is not indexed at all.

Candidates are the pairs that share an indexed term held by at most
``max(10, √S)`` dispatches (an inverted index, so dispatches with nothing rare in
common are never compared, and the work stays near-linear in N: a pair that shares
only terms of many dispatches could not add up to a link anyway, as such terms
weigh little). A candidate pair then also
shares every person or keyword of three or more characters that one of them was
described by and the other's text mentions (describe picks a handful of keywords
per article; a report about 社会面清零 need not have picked that word to be about
it). Such a term is known to stand in at least one more dispatch than described
it, and is weighed so.

Two dispatches are related when the weights of what they share reach
``related.threshold``; each keeps its ``related.limit`` best links (by score, then
id), each with a short reason naming the weightiest shared terms.

How it stays fast: terms are numbered once (in sorted order, so everything that
follows is deterministic) and each dispatch becomes a set of small integers, so a
pair's shared terms are one set intersection. Whether a text mentions a term is
asked once per (term, text), and kept while the text stays, and only after the
cheap test that every character of the term occurs in the text; a pair asks only
about the terms one of the two was described by, so a run that scores a few pairs
looks at those pairs' dispatches only, not at their partners' partners.
"""

from __future__ import annotations

import math
import operator
from itertools import chain, compress, filterfalse
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import RelatedConfig
from .models import Dispatch, RelatedLink

# The order in which a link's reason lists what is shared, and each kind's label.
_KINDS = ("people", "places", "keywords", "dates", "sources")
_LABELS = {"people": "共同人物", "places": "共同地点", "keywords": "共同关键词", "dates": "同日", "sources": "同一来源"}
# At most this many terms of one kind are named in a reason.
_REASON_TERMS = 3
# Only these kinds count when a dispatch's text mentions a term the other was described by.
_MENTIONABLE_KINDS = ("people", "keywords")
# Shorter terms (二字词 such as 工作, 书记) are too common to count when only mentioned.
_MENTION_MIN_CHARS = 3
# Terms of at most this many dispatches (or √S, S the archive scale, if more) propose candidate pairs.
_PROPOSING_MIN = 10
_VALUE = operator.attrgetter("value")


@dataclass(frozen=True, order=True)
class Term:
    kind: str  # one of _KINDS
    value: str


def dispatch_terms(dispatch: Dispatch) -> frozenset[Term]:
    """What a dispatch was described by."""
    terms = {Term("people", person) for person in dispatch.people}
    terms.update(Term("keywords", keyword) for keyword in dispatch.keywords)
    terms.update(Term("sources", witness.rsplit("-", 1)[0]) for witness in dispatch.witnesses)
    if dispatch.place:
        terms.add(Term("places", dispatch.place))
    if dispatch.date.value and dispatch.date.precision == "day":
        terms.add(Term("dates", dispatch.date.value))
    return frozenset(terms)


def _kind_weight(kind: str, config: RelatedConfig) -> float:
    return {
        "people": config.people_weight,
        "places": config.places_weight,
        "keywords": config.keywords_weight,
        "dates": config.dates_weight,
        "sources": config.sources_weight,
    }[kind]


def archive_scale(total: int) -> int:
    """``total`` rounded up to the next power of 2^(1/8): the archive size weights are computed for."""
    if total <= 1:
        return 1
    step = math.ceil(8 * math.log2(total))
    return max(total, math.ceil(2 ** (step / 8)))


def rarity(frequency: int, scale: int) -> float:
    """1 for a term of one dispatch, towards 0 for a term of all ``scale`` of them."""
    return math.log(1 + scale / frequency) / math.log(1 + scale)


def _reason(weights: dict[Term, float]) -> str:
    """A short human reason: the weightiest shared terms of each kind (ties by value)."""
    ranked = sorted(weights, key=lambda term: (-weights[term], term.value))
    parts = []
    for kind in _KINDS:
        values = [term.value for term in ranked if term.kind == kind]
        if values:
            if kind == "sources":
                parts.append(_LABELS[kind])
            else:
                parts.append(f"{_LABELS[kind]}：{'、'.join(values[:_REASON_TERMS])}")
    return "；".join(parts)


@dataclass(eq=False, slots=True)
class RelatedMemo:
    """Linking's state between runs, so that a run rescores only the pairs a change can move.

    A pair's score depends on the two dispatches, the archive's scale S and how
    many dispatches have each term it shares or mentions. While S stays, a change
    moves only the pairs with a changed dispatch and the pairs of dispatches that have
    a term whose count changed; a pair is a candidate as long as they share a term of
    few enough dispatches, which moves only for those terms too. When S changes every
    weight does, and every candidate pair is scored again (what texts mention is kept).
    Scores are summed exactly (``math.fsum``), so they do not depend on the order terms
    were numbered in, which differs between a run from scratch and a run that follows
    others.
    """

    settings: RelatedConfig
    scale: int = -1  # S of the last run; -1 before the first
    dispatches: dict[str, Dispatch] = field(default_factory=dict)  # by id, as last linked
    terms: dict[str, frozenset[int]] = field(default_factory=dict)  # dispatch id -> its terms' numbers
    numbers: dict[Term, int] = field(default_factory=dict)  # every term met, numbered as met
    vocabulary: list[Term] = field(default_factory=list)  # number -> term
    holders: dict[int, set[str]] = field(default_factory=dict)  # term number -> dispatch ids
    partners: dict[str, set[str]] = field(default_factory=dict)  # candidate pairs, both ways
    # id -> the terms its title and text were searched for, and its own terms (never counted as mentioned)
    searched: dict[str, set[int]] = field(default_factory=dict)
    said: dict[str, set[int]] = field(default_factory=dict)  # id -> the searched terms its title or text has
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # id -> partner -> score, when linked
    links: dict[str, tuple[RelatedLink, ...]] = field(default_factory=dict)  # id -> its best links

    def update(self, dispatches: Sequence[Dispatch]) -> dict[str, tuple[RelatedLink, ...]]:
        """Link ``dispatches``, reusing what the last run found for what did not change."""
        by_id = {dispatch.id: dispatch for dispatch in dispatches}
        last = self.dispatches
        changed = {key for key, dispatch in by_id.items() if (old := last.get(key)) is not dispatch and old != dispatch}
        changed.update(self.dispatches.keys() - by_id.keys())
        moved = self._recount(changed, by_id)
        scale = archive_scale(len(by_id))
        run = _Run(self, by_id, scale)
        dirty = set(changed)
        if scale != self.scale:
            self.scale = scale
            self._find_all_partners(run)
            rescore = {
                (first, second) for first, others in self.partners.items() for second in others if first < second
            }
            self.scores = {}
            self.links = {}
            dirty.update(by_id)
        else:
            rescore = self._repair_partners(changed, moved, run, dirty)
        run.search_texts(rescore)
        for first, second in rescore:
            score = run.score(first, second)
            before = self.scores.get(first, {}).get(second)
            if score >= self.settings.threshold:
                self.scores.setdefault(first, {})[second] = score
                self.scores.setdefault(second, {})[first] = score
            elif before is not None:
                del self.scores[first][second], self.scores[second][first]
            if before is not None or score >= self.settings.threshold:  # its score or reason may differ
                dirty.add(first)
                dirty.add(second)
        limit = self.settings.limit
        for key in dirty:
            # A link of a pair not scored again keeps its reason: its terms and weights are as they were.
            kept = {link.dispatch: link for link in self.links.pop(key, ())}
            best = sorted((-round(score, 3), other) for other, score in self.scores.get(key, {}).items())
            if best and key in by_id:
                self.links[key] = tuple(
                    link
                    if (link := kept.get(other)) is not None
                    and link.score == -score
                    and _pair(key, other) not in rescore
                    else RelatedLink(other, -score, run.reason(key, other))
                    for score, other in best[:limit]
                )
            if not best:
                self.scores.pop(key, None)
        return {key: self.links[key] for key in sorted(self.links)}

    def _recount(self, changed: set[str], by_id: Mapping[str, Dispatch]) -> dict[int, int]:
        """Take in the changed dispatches' terms; the terms whose count changed, with their count before."""
        before: dict[int, int] = {}
        for key in changed:
            old = self.terms.pop(key, frozenset())
            dispatch = by_id.get(key)
            new = frozenset(map(self._number, dispatch_terms(dispatch))) if dispatch else frozenset()
            for term in old - new:
                holding = self.holders[term]
                before.setdefault(term, len(holding))
                holding.discard(key)
            for term in new - old:
                holding = self.holders.setdefault(term, set())
                before.setdefault(term, len(holding))
                holding.add(key)
            self.searched.pop(key, None)
            self.said.pop(key, None)
            if dispatch is None:
                del self.dispatches[key]
            else:
                self.terms[key] = new
                self.dispatches[key] = dispatch
        return {term: count for term, count in before.items() if len(self.holders[term]) != count}

    def _number(self, term: Term) -> int:
        number = self.numbers.get(term)
        if number is None:
            number = self.numbers[term] = len(self.vocabulary)
            self.vocabulary.append(term)
        return number

    def _find_all_partners(self, run: _Run) -> None:
        self.partners = {key: set() for key in self.terms}
        for term, holding in self.holders.items():
            if 1 < len(holding) <= run.proposing_limit:
                for key in holding:
                    self.partners[key].update(holding)
        for key, found in self.partners.items():
            found.discard(key)

    def _repair_partners(
        self, changed: set[str], moved: Mapping[int, int], run: _Run, dirty: set[str]
    ) -> set[tuple[str, str]]:
        """Find again the candidates of the dispatches a change touches; the pairs to score again.

        Dispatches that lose a linked partner are added to ``dirty``.
        """
        proposing_limit = run.proposing_limit
        again = {key for key in changed if key in self.terms}
        for term, count in moved.items():
            holding = self.holders[term]
            # A term that starts or stops proposing pairs changes the candidates of all its holders.
            if (len(holding) <= proposing_limit) != (count <= proposing_limit):
                again.update(holding)
        for key in changed - self.terms.keys():
            for other in self.partners.pop(key, ()):
                self._unpair(key, other, dirty)
        rescore: set[tuple[str, str]] = set()
        for key in sorted(again):
            found = set()
            for term in self.terms[key]:
                holding = self.holders[term]
                if len(holding) <= proposing_limit:
                    found.update(holding)
            found.discard(key)
            known = self.partners.setdefault(key, set())
            for other in known - found:
                self._unpair(key, other, dirty)
            for other in found - known:
                self.partners.setdefault(other, set()).add(key)
            self.partners[key] = found
            rescore.update(_pair(key, other) for other in found)
        # A term whose count changed weighs differently in every pair that shares or mentions
        # it, and in no other: a date of hundreds of dispatches moves the pairs of two of
        # them, not every pair of each.
        for term, count in moved.items():
            holding = self.holders[term]
            if min(count, len(holding)) > run.limit:
                continue  # held by too many to count in any pair, before and after
            mentionable = _may_be_mentioned(self.vocabulary[term])
            for key in holding:
                for other in self.partners.get(key, ()):
                    if other in holding or (mentionable and term in run.search(other, (term,))):
                        rescore.add(_pair(key, other))
        return rescore

    def _unpair(self, key: str, other: str, dirty: set[str]) -> None:
        """``key`` and ``other`` are no longer candidates (``key`` may be gone)."""
        self.partners.get(other, set()).discard(key)
        for first, second in ((key, other), (other, key)):
            if self.scores.get(first, {}).pop(second, None) is not None:
                dirty.add(first)


def _may_be_mentioned(term: Term) -> bool:
    """Whether the term can count when a text mentions it (if few enough dispatches hold it)."""
    return term.kind in _MENTIONABLE_KINDS and len(term.value) >= _MENTION_MIN_CHARS


def _pair(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first < second else (second, first)


class _Lazy(dict):  # type: ignore[type-arg]
    """A dict that computes a missing value with ``make(key)`` and keeps it (reads stay at C speed)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.make(key)
        return value


class _Run:
    """One run's limits, weights, term sets and texts, each computed when first asked."""

    def __init__(self, memo: RelatedMemo, by_id: Mapping[str, Dispatch], scale: int) -> None:
        config = memo.settings
        self.memo = memo
        self.by_id = by_id
        self.scale = scale
        self.limit = config.cardinality_threshold * scale
        self.proposing_limit = min(self.limit, max(_PROPOSING_MIN, math.isqrt(scale)))
        self.kind_weights = {kind: _kind_weight(kind, config) for kind in _KINDS}
        # dispatch id -> its terms that count when shared: those of at most ``limit`` dispatches
        self.weighed = _Lazy(self._weighed)
        # dispatch id -> its terms that count when another's text mentions them
        self.mentionable = _Lazy(self._mentionable)
        self.texts = _Lazy(self._text)  # dispatch id -> (title and text, its characters)
        # A shared term weighs by its own count; a mentioned one as if one more dispatch held it.
        self.shared_weights = _Lazy(lambda term: self._weight(term, 0))
        self.mention_weights = _Lazy(lambda term: self._weight(term, 1))

    def _weighed(self, key: str) -> frozenset[int]:
        holders, limit = self.memo.holders, self.limit
        return frozenset(term for term in self.memo.terms[key] if len(holders[term]) <= limit)

    def _mentionable(self, key: str) -> frozenset[int]:
        vocabulary, holders, limit = self.memo.vocabulary, self.memo.holders, self.limit
        return frozenset(
            term
            for term in self.memo.terms[key]
            if _may_be_mentioned(vocabulary[term]) and len(holders[term]) + 1 <= limit
        )

    def _text(self, key: str) -> tuple[str, frozenset[str]]:
        dispatch = self.by_id[key]
        text = f"{dispatch.title}\n{dispatch.text}"
        return text, frozenset(text)

    def _weight(self, term: int, more: int) -> float:
        kind = self.memo.vocabulary[term].kind
        return self.kind_weights[kind] * rarity(len(self.memo.holders[term]) + more, self.scale)

    def search_texts(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Search each text of the pairs for the terms the other could share by mention, all at once.

        Scoring would search them too, a pair at a time; at once is cheaper when a text
        is in many pairs (in a run from scratch, every text is in all its partners').
        """
        mentionable = self.mentionable
        asked: dict[str, set[int]] = {}
        for first, second in pairs:
            asked.setdefault(first, set()).update(mentionable[second])
            asked.setdefault(second, set()).update(mentionable[first])
        for reader, terms in asked.items():
            self.search(reader, terms)

    def search(self, reader: str, terms: Collection[int]) -> set[int]:
        """Search the reader's title and text for the terms not searched for yet; the terms it has.

        Each (term, text) is searched once, and not again while the text stays; a term
        can only stand in a text that has every one of its characters: that set test is
        cheap, the substring search only follows it.
        """
        searched = self.memo.searched.get(reader)
        if searched is None:
            searched = self.memo.searched[reader] = set(self.memo.terms[reader])
            self.memo.said[reader] = set()
        said = self.memo.said[reader]
        unknown = list(filterfalse(searched.__contains__, terms))
        if unknown:
            text, letters = self.texts[reader]
            values = list(map(_VALUE, map(self.memo.vocabulary.__getitem__, unknown)))
            searched.update(unknown)
            for term, value in compress(zip(unknown, values), map(letters.issuperset, values)):
                if value in text:
                    said.add(term)
        return said

    def _mentioned_by(self, holder: str, reader: str) -> frozenset[int]:
        """The terms ``holder`` could share so that ``reader`` (not described by them) mentions in its title or text."""
        asked = self.mentionable[holder]
        searched = self.memo.searched.get(reader)
        said = self.memo.said[reader] if searched is not None and asked <= searched else self.search(reader, asked)
        return asked & said

    def _shared(self, first: str, second: str) -> tuple[frozenset[int], frozenset[int]]:
        """What the pair shares: terms both were described by, and what one was described by and the other mentions.

        A mentioned term is never one both were described by.
        """
        shared = self.weighed[first] & self.weighed[second]
        return shared, self._mentioned_by(first, second) | self._mentioned_by(second, first)

    def score(self, first: str, second: str) -> float:
        shared, mentioned = self._shared(first, second)
        weights = chain(map(self.shared_weights.__getitem__, shared), map(self.mention_weights.__getitem__, mentioned))
        return math.fsum(weights)

    def reason(self, first: str, second: str) -> str:
        shared, mentioned = self._shared(first, second)
        weights = {self.memo.vocabulary[term]: self.shared_weights[term] for term in shared}
        weights.update((self.memo.vocabulary[term], self.mention_weights[term]) for term in mentioned)
        return _reason(weights)


def related_links(dispatches: Sequence[Dispatch], config: RelatedConfig) -> dict[str, tuple[RelatedLink, ...]]:
    """For each dispatch id that has any, its related dispatches, best first."""
    return related_links_incremental(dispatches, config, None)[0]


def related_links_incremental(
    dispatches: Sequence[Dispatch], config: RelatedConfig, previous: RelatedMemo | None
) -> tuple[dict[str, tuple[RelatedLink, ...]], RelatedMemo]:
    """``related_links``, and the memo for the next run; ``previous`` (the last run's) is updated in place."""
    memo = previous if previous is not None and previous.settings == config else RelatedMemo(config)
    return memo.update(dispatches), memo
