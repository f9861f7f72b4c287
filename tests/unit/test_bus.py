import subprocess
import sys
import textwrap
import threading
import time

import pytest

from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.events import SYNC_STARTED
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.snapshot import Snapshot
from tests.helpers import numbered_vm as vm
from tests.recorder import Recorder
from tests.recorder import replay_state


class Source:
    """Publishes state changes the way the agent does and keeps the truth."""

    def __init__(self, bus):
        self.bus = bus
        self.snapshot = Snapshot()

    @property
    def truth(self):
        return self.snapshot.copy()

    def set(self, uuid, new):
        for event in self.snapshot.apply({uuid: new}):
            self.bus.publish(event)


@pytest.fixture
def bus():
    bus = EventBus()
    yield bus
    bus.close(timeout=5)


def test_events_arrive_in_publish_order(bus):
    rec = Recorder()
    bus.subscribe(rec)
    src = Source(bus)
    for i in range(500):
        src.set('u%d' % i, vm(i))
    events = rec.wait_count(500)
    assert [e.uuid for e in events] == ['u%d' % i for i in range(500)]


def test_raising_subscriber_keeps_receiving_and_others_unaffected(bus):
    seen = []

    def flaky(event):
        seen.append(event)
        if len(seen) % 2:
            raise RuntimeError('subscriber bug')

    sub = bus.subscribe(flaky, name='flaky')
    rec = Recorder()
    bus.subscribe(rec)
    src = Source(bus)
    for i in range(10):
        src.set('u%d' % i, vm(i))
    rec.wait_count(10)
    assert sub.wait_idle(5)
    assert len(seen) == 10
    assert sub.errors == 5


def test_slow_subscriber_blocks_neither_publisher_nor_others(bus):
    gate = threading.Event()
    slow_events = []

    def slow(event):
        gate.wait()
        slow_events.append(event)

    slow_sub = bus.subscribe(slow, name='slow')
    fast = Recorder()
    bus.subscribe(fast, name='fast')
    src = Source(bus)
    changes = 0
    started = time.monotonic()
    for round_ in range(100):
        for i in range(100):
            src.set('u%d' % i, vm(i, ofport=round_ + 1) if round_ % 3 != 2
                    else None)
            changes += 1
    publish_time = time.monotonic() - started
    # Memory bound: one entry per interface (+2 markers), however far behind.
    assert slow_sub.backlog <= 100 + 2
    fast_events = fast.wait_for(
        lambda evs: replay_state(evs) == src.truth and len(evs) >= 100)
    assert replay_state(fast_events) == src.truth
    gate.set()
    assert slow_sub.wait_idle(10)
    # Nothing lost: the slow subscriber converges to the same truth, with a
    # consistent per-interface history.
    assert replay_state(slow_events) == src.truth
    assert len(slow_events) < len(fast_events)
    assert publish_time < 5, 'publishing %d changes took %.1fs' % (
        changes, publish_time)


def test_coalesced_flap_is_invisible_to_a_late_subscriber(bus):
    gate = threading.Event()
    rec = Recorder()

    def blocked(event):
        gate.wait()
        rec(event)

    sub = bus.subscribe(blocked)
    src = Source(bus)
    src.set('u0', vm(0))          # delivered first (worker picks it up)
    src.set('u1', vm(1))          # pending ...
    src.set('u1', None)           # ... and gone again: net nothing
    src.set('u0', vm(0, 5))       # updated
    gate.set()
    assert sub.wait_idle(5)
    assert rec.summary() in ([('vm', 'online', 'tap0'),
                              ('vm', 'updated', 'tap0')],
                             [('vm', 'online', 'tap0')])
    assert replay_state(rec.events) == src.truth


def test_sync_markers_merge_when_behind(bus):
    gate = threading.Event()
    rec = Recorder()

    def blocked(event):
        gate.wait()
        rec(event)

    sub = bus.subscribe(blocked)
    src = Source(bus)
    bus.publish(SYNC_STARTED)
    for round_ in range(50):
        bus.publish(SYNC_STARTED)
        src.set('u0', vm(0, round_ + 1))
        bus.publish(SYNC_FINISHED)
    assert sub.backlog <= 3
    gate.set()
    assert sub.wait_idle(5)
    markers = [e.sync.value for e in rec.events if isinstance(e, SyncEvent)]
    assert markers[-1] == 'finished'
    assert markers.count('finished') == 1
    assert replay_state(rec.events) == src.truth


def test_filters_by_kind_and_action(bus):
    rec = Recorder()
    bus.subscribe(rec, kinds=['patch'], actions=[Action.OFFLINE])
    everything = Recorder()
    bus.subscribe(everything)
    src = Source(bus)
    patch = Interface(Kind.PATCH, 'p', 'up', 1, peer='q')
    # One change at a time, every subscriber caught up before the next:
    # changes still pending for a subscriber would be coalesced.
    for uuid, new in [('u0', vm(0)), ('up', patch), ('u0', None),
                      ('up', None)]:
        src.set(uuid, new)
        assert bus.wait_idle(5)
    assert len(everything.events) == 4
    assert rec.summary() == [('patch', 'offline', 'p')]


def test_unsubscribe_stops_delivery(bus):
    rec = Recorder()
    sub = bus.subscribe(rec)
    other = Recorder()
    bus.subscribe(other)
    bus.unsubscribe(sub)
    Source(bus).set('u0', vm(0))
    other.wait_count(1)
    assert rec.events == []
    assert sub not in bus.subscriptions


def test_bad_filter_value_is_rejected(bus):
    with pytest.raises(ValueError):
        bus.subscribe(print, kinds=['router'])


def test_bus_under_eventlet_monkey_patching():
    code = textwrap.dedent('''
        import warnings
        warnings.simplefilter('ignore')
        import eventlet
        eventlet.monkey_patch()
        import time
        from df_ovsdb_agent.bus import EventBus
        from df_ovsdb_agent.events import Action, Interface, InterfaceEvent
        from df_ovsdb_agent.events import Kind
        bus = EventBus()
        got = []
        slow_got = []
        bus.subscribe(got.append)
        bus.subscribe(lambda e: (time.sleep(0.001), slow_got.append(e)))
        for i in range(200):
            bus.publish(InterfaceEvent(
                Action.ONLINE, Interface(Kind.VM, 't', 'u%d' % i, 1)))
        assert bus.wait_idle(10)
        assert [e.uuid for e in got] == ['u%d' % i for i in range(200)]
        assert len(slow_got) == 200
        print('ok')
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == 'ok', out.stderr


def test_bridges_filter_is_a_view(bus):
    src = Source(bus)
    rec = Recorder()
    bus.subscribe(rec, bridges=['br-int'])

    def on(bridge, ofport=1):
        return Interface(Kind.VM, 'tap1', 'u1', ofport, bridge=bridge,
                         iface_id='p')

    src.set('u1', on('br-ex'))          # not in view: nothing
    src.set('u1', on('br-int'))         # moved in: online
    rec.wait_count(1)
    src.set('u1', on('br-int', 2))      # changed in view: updated
    rec.wait_count(2)
    src.set('u1', on('br-ex', 2))       # moved out: offline
    rec.wait_count(3)
    src.set('u2', Interface(Kind.VM, 'tap2', 'u2', 3, bridge='br-int',
                            iface_id='q'))
    rec.wait_count(4)
    assert [(e.action.value, e.uuid, e.interface.bridge)
            for e in rec.events] == [
        ('online', 'u1', 'br-int'), ('updated', 'u1', 'br-int'),
        ('offline', 'u1', 'br-int'), ('online', 'u2', 'br-int')]
