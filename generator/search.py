"""Search: a Chinese-aware lunr index written at build time, and the search page.

One search document per dispatch (its consensus text, titles and metadata), so reprints
do not flood the results. The documents are tokenised by ``generator.tokenizer`` (Han
bigrams; the browser runs the same specification in tokenizer.js) and scored exactly as
lunr 2.3.9 scores them (BM25 with k1 = 1.2, b = 0.75, weights rounded to three places).

The index is written by this module, not by lunr.py, which takes minutes and gigabytes
for ten thousand articles. It is split by term range into shards. A shard holds, for
each of its terms, the term frequency in every field that holds it; the manifest holds
the number of documents and every document's field lengths and their averages. The
browser turns a shard into a complete lunr 2.3.9 serialised index (``lunr.Index.load``
reads it): the terms, their postings and, for each document, the part of its field
vectors that belongs to those terms, weighted by BM25 (idf included) with lunr.py's
arithmetic. A shard entry depends on its term's postings alone, so an edit rewrites
only the shards of the terms whose postings it changes (``search_pages`` with the
previous build's memo).

What keeps an edit's work small: a document's number (its ref, its file name, its
place in the postings) is a function of its dispatch id and the number of documents
(``document_numbers``), so adding a dispatch renumbers almost no other; shards are cut
where their terms say (``shard_starts``), so changed counts move the cuts of a shard or
two; and a shard's file is named by its first term, not by its place.

lunr scores a document by the dot product of the query vector with the document's
field vectors over the query's terms only, divided by the query vector's length, so
results from several shards merge into exactly the score of one big index
(``themes/default/static/search/engine.js`` does that; ``query_index`` below is the same
procedure in Python). A query therefore loads only the shards of its terms; once the
reader has searched, the page loads the shards of the most frequent terms in idle time
(``preload_shards``).

Every file is a script (``JianbaoSearch.shard(name, [...])``) so the search works from
``file://`` with no server; nothing is loaded until search is first used.

Output, relative to the site root::

    search/index.html             the search page
    search/index/manifest.js      number of documents, field lengths (by document number)
                                  and averages, first term of every shard, the shards to
                                  preload
    search/index/facets.js        the sources, years and agencies, and those of every
                                  document (the filters)
    search/index/s-<hex>.js       the shards, named by their first term's UTF-8 bytes
    search/docs/<ref>.js          one per document: what a result shows, and its text
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import math
import multiprocessing
import operator
import os
import re
import zlib
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
# terms with more than SHARD_POSTINGS postings (each alone in its shard), most postings
# first, as many as fit in this many bytes. lunr answers about a hundred thousand
# postings a second (less on a busy machine or a slow phone), so such a term, asked for
# the first time, costs 30 ms or more; any other shard holds at most SHARD_POSTINGS
# postings and a term in it answers within that. The page answers the preloaded terms
# as it loads them, so a later query finds them ready. At 10,000 articles the 120 such
# shards take 2.0 MB (0.8 MB gzipped), fetched only after a search.
PRELOAD_BYTES = 2_500_000

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


@functools.lru_cache(maxsize=1 << 16)
def base36(number: int) -> str:
    """A natural number in base 36 (lower case), as JavaScript's ``toString(36)`` writes it."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


# A document's short reference is its number in base 36. The same cached function, not a
# wrapper: the full index build asks for a reference once per posting.
doc_ref = base36


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class SearchDocument:
    """What is indexed for one dispatch, and what a search result shows of it.

    Made from the dispatch and its witness articles alone (not from its number, see
    ``document_numbers``), so the next build reuses it while they are the same.
    """

    dispatch: Dispatch
    witnesses: tuple[Article, ...]  # the witness articles the collection holds, in witness order
    title_text: str  # the title field: the dispatch's title and its witnesses' headings
    text: str  # the consensus text
    # Each witness reading that the consensus does not follow, with a little of the
    # consensus either side, so a search for what one witness printed finds the dispatch.
    readings: str
    meta: str  # agency, place, people and keywords, indexed with the body
    year: str | None
    sources: tuple[str, ...]  # source ids of the witnesses, in witness order, no repeats
    record: Mapping[str, Any]  # the document file's content, keys in sorted order
    fields: tuple[str, ...]  # the indexed field texts, in FIELDS order

    @property
    def body_text(self) -> str:
        return self.fields[1]

    def field_texts(self) -> tuple[str, ...]:
        return self.fields


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


def search_document(dispatch: Dispatch, witnesses: tuple[Article, ...]) -> SearchDocument:
    """The search document of one dispatch."""
    headings = _unique(
        [dispatch.title] + [heading for a in witnesses for heading in (a.kicker, a.headline, a.subheadline)]
    )
    meta = " ".join(_unique([dispatch.agency, dispatch.place, *dispatch.people, *dispatch.keywords]))
    year = dispatch.date.value[:4] if dispatch.date.value and dispatch.date.value[:4].isdigit() else None
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
    body_text = "\n\n".join(part for part in (text, readings, meta) if part)
    return SearchDocument(
        dispatch=dispatch,
        witnesses=witnesses,
        title_text=title_text,
        text=text,
        readings=readings,
        meta=meta,
        year=year,
        sources=_unique(a.source_id for a in witnesses),
        record=record,
        fields=(title_text, body_text),
    )


def search_documents(
    collection: Collection, previous: Mapping[str, SearchDocument] | None = None
) -> tuple[SearchDocument, ...]:
    """One document per dispatch, in dispatch id order. A document of ``previous`` (by
    dispatch id) is taken as it is when its dispatch and witnesses are equal (the same
    objects, mostly, which compare at once)."""
    articles: dict[str, Article] = {article.id: article for article in collection.articles}
    known = previous or {}
    documents = []
    for dispatch in sorted(collection.dispatches, key=operator.attrgetter("id")):
        try:
            witnesses = tuple(map(articles.__getitem__, dispatch.witnesses))
        except KeyError:  # a witness the collection does not hold
            witnesses = tuple(article for article in map(articles.get, dispatch.witnesses) if article is not None)
        old = known.get(dispatch.id)
        if old is not None and (old.dispatch is dispatch or old.dispatch == dispatch) and old.witnesses == witnesses:
            documents.append(old)
        else:
            documents.append(search_document(dispatch, witnesses))
    return tuple(documents)


def id_hash(dispatch_id: str) -> int:
    """A dispatch id's 64-bit hash: its home number is the top bits (``document_numbers``)."""
    return int.from_bytes(hashlib.blake2b(dispatch_id.encode("utf-8"), digest_size=8).digest(), "big")


def document_numbers(dispatch_ids: Iterable[str], hashes: Mapping[str, int] | None = None) -> dict[str, int]:
    """Each document's number (its ref in base 36, its file, its place in the field
    lengths), a function of the set of dispatch ids alone, that changes for few documents
    when one is added or removed.

    A dispatch's home is a hash of its id in a range of at least twice as many numbers
    as there are documents (a power of two). Taken in the order of (home, id), each
    document gets its home or, if that is taken, the number after the one before it. A
    new document moves only those after it that sat right behind one another from its
    home on: none mostly, one in ten times, at this load (a moved document's terms are
    all rewritten); the numbers move all at once only when the range doubles.
    Numbers left free are holes: their field lengths are 0 and no posting names them.
    ``hashes`` holds the ``id_hash`` of every id, when known.
    """
    ids = list(dispatch_ids)
    shift = 64 - max(1, (2 * len(ids) - 1).bit_length())
    of = hashes.__getitem__ if hashes is not None else id_hash
    numbers: dict[str, int] = {}
    last = -1
    for home, dispatch_id in sorted(zip([of(i) >> shift for i in ids], ids)):
        last = max(home, last + 1)
        numbers[dispatch_id] = last
    return numbers


def numbered_texts(documents: Iterable[SearchDocument]) -> dict[int, tuple[str, ...]]:
    """The documents' field texts by document number, in number order."""
    documents = list(documents)
    numbers = document_numbers(d.dispatch.id for d in documents)
    return dict(sorted((numbers[d.dispatch.id], d.fields) for d in documents))


# ---------------------------------------------------------------- the index


# (document ref, the document's field-vector element for the term)
Posting = tuple[str, float]

# One batch's postings of one term in one field: its first and last document number,
# how many postings, and the rest of the written list after the first document number
# ("frequency,gap,frequency,...", see ``SearchIndex``).
Fragment = tuple[int, int, int, str]


def inverse_document_frequency(count: int, documents: int) -> float:
    """lunr 2.3.9's idf of a term held by ``count`` fields (its document frequency counts fields).

    engine.js computes it with the same operations: written into the shards, it would
    change every entry whenever a document is added or removed. Its ``Math.log`` may be
    one unit in the last place from ``math.log``; the weight made from it is rounded to
    three places, so it differs only when it lies within about 1e-16 of a half
    thousandth (a test bounds the idf; the query tests compare the results)."""
    return math.log(1 + abs((documents - count + 0.5) / (count + 0.5)))


def field_weight(idf: float, frequency: int, length: int, average: float, boost: int) -> float:
    """The field-vector element lunr 2.3.9 stores for a term in a field: BM25, rounded.

    lunr.py's arithmetic, operation by operation; engine.js (``weight``) repeats it in the
    same order, so the two give the same double.
    """
    norm = K1 * (1 - B + B * (length / average))
    score = idf * ((K1 + 1) * frequency) / (norm + frequency)
    return round(score * boost, 3)


def _entry(term: str, fields: Sequence[str]) -> bytes:
    """A term as a shard holds it: ``[term,[title postings],[body postings]]``.

    Kept as bytes, so a shard is a join of its entries, with nothing to encode again."""
    return f"[{encode_basestring(term)},{','.join(f'[{field}]' for field in fields)}]".encode("utf-8")


@dataclass(frozen=True)
class SearchIndex:
    """The index as it is written: per term, its postings with term frequencies.

    The postings of a term in a field are one list of integers: the first document's
    number, the term's frequency in that field of it, then for each further document the
    gap from the previous number and the frequency. The weights lunr stores (BM25 with
    the idf and the collection's average field lengths, rounded to three places) are
    computed from these, the number of documents, the field lengths and the averages, by
    ``postings`` here and by engine.js in the browser: a term's entry depends on its
    postings alone, so an edit rewrites only the entries of the terms it touches.
    """

    documents: int
    terms: tuple[str, ...]  # sorted by UTF-16 code units
    entries: Mapping[str, bytes]  # term -> its entry in a shard (``_entry``)
    counts: Mapping[str, int]  # term -> postings in all fields (its document frequency)
    lengths: tuple[tuple[int, ...], ...]  # per field (FIELDS order), per document number: its tokens (0: a hole)
    averages: tuple[float, ...]  # per field: the average length over the documents
    # The postings of frequent terms cut into blocks (``_blocks``), made by ``update_index``
    # when it first changes such a term and kept for the next update: not part of the index.
    blocks: dict[str, tuple[list["Block"], ...]] = field(default_factory=dict, compare=False, repr=False)

    def frequencies(self, term: str) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The term's (document number, frequency) pairs per field, in document order."""
        _, *fields = json.loads(self.entries[term])
        return tuple(
            tuple(zip(itertools.accumulate(numbers[0::2]), numbers[1::2])) for numbers in fields
        )

    def idf(self, term: str) -> float:
        return inverse_document_frequency(self.counts[term], self.documents)

    def postings(self, term: str) -> tuple[tuple[Posting, ...], ...]:
        """The term's postings per field with lunr's weights, in document order."""
        idf = self.idf(term)
        return tuple(
            tuple(
                (doc_ref(d), field_weight(idf, frequency, self.lengths[f][d], self.averages[f], boost))
                for d, frequency in pairs
            )
            for f, ((_, boost), pairs) in enumerate(zip(FIELDS, self.frequencies(term)))
        )

    def cost(self, term: str) -> int:
        return self.counts[term]


class _Batch:
    """A run of documents (by number), tokenised and inverted in one process.

    Every step per posting is a C-level operation (``map`` over ``operator`` functions,
    ``Counter``, slices, ``str.join``): there are millions of postings in ten thousand
    articles.
    """

    def __init__(self, documents: Sequence[tuple[int, tuple[str, ...]]]) -> None:
        self.documents = documents

    def read(self) -> tuple[list[list[int]], dict[TermKey, list[Fragment | None]]]:
        """The field lengths of the batch's documents, and every term's postings as fragments."""
        # Per field: term -> [document, frequency, document, frequency, ...]
        postings: list[defaultdict[TermKey, list[int]]] = [defaultdict(list) for _ in FIELDS]
        lengths: list[list[int]] = [[] for _ in FIELDS]
        for number, fields in self.documents:
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


def _batches(documents: Sequence[tuple[int, tuple[str, ...]]], workers: int) -> list[_Batch]:
    """Consecutive runs of documents with about the same amount of text each."""
    sizes = list(itertools.accumulate(sum(map(len, fields)) for _, fields in documents))
    total = sizes[-1] if sizes else 0
    bounds = [0] + [bisect.bisect_left(sizes, total * k / workers) for k in range(1, workers)] + [len(documents)]
    return [_Batch(documents[low:high]) for low, high in zip(bounds, bounds[1:]) if high > low]


def _workers(documents: int) -> int:
    """Worker processes for the index: every core for a large collection, none for a small one."""
    if (
        documents < PARALLEL_DOCUMENTS
        or "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # a pool worker may not start processes
    ):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _averages(lengths: Sequence[Sequence[int]], documents: int) -> tuple[float, ...]:
    return tuple(sum(field) / documents if documents else 0.0 for field in lengths)


def build_index(documents: Sequence[SearchDocument], workers: int | None = None) -> SearchIndex:
    """The index of ``documents``, numbered by ``document_numbers``."""
    return index_texts(numbered_texts(documents), workers)


def index_texts(texts: Mapping[int, tuple[str, ...]], workers: int | None = None) -> SearchIndex:
    """Every term's postings, as lunr 2.3.9's builder counts them, without lunr, for the
    field texts of each document number.

    The documents are cut into as many batches as there are workers; the first batch is
    read in this process and each other one in a forked process, which inherits the
    texts instead of receiving them. The fragments of the batches are joined here. The
    result does not depend on the number of workers.
    """
    numbered = sorted(texts.items())
    batches = _batches(numbered, workers or _workers(len(numbered)))
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
    size = numbered[-1][0] + 1 if numbered else 0
    lengths = [[0] * size for _ in FIELDS]
    for f in range(len(FIELDS)):
        found = itertools.chain.from_iterable(batch[f] for batch, _ in read)
        for (number, _), length in zip(numbered, found):
            lengths[f][number] = length
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
        entries[term] = _entry(term, fields)
        counts[term] = total
    field_lengths = tuple(map(tuple, lengths))
    return SearchIndex(
        documents=len(numbered),
        terms=tuple(sorted(entries, key=utf16_key)),
        entries=entries,
        counts=counts,
        lengths=field_lengths,
        averages=_averages(field_lengths, len(numbered)),
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

# A document's field texts, or None for a number no document has.
Texts = tuple[str, ...] | None


def update_index(
    previous: SearchIndex, changes: Mapping[int, tuple[Texts, Texts]], documents: int, size: int
) -> tuple[SearchIndex, set[str]]:
    """``previous`` with the documents at some numbers changed, added or taken out
    (``changes``: number -> (field texts before, after), None where there is no
    document), for ``documents`` documents in all numbered below ``size``; and the terms
    whose entry changed, came or went.

    Only the changed documents are read, and only the entries of the terms they held or
    hold are rewritten, each by splicing the changed documents into its postings. Equal
    to ``index_texts`` of the new texts.
    """
    changed = sorted(number for number, (before, after) in changes.items() if before != after)
    if not changed:
        return previous, set()
    lengths = [list(field[:size]) + [0] * (size - len(field)) for field in previous.lengths]
    # Per term, per field: {document number: its new frequency} where the frequency changed
    # (0: the document lost the term). A text fix changes the frequencies of few terms.
    moved: dict[str, list[dict[int, int]]] = {}
    for number in changed:
        before_texts, after_texts = changes[number]
        for f in range(len(FIELDS)):
            before: Counter[TermKey] = index_term_counts(before_texts[f])[0] if before_texts is not None else Counter()
            after: Counter[TermKey] = Counter()
            if number < size:
                lengths[f][number] = 0
            if after_texts is not None:
                after, lengths[f][number] = index_term_counts(after_texts[f])
            for key in before.keys() | after.keys():
                frequency = after.get(key, 0)
                if before.get(key, 0) != frequency:
                    moved.setdefault(term_text(key), [{} for _ in FIELDS])[f][number] = frequency
    entries = dict(previous.entries)
    counts = dict(previous.counts)
    blocks = dict(previous.blocks)
    touched: set[str] = set()
    for term, field_changes in moved.items():
        if counts.get(term, 0) >= FREQUENT:
            if term not in blocks:
                blocks[term] = tuple(map(_blocks, json.loads(entries[term])[1:]))
            blocks[term] = tuple(
                _update_blocks(field_blocks, changed_here) if changed_here else field_blocks
                for field_blocks, changed_here in zip(blocks[term], field_changes)
            )
            fields = [",".join(text for _, _, text in field_blocks) for field_blocks in blocks[term]]
            total = sum((text.count(",") + 1) // 2 for text in fields if text)
        else:
            blocks.pop(term, None)
            lists = json.loads(entries[term])[1:] if term in entries else [[] for _ in FIELDS]
            fields = []
            total = 0
            for numbers, changed_here in zip(lists, field_changes):
                documents_of = list(itertools.accumulate(numbers[0::2]))
                frequencies = numbers[1::2]
                for number, frequency in changed_here.items():
                    _splice(documents_of, frequencies, number, frequency)
                fields.append(_encode(documents_of, frequencies))
                total += len(documents_of)
        if total:
            entries[term] = _entry(term, fields)
            counts[term] = total
        else:
            del entries[term], counts[term]
            blocks.pop(term, None)
        touched.add(term)
    terms = previous.terms
    gone = [term for term in touched if term not in entries]
    new = [term for term in touched if term in entries and term not in previous.entries]
    if gone or new:
        # Few terms come or go: place them instead of sorting every term again.
        listed = list(terms)
        for term in gone:
            del listed[bisect.bisect_left(listed, utf16_key(term), key=utf16_key)]
        for term in new:
            listed.insert(bisect.bisect_left(listed, utf16_key(term), key=utf16_key), term)
        terms = tuple(listed)
    field_lengths = tuple(map(tuple, lengths))
    index = SearchIndex(documents, terms, entries, counts, field_lengths, _averages(field_lengths, documents), blocks)
    return index, touched


def lunr_serialization(index: SearchIndex, terms: Sequence[str]) -> dict[str, Any]:
    """What lunr 2.3.9's ``Index.toJSON`` gives for an index holding ``terms`` (in order).

    engine.js turns a shard into exactly this before ``lunr.Index.load``; a term's
    ``_index`` (its vector dimension) is its position in ``terms``, which changes no score.
    """
    vectors: dict[tuple[int, int], list[float | int]] = {}
    inverted = []
    for position, term in enumerate(terms):
        posting: dict[str, Any] = {"_index": position}
        for f, (name, postings) in enumerate(zip((name for name, _ in FIELDS), index.postings(term))):
            posting[name] = {ref: {} for ref, _ in postings}
            for ref, weight in postings:
                vectors.setdefault((f, int(ref, 36)), []).extend((position, weight))
        inverted.append([term, posting])
    return {
        "version": LUNR_VERSION,
        "fields": [field for field, _ in FIELDS],
        "fieldVectors": [
            [f"{FIELDS[f][0]}/{doc_ref(number)}", elements] for (f, number), elements in sorted(vectors.items())
        ],
        "invertedIndex": inverted,
        "pipeline": [],
    }


# ---------------------------------------------------------------- the files


# A shard is cut before a term (besides where the postings limit forces a cut) when it
# holds at least SHARD_MIN postings and the term's hash is a multiple of SHARD_CUT: the
# cuts are made by the terms themselves, so an edit that adds postings moves the cuts of
# its own shard and perhaps the next, not of every shard after it.
SHARD_MIN = 1500
SHARD_CUT = 8

# A shard's file is named by its first term's UTF-8 bytes in hexadecimal, at most this
# many bytes of it; a shard may start only with a term no longer than that (the first
# shard excepted), so no two names are the same.
NAME_BYTES = 30


def _cuttable(term: str) -> bool:
    return len(term.encode("utf-8")) <= NAME_BYTES


def _cuts(term: str, cost: int, term_cost: int, limit: int) -> bool:
    """Whether a shard holding ``cost`` postings is closed before ``term`` (see ``shard_starts``)."""
    if cost == 0 or not _cuttable(term):
        return False
    if cost + term_cost > limit:
        return True
    return cost >= min(SHARD_MIN, limit // 2) and zlib.crc32(term.encode("utf-8")) % SHARD_CUT == 0


def shard_starts(
    index: SearchIndex,
    limit: int = SHARD_POSTINGS,
    previous: Sequence[int] | None = None,
    dirty: Sequence[int] = (),
) -> list[int]:
    """Where each shard starts among ``index.terms`` (UTF-16 order): a shard is closed
    before a term that would take it over ``limit`` postings, or that the term's hash
    chooses once it holds ``min(SHARD_MIN, limit // 2)`` postings; a term with more than
    ``limit`` postings stands alone.

    With ``previous`` (the starts of the last layout, moved to the positions their terms
    have now: those of the terms that are left) and ``dirty`` (the positions, sorted, of
    the terms whose postings changed or that came, and of the places where terms went),
    only the shards around the dirty positions are cut again: from a start the cuts
    depend only on the terms that follow, so once a cut falls on a start of an old shard
    that holds no dirty position and is not followed by one (the cut before a term
    depends on its count), the old starts hold until the next dirty shard. Equal to
    cutting from nothing.
    """
    terms, counts = index.terms, index.counts
    size = len(terms)
    old = list(previous) if previous is not None else []
    todo = list(dirty) if previous is not None else [0] if size else []
    starts: list[int] = []
    at = 0  # a position where both layouts start a shard: every old start from here is kept
    k = 0
    while True:
        if k < len(todo):
            # The cut before a term depends on the shard before it: start at the shard
            # holding the term before the dirty one.
            region = bisect.bisect_right(old, todo[k] - 1) - 1
            begin = max(old[region] if region >= 0 else 0, at)
        else:
            begin = size
        starts.extend(old[bisect.bisect_left(old, at) : bisect.bisect_left(old, begin)])
        if begin >= size:
            return starts
        starts.append(begin)
        cost = counts[terms[begin]]
        at = size
        for position in range(begin + 1, size):
            term = terms[position]
            term_cost = counts[term]
            if not _cuts(term, cost, term_cost, limit):
                cost += term_cost
                continue
            while k < len(todo) and todo[k] < position:
                k += 1
            following = bisect.bisect_right(old, position)
            if (
                following
                and old[following - 1] == position
                and (k == len(todo) or todo[k] > (old[following] if following < len(old) else size))
            ):
                at = position  # synchronised with the old layout, up to the next dirty shard
                break
            starts.append(position)
            cost = term_cost
        else:
            k = len(todo)


def shard_terms(index: SearchIndex, limit: int = SHARD_POSTINGS) -> list[tuple[str, ...]]:
    """The terms of each shard (``shard_starts``), in order."""
    starts = shard_starts(index, limit)
    return [index.terms[low:high] for low, high in zip(starts, starts[1:] + [len(index.terms)])]


def shard_name(first_term: str) -> str:
    """The file name of the shard starting with ``first_term`` (engine.js makes the same)."""
    data = b""
    for char in first_term:
        encoded = char.encode("utf-8")
        if len(data) + len(encoded) > NAME_BYTES:
            break
        data += encoded
    return "s-" + data.hex()


@functools.lru_cache(maxsize=1 << 16)
def shard_file(first_term: str) -> str:
    return f"{INDEX_FOLDER}/{shard_name(first_term)}.js"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _script(call: str, *arguments: Any) -> bytes:
    return f"{CALLBACK}.{call}({','.join(map(_json, arguments))});\n".encode("utf-8")


def shard_script(index: SearchIndex, terms: Sequence[str]) -> bytes:
    """``JianbaoSearch.shard(name,[[term,[title postings],[body postings]],...]);``, joined
    from the entries: json.dumps of millions of numbers is slow."""
    entries = b",".join(map(index.entries.__getitem__, terms))
    return b'%s.shard("%s",[%s]);\n' % (CALLBACK.encode("ascii"), shard_name(terms[0]).encode("ascii"), entries)


def preload_shards(index: SearchIndex, starts: Sequence[int], limit: int = SHARD_POSTINGS) -> list[int]:
    """The shards to load in idle time (their places in ``starts``): those holding a term
    with more than ``limit`` postings (alone), most postings first, as many as fit in
    ``PRELOAD_BYTES``."""
    ends = [*starts[1:], len(index.terms)]
    costly = sorted(
        (-index.cost(index.terms[start]), number)
        for number, (start, end) in enumerate(zip(starts, ends))
        if end - start == 1 and index.cost(index.terms[start]) > limit
    )
    chosen = []
    budget = PRELOAD_BYTES
    for _, number in costly:
        budget -= len(shard_script(index, (index.terms[starts[number]],)))
        if budget < 0:
            break
        chosen.append(number)
    return chosen


def _record_json(document: SearchDocument) -> str:
    # Without sorting the keys, which ``search_document`` already wrote in order (a third
    # less time for ten thousand files).
    return json.dumps(document.record, ensure_ascii=False, separators=(",", ":"))


def doc_script(document: SearchDocument, number: int, record_json: str | None = None) -> bytes:
    """``JianbaoSearch.doc(ref,{record});`` for the document numbered ``number``."""
    record = record_json if record_json is not None else _record_json(document)
    return f'{CALLBACK}.doc("{doc_ref(number)}",{record});\n'.encode("utf-8")


def doc_file(number: int) -> str:
    return f"{DOCS_FOLDER}/{doc_ref(number)}.js"


@dataclass(frozen=True)
class FacetTable:
    """What facets.js holds, and how many documents hold each value, so that a build that
    changes a few documents updates their columns instead of reading every document again."""

    values: dict[str, list[str]]  # each facet's filter values, sorted
    # Per document number, the places of its values among them (-1 or none for a hole).
    columns: dict[str, list[Any]]
    counts: dict[str, Counter[str]]


_FACETS = ("years", "agencies", "sources")


def _facet_values(document: SearchDocument) -> tuple[tuple[str, ...], ...]:
    """The document's values of each facet, in ``_FACETS`` order."""
    agency = document.dispatch.agency
    return ((document.year,) if document.year else (), (agency,) if agency else (), document.sources)


def _facet_entries(held: tuple[tuple[str, ...], ...], position: Mapping[str, Mapping[str, int]]) -> tuple[Any, Any, Any]:
    """A document's entry in each column: the place of its year and agency (-1: none), of each of its sources."""
    years, agencies, sources = held
    return (
        position["years"][years[0]] if years else -1,
        position["agencies"][agencies[0]] if agencies else -1,
        [position["sources"][source] for source in sources],
    )


def _positions(values: Mapping[str, list[str]]) -> dict[str, dict[str, int]]:
    return {name: {value: i for i, value in enumerate(items)} for name, items in values.items()}


def facet_table(documents: Iterable[SearchDocument], numbers: Mapping[str, int]) -> FacetTable:
    """The facets of every document, from nothing."""
    held = [(numbers[d.dispatch.id], _facet_values(d)) for d in documents]
    counts: dict[str, Counter[str]] = {name: Counter() for name in _FACETS}
    for _, values_of in held:
        for name, values in zip(_FACETS, values_of):
            counts[name].update(values)
    values = {name: sorted(counts[name]) for name in _FACETS}
    position = _positions(values)
    size = max(numbers.values(), default=-1) + 1
    columns: dict[str, list[Any]] = {"years": [-1] * size, "agencies": [-1] * size, "sources": [[] for _ in range(size)]}
    for number, values_of in held:
        columns["years"][number], columns["agencies"][number], columns["sources"][number] = _facet_entries(values_of, position)
    return FacetTable(values, columns, counts)


def updated_facets(
    table: FacetTable, changes: Mapping[int, tuple[SearchDocument | None, SearchDocument | None]], size: int
) -> FacetTable | None:
    """``table`` after the documents numbered in ``changes`` went from the first document
    to the second (None: no document there), ``size`` numbers in all; None when a value
    came or went, which moves the places of the values after it (make the table anew)."""
    counts = {name: Counter(counted) for name, counted in table.counts.items()}
    for old, new in changes.values():
        for document, sign in ((old, -1), (new, 1)):
            if document is None:
                continue
            for name, values in zip(_FACETS, _facet_values(document)):
                for value in values:
                    counts[name][value] += sign
    for name in _FACETS:
        counted = counts[name]
        for value in [value for value, count in counted.items() if count <= 0]:
            del counted[value]
        if counted.keys() != set(table.values[name]):
            return None
    position = _positions(table.values)
    columns = {name: column[:size] for name, column in table.columns.items()}
    if size > len(columns["years"]):
        grown = size - len(columns["years"])
        columns["years"] += [-1] * grown
        columns["agencies"] += [-1] * grown
        columns["sources"] += [[] for _ in range(grown)]
    for number, (_, new) in changes.items():
        if number >= size:
            continue
        entries = _facet_entries(_facet_values(new), position) if new is not None else (-1, -1, [])
        columns["years"][number], columns["agencies"][number], columns["sources"][number] = entries
    return FacetTable(table.values, columns, counts)


def manifest_script(index: SearchIndex, starts: Sequence[int], limit: int = SHARD_POSTINGS) -> bytes:
    # The field lengths, in base 36, comma-separated, a hole's (or a 0) empty, and their
    # averages: the browser computes lunr's weights from them and the term frequencies in
    # the shards (engine.js, ``weight``). Base 36 keeps the manifest, which every first
    # query loads, as small as it was before the holes.
    manifest = {
        "lunr": LUNR_VERSION,
        "fields": [field for field, _ in FIELDS],
        "boosts": [boost for _, boost in FIELDS],
        "documents": index.documents,
        "averages": list(index.averages),
        "lengths": [",".join([base36(length) if length else "" for length in field]) for field in index.lengths],
        "shards": [index.terms[start] for start in starts],
        "preload": preload_shards(index, starts, limit),
    }
    return _script("manifest", manifest)


def facets_script(documents: Sequence[SearchDocument], numbers: Mapping[str, int]) -> bytes:
    # Loaded only when the reader filters, so a plain query never downloads the list of
    # every source.
    return facets_file_script(facet_table(documents, numbers))


def facets_file_script(table: FacetTable) -> bytes:
    return _script("facets", {"values": table.values, "columns": table.columns})


def index_pages(
    documents: Sequence[SearchDocument], index: SearchIndex, limit: int = SHARD_POSTINGS
) -> tuple[Page, ...]:
    """The index scripts: manifest, facets, shards, and one file per document."""
    starts = shard_starts(index, limit)
    numbers = document_numbers(d.dispatch.id for d in documents)
    pages = [Page(shard_file(terms[0]), shard_script(index, terms)) for terms in shard_terms(index, limit)]
    pages.append(Page(f"{INDEX_FOLDER}/manifest.js", manifest_script(index, starts, limit)))
    pages.append(Page(f"{INDEX_FOLDER}/facets.js", facets_script(documents, numbers)))
    pages.extend(Page(doc_file(numbers[d.dispatch.id]), doc_script(d, numbers[d.dispatch.id])) for d in documents)
    return tuple(pages)


def _digest(content: bytes) -> str:
    return hashlib.blake2b(content, digest_size=16).hexdigest()


@dataclass(frozen=True)
class SearchFiles:
    """What one search build made: the files it made this time, and the key of every
    search file (its path -> a digest of what its bytes are made from), as
    ``render.RenderedSite`` has them."""

    pages: tuple[Page, ...]
    keys: Mapping[str, str]


@dataclass(frozen=True)
class SearchMemo:
    """What one search build keeps for the next (``search_pages``). Picklable."""

    documents: tuple[SearchDocument, ...]  # in dispatch id order
    ids: tuple[str, ...]  # their dispatch ids
    by_id: Mapping[str, SearchDocument]
    hashes: Mapping[str, int]  # dispatch id -> id_hash
    numbers: Mapping[str, int]  # dispatch id -> document number
    by_number: Mapping[int, SearchDocument]
    index: SearchIndex
    starts: tuple[int, ...]  # where each shard starts in index.terms
    shard_keys: tuple[str, ...]  # each shard file's key
    records: Mapping[str, str]  # dispatch id -> digest of its document's record
    doc_keys: Mapping[str, str]  # document file -> its key (its ref and record digest)
    facets_key: str
    facets: FacetTable  # what facets.js was made from
    # Each term's place in index.terms: made when an update needs it, kept while the terms stay.
    positions: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


def _facets_of(document: SearchDocument | None) -> tuple[Any, ...] | None:
    return (document.year, document.dispatch.agency, document.sources) if document is not None else None


def _texts_of(document: SearchDocument | None) -> Texts:
    return document.fields if document is not None else None


def search_pages(
    collection: Collection,
    config: Config,
    theme: Theme,
    previous: SearchMemo | None = None,
    *,
    unchanged: Mapping[str, str] | None = None,
) -> tuple[SearchFiles, SearchMemo]:
    """The search page and every file it loads (the theme's static files are copied
    elsewhere), and the memo for the next build.

    ``keys`` covers every search file; ``pages`` holds those whose key is not the one
    ``unchanged`` gives for their path (files still on disk as the last build wrote
    them). Given the previous build's memo, documents whose dispatch and witnesses are
    the same are not made again; when at most ``UPDATE_SHARE`` of the document numbers
    changed, only the changed documents are read, only the entries of the terms whose
    postings changed are rewritten (``update_index``) and only the shards around them
    cut again (``shard_starts``); a shard whose terms and entries are the same keeps its
    key. The files are the same bytes as those of a build without the memo.
    """
    context = {
        "site": config,
        "root": "../",
        "page_title": "搜索",
        "lang": config.language,
        "page_path": SEARCH_PAGE,
        "section": "search",
    }
    contents: dict[str, bytes] = {SEARCH_PAGE: theme.render("search.html", context).encode("utf-8")}
    documents = search_documents(collection, previous.by_id if previous is not None else None)
    ids = tuple(d.dispatch.id for d in documents)
    changed: Iterable[int]
    if previous is not None and ids == previous.ids:
        hashes, numbers = previous.hashes, previous.numbers
        by_number = dict(previous.by_number)
        renewed = [k for k, (new, old) in enumerate(zip(documents, previous.documents)) if new is not old]
        changed = [numbers[ids[k]] for k in renewed]
        by_number.update((numbers[ids[k]], documents[k]) for k in renewed)
    else:
        old_hashes = previous.hashes if previous is not None else {}
        hashes = {i: old_hashes[i] if i in old_hashes else id_hash(i) for i in ids}
        numbers = document_numbers(ids, hashes)
        by_number = {numbers[i]: d for i, d in zip(ids, documents)}
        old_numbers = previous.by_number if previous is not None else {}
        changed = [n for n in by_number.keys() | old_numbers.keys() if by_number.get(n) is not old_numbers.get(n)]
    index: SearchIndex | None = None
    positions: dict[str, int] = {}
    facets_changed = True
    if previous is not None:
        changes: dict[int, tuple[Texts, Texts]] = {}
        facets_changed = numbers is not previous.numbers
        for number in changed:
            old, new = previous.by_number.get(number), by_number.get(number)
            if _texts_of(old) != _texts_of(new):
                changes[number] = (_texts_of(old), _texts_of(new))
            if _facets_of(old) != _facets_of(new):
                facets_changed = True
        if len(changes) <= UPDATE_SHARE * max(len(documents), 1):
            index, touched = update_index(previous.index, changes, len(documents), max(by_number, default=-1) + 1)
    if index is None or previous is None:
        index = index_texts({number: d.fields for number, d in by_number.items()})
        starts = shard_starts(index, SHARD_POSTINGS)
        shard_keys: list[str | None] = [None] * len(starts)
        facets_changed = True
    else:
        terms = index.terms
        old_terms = previous.index.terms
        if terms is old_terms:
            old_starts = list(previous.starts)
            positions = previous.positions or {term: at for at, term in enumerate(terms)}
        else:
            positions = {term: at for at, term in enumerate(terms)}
            # Only the shards whose first term is left keep their start.
            old_starts = sorted(positions[old_terms[start]] for start in previous.starts if old_terms[start] in positions)
        dirty = sorted(
            positions[term] if term in positions else bisect.bisect_left(terms, utf16_key(term), key=utf16_key)
            for term in touched
        )
        starts = shard_starts(index, SHARD_POSTINGS, previous=old_starts, dirty=dirty)
        # A shard keeps its key when it has the same first and last terms and no dirty position.
        old_key = {
            (old_terms[start], old_terms[end - 1]): key
            for start, end, key in zip(previous.starts, previous.starts[1:] + (len(old_terms),), previous.shard_keys)
        }
        shard_keys = []
        for start, end in zip(starts, starts[1:] + [len(terms)]):
            low = bisect.bisect_left(dirty, start)
            clean = low == len(dirty) or dirty[low] >= end
            shard_keys.append(old_key.get((terms[start], terms[end - 1])) if clean else None)
    contents[f"{INDEX_FOLDER}/manifest.js"] = manifest_script(index, starts, SHARD_POSTINGS)
    keys = {path: _digest(content) for path, content in contents.items()}
    facets_file = f"{INDEX_FOLDER}/facets.js"
    if facets_changed or previous is None:
        facets = None
        if previous is not None:
            # Reading every document's facets again was a tenth of a second of a rebuild
            # that adds one dispatch at 10,000 articles.
            facet_changes = {number: (previous.by_number.get(number), by_number.get(number)) for number in changed}
            facets = updated_facets(previous.facets, facet_changes, max(by_number, default=-1) + 1)
        if facets is None:
            facets = facet_table(documents, numbers)
        contents[facets_file] = facets_file_script(facets)
        keys[facets_file] = _digest(contents[facets_file])
    else:
        facets = previous.facets
        keys[facets_file] = previous.facets_key
    terms = index.terms
    shard_at: dict[str, tuple[str, ...]] = {}  # shard file -> its terms
    for position, (start, end) in enumerate(zip(starts, starts[1:] + [len(terms)])):
        shard = terms[start:end]
        path = shard_file(shard[0])
        shard_at[path] = shard
        if shard_keys[position] is None:
            contents[path] = shard_script(index, shard)
            shard_keys[position] = _digest(contents[path])
        keys[path] = shard_keys[position]  # type: ignore[assignment]
    # The document files: only those of changed numbers get a new key.
    records = dict(previous.records) if previous is not None else {}
    doc_keys = dict(previous.doc_keys) if previous is not None else {}
    old_by_id = previous.by_id if previous is not None else {}
    record_texts: dict[int, str] = {}
    for number in changed if previous is not None else by_number:
        document = by_number.get(number)
        path = doc_file(number)
        if document is None:
            del doc_keys[path]
            continue
        dispatch_id = document.dispatch.id
        if old_by_id.get(dispatch_id) is not document:
            record_texts[number] = _record_json(document)
            records[dispatch_id] = _digest(record_texts[number].encode("utf-8"))
        doc_keys[path] = f"{doc_ref(number)}:{records[dispatch_id]}"
    if previous is not None and ids != previous.ids:
        records = {i: records[i] for i in ids}
    keys.update(doc_keys)
    known = unchanged or {}
    made = []
    for path in sorted(path for path, key in keys.items() if known.get(path) != key):
        if path in contents:
            content = contents[path]
        elif path in shard_at:
            content = shard_script(index, shard_at[path])
        elif path == facets_file:
            content = facets_file_script(facets)
        else:
            number = int(path[len(DOCS_FOLDER) + 1 : -len(".js")], 36)
            content = doc_script(by_number[number], number, record_texts.get(number))
        made.append(Page(path, content))
    memo = SearchMemo(
        documents=documents,
        ids=ids,
        by_id=dict(zip(ids, documents)),
        hashes=hashes,
        numbers=numbers,
        by_number=by_number,
        index=index,
        starts=tuple(starts),
        shard_keys=tuple(shard_keys),  # type: ignore[arg-type]
        records=records,
        doc_keys=doc_keys,
        facets_key=keys[facets_file],
        facets=facets,
        positions=positions,
    )
    return SearchFiles(tuple(made), keys), memo


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
    numbers = document_numbers(d.dispatch.id for d in documents)
    by_ref = {doc_ref(numbers[d.dispatch.id]): d for d in documents}
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
    hits = [
        SearchHit(
            ref,
            by_ref[ref].dispatch.id,
            sum(count * weights[term].get(ref, 0.0) for term, count in query_vector.items()) / magnitude,
        )
        for ref in candidates
    ]
    return sorted(hits, key=lambda hit: (-hit.score, int(hit.ref, 36)))
