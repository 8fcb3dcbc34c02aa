"""The per-source stages (clean, split, describe) on every core.

Why not ``ProcessPoolExecutor.map(read_source, sources)``, as before: on two cores it
gained nothing (600 sources: 14.0 s alone, 14.5 s in a pool of two). Two things add up:

- Pickling. Each result came back with a copy of its source's bytes and text inside
  ``Text.source``, and every frozen record (each cleaning change is one) went through
  the dataclasses' Python-level ``__getstate__``/``__setstate__``. For 1,000 articles
  that is 0.37 s of pickling in the workers and 0.50 s of unpickling in the parent, a
  third process on two cores, against about 3.2 s of reading. In all the pool spent
  about 40% more CPU than reading alone (600 sources: 13.0 s against 9.4 s).
- The machine. Two processes each reading half the sources, with nothing sent
  between them, also spend about 10% more CPU than one process reading all of them,
  and on a quiet machine they finished in 9.7 s each, not 7 s: the two virtual cores
  give this string-heavy work about 1.4 cores' worth. Forty per cent more work on
  1.4 cores is no gain.

Here the workers are forked with the sources in memory, so nothing is sent to them but
the positions of their share. The building process reads a share itself instead of
waiting. A worker sends back its results as one pickle without the sources (the parent
puts its own ``Source`` back into each ``Text``, so no copy of the bytes is held twice),
with its records pickled by columns of field values (``dumps``).
"""

from __future__ import annotations

import array
import copyreg
import io
import multiprocessing
import os
import pickle
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, is_dataclass
from operator import attrgetter
from typing import Any, BinaryIO

from .cache import SourceResult
from .config import Config
from . import collector, models
from .models import Article, Block, Change, Flag, Problem, Source, Text

# Each process reads this many sources at least: for fewer, starting a worker costs
# more than it saves.
PARALLEL_MIN_SOURCES = 64

# What a worker sends back for one source: the Text's fields but its source, the articles, the problems.
_Parcel = tuple[tuple[Block, ...], tuple[Change, ...], tuple[Flag, ...], tuple[Article, ...], tuple[Problem, ...]]

# The sources and config a forked worker inherited, set in the worker by ``_remember``.
_inherited: tuple[Sequence[Source], Config] | None = None


# Every record of the pipeline: a parcel holds some, the build's caches all of them.
_RECORDS = tuple(
    value for value in vars(models).values() if isinstance(value, type) and is_dataclass(value) and value.__module__ == models.__name__
)
# Each record class's slots, in field order: a loaded record's fields are written straight
# into them (see ``load``). Every record is a frozen dataclass with slots and no
# ``__post_init__``, so its fields are all its state and nothing is checked on the way in.
_SLOTS = {cls: tuple(vars(cls)[field.name] for field in fields(cls)) for cls in _RECORDS}
_FIELDS = {cls: tuple(attrgetter(field.name) for field in fields(cls)) for cls in _RECORDS}
_EMPTY = {cls: (copyreg.__newobj__, (cls,)) for cls in _RECORDS}


class _RecordPickler(pickle.Pickler):
    """Pickles each record as an empty instance of its class, noting it; ``dump`` then
    pickles the fields of the records noted, class by class, a column per field."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.noted: dict[type, list[Any]] = {}

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        empty = _EMPTY.get(cls)
        if empty is None:
            return NotImplemented
        noted = self.noted.get(cls)
        if noted is None:
            self.noted[cls] = [obj]
        else:
            noted.append(obj)
        return empty


# Values pickle writes in full wherever they stand, never as a reference to an earlier one.
_ATOMIC = (int, float, bool, type(None))


def _referable(known: Iterable[object]) -> list[object]:
    return [value for value in known if not isinstance(value, _ATOMIC)]


def _prologue(count: int) -> bytes:
    """A pickle that puts the reader's known objects 0 .. count - 1 into its memo, in order.

    Each is ``BINPERSID`` of its number (answered by ``persistent_load``), ``MEMOIZE``,
    ``POP``: eight bytes, laid out by strided copies rather than a loop.
    """
    entry = 8
    body = bytearray(entry * count)
    numbers = array.array("i", range(count))
    if sys.byteorder != "little":
        numbers.byteswap()
    packed = numbers.tobytes()
    body[0::entry] = b"J" * count  # BININT: a 4-byte little-endian number
    for offset in range(4):
        body[1 + offset :: entry] = packed[offset::4]
    body[5::entry] = b"Q" * count  # BINPERSID
    body[6::entry] = b"\x94" * count  # MEMOIZE
    body[7::entry] = b"0" * count  # POP
    return b"\x80\x05" + bytes(body) + b"N."


def dump(value: object, file: BinaryIO, known: Iterable[object] = ()) -> None:
    """Pickle ``value`` into ``file``, with its records (those of ``models``) by columns of field values.

    The stream is ``value`` itself, in which each record is an empty instance of its
    class (pickle's NEWOBJ, made in C), then batches of (class, its records, a column
    per field) until the records met in columns have all been written, then None.
    Loading a record so costs no Python call: a frozen dataclass's ``__init__`` (or its
    ``__setstate__``) took most of the time of loading 420,000 cleaning changes.
    A record must not be a dict key or a set member in ``value``: it is empty until its
    columns are read, and hashing it fails.

    ``known`` are objects the reader will have already (``load`` is given their
    counterparts, in the same order): wherever ``value`` holds one of them, the stream
    holds a reference to its place, read without a Python call.
    """
    known = _referable(known)
    pickler = _RecordPickler(file)
    file.write(pickle.dumps(len(known), protocol=pickle.HIGHEST_PROTOCOL))
    if known:
        file.write(_prologue(len(known)))
        # The reader's memo holds them at 0 .. len(known) - 1; so must the writer's. An
        # object known twice keeps its first place, and a stand-in takes the second, so
        # that the objects pickled next are numbered from len(known) on both sides.
        memo: dict[int, tuple[int, object]] = {}
        for number, obj in enumerate(known):
            if id(obj) in memo:
                obj = object()
            memo[id(obj)] = (number, obj)
        pickler.memo = memo
    pickler.dump(value)
    while pickler.noted:
        noted, pickler.noted = pickler.noted, {}
        # The records are pickled already: here they are references to them.
        pickler.dump(tuple((cls, tuple(records), tuple(tuple(map(read, records)) for read in _FIELDS[cls])) for cls, records in noted.items()))
    pickler.dump(None)


def dumps(value: object) -> bytes:
    """``dump`` into bytes."""
    buffer = io.BytesIO()
    dump(value, buffer)
    return buffer.getvalue()


def load(file: BinaryIO, known: Iterable[object] = ()) -> Any:
    """Unpickle what ``dump`` wrote, without the cyclic garbage collector: the records
    hold no cycles, and the collections it started while hundreds of thousands of them
    were made cost nearly a third of the time. ``known`` are the reader's counterparts
    of the objects ``dump`` was told of, in the same order.

    A stream cut short, or written with other known objects than those given, raises
    (EOFError, UnpicklingError) rather than returning records whose fields were never read.
    """
    known = _referable(known)
    with collector.paused():
        unpickler = pickle.Unpickler(file)
        if unpickler.load() != len(known):
            raise pickle.UnpicklingError("the pickle refers to other known objects than those given")
        if known:
            unpickler.persistent_load = known.__getitem__
            unpickler.load()
        value = unpickler.load()
        while (batch := unpickler.load()) is not None:
            for cls, records, columns in batch:
                for slot, column in zip(_SLOTS[cls], columns, strict=True):
                    # The slot's own setter: a frozen record refuses setattr, not its slots.
                    deque(map(slot.__set__, records, column), maxlen=0)
        return value


def loads(data: bytes) -> Any:
    """``load`` from bytes."""
    return load(io.BytesIO(data))


def _read(source: Source, config: Config) -> _Parcel:
    from .pipeline import read_source  # pipeline imports this module

    text, articles, problems = read_source(source, config)
    return text.blocks, text.changes, text.flags, articles, problems


def _remember(sources: Sequence[Source], config: Config) -> None:
    global _inherited
    _inherited = (sources, config)


def _read_share(positions: range) -> bytes:
    """In a worker: read the sources at these positions; their results as one pickle."""
    assert _inherited is not None, "worker started without its sources"
    sources, config = _inherited
    return dumps([_read(sources[i], config) for i in positions])


def _result(source: Source, parcel: _Parcel) -> SourceResult:
    blocks, changes, flags, articles, problems = parcel
    return Text(source=source, blocks=blocks, changes=changes, flags=flags), articles, problems


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def read_sources(sources: Sequence[Source], config: Config, *, workers: int | None = None) -> list[SourceResult]:
    """``pipeline.read_source`` of every source, in order, on ``workers`` processes
    (every core by default) when there are enough sources to pay for them.

    The results are equal to reading the sources one by one in this process.
    """
    count = min(workers or cores(), len(sources) // PARALLEL_MIN_SOURCES)
    if count < 2:
        return [_result(source, _read(source, config)) for source in sources]
    # Every count-th source to each process: neighbouring files are alike in length,
    # so the shares come out even without knowing what each costs.
    shares = [range(first, len(sources), count) for first in range(count)]
    methods = multiprocessing.get_all_start_methods()
    # Forked workers inherit the sources; where there is no fork they are sent once per worker.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    results: list[SourceResult | None] = [None] * len(sources)
    with ProcessPoolExecutor(max_workers=count - 1, mp_context=context, initializer=_remember, initargs=(sources, config)) as pool:
        pending = [(share, pool.submit(_read_share, share)) for share in shares[1:]]
        for i in shares[0]:
            results[i] = _result(sources[i], _read(sources[i], config))
        for share, future in pending:
            for i, parcel in zip(share, loads(future.result()), strict=True):
                results[i] = _result(sources[i], parcel)
    return [result for result in results if result is not None]
