"""Subscribers cannot hurt the agent or each other.

Against a real ovsdb-server: one subscriber raises on every event, one
blocks for seconds, and bursts of 10,000 changes arrive.  The monitor keeps
up, a healthy subscriber stays on time, the blocked one's backlog stays
bounded (one entry per interface) and, once it wakes, it converges to the
truth without duplicates; nothing is lost anywhere.
"""

import threading
import time

from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.testing.rpc import Client as Rpc
from tests.functional.audit import Audit
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import db_truth
from tests.functional.ovsdb_ops import delete_ports_ops
from tests.functional.ovsdb_ops import port_uuids
from tests.functional.ovsdb_ops import set_ofport_op

BURST = 10000


class Tally:
    """A fast subscriber that audits events as they come.

    O(1) memory per interface: storing 45,000 events would blur the RSS
    figures.
    """

    def __init__(self):
        self.audit = Audit([])
        self.count = 0
        self.last = {}
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.audit.add(event)
            if isinstance(event, InterfaceEvent):
                self.count += 1
                self.last[event.name] = (event.action.value,
                                         time.monotonic())
            self._cond.notify_all()

    def wait_count(self, count, timeout):
        with self._cond:
            assert self._cond.wait_for(lambda: self.count >= count,
                                       timeout), (self.count, count)
        return time.monotonic()

    def wait_name(self, name, action, timeout=10):
        with self._cond:
            assert self._cond.wait_for(
                lambda: self.last.get(name, ('',))[0] == action, timeout)
            return self.last[name][1]


def _rss_mb():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return 0.0


def test_raising_blocking_and_a_10k_burst(ovsdb, make_agent, caplog):
    # 45,000 logged subscriber failures would sit in pytest's log capture;
    # the failures are counted on the subscription instead.
    caplog.set_level('CRITICAL', logger='df_ovsdb_agent.bus')
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(*add_bridge_ops('br-int'))
    agent = make_agent(ovsdb.remote, probe_interval=5000)

    def boom(event):
        raise RuntimeError('a subscriber bug')
    gate = threading.Event()
    blocked = threading.Event()

    def slow(event):
        blocked.set()
        gate.wait(60)
    fast = Tally()
    woke = Tally()   # behind the blocked callback
    boom_sub = agent.subscribe(boom, name='boom')
    slow_sub = agent.subscribe(lambda e: (slow(e), woke(e)), name='slow')
    agent.subscribe(fast, name='fast')
    agent.start()
    assert blocked.wait(5)  # "slow" now sits in its first callback

    rpc = Rpc(ovsdb.unix_remote, timeout=60)
    try:
        # Burst 1: 10,000 VM ports in one transaction.
        began = time.monotonic()
        rpc.transact(*add_ports_ops(
            'br-int', ['tap%d' % i for i in range(BURST)], lambda i: i + 1),
            timeout=60)
        committed = time.monotonic() - began
        done = fast.wait_count(BURST, timeout=60)
        keep_up = done - began
        assert len(agent.interfaces()) == BURST
        backlogs = [slow_sub.backlog]

        # A single change is still delivered promptly to "fast".
        sent = time.monotonic()
        rpc.transact(set_ofport_op('tap0', 65000))
        latency = fast.wait_name('tap0', 'updated') - sent
        assert latency < 1.0, latency

        # Bursts 2-4: re-number every port three times, then remove half.
        rss = [_rss_mb()]
        expected = fast.count
        for round_ in range(3):
            rpc.transact({'op': 'update', 'table': 'Interface',
                          'where': [['name', '!=', 'br-int']],
                          'row': {'ofport': 20000 + round_}}, timeout=60)
            expected += BURST
            fast.wait_count(expected, timeout=60)
            backlogs.append(slow_sub.backlog)
            rss.append(_rss_mb())
        ports = port_uuids(rpc, 'br-int')
        rpc.transact(*delete_ports_ops(
            'br-int', [ports['tap%d' % i] for i in range(0, BURST, 2)]),
            timeout=60)
        expected += BURST // 2
        fast.wait_count(expected, timeout=60)
        backlogs.append(slow_sub.backlog)
    finally:
        rpc.close()

    # Bounded: one entry per interface (+2 sync markers), however many
    # changes piled up behind the blocked callback.
    assert max(backlogs) <= BURST + 2, backlogs
    # Re-numbering 30,000 times must not have queued 30,000 events.
    assert rss[-1] - rss[0] < 40, rss

    gate.set()
    assert agent.bus.wait_idle(60)
    truth = db_truth(ovsdb.unix_remote)
    assert len(truth) == BURST // 2
    for name, audit in (('fast', fast.audit), ('slow', woke.audit)):
        assert (audit.duplicates, audit.orphans) == (0, 0), name
        assert audit.misses(truth) == [], name
    # The blocked subscriber got the net changes, not every step.
    assert woke.count < fast.count
    # The raising one was called for everything and keeps going.
    assert boom_sub.errors == boom_sub.delivered
    assert boom_sub.errors >= fast.count
    print('\nBURST %d rows: commit %.2fs, all online events delivered %.2fs '
          'after the commit began; single-change latency %.3fs while a '
          'subscriber was blocked; blocked backlog max %d; fast got %d '
          'events, the blocked one %d after waking; raising one failed %d '
          'times; RSS %s MB'
          % (BURST, committed, keep_up, latency, max(backlogs), fast.count,
             woke.count, boom_sub.errors, ['%.0f' % r for r in rss]))
