"""Search: a Chinese-aware lunr index written at build time, and the search page.

One search document per dispatch (its consensus text, titles and metadata), so reprints
do not flood the results. The documents are tokenised by ``generator.tokenizer`` (Han
bigrams; the browser runs the same specification in tokenizer.js) and scored exactly as
lunr 2.3.9 scores them (BM25 with k1 = 1.2, b = 0.75, weights rounded to three places).

The index is written by this module, not by lunr.py, which takes minutes and gigabytes
for ten thousand articles. It is split by term range into shards; each shard is a
complete lunr 2.3.9 serialised index (``lunr.Index.load`` reads it) holding some terms,
their postings and, for each document, the part of its field vectors that belongs to
those terms. lunr scores a document by the dot product of the query vector with the
document's field vectors over the query's terms only, divided by the query vector's
length, so results from several shards merge into exactly the score of one big index
(``themes/default/static/search/engine.js`` does that; ``query_index`` below is the same
procedure in Python). A query therefore loads only the shards of its terms.

Every file is a script (``JianbaoSearch.shard(n, {...})``) so the search works from
``file://`` with no server; nothing is loaded until search is first used.

Output, relative to the site root::

    search/index.html             the search page
    search/index/manifest.js      first term of every shard
    search/index/facets.js        the sources, years and agencies, and those of every
                                  document (the filters)
    search/index/shard-NNNN.js    the shards
    search/docs/<ref>.js          one per document: what a result shows, and its text
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import multiprocessing
import operator
import os
import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from multiprocessing.connection import Connection
from typing import Any

from .config import Config
from .models import Article, Collection, Dispatch, Page
from .theme import Theme
from .tokenizer import (
    QueryToken,
    TermKey,
    compact,
    index_term_counts,
    load_character_classes,
    normalize,
    query_tokens,
    term_text,
)

SEARCH_PAGE = "search/index.html"
INDEX_FOLDER = "search/index"
DOCS_FOLDER = "search/docs"
LUNR_VERSION = "2.3.9"

# The indexed fields and their lunr build-time boosts: a word in a headline says more
# about a dispatch than the same word somewhere in its text.
FIELDS: tuple[tuple[str, int], ...] = (("title", 10), ("body", 1))

# lunr's BM25 parameters (its defaults).
K1 = 1.2
B = 0.75

# A shard is closed when it holds this many postings (term, field, document). Small
# shards keep the first query's download small; a term with more postings than this
# gets a shard of its own.
SHARD_POSTINGS = 3000

# Below this many documents the index is built in this process alone: starting a worker
# costs more than it saves. Above it, one worker per core, at most MAX_WORKERS.
PARALLEL_DOCUMENTS = 400
MAX_WORKERS = 8

# The function every index script calls; the search page defines it.
CALLBACK = "JianbaoSearch"

# Quoted phrases: ASCII quotes (full-width ones are ASCII after NFKC), Chinese quotes
# and corner brackets.
_PHRASE = re.compile(r'"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』')


def utf16_key(term: str) -> bytes:
    """Sort key giving JavaScript's string order (UTF-16 code units), which lunr.js requires."""
    return term.encode("utf-16-be")


def doc_ref(number: int) -> str:
    """A short document reference: the document's number in base 36."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class SearchDocument:
    """What is indexed for one dispatch, and what a search result shows of it."""

    ref: str
    dispatch: Dispatch
    title_text: str  # the title field: the dispatch's title and its witnesses' headings
    text: str  # the consensus text
    # Each witness reading that the consensus does not follow, with a little of the
    # consensus either side, so a search for what one witness printed finds the dispatch.
    readings: str
    meta: str  # agency, place, people and keywords, indexed with the body
    year: str | None
    sources: tuple[str, ...]  # source ids of the witnesses, in witness order, no repeats
    record: Mapping[str, Any]  # the document file's content

    @property
    def body_text(self) -> str:
        return "\n\n".join(part for part in (self.text, self.readings, self.meta) if part)

    def field_texts(self) -> tuple[str, ...]:
        return (self.title_text, self.body_text)


def _unique(items: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        if item and item not in seen:
            seen[item] = None
    return tuple(seen)


def _date_label(value: str | None) -> str:
    if not value:
        return ""
    if value.startswith("--"):
        month, day = value[2:].split("-")
        return f"{int(month)}月{int(day)}日（年份不详）"
    parts = value.split("-")
    label = f"{parts[0]}年"
    if len(parts) > 1:
        label += f"{int(parts[1])}月"
    if len(parts) > 2:
        label += f"{int(parts[2])}日"
    return label


# How many consensus characters stand either side of an indexed variant reading.
READING_CONTEXT = 6


def variant_readings(dispatch: Dispatch) -> str:
    """One line per distinct witness reading the consensus does not follow, in context."""
    text = dispatch.text
    lines = []
    for variant in dispatch.variants:
        before = text[max(0, variant.position - READING_CONTEXT) : variant.position]
        end = variant.position + variant.length
        after = text[end : end + READING_CONTEXT]
        lines.extend(
            f"{before}{reading.text}{after}" for reading in variant.readings if reading.text != variant.consensus
        )
    return "\n".join(_unique(line.strip() for line in lines))


def search_documents(collection: Collection) -> tuple[SearchDocument, ...]:
    """One document per dispatch, in dispatch id order, numbered from 0."""
    articles: dict[str, Article] = {article.id: article for article in collection.articles}
    documents = []
    for number, dispatch in enumerate(sorted(collection.dispatches, key=lambda d: d.id)):
        witnesses = [articles[witness] for witness in dispatch.witnesses if witness in articles]
        headings = _unique(
            [dispatch.title]
            + [heading for a in witnesses for heading in (a.kicker, a.headline, a.subheadline)]
        )
        meta = " ".join(_unique([dispatch.agency, dispatch.place, *dispatch.people, *dispatch.keywords]))
        year = dispatch.date.value[:4] if dispatch.date.value and dispatch.date.value[:4].isdigit() else None
        sources = _unique(a.source_id for a in witnesses)
        ref = doc_ref(number)
        readings = variant_readings(dispatch)
        record = {
            "ref": ref,
            "id": dispatch.id,
            "url": f"dispatches/{dispatch.id}/index.html",
            "title": dispatch.title,
            "headings": "\n".join(headings),
            "date": _date_label(dispatch.date.value),
            "agency": dispatch.agency or "",
            "witnesses": [
                {
                    "id": a.id,
                    "source": a.source_id,
                    "headline": a.headline or "",
                    "url": f"sources/{a.source_id}/index.html#{a.id}",
                }
                for a in witnesses
            ],
            "text": dispatch.text,
            "readings": readings,
            "meta": meta,
        }
        documents.append(
            SearchDocument(
                ref=ref,
                dispatch=dispatch,
                title_text="\n".join(headings),
                text=dispatch.text,
                readings=readings,
                meta=meta,
                year=year,
                sources=sources,
                record=record,
            )
        )
    return tuple(documents)


# ---------------------------------------------------------------- the index


# (document ref, the document's field-vector element for the term)
Posting = tuple[str, float]

# One batch's postings of one term in one field: its first and last document number,
# how many postings, and the rest of the written list after the first document number
# ("weight,gap,weight,...", see ``SearchIndex.encoded``).
Fragment = tuple[int, int, int, str]


@dataclass(frozen=True)
class SearchIndex:
    """A lunr index as it is written: terms in lunr.js order, postings encoded as text.

    The postings of a term in a field are written as one list of integers: the first
    document's number, its weight, then for each further document the gap from the
    previous number and its weight. A weight is the field-vector element lunr would
    store (BM25, rounded to three places) times 1000, so it is an integer and the
    browser's ``weight / 1000`` is exactly the number lunr.py would have written.
    """

    refs: tuple[str, ...]
    terms: tuple[str, ...]  # sorted by UTF-16 code units
    encoded: Mapping[str, tuple[str, ...]]  # term -> one list per field (FIELDS order), '' if none
    counts: Mapping[str, int]  # term -> postings in all fields

    def postings(self, term: str) -> tuple[tuple[Posting, ...], ...]:
        """The term's postings per field, decoded, in document order."""
        fields = []
        for text in self.encoded[term]:
            numbers = [int(number) for number in text.split(",")] if text else []
            documents = itertools.accumulate(numbers[0::2])
            fields.append(tuple((self.refs[d], w / 1000) for d, w in zip(documents, numbers[1::2])))
        return tuple(fields)

    def cost(self, term: str) -> int:
        return self.counts[term]


def _thousandths(text: str) -> str:
    """Comma-separated integers and '%.3f' numbers, with each of the latter times 1000.

    The point goes, and so do the "0." and zeros that would lead a number below one
    ("0.012" -> "12", "0.000" -> "0"); str.replace is much faster than a pattern here.
    """
    return (
        ("," + text).replace(",0.00", ",").replace(",0.0", ",").replace(",0.", ",").replace(".", "")[1:]
    )


class _Batch:
    """A run of consecutive documents, tokenised and scored in one process.

    ``count`` reads the texts into postings (document, term frequency); ``fragments`` then
    scores and writes them once the whole collection's document frequencies and average
    field lengths are known. Every step per posting is a C-level operation (``map`` over
    ``operator`` functions, ``Counter``, slices, ``%`` formatting): there are millions of
    postings in ten thousand articles.
    """

    def __init__(self, texts: Sequence[tuple[str, ...]], start: int) -> None:
        self.texts = texts
        self.start = start
        # Per field: term -> [document, frequency, document, frequency, ...]
        self.postings: list[defaultdict[TermKey, list[Any]]] = [defaultdict(list) for _ in FIELDS]
        self.lengths: list[list[int]] = [[] for _ in FIELDS]

    def count(self) -> tuple[list[int], Counter[TermKey]]:
        """Read the texts; return the summed field lengths and, per term, how many fields
        of the batch's documents hold it (lunr's document frequency counts fields)."""
        for number, fields in enumerate(self.texts, self.start):
            for f, text in enumerate(fields):
                counts, length = index_term_counts(text)
                self.lengths[f].append(length)
                # defaultdict's __getitem__ makes a term's first list in C, under map.
                lists = map(self.postings[f].__getitem__, counts)
                deque(map(list.extend, lists, zip(repeat(number), counts.values())), 0)
        frequency: Counter[TermKey] = Counter()
        for postings_of in self.postings:
            frequency.update(dict(zip(postings_of, map(operator.floordiv, map(len, postings_of.values()), repeat(2)))))
        return [sum(lengths) for lengths in self.lengths], frequency

    def fragments(
        self, idf: Mapping[TermKey, float], averages: Sequence[float]
    ) -> dict[TermKey, list[Fragment | None]]:
        """The batch's postings of every term, per field, as text fragments."""
        result: dict[TermKey, list[Fragment | None]] = {}
        for f, (_, boost) in enumerate(FIELDS):
            if not self.postings[f]:
                continue  # no document has a word in this field (and its average length is 0)
            # Per document number: lunr's length normalisation, k1 * (1 - b + b * len / avg).
            norms = [0.0] * self.start + [K1 * (1 - B + B * (length / averages[f])) for length in self.lengths[f]]
            for term, postings in self.postings[f].items():
                documents = postings[0::2]
                frequencies = postings[1::2]
                # lunr.py's arithmetic, operation by operation, so the weights are equal to
                # the last bit: idf * ((k1 + 1) * tf) / (norm + tf), times the field boost.
                scores = map(
                    operator.truediv,
                    map(operator.mul, repeat(idf[term]), map(operator.mul, repeat(K1 + 1), frequencies)),
                    map(operator.add, map(norms.__getitem__, documents), frequencies),
                )
                if boost != 1:
                    scores = map(operator.mul, scores, repeat(boost))
                # In place: [document, score, gap, score, gap, score, ...]
                postings[1::2] = scores
                postings[2::2] = map(operator.sub, documents[1:], documents)
                # '%.3f' gives the digits of round(score, 3) (both are the correctly rounded
                # decimal); without its point and leading zeros it is the weight in thousandths.
                rest = _thousandths(("%.3f" + ",%d,%.3f" * (len(documents) - 1)) % tuple(postings[1:]))
                result.setdefault(term, [None] * len(FIELDS))[f] = (documents[0], documents[-1], len(documents), rest)
        return result


def _child(connection: Connection, batch: _Batch) -> None:
    """A worker process: count, wait for the collection's statistics, send the fragments."""
    try:
        connection.send(batch.count())
        idf, averages = connection.recv()
        connection.send(batch.fragments(idf, averages))
    finally:
        connection.close()


def _batches(documents: Sequence[SearchDocument], workers: int) -> list[_Batch]:
    """Consecutive runs of documents with about the same amount of text each."""
    texts = [document.field_texts() for document in documents]
    sizes = list(itertools.accumulate(sum(map(len, fields)) for fields in texts))
    total = sizes[-1] if sizes else 0
    bounds = [0] + [bisect.bisect_left(sizes, total * k / workers) for k in range(1, workers)] + [len(texts)]
    return [_Batch(texts[low:high], low) for low, high in zip(bounds, bounds[1:]) if high > low]


def _workers(documents: Sequence[SearchDocument]) -> int:
    """Worker processes for the index: every core for a large collection, none for a small one."""
    if (
        len(documents) < PARALLEL_DOCUMENTS
        or "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # a pool worker may not start processes
    ):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def build_index(documents: Sequence[SearchDocument], workers: int | None = None) -> SearchIndex:
    """Score every (term, field, document) as lunr 2.3.9's builder does, without lunr.

    The documents are cut into as many batches as there are workers; the first batch is
    read in this process and each other one in a forked process, which inherits the
    texts instead of receiving them. Each batch counts its terms, the counts are summed
    here into the document frequencies and average field lengths, and each batch then
    writes its postings. The result does not depend on the number of workers.
    """
    batches = _batches(documents, workers or _workers(documents))
    children: list[tuple[Any, Connection]] = []
    load_character_classes()
    if len(batches) > 1:
        fork = multiprocessing.get_context("fork")
        for batch in batches[1:]:
            here, there = fork.Pipe()
            process = fork.Process(target=_child, args=(there, batch), daemon=True)
            process.start()
            there.close()
            children.append((process, here))
    try:
        counted = [batches[0].count()] if batches else []
        counted.extend(connection.recv() for _, connection in children)
        frequency: Counter[TermKey] = Counter()
        for _, batch_frequency in counted:
            frequency.update(batch_frequency)
        document_count = len(documents)
        idf = {
            term: math.log(1 + abs((document_count - df + 0.5) / (df + 0.5))) for term, df in frequency.items()
        }
        averages = [
            sum(lengths[f] for lengths, _ in counted) / document_count if document_count else 0.0
            for f in range(len(FIELDS))
        ]
        for _, connection in children:
            connection.send((idf, averages))
        fragments = [batches[0].fragments(idf, averages)] if batches else []
        fragments.extend(connection.recv() for _, connection in children)
    except EOFError as error:
        raise RuntimeError("a search index worker process failed (see its error above)") from error
    finally:
        for process, connection in children:
            connection.close()
            process.join()
    key_of = {term_text(key): key for key in frequency}
    terms = tuple(sorted(key_of, key=utf16_key))
    encoded: dict[str, tuple[str, ...]] = {}
    counts: dict[str, int] = {}
    for term in terms:
        key = key_of[term]
        fields = []
        total = 0
        for f in range(len(FIELDS)):
            parts = []
            previous = 0
            for batch_fragments in fragments:
                entry = batch_fragments.get(key)
                fragment = entry[f] if entry else None
                if fragment:
                    first, last, count, rest = fragment
                    parts.append(f"{first - previous},{rest}")
                    previous = last
                    total += count
            fields.append(",".join(parts))
        encoded[term] = tuple(fields)
        counts[term] = total
    return SearchIndex(tuple(d.ref for d in documents), terms, encoded, counts)


def lunr_serialization(index: SearchIndex, terms: Sequence[str]) -> dict[str, Any]:
    """What lunr 2.3.9's ``Index.toJSON`` gives for an index holding ``terms`` (in order).

    engine.js turns a shard into exactly this before ``lunr.Index.load``; a term's
    ``_index`` (its vector dimension) is its position in ``terms``, which changes no score.
    """
    order = {ref: number for number, ref in enumerate(index.refs)}
    vectors: dict[tuple[int, int], list[float | int]] = {}
    inverted = []
    for position, term in enumerate(terms):
        posting: dict[str, Any] = {"_index": position}
        for f, (field, postings) in enumerate(zip((name for name, _ in FIELDS), index.postings(term))):
            posting[field] = {ref: {} for ref, _ in postings}
            for ref, weight in postings:
                vectors.setdefault((f, order[ref]), []).extend((position, weight))
        inverted.append([term, posting])
    return {
        "version": LUNR_VERSION,
        "fields": [field for field, _ in FIELDS],
        "fieldVectors": [
            [f"{FIELDS[f][0]}/{index.refs[number]}", elements] for (f, number), elements in sorted(vectors.items())
        ],
        "invertedIndex": inverted,
        "pipeline": [],
    }


def shard_terms(index: SearchIndex, limit: int = SHARD_POSTINGS) -> list[tuple[str, ...]]:
    """Consecutive runs of terms (in UTF-16 order) of about ``limit`` postings each."""
    shards: list[tuple[str, ...]] = []
    current: list[str] = []
    cost = 0
    for term in index.terms:
        term_cost = index.cost(term)
        if current and cost + term_cost > limit:
            shards.append(tuple(current))
            current, cost = [], 0
        current.append(term)
        cost += term_cost
    if current:
        shards.append(tuple(current))
    return shards


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _script(call: str, *arguments: Any) -> bytes:
    return f"{CALLBACK}.{call}({','.join(map(_json, arguments))});\n".encode("utf-8")


def shard_script(number: int, index: SearchIndex, terms: Sequence[str]) -> bytes:
    """``JianbaoSearch.shard(n,[[term,[title postings],[body postings]],...]);`` written by hand:
    the postings are already text, and json.dumps of millions of numbers is slow."""
    entries = ",".join(
        f"[{_json(term)},{','.join(f'[{field}]' for field in index.encoded[term])}]" for term in terms
    )
    return f"{CALLBACK}.shard({number},[{entries}]);\n".encode("utf-8")


def shard_file(number: int) -> str:
    return f"{INDEX_FOLDER}/shard-{number:04d}.js"


def facet_columns(documents: Sequence[SearchDocument]) -> tuple[dict[str, list[str]], dict[str, list[Any]]]:
    """The filter values (sorted) and, per document, the positions of its values among them."""
    values = {
        "years": sorted({d.year for d in documents if d.year}),
        "agencies": sorted({d.dispatch.agency for d in documents if d.dispatch.agency}),
        "sources": sorted({source for d in documents for source in d.sources}),
    }
    position = {name: {value: i for i, value in enumerate(items)} for name, items in values.items()}
    columns: dict[str, list[Any]] = {
        "years": [position["years"][d.year] if d.year else -1 for d in documents],
        "agencies": [position["agencies"][d.dispatch.agency] if d.dispatch.agency else -1 for d in documents],
        "sources": [[position["sources"][source] for source in d.sources] for d in documents],
    }
    return values, columns


def index_pages(
    documents: Sequence[SearchDocument], limit: int = SHARD_POSTINGS, workers: int | None = None
) -> tuple[Page, ...]:
    """The index scripts: manifest, facets, shards, and one file per document."""
    index = build_index(documents, workers)
    shards = shard_terms(index, limit)
    pages = [Page(shard_file(number), shard_script(number, index, terms)) for number, terms in enumerate(shards)]
    values, columns = facet_columns(documents)
    manifest = {
        "lunr": LUNR_VERSION,
        "fields": [field for field, _ in FIELDS],
        "documents": len(documents),
        "shards": [terms[0] for terms in shards],
    }
    pages.append(Page(f"{INDEX_FOLDER}/manifest.js", _script("manifest", manifest)))
    # Loaded only when the reader filters, so a plain query never downloads the list of
    # every source.
    pages.append(Page(f"{INDEX_FOLDER}/facets.js", _script("facets", {"values": values, "columns": columns})))
    pages.extend(Page(f"{DOCS_FOLDER}/{d.ref}.js", _script("doc", d.ref, d.record)) for d in documents)
    return tuple(pages)


def search_pages(collection: Collection, config: Config, theme: Theme) -> tuple[Page, ...]:
    """The search page and every file it loads (the theme's static files are copied elsewhere)."""
    context = {
        "site": config,
        "root": "../",
        "page_title": "搜索",
        "lang": config.language,
        "page_path": SEARCH_PAGE,
        "section": "search",
    }
    page = Page(SEARCH_PAGE, theme.render("search.html", context).encode("utf-8"))
    return (page, *index_pages(search_documents(collection)))


# ---------------------------------------------------------------- querying (reference)


@dataclass(frozen=True)
class ParsedQuery:
    """A query read by the rules users expect (see ``parse_query``)."""

    clauses: tuple[QueryToken, ...]  # every term, each required (bigram runs may shrink)
    droppable_runs: frozenset[int]  # Han runs whose unknown bigrams are dropped
    phrases: tuple[str, ...]  # compacted quoted phrases, each must stand in a field


def parse_query(text: str) -> ParsedQuery:
    """Split a query into terms and quoted phrases.

    Words separated by spaces are all required. Inside a Han run outside quotes, bigrams
    that occur nowhere in the index are dropped (they span a word boundary the user did
    not mean) and the rest required; inside quotes every term is required and the phrase
    must stand contiguously in the title or the text.
    """
    normalized = normalize(text)
    clauses: list[QueryToken] = []
    droppable: set[int] = set()
    phrases: list[str] = []
    run = 0

    def add(segment: str, is_phrase: bool) -> None:
        nonlocal run
        tokens = query_tokens(segment)
        for token in tokens:
            clauses.append(QueryToken(token.term, token.kind, run + token.run))
            if token.kind == "bigram" and not is_phrase:
                droppable.add(run + token.run)
        run += (max(t.run for t in tokens) + 1) if tokens else 0

    position = 0
    for match in _PHRASE.finditer(normalized):
        add(normalized[position : match.start()], False)
        phrase = next(group for group in match.groups() if group is not None)
        add(phrase, True)
        if compact(phrase):
            phrases.append(compact(phrase))
        position = match.end()
    add(normalized[position:], False)
    return ParsedQuery(tuple(clauses), frozenset(droppable), tuple(phrases))


@dataclass(frozen=True)
class SearchHit:
    ref: str
    dispatch: str
    score: float


def query_index(
    index: SearchIndex, documents: Sequence[SearchDocument], text: str
) -> list[SearchHit]:
    """Answer a query as the browser does: lunr's scoring over the whole index.

    This is the reference for engine.js: same parsing, same dropping of unknown
    bigrams, same required terms, same scores, same order (score, then document order).
    """
    parsed = parse_query(text)
    clauses = [
        c
        for c in parsed.clauses
        if not (c.run in parsed.droppable_runs and c.term not in index.encoded)
    ]
    kept_runs = {c.run for c in clauses}
    if not clauses or any(run not in kept_runs for run in parsed.droppable_runs):
        return []
    weights: dict[str, dict[str, float]] = {}  # term -> ref -> weight summed over fields
    query_vector: Counter[str] = Counter()
    matching: list[set[str]] = []
    for clause in clauses:
        if clause.kind == "prefix":
            expansions = [term for term in index.terms if term.startswith(clause.term)]
        else:
            expansions = [clause.term] if clause.term in index.encoded else []
        if not expansions:
            return []
        refs: set[str] = set()
        for term in expansions:
            query_vector[term] += 1
            if term not in weights:
                summed: dict[str, float] = {}
                for field in index.postings(term):
                    for ref, weight in field:
                        summed[ref] = summed.get(ref, 0.0) + weight
                weights[term] = summed
            refs.update(weights[term])
        matching.append(refs)
    candidates = set.intersection(*matching)
    by_ref = {d.ref: d for d in documents}
    if parsed.phrases:
        candidates = {
            ref
            for ref in candidates
            if all(
                any(phrase in compact(field) for field in by_ref[ref].field_texts())
                for phrase in parsed.phrases
            )
        }
    magnitude = math.sqrt(sum(count * count for count in query_vector.values()))
    order = {ref: number for number, ref in enumerate(index.refs)}
    hits = [
        SearchHit(
            ref,
            by_ref[ref].dispatch.id,
            sum(count * weights[term].get(ref, 0.0) for term, count in query_vector.items()) / magnitude,
        )
        for ref in candidates
    ]
    return sorted(hits, key=lambda hit: (-hit.score, order[hit.ref]))
