"""Pause Python's cyclic garbage collector over a dump's CPU-bound steps.

A full dump builds a few million acyclic containers that all survive
(the parse tree, then the replica and the interface states); the
collector's passes over them free nothing and took ~28% of the initial
sync's CPU at 10,000 interfaces (0.36 s -> 0.26 s).  Only CPU-bound steps
are wrapped, never a wait on the server, so the pause lasts as long as the
work; reference counting frees acyclic garbage meanwhile and the
collector runs as usual afterwards.

What the pause leaves behind: every container allocated during it that is
still alive sits in the youngest generation (a dump's parse leaves ~4 per
interface, the sync ~1).  The first young collection after the pause
walks them all, a middle collection walks them again, and as new
long-lived objects they bring a full collection forward.  CPython tracks
every new tuple and frozenset and offers no call to untrack one.

So a pause that leaves at least ``PROMOTE_AFTER`` young containers ends
with ``gc.freeze(); gc.unfreeze()``: on CPython 3.10-3.13 (GIL builds;
``gcmodule.c`` / ``gc.c``) that splices every generation onto the
permanent one and back onto the oldest, walking nothing, and zeroes the
generations' counts; the count of objects awaiting a full collection is
not touched, so full collections do not come sooner.  Nothing stays
frozen.  Measured (gc.callbacks, thread time, one sync from ``Agent()``
to ``sync finished``): the collections went from 7.1-8.6 ms to 0.1 ms at
10,000 interfaces and from 102-118 ms to 0.1-0.2 ms at 100,000 (~1 us per
interface); without it, 500,000 survivors also brought a full collection
(78-103 ms) ~92,000 allocations after the pause.

The price, process-wide: cyclic garbage that is young when a big pause
ends (the embedder's included) is freed at the next full collection
instead of the next young one: in a loop making only cyclic garbage, not
within 20 million allocations; with 1% of its allocations kept, after 10
million.  Skipped, so that nothing someone else froze is ever unfrozen,
once ``gc.get_freeze_count()`` was not 0 (it walks the frozen objects,
29 ms for a million, so it is asked until then only: free while nothing
is frozen); on 3.14+ (incremental collector: its old
generation is scanned in increments anyway) and free-threaded builds (the
two calls walk the whole heap).  A thread calling ``gc.freeze()`` in the
few bytecodes between that check and the two calls would see its objects
unfrozen: freezing is an entry point's one-time decision, made before
threads such as the agent's run.
"""

import contextlib
import gc
import sys
from typing import Iterator

#: Young containers a pause must leave behind to be promoted (measured:
#: a dump's parse leaves ~4 per interface, the sync ~1, an update's parse
#: a few hundred); walking 5,000 costs a young collection ~0.5 ms.
PROMOTE_AFTER = 5000


def _promotes() -> bool:
    """Whether freeze()/unfreeze() were read to be O(1) generation
    splices on this interpreter.
    """
    version = sys.version_info[:2]
    if version == (3, 13):
        # The first release with free-threaded builds.  sysconfig only
        # here: importing it and reading its data costs ~2 ms at start.
        import sysconfig
        return not sysconfig.get_config_var('Py_GIL_DISABLED')
    return (3, 10) <= version < (3, 13)


_PROMOTES = _promotes()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Disable automatic collection for the block, if it is enabled.

    Nested uses and an embedder that disabled the collector itself are
    left alone: only the outermost block that disabled it enables it,
    after promoting what a big block left young (see the module).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if _PROMOTES and gc.get_count()[0] >= PROMOTE_AFTER:
            promote_young()
        gc.enable()


# Set once objects frozen by someone else were seen: never promote again
# in this process (get_freeze_count() walks them: 29 ms for a million).
_others_freeze = False


def promote_young() -> bool:
    """Move every tracked object to the oldest generation without walking
    it, unless some objects are or were frozen (never unfreeze another's).

    Returns whether it did.
    """
    global _others_freeze
    if _others_freeze:
        return False
    if gc.get_freeze_count():
        _others_freeze = True
        return False
    gc.freeze()
    gc.unfreeze()
    return True
