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
    search/index/manifest.js      first term of every shard, facet names
    search/index/facets.js        source, year and agency of every document (filters)
    search/index/shard-NNNN.js    the shards
    search/docs/<ref>.js          one per document: what a result shows, and its text
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import Config
from .models import Article, Collection, Dispatch, Page
from .theme import Theme
from .tokenizer import QueryToken, compact, index_tokens, normalize, query_tokens

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


# (document ref, the document's field-vector element for the term); a plain tuple
# because an index of ten thousand articles holds millions of them.
Posting = tuple[str, float]


@dataclass(frozen=True)
class SearchIndex:
    """A lunr index as data: terms in lunr.js order, postings with their vector weights."""

    refs: tuple[str, ...]
    terms: tuple[str, ...]  # sorted by UTF-16 code units
    term_index: Mapping[str, int]  # lunr's ``_index``: order of first appearance
    # term -> one tuple of postings per field (FIELDS order), in document order
    postings: Mapping[str, tuple[tuple[Posting, ...], ...]]

    @functools.cached_property
    def order(self) -> dict[str, int]:
        """Document number of each ref."""
        return {ref: number for number, ref in enumerate(self.refs)}

    def cost(self, term: str) -> int:
        return sum(len(field) for field in self.postings[term])


def build_index(documents: Sequence[SearchDocument]) -> SearchIndex:
    """Score every (term, field, document) as lunr 2.3.9's builder does, without lunr."""
    field_count = len(FIELDS)
    frequencies: list[list[Counter[str]]] = []
    lengths: list[list[int]] = []
    term_index: dict[str, int] = {}
    for document in documents:
        doc_frequencies = []
        doc_lengths = []
        for text in document.field_texts():
            tokens = index_tokens(text)
            counts = Counter(tokens)
            for term in counts:
                if term not in term_index:
                    term_index[term] = len(term_index)
            doc_frequencies.append(counts)
            doc_lengths.append(len(tokens))
        frequencies.append(doc_frequencies)
        lengths.append(doc_lengths)

    # lunr counts a document once per field that holds the term.
    document_frequency: Counter[str] = Counter()
    for doc_frequencies in frequencies:
        for counts in doc_frequencies:
            document_frequency.update(counts.keys())
    document_count = len(documents)
    idf = {
        term: math.log(1 + abs((document_count - df + 0.5) / (df + 0.5)))
        for term, df in document_frequency.items()
    }
    averages = [
        sum(doc_lengths[f] for doc_lengths in lengths) / document_count if document_count else 0.0
        for f in range(field_count)
    ]

    postings: dict[str, list[list[Posting]]] = {term: [[] for _ in FIELDS] for term in term_index}
    for document, doc_frequencies, doc_lengths in zip(documents, frequencies, lengths):
        ref = document.ref
        for f, ((_, boost), counts) in enumerate(zip(FIELDS, doc_frequencies)):
            # The same arithmetic, in the same order, as lunr.py's builder, so the weights
            # are equal to the last bit.
            norm = K1 * (1 - B + B * (doc_lengths[f] / averages[f])) if counts else 0.0
            for term, tf in counts.items():
                postings[term][f].append((ref, round(idf[term] * ((K1 + 1) * tf) / (norm + tf) * boost, 3)))

    return SearchIndex(
        refs=tuple(d.ref for d in documents),
        terms=tuple(sorted(term_index, key=utf16_key)),
        term_index=term_index,
        postings={term: tuple(tuple(field) for field in fields) for term, fields in postings.items()},
    )


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


def serialize_shard(index: SearchIndex, terms: Sequence[str]) -> dict[str, Any]:
    """A lunr 2.3.9 serialised index holding ``terms`` (already in UTF-16 order)."""
    order = index.order
    vectors: dict[tuple[int, int], list[tuple[int, float]]] = {}
    inverted = []
    for term in terms:
        position = index.term_index[term]
        posting: dict[str, Any] = {"_index": position}
        for f, (field, _) in enumerate(FIELDS):
            field_postings = index.postings[term][f]
            posting[field] = {ref: {} for ref, _ in field_postings}
            for ref, weight in field_postings:
                vectors.setdefault((order[ref], f), []).append((position, weight))
        inverted.append([term, posting])
    field_vectors = []
    for (number, f), elements in sorted(vectors.items()):
        flat: list[float | int] = []
        for position, weight in sorted(elements):
            flat.extend((position, weight))
        field_vectors.append([f"{FIELDS[f][0]}/{index.refs[number]}", flat])
    return {
        "version": LUNR_VERSION,
        "fields": [field for field, _ in FIELDS],
        "fieldVectors": field_vectors,
        "invertedIndex": inverted,
        "pipeline": [],
    }


def _script(call: str, *arguments: Any) -> bytes:
    body = ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":"), sort_keys=True) for a in arguments)
    return f"{CALLBACK}.{call}({body});\n".encode("utf-8")


def shard_file(number: int) -> str:
    return f"{INDEX_FOLDER}/shard-{number:04d}.js"


def index_pages(documents: Sequence[SearchDocument], limit: int = SHARD_POSTINGS) -> tuple[Page, ...]:
    """The index scripts: manifest, facets, shards, and one file per document."""
    index = build_index(documents)
    shards = shard_terms(index, limit)
    pages = [
        Page(shard_file(number), _script("shard", number, serialize_shard(index, terms)))
        for number, terms in enumerate(shards)
    ]
    years = sorted({d.year for d in documents if d.year})
    agencies = sorted({d.dispatch.agency for d in documents if d.dispatch.agency})
    sources = sorted({source for d in documents for source in d.sources})
    facets = [
        [
            years.index(d.year) if d.year else -1,
            agencies.index(d.dispatch.agency) if d.dispatch.agency else -1,
            [sources.index(source) for source in d.sources],
        ]
        for d in documents
    ]
    manifest = {
        "lunr": LUNR_VERSION,
        "documents": len(documents),
        "shards": [terms[0] for terms in shards],
        "years": years,
        "agencies": agencies,
        "sources": sources,
    }
    pages.append(Page(f"{INDEX_FOLDER}/manifest.js", _script("manifest", manifest)))
    pages.append(Page(f"{INDEX_FOLDER}/facets.js", _script("facets", facets)))
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
        if not (c.run in parsed.droppable_runs and c.term not in index.term_index)
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
            expansions = [clause.term] if clause.term in index.term_index else []
        if not expansions:
            return []
        refs: set[str] = set()
        for term in expansions:
            query_vector[term] += 1
            if term not in weights:
                summed: dict[str, float] = {}
                for field in index.postings[term]:
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
