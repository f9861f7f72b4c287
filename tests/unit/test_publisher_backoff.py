"""The writer's retry delay after a failure: adapted to how long the
failed attempt took, capped by max_backoff and by the time the liveness
has left.
"""

import threading
import time

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.publishers.writer import MIN_RETRY
from df_ovsdb_agent.publishers.writer import Writer
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import MemoryStore


class SlowFailingStore(MemoryStore):
    """Connecting fails after ``took`` seconds (a store that times out)."""

    def __init__(self, took):
        super().__init__()
        self.took = took

    def connect(self):
        # The store's slowness, simulated: what the writer measures.
        time.sleep(self.took)
        raise ConnectionError('no answer in %ss' % self.took)


def writer(ttl=0, max_backoff=10.0):
    store = MemoryStore()
    store.ttl = ttl
    return Writer(store, lambda: instance(), max_backoff=max_backoff)


def delays(w, elapsed, failures, n=200):
    """Delays after the ``failures``-th failure in a row of ``elapsed`` s."""
    found = []
    for _ in range(n):
        w._streak = failures
        w._backoff.reset()
        found.append(w._delay(elapsed))
    return found


def test_a_fast_failure_keeps_the_plain_backoff():
    w = writer()
    found = delays(w, 0.001, 1)
    # The decorrelated backoff's first delay: between 0.1 and 0.3 s.
    assert all(0.1 <= d <= 0.3 for d in found)


def test_a_slow_failure_waits_part_of_what_it_took_doubled_per_failure():
    w = writer()
    first = delays(w, 4.0, 1)
    assert all(1.0 <= d <= 2.0 for d in first)
    assert max(first) - min(first) > 0.3  # jittered: no lockstep
    third = delays(w, 2.0, 3)
    assert all(2.0 <= d <= 4.0 for d in third)
    # Never over max_backoff, however long the outage.
    assert all(d <= 10.0 for d in delays(w, 5.0, 40))
    assert max(delays(w, 5.0, 40)) == 10.0


def test_the_time_left_still_caps_a_slow_failures_delay():
    w = writer(ttl=8)
    w._refreshed = time.monotonic() - 6.0  # 2 s left
    assert all(MIN_RETRY <= d <= 0.5 for d in delays(w, 3.0, 4))
    # Past the TTL: the adapted delay again.
    w._refreshed = time.monotonic() - 9.0
    assert all(3.0 <= d <= 6.0 for d in delays(w, 3.0, 3))


def test_writer_measures_each_failed_attempt_and_counts_them_in_a_row():
    store = SlowFailingStore(0.2)
    seen = _failures(store, 3, [SyncEvent(Sync.FINISHED)])
    assert [streak for streak, _ in seen[:3]] == [1, 2, 3]
    assert all(elapsed >= 0.2 for _, elapsed in seen)


class SlowThenFailingStore(MemoryStore):
    """Connecting and reading take ``ok`` seconds each and succeed; the
    write, sent after them, fails after ``took`` seconds.  Each marks
    when its request was sent, as the real stores do.
    """

    def __init__(self, ok, took):
        super().__init__()
        self.ok = ok
        self.took = took

    def connect(self):
        self.sent = time.monotonic()
        time.sleep(self.ok)

    def read_state(self):
        self.sent = time.monotonic()
        time.sleep(self.ok)
        return super().read_state()

    def apply(self, write):
        self.sent = time.monotonic()
        time.sleep(self.took)
        raise TimeoutError('no answer in %ss' % self.took)


def _failures(store, count, events):
    """(failures in a row, elapsed) the writer's delay was asked for, for
    its first ``count`` failed attempts to write ``events`` to ``store``.
    """
    w = Writer(store, lambda: instance(), max_backoff=10.0)
    seen = []
    done = threading.Event()

    def record(elapsed=0.0):
        seen.append((w._streak, elapsed))
        if len(seen) >= count:
            done.set()
        return 0.01

    w._delay = record
    for event in events:
        w.offer(event)
    w.start()
    try:
        assert done.wait(10)
    finally:
        w.stop(1.0)
    return seen


def _elapsed_of_failures(store, count=2):
    return [elapsed for _, elapsed in _failures(store, count, [
        InterfaceEvent(Action.ONLINE, Interface(Kind.VM, 'tap1', 'u1', 1)),
        SyncEvent(Sync.FINISHED)])]


def test_only_the_failed_request_is_timed_not_the_attempt():
    # 0.6 s of requests that went well, then one that timed out after
    # 0.2 s: the delay is adapted to 0.2 s, as after a lone timeout.
    seen = _elapsed_of_failures(SlowThenFailingStore(ok=0.3, took=0.2))
    assert all(0.2 <= elapsed < 0.5 for elapsed in seen), seen


def test_a_fast_failure_after_slow_successes_is_fast():
    seen = _elapsed_of_failures(SlowThenFailingStore(ok=0.3, took=0.0))
    assert all(elapsed < 0.25 for elapsed in seen), seen
