"""Search: a Chinese-aware lunr index written at build time, and the search page.

One search document per dispatch (its consensus text, titles and metadata), so reprints
do not flood the results. The documents are tokenised by ``generator.tokenizer`` (Han
bigrams; the browser runs the same specification in tokenizer.js) and scored exactly as
lunr 2.3.9 scores them (BM25 with k1 = 1.2, b = 0.75, weights rounded to three places).

The index is written by this module, not by lunr.py, which takes minutes and gigabytes
for ten thousand articles. It is split by term range into shards. A shard holds, for
each of its terms, the idf and the term frequency in every field that holds it; the
manifest holds every document's field lengths and their averages. The browser turns a
shard into a complete lunr 2.3.9 serialised index (``lunr.Index.load`` reads it): the
terms, their postings and, for each document, the part of its field vectors that belongs
to those terms, weighted by BM25 with lunr.py's arithmetic. Because no shard depends on
the average lengths, an edit rewrites only the shards of the terms it touches
(``search_pages`` with the previous build's memo).

lunr scores a document by the dot product of the query vector with the document's
field vectors over the query's terms only, divided by the query vector's length, so
results from several shards merge into exactly the score of one big index
(``themes/default/static/search/engine.js`` does that; ``query_index`` below is the same
procedure in Python). A query therefore loads only the shards of its terms; once the
reader has searched, the page loads the shards of the most frequent terms in idle time
(``preload_shards``).

Every file is a script (``JianbaoSearch.shard(n, [...])``) so the search works from
``file://`` with no server; nothing is loaded until search is first used.

Output, relative to the site root::

    search/index.html             the search page
    search/index/manifest.js      first term of every shard, field lengths and averages,
                                  the shards to preload
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
from dataclasses import dataclass, field
from itertools import repeat
from json.encoder import encode_basestring
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

# The shards a search page loads in idle time once the reader has searched: those of the
# terms with the most postings (each alone in its shard), this many at most. They are the
# costliest to load and to answer, and the likeliest to be asked for; every other shard
# holds at most SHARD_POSTINGS postings and answers quickly when first needed.
PRELOAD_SHARDS = 32

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
        text = dispatch.text
        title_text = "\n".join(headings)
        # Keys in sorted order: the document file is written without sorting them again.
        record = {
            "agency": dispatch.agency or "",
            "date": _date_label(dispatch.date.value),
            "headings": title_text,
            "id": dispatch.id,
            "meta": meta,
            "readings": readings,
            "ref": ref,
            "text": text,
            "title": dispatch.title,
            "url": f"dispatches/{dispatch.id}/index.html",
            "witnesses": [
                {
                    "headline": a.headline or "",
                    "id": a.id,
                    "source": a.source_id,
                    "url": f"sources/{a.source_id}/index.html#{a.id}",
                }
                for a in witnesses
            ],
        }
        documents.append(
            SearchDocument(
                ref=ref,
                dispatch=dispatch,
                title_text=title_text,
                text=text,
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
# ("frequency,gap,frequency,...", see ``SearchIndex``).
Fragment = tuple[int, int, int, str]


def inverse_document_frequency(count: int, documents: int) -> float:
    """lunr 2.3.9's idf of a term held by ``count`` fields (its document frequency counts fields)."""
    return math.log(1 + abs((documents - count + 0.5) / (count + 0.5)))


def field_weight(idf: float, frequency: int, length: int, average: float, boost: int) -> float:
    """The field-vector element lunr 2.3.9 stores for a term in a field: BM25, rounded.

    lunr.py's arithmetic, operation by operation; engine.js (``weight``) repeats it in the
    same order, so the two give the same double.
    """
    norm = K1 * (1 - B + B * (length / average))
    score = idf * ((K1 + 1) * frequency) / (norm + frequency)
    return round(score * boost, 3)


def _entry(term: str, fields: Sequence[str], count: int, documents: int) -> bytes:
    """A term as a shard holds it: ``[term,idf,[title postings],[body postings]]``.

    Kept as bytes, so a shard is a join of its entries, with nothing to encode again."""
    idf = inverse_document_frequency(count, documents)
    return f"[{encode_basestring(term)},{idf!r},{','.join(f'[{field}]' for field in fields)}]".encode("utf-8")


@dataclass(frozen=True)
class SearchIndex:
    """The index as it is written: per term, its idf and its postings with term frequencies.

    The postings of a term in a field are one list of integers: the first document's
    number, the term's frequency in that field of it, then for each further document the
    gap from the previous number and the frequency. The weights lunr stores (BM25 with
    the collection's average field lengths, rounded to three places) are computed from
    these, the field lengths and the averages by ``postings`` here and by engine.js in the
    browser: a weight depends on every document's length, a term's entry does not, so an
    edit rewrites only the entries of the terms it touches.
    """

    refs: tuple[str, ...]
    terms: tuple[str, ...]  # sorted by UTF-16 code units
    entries: Mapping[str, bytes]  # term -> its entry in a shard (``_entry``)
    counts: Mapping[str, int]  # term -> postings in all fields (its document frequency)
    lengths: tuple[tuple[int, ...], ...]  # per field (FIELDS order), per document: its tokens
    averages: tuple[float, ...]  # per field: the average length
    # The postings of frequent terms cut into blocks (``_blocks``), made by ``update_index``
    # when it first changes such a term and kept for the next update: not part of the index.
    blocks: dict[str, tuple[list["Block"], ...]] = field(default_factory=dict, compare=False, repr=False)

    def frequencies(self, term: str) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The term's (document number, frequency) pairs per field, in document order."""
        _, _, *fields = json.loads(self.entries[term])
        return tuple(
            tuple(zip(itertools.accumulate(numbers[0::2]), numbers[1::2])) for numbers in fields
        )

    def idf(self, term: str) -> float:
        idf: float = json.loads(self.entries[term])[1]
        return idf

    def postings(self, term: str) -> tuple[tuple[Posting, ...], ...]:
        """The term's postings per field with lunr's weights, in document order."""
        idf = self.idf(term)
        return tuple(
            tuple(
                (self.refs[d], field_weight(idf, frequency, self.lengths[f][d], self.averages[f], boost))
                for d, frequency in pairs
            )
            for f, ((_, boost), pairs) in enumerate(zip(FIELDS, self.frequencies(term)))
        )

    def cost(self, term: str) -> int:
        return self.counts[term]


class _Batch:
    """A run of consecutive documents, tokenised and inverted in one process.

    Every step per posting is a C-level operation (``map`` over ``operator`` functions,
    ``Counter``, slices, ``str.join``): there are millions of postings in ten thousand
    articles.
    """

    def __init__(self, texts: Sequence[tuple[str, ...]], start: int) -> None:
        self.texts = texts
        self.start = start

    def read(self) -> tuple[list[list[int]], dict[TermKey, list[Fragment | None]]]:
        """The field lengths of the batch's documents, and every term's postings as fragments."""
        # Per field: term -> [document, frequency, document, frequency, ...]
        postings: list[defaultdict[TermKey, list[int]]] = [defaultdict(list) for _ in FIELDS]
        lengths: list[list[int]] = [[] for _ in FIELDS]
        for number, fields in enumerate(self.texts, self.start):
            for f, text in enumerate(fields):
                counts, length = index_term_counts(text)
                lengths[f].append(length)
                # defaultdict's __getitem__ makes a term's first list in C, under map.
                lists = map(postings[f].__getitem__, counts)
                deque(map(list.extend, lists, zip(repeat(number), counts.values())), 0)
        result: dict[TermKey, list[Fragment | None]] = {}
        for f in range(len(FIELDS)):
            for term, pairs in postings[f].items():
                documents = pairs[0::2]
                # In place: [document, frequency, gap, frequency, gap, frequency, ...]
                pairs[2::2] = map(operator.sub, documents[1:], documents)
                rest = ",".join(map(str, pairs[1:]))
                result.setdefault(term, [None] * len(FIELDS))[f] = (documents[0], documents[-1], len(documents), rest)
        return lengths, result


def _child(connection: Connection, batch: _Batch) -> None:
    """A worker process: read the batch, send its lengths and fragments."""
    try:
        connection.send(batch.read())
    finally:
        connection.close()


def _batches(texts: Sequence[tuple[str, ...]], workers: int) -> list[_Batch]:
    """Consecutive runs of documents with about the same amount of text each."""
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


def _averages(lengths: Sequence[Sequence[int]], documents: int) -> tuple[float, ...]:
    return tuple(sum(field) / documents if documents else 0.0 for field in lengths)


def build_index(documents: Sequence[SearchDocument], workers: int | None = None) -> SearchIndex:
    """Every term's postings and idf, as lunr 2.3.9's builder counts them, without lunr.

    The documents are cut into as many batches as there are workers; the first batch is
    read in this process and each other one in a forked process, which inherits the
    texts instead of receiving them. The fragments of the batches are joined here. The
    result does not depend on the number of workers.
    """
    texts = [document.field_texts() for document in documents]
    batches = _batches(texts, workers or _workers(documents))
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
        read = [batches[0].read()] if batches else []
        read.extend(connection.recv() for _, connection in children)
    except EOFError as error:
        raise RuntimeError("a search index worker process failed (see its error above)") from error
    finally:
        for process, connection in children:
            connection.close()
            process.join()
    lengths = tuple(tuple(itertools.chain.from_iterable(batch[f] for batch, _ in read)) for f in range(len(FIELDS)))
    fragments = [batch_fragments for _, batch_fragments in read]
    key_of = {term_text(key): key for batch_fragments in fragments for key in batch_fragments}
    entries: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for term, key in key_of.items():
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
        entries[term] = _entry(term, fields, total, len(documents))
        counts[term] = total
    return SearchIndex(
        refs=tuple(d.ref for d in documents),
        terms=tuple(sorted(entries, key=utf16_key)),
        entries=entries,
        counts=counts,
        lengths=lengths,
        averages=_averages(lengths, len(documents)),
    )


def _encode(documents: Sequence[int], frequencies: Sequence[int], start: int = 0) -> str:
    """Postings (document numbers ascending, frequencies) written as ``SearchIndex`` says,
    the first gap counted from ``start``."""
    numbers = [0] * (2 * len(documents))
    numbers[0::2] = map(operator.sub, documents, [start, *documents[:-1]])
    numbers[1::2] = frequencies
    return ",".join(map(str, numbers))


# A term with at least this many postings is updated block by block: the documents are
# cut into blocks of BLOCK numbers, and an edit rewrites only the blocks it touches
# instead of the term's whole list (thousands of postings for a common bigram).
FREQUENT = 512
BLOCK = 64

# (block number, the last document number in it, its postings as written in the list,
# the first gap counted from the last document of the block before): the blocks of a
# field joined by commas are its postings.
Block = tuple[int, int, str]


def _splice(documents: list[int], frequencies: list[int], document: int, frequency: int) -> None:
    """Set a document's frequency in postings sorted by document (0: take it out), in place."""
    at = bisect.bisect_left(documents, document)
    present = at < len(documents) and documents[at] == document
    if frequency and present:
        frequencies[at] = frequency
    elif frequency:
        documents.insert(at, document)
        frequencies.insert(at, frequency)
    elif present:
        del documents[at], frequencies[at]


def _blocks(numbers: list[int]) -> list[Block]:
    """A field's written postings (gaps and frequencies) cut into blocks."""
    documents = list(itertools.accumulate(numbers[0::2]))
    blocks = []
    low = 0
    while low < len(documents):
        block = documents[low] // BLOCK
        high = bisect.bisect_left(documents, (block + 1) * BLOCK, low)
        blocks.append((block, documents[high - 1], ",".join(map(str, numbers[2 * low : 2 * high]))))
        low = high
    return blocks


def _update_blocks(blocks: list[Block], changes: Mapping[int, int]) -> list[Block]:
    """The blocks with each changed document's frequency set (0: the document lost the term).

    The blocks of the changed documents are decoded, and so is the block after each of
    them, whose first gap depends on their last document; the others are kept as they are.
    """
    numbers = [block for block, _, _ in blocks]
    decoded: dict[int, tuple[list[int], list[int]]] = {}
    for block in sorted({document // BLOCK for document in changes}):
        at = bisect.bisect_left(numbers, block)
        for position in (at, at + 1):
            if position < len(blocks) and numbers[position] not in decoded:
                values = list(map(int, blocks[position][2].split(",")))
                start = blocks[position - 1][1] if position else 0
                decoded[numbers[position]] = (list(itertools.accumulate(values[0::2], initial=start))[1:], values[1::2])
        decoded.setdefault(block, ([], []))
    for document, frequency in changes.items():
        _splice(*decoded[document // BLOCK], document, frequency)
    kept = {block[0]: block for block in blocks if block[0] not in decoded}
    result: list[Block] = []
    last = 0
    for number in sorted(kept.keys() | decoded.keys()):
        if number in kept:
            result.append(kept[number])
        elif decoded[number][0]:
            documents, frequencies = decoded[number]
            result.append((number, documents[-1], _encode(documents, frequencies, last)))
        else:
            continue
        last = result[-1][1]
    return result


# Above this share of changed documents, ``search_pages`` reads every document again: the
# update's cost grows with the changes, the full build's does not.
UPDATE_SHARE = 0.125


def update_index(
    previous: SearchIndex, old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]]
) -> SearchIndex:
    """``previous`` (the index of documents with the field texts ``old``) made the index of
    the same documents with the field texts ``new``: only the changed documents are read,
    and only the entries of the terms they held or hold are rewritten, each by splicing
    the changed documents into its postings. Equal to ``build_index`` of the new texts.
    """
    if len(old) != len(new) or len(new) != len(previous.refs):
        raise ValueError("update_index needs the same documents, in the same order")
    changed = [number for number, (before, after) in enumerate(zip(old, new)) if before != after]
    if not changed:
        return previous
    lengths = [list(field) for field in previous.lengths]
    # Per term, per field: {document number: frequency} in the changed documents' new texts.
    added: dict[str, list[dict[int, int]]] = {}
    for number in changed:
        for f in range(len(FIELDS)):
            before, _ = index_term_counts(old[number][f])
            for key in before:
                added.setdefault(term_text(key), [{} for _ in FIELDS])
            after, lengths[f][number] = index_term_counts(new[number][f])
            for key, frequency in after.items():
                added.setdefault(term_text(key), [{} for _ in FIELDS])[f][number] = frequency
    entries = dict(previous.entries)
    counts = dict(previous.counts)
    blocks = dict(previous.blocks)
    for term, fields_added in added.items():
        if counts.get(term, 0) >= FREQUENT:
            if term not in blocks:
                blocks[term] = tuple(map(_blocks, json.loads(entries[term])[2:]))
            blocks[term] = tuple(
                _update_blocks(field_blocks, {number: frequency_of.get(number, 0) for number in changed})
                for field_blocks, frequency_of in zip(blocks[term], fields_added)
            )
            fields = [",".join(text for _, _, text in field_blocks) for field_blocks in blocks[term]]
            total = sum((text.count(",") + 1) // 2 for text in fields if text)
        else:
            blocks.pop(term, None)
            lists = json.loads(entries[term])[2:] if term in entries else [[] for _ in FIELDS]
            fields = []
            total = 0
            for numbers, frequency_of in zip(lists, fields_added):
                documents = list(itertools.accumulate(numbers[0::2]))
                frequencies = numbers[1::2]
                for number in changed:
                    _splice(documents, frequencies, number, frequency_of.get(number, 0))
                fields.append(_encode(documents, frequencies))
                total += len(documents)
        if total:
            entries[term] = _entry(term, fields, total, len(new))
            counts[term] = total
        else:
            del entries[term], counts[term]
            blocks.pop(term, None)
    # Sorting fifty thousand terms is the slowest step left: skip it when none came or went.
    same_terms = len(entries) == len(previous.entries) and all(term in previous.entries for term in added)
    terms = previous.terms if same_terms else tuple(sorted(entries, key=utf16_key))
    field_lengths = tuple(map(tuple, lengths))
    return SearchIndex(previous.refs, terms, entries, counts, field_lengths, _averages(field_lengths, len(new)), blocks)


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
        for f, (name, postings) in enumerate(zip((name for name, _ in FIELDS), index.postings(term))):
            posting[name] = {ref: {} for ref, _ in postings}
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
    for term, term_cost in zip(index.terms, map(index.counts.__getitem__, index.terms)):
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
    """``JianbaoSearch.shard(n,[[term,idf,[title postings],[body postings]],...]);``, joined
    from the entries: json.dumps of millions of numbers is slow."""
    entries = b",".join(map(index.entries.__getitem__, terms))
    return b"%s.shard(%d,[%s]);\n" % (CALLBACK.encode("ascii"), number, entries)


def preload_shards(index: SearchIndex, shards: Sequence[tuple[str, ...]], limit: int = SHARD_POSTINGS) -> list[int]:
    """The shards to load in idle time: at most ``PRELOAD_SHARDS`` of those holding a term
    with more than ``limit`` postings (alone), most postings first."""
    costly = [(-index.cost(terms[0]), number) for number, terms in enumerate(shards) if len(terms) == 1]
    return [number for cost, number in sorted(costly)[:PRELOAD_SHARDS] if -cost > limit]


def doc_script(document: SearchDocument) -> bytes:
    """``JianbaoSearch.doc(ref,{record});``: ``_script`` without sorting the keys, which
    ``search_documents`` already wrote in order (a third less time for ten thousand files)."""
    record = json.dumps(document.record, ensure_ascii=False, separators=(",", ":"))
    return f"{CALLBACK}.doc({_json(document.ref)},{record});\n".encode("utf-8")


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
    documents: Sequence[SearchDocument], index: SearchIndex, limit: int = SHARD_POSTINGS
) -> tuple[Page, ...]:
    """The index scripts: manifest, facets, shards, and one file per document."""
    shards = shard_terms(index, limit)
    pages = [Page(shard_file(number), shard_script(number, index, terms)) for number, terms in enumerate(shards)]
    values, columns = facet_columns(documents)
    # The field lengths and their averages: the browser computes lunr's weights from them
    # and the term frequencies in the shards (engine.js, ``weight``).
    manifest = {
        "lunr": LUNR_VERSION,
        "fields": [field for field, _ in FIELDS],
        "boosts": [boost for _, boost in FIELDS],
        "documents": len(documents),
        "averages": list(index.averages),
        "lengths": [list(field) for field in index.lengths],
        "shards": [terms[0] for terms in shards],
        "preload": preload_shards(index, shards, limit),
    }
    pages.append(Page(f"{INDEX_FOLDER}/manifest.js", _script("manifest", manifest)))
    # Loaded only when the reader filters, so a plain query never downloads the list of
    # every source.
    pages.append(Page(f"{INDEX_FOLDER}/facets.js", _script("facets", {"values": values, "columns": columns})))
    pages.extend(Page(f"{DOCS_FOLDER}/{d.ref}.js", doc_script(d)) for d in documents)
    return tuple(pages)


@dataclass(frozen=True)
class SearchMemo:
    """What one search build keeps for the next (``search_pages``): the documents' dispatch
    ids and field texts, and the index written from them. Picklable."""

    dispatches: tuple[str, ...]  # in document order
    texts: tuple[tuple[str, ...], ...]  # each document's field texts, as indexed
    index: SearchIndex


def search_pages(
    collection: Collection, config: Config, theme: Theme, previous: SearchMemo | None = None
) -> tuple[tuple[Page, ...], SearchMemo]:
    """The search page and every file it loads (the theme's static files are copied elsewhere),
    and the memo for the next build.

    Given the previous build's memo, when the dispatches are the same ones (their
    documents keep their numbers) and at most ``UPDATE_SHARE`` of their texts changed,
    only the documents whose text changed are read again and only the index entries of
    their terms are rewritten (``update_index``). The pages are the same bytes
    as those of a build without the memo.
    """
    context = {
        "site": config,
        "root": "../",
        "page_title": "搜索",
        "lang": config.language,
        "page_path": SEARCH_PAGE,
        "section": "search",
    }
    page = Page(SEARCH_PAGE, theme.render("search.html", context).encode("utf-8"))
    documents = search_documents(collection)
    dispatches = tuple(document.dispatch.id for document in documents)
    texts = tuple(document.field_texts() for document in documents)
    if (
        previous is not None
        and previous.dispatches == dispatches
        and sum(map(operator.ne, previous.texts, texts)) <= UPDATE_SHARE * len(texts)
    ):
        index = update_index(previous.index, previous.texts, texts)
    else:
        index = build_index(documents)
    return (page, *index_pages(documents, index)), SearchMemo(dispatches, texts, index)


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
        if not (c.run in parsed.droppable_runs and c.term not in index.entries)
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
            expansions = [clause.term] if clause.term in index.entries else []
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
