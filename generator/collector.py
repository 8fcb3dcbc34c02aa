"""Python's cyclic garbage collector: paused around work that makes many objects and no
cycle, and running again inside such work where cycles may be left."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector off for the block, then as it was.

    For work that makes hundreds of thousands of containers and no reference cycle
    (records, plans, unpickled memos): the collector would walk the young ones again
    and again as they are made, while reference counting frees them all anyway.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def running() -> Iterator[None]:
    """The cyclic collector on for the block, then as it was: for work inside ``paused``
    that may leave cycles (pages rendered by the thousand through templates)."""
    enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()
