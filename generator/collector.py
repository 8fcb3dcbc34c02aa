"""Python's cyclic garbage collector, paused around work that makes many objects and no cycle."""

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
