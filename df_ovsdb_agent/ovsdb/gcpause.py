"""Pause Python's cyclic garbage collector over a dump's CPU-bound steps.

A full dump builds a few million acyclic containers that all survive
(the parse tree, then the replica and the interface states); the
collector's passes over them free nothing and took ~28% of the initial
sync's CPU at 10,000 interfaces (0.36 s -> 0.26 s).  Only CPU-bound steps
are wrapped, never a wait on the server, so the pause lasts as long as the
work; reference counting frees acyclic garbage meanwhile and the
collector runs as usual afterwards.

What the pause leaves behind: the first young collection after it walks
every container allocated during the pause that is still alive.  At
100,000 interfaces (gc.callbacks, thread time, load ~4.5) that is two
collections in the monitor thread, 39-51 ms each (~0.9 us per
interface): one after the dump's parse (the staged rows: an Interface
tuple, a Port tuple and its frozenset per interface; it untracks the
Interface tuples), one after ``on_synced``.  A library cannot make them
cheaper: str -> str dicts built by dict() are untracked already, but
CPython tracks every new tuple and frozenset and offers no call to
untrack one; a collection at another point of the pause walks the same
survivors, and one longer pause one collection over the same objects.
gc.freeze() before re-enabling removes both collections (measured: 0),
but it freezes every object of the process, the embedder's too: that is
for a daemon's entry point to decide, not for this module.
"""

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Disable automatic collection for the block, if it is enabled.

    Nested uses and an embedder that disabled the collector itself are
    left alone: only the outermost block that disabled it enables it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
