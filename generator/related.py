"""Related dispatches: what two reports share, weighed by how rare it is.

Each dispatch is described by *terms* of five kinds: the people it names, its
place, its keywords, its date (a full date only: '--05-05' recurs every year) and
the sources its witnesses stand in (reports printed in one paper are of one day).
A term's weight is its kind's weight (``related.*_weight``) times its rarity,
``ln(1 + N/df) / ln(1 + N)`` over the N dispatches: 1 for a term of one dispatch,
falling towards 0 for a term of all, and independent of the size of the archive.
As in Hugo's related content, a term held by more than
``related.cardinality_threshold`` of the dispatches is not indexed at all.

Candidates are the pairs that share an indexed term held by at most
``max(10, √N)`` dispatches (an inverted index, so dispatches with nothing rare in
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
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .config import RelatedConfig
from .models import Dispatch, RelatedLink

# The order in which a link's reason lists what is shared, and each kind's label.
_KINDS = ("people", "places", "keywords", "dates", "sources")
_LABELS = {"people": "共同人物", "places": "共同地点", "keywords": "共同关键词", "dates": "同日", "sources": "同一来源"}
# At most this many terms of one kind are named in a reason.
_REASON_TERMS = 3
# Shorter terms (二字词 such as 工作, 书记) are too common to count when only mentioned.
_MENTION_MIN_CHARS = 3
# Terms of at most this many dispatches (or √N, if more) propose candidate pairs.
_PROPOSING_MIN = 10


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


def rarity(frequency: int, total: int) -> float:
    """1 for a term of one dispatch, towards 0 for a term of all of them."""
    return math.log(1 + total / frequency) / math.log(1 + total)


def _mentions(terms: frozenset[Term], other_text: str, other_terms: frozenset[Term]) -> set[Term]:
    return {
        term
        for term in terms
        if term.kind in ("people", "keywords")
        and len(term.value) >= _MENTION_MIN_CHARS
        and term not in other_terms
        and term.value in other_text
    }


def reason(shared: Sequence[Term], weights: dict[Term, float]) -> str:
    """A short human reason: the weightiest shared terms of each kind."""
    parts = []
    ranked = sorted(shared, key=lambda term: (-weights[term], term.value))
    for kind in _KINDS:
        values = [term.value for term in ranked if term.kind == kind]
        if values:
            if kind == "sources":
                parts.append(_LABELS[kind])
            else:
                parts.append(f"{_LABELS[kind]}：{'、'.join(values[:_REASON_TERMS])}")
    return "；".join(parts)


def related_links(dispatches: Sequence[Dispatch], config: RelatedConfig) -> dict[str, tuple[RelatedLink, ...]]:
    """For each dispatch id that has any, its related dispatches, best first."""
    total = len(dispatches)
    terms = [dispatch_terms(dispatch) for dispatch in dispatches]
    texts = [f"{dispatch.title}\n{dispatch.text}" for dispatch in dispatches]
    frequency: Counter[Term] = Counter()
    for own in terms:
        frequency.update(own)
    limit = config.cardinality_threshold * total
    proposing = min(limit, max(_PROPOSING_MIN, math.isqrt(total)))
    postings: dict[Term, list[int]] = defaultdict(list)
    for number, own in enumerate(terms):
        for term in sorted(own):
            if frequency[term] <= proposing:
                postings[term].append(number)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        for position, first in enumerate(members):
            candidates.update((first, second) for second in members[position + 1 :])
    found: dict[int, list[RelatedLink]] = defaultdict(list)
    for first, second in sorted(candidates):
        shared = {term for term in terms[first] & terms[second] if frequency[term] <= limit}
        mentioned = _mentions(terms[first], texts[second], terms[second]) | _mentions(
            terms[second], texts[first], terms[first]
        )
        weights = {term: _kind_weight(term.kind, config) * rarity(frequency[term], total) for term in shared}
        weights.update(
            (term, _kind_weight(term.kind, config) * rarity(frequency[term] + 1, total))
            for term in mentioned
            if frequency[term] + 1 <= limit
        )
        score = sum(weights.values())
        if score < config.threshold:
            continue
        why = reason(sorted(weights), weights)
        found[first].append(RelatedLink(dispatches[second].id, round(score, 3), why))
        found[second].append(RelatedLink(dispatches[first].id, round(score, 3), why))
    return {
        dispatches[number].id: tuple(sorted(links, key=lambda link: (-link.score, link.dispatch))[: config.limit])
        for number, links in sorted(found.items())
    }
