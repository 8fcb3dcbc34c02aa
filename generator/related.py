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

How it stays fast: terms are numbered once (in sorted order, so everything that
follows is deterministic) and each dispatch becomes a set of small integers, so a
pair's shared terms are one set intersection. Whether a text mentions a term is
asked once per (term, text) for the terms some candidate partner of that text was
described by, not once per pair, and only after the cheap test that every
character of the term occurs in the text.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from dataclasses import dataclass

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


def _reason(terms: Iterable[int], weight: Callable[[int], float], vocabulary: Sequence[Term]) -> str:
    """A short human reason: the weightiest shared terms of each kind (ties by value)."""
    ranked = sorted(terms, key=lambda term: (-weight(term), vocabulary[term].value))
    parts = []
    for kind in _KINDS:
        values = [vocabulary[term].value for term in ranked if vocabulary[term].kind == kind]
        if values:
            if kind == "sources":
                parts.append(_LABELS[kind])
            else:
                parts.append(f"{_LABELS[kind]}：{'、'.join(values[:_REASON_TERMS])}")
    return "；".join(parts)


def _candidate_pairs(held: Sequence[frozenset[int]], proposing: frozenset[int]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of dispatches that share a proposing term; sorted."""
    postings: dict[int, list[int]] = defaultdict(list)
    for number, own in enumerate(held):
        for term in own & proposing:
            postings[term].append(number)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        for position, first in enumerate(members):
            candidates.update(zip(repeat(first), members[position + 1 :]))
    return sorted(candidates)


def _mentioned_in(
    texts: Sequence[str],
    held: Sequence[frozenset[int]],
    mentionable: Sequence[frozenset[int]],
    pairs: Sequence[tuple[int, int]],
    vocabulary: Sequence[Term],
) -> list[frozenset[int]]:
    """For each text, the terms it mentions among those its candidate partners could share so.

    Each (term, text) is asked once, however many partners ask it. A term can only
    stand in a text that has every one of its characters: that set test is cheap,
    the substring search only follows it.
    """
    partners: list[list[int]] = [[] for _ in texts]
    for first, second in pairs:
        partners[first].append(second)
        partners[second].append(first)
    letters = [frozenset(term.value) for term in vocabulary]
    found: list[frozenset[int]] = []
    for number, text in enumerate(texts):
        asked = set().union(*(mentionable[other] for other in partners[number])) - held[number]
        if not asked:
            found.append(frozenset())
            continue
        ordered = list(asked)
        spelled = compress(ordered, map(frozenset(text).issuperset, map(letters.__getitem__, ordered)))
        found.append(frozenset(term for term in spelled if vocabulary[term].value in text))
    return found


def related_links(dispatches: Sequence[Dispatch], config: RelatedConfig) -> dict[str, tuple[RelatedLink, ...]]:
    """For each dispatch id that has any, its related dispatches, best first."""
    total = len(dispatches)
    described = [dispatch_terms(dispatch) for dispatch in dispatches]
    frequency: Counter[Term] = Counter()
    for own in described:
        frequency.update(own)
    # Every term gets a number in sorted order; all that follows works on the numbers.
    vocabulary = sorted(frequency)
    numbers = {term: number for number, term in enumerate(vocabulary)}
    held = [frozenset(map(numbers.__getitem__, own)) for own in described]
    counts = [frequency[term] for term in vocabulary]
    kind_weights = [_kind_weight(term.kind, config) for term in vocabulary]
    limit = config.cardinality_threshold * total
    proposing_limit = min(limit, max(_PROPOSING_MIN, math.isqrt(total)))
    # A shared term weighs by its own frequency; a mentioned one as if one more dispatch held it.
    shared_weight = [weight * rarity(count, total) for weight, count in zip(kind_weights, counts)]
    mention_weight = [weight * rarity(count + 1, total) for weight, count in zip(kind_weights, counts)]
    counted_when_shared = frozenset(number for number, count in enumerate(counts) if count <= limit)
    counted_when_mentioned = frozenset(
        number
        for number, (term, count) in enumerate(zip(vocabulary, counts))
        if term.kind in _MENTIONABLE_KINDS and len(term.value) >= _MENTION_MIN_CHARS and count + 1 <= limit
    )
    proposing = frozenset(number for number, count in enumerate(counts) if count <= proposing_limit)
    pairs = _candidate_pairs(held, proposing)
    weighed = [own & counted_when_shared for own in held]
    mentionable = [own & counted_when_mentioned for own in held]
    texts = [f"{dispatch.title}\n{dispatch.text}" for dispatch in dispatches]
    mentioned_in = _mentioned_in(texts, held, mentionable, pairs, vocabulary)
    shared_of, mention_of = shared_weight.__getitem__, mention_weight.__getitem__
    # (first, second, score, shared terms, mentioned terms) of every pair that reaches the threshold
    linked: list[tuple[int, int, float, frozenset[int], frozenset[int]]] = []
    for first, second in pairs:
        shared = weighed[first] & weighed[second]
        # What one was described by and the other mentions (never what both were described by).
        mentioned = (mentionable[first] & mentioned_in[second]) | (mentionable[second] & mentioned_in[first])
        # Summed in the sets' order, which depends on the numbers alone: deterministic.
        score = sum(map(shared_of, shared)) + sum(map(mention_of, mentioned))
        if score >= config.threshold:
            linked.append((first, second, score, shared, mentioned))
    ends: dict[int, list[tuple[float, str, int]]] = defaultdict(list)
    for index, (first, second, score, _, _) in enumerate(linked):
        ends[first].append((-round(score, 3), dispatches[second].id, index))
        ends[second].append((-round(score, 3), dispatches[first].id, index))
    reasons: dict[int, str] = {}  # a link's reason is written only when some dispatch keeps the link

    def why(index: int) -> str:
        if index not in reasons:
            _, _, _, shared, mentioned = linked[index]
            weight = {**dict(zip(shared, map(shared_of, shared))), **dict(zip(mentioned, map(mention_of, mentioned)))}
            reasons[index] = _reason(weight, weight.__getitem__, vocabulary)
        return reasons[index]

    return {
        dispatches[number].id: tuple(
            RelatedLink(other, -score, why(index)) for score, other, index in sorted(links)[: config.limit]
        )
        for number, links in sorted(ends.items())
    }
