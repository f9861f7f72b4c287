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


def _slow_and_fast(bus):
    """A subscriber held at a gate and one that is not: (gate, the slow
    one's events, its subscription, the fast Recorder).
    """
    gate = threading.Event()
    slow_events = []

    def slow(event):
        gate.wait()
        slow_events.append(event)

    slow_sub = bus.subscribe(slow, name='slow')
    fast = Recorder()
    bus.subscribe(fast, name='fast')
    return gate, slow_events, slow_sub, fast


def test_slow_subscriber_blocks_neither_publisher_nor_others(bus):
    gate, slow_events, slow_sub, fast = _slow_and_fast(bus)
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


def _drain(sub):
    """Everything a not-started subscription would deliver, in order."""
    events = []
    while sub.backlog:
        events.extend(sub._take())
    return events


def _random_batches(rng, count):
    kinds = [Kind.VM, Kind.PATCH]
    for _ in range(count):
        batch = {}
        for uuid in rng.sample(['u%d' % i for i in range(12)],
                               rng.randrange(1, 6)):
            if rng.random() < 0.3:
                batch[uuid] = None
            else:
                batch[uuid] = Interface(
                    rng.choice(kinds), 'tap-' + uuid, uuid,
                    rng.randrange(1, 4), bridge=rng.choice(['br-int', 'x']),
                    iface_id='p', peer='q')
        yield batch


@pytest.mark.parametrize('seed', range(30))
def test_states_and_events_give_every_subscriber_the_same(seed, monkeypatch):
    # The agent publishes states (publish_states); embedders may publish
    # events (publish_many).  A subscriber must not tell them apart, with
    # or without filters, however far behind it is (small chunks make the
    # offline-first reordering and coalescing matter).
    import random

    from df_ovsdb_agent import bus as bus_lib
    from df_ovsdb_agent.bus import Subscription
    monkeypatch.setattr(bus_lib, 'BATCH', 3)
    rng = random.Random(seed)
    filters = [dict(kinds=None, actions=None, bridges=None),
               dict(kinds=frozenset([Kind.VM]), actions=None,
                    bridges=None),
               dict(kinds=None, actions=frozenset([Action.OFFLINE]),
                    bridges=None),
               dict(kinds=None, actions=None,
                    bridges=frozenset(['br-int']))]
    by_events = [Subscription(print, name='e', **f) for f in filters]
    by_states = [Subscription(print, name='s', **f) for f in filters]
    events_source, states_source = Snapshot(), Snapshot()
    for step, batch in enumerate(_random_batches(rng, 40)):
        events = events_source.apply(batch)
        states = states_source.commit(batch)
        for sub in by_events:
            sub.offer_many(events + ([SYNC_FINISHED] if step % 7 == 6
                                     else []))
        for sub in by_states:
            sub.offer_states(states, SYNC_FINISHED.sync if step % 7 == 6
                             else None)
        if rng.random() < 0.4:  # sometimes a subscriber catches up
            for a, b in zip(by_events, by_states):
                assert _drain(a) == _drain(b)
    for a, b in zip(by_events, by_states):
        assert _drain(a) == _drain(b)
    assert events_source.copy() == states_source.copy()


def test_states_path_converges_for_a_slow_subscriber(bus):
    gate, slow_events, slow_sub, fast = _slow_and_fast(bus)
    (fast_sub,) = [s for s in bus.subscriptions if s.name == 'fast']
    snapshot = Snapshot()
    for round_ in range(50):
        bus.publish_states(snapshot.commit(
            {'u%d' % i: vm(i, ofport=round_ + 1) if (round_ + i) % 3
             else None for i in range(100)}))
        # The fast one keeps up by construction: 50 rounds can now be
        # published within one thread switch interval (5 ms), and then
        # it coalesced as much as the gated one.
        assert fast_sub.wait_idle(10)
    assert slow_sub.backlog <= 100 + 2
    fast.wait_for(lambda evs: replay_state(evs) == snapshot.copy())
    gate.set()
    assert slow_sub.wait_idle(10)
    assert replay_state(slow_events) == snapshot.copy()
    assert len(slow_events) < len(fast.events)


def test_replay_then_states(bus):
    current = {'u%d' % i: vm(i) for i in range(3)}
    rec = Recorder()
    bus.subscribe(rec, current=current, replay=True, synced=True)
    snapshot = Snapshot(current)
    bus.publish_states(snapshot.commit({'u0': None, 'u1': vm(1, 7)}))
    events = rec.wait_count(6)
    assert [str(e).split(' uuid=')[0] for e in events] == [
        'vm online tap0 ofport=1 bridge=None',
        'vm online tap1 ofport=1 bridge=None',
        'vm online tap2 ofport=1 bridge=None',
        'sync finished',
        'vm offline tap0 ofport=1 bridge=None',
        'vm updated tap1 ofport=7 bridge=None']
    assert events[-1].changed == {'ofport'}


def test_states_are_told_offline_first_within_a_chunk():
    from df_ovsdb_agent.bus import Subscription
    sub = Subscription(print, None, None, 'x')
    old = Interface(Kind.VM, 'tap1', 'old', 1, iface_id='p')
    sub.assume({'old': old, 'u2': vm(2), 'u3': vm(3)})
    new = Interface(Kind.VM, 'tap1', 'new', 1, iface_id='p')
    patch = Interface(Kind.PATCH, 'tap3', 'u3', 1, peer='q')
    # Whatever the batch's order: a name is never online twice at once.
    sub.offer_states({'new': new, 'u3': patch, 'u2': vm(2, 9),
                      'old': None})
    assert [(e.action.value, e.uuid, e.kind.value) for e in _drain(sub)] \
        == [('offline', 'u3', 'vm'), ('offline', 'old', 'vm'),
            ('updated', 'u2', 'vm'), ('online', 'new', 'vm'),
            ('online', 'u3', 'patch')]


@pytest.mark.parametrize('seed', range(20))
def test_all_new_shortcut_gives_the_stepwise_events(seed):
    # A chunk of states all new to a subscriber (a first sync) skips the
    # step-by-step rules: the events and what it was told must be the
    # same as the steps give, with or without filters.
    import random

    from df_ovsdb_agent.bus import Subscription
    rng = random.Random(seed)
    kinds = rng.choice([None, frozenset([Kind.VM])])
    actions = rng.choice([None, frozenset([Action.ONLINE])])
    fast = Subscription(print, kinds, actions, 'fast')
    slow = Subscription(print, kinds, actions, 'slow')
    stepwise = []
    steps = fast._steps
    fast._steps = lambda chunk: stepwise.append(1) or steps(chunk)
    chunks = [{'n%d-%d' % (c, i): Interface(
        rng.choice([Kind.VM, Kind.PATCH]), 'tap%d' % i, 'n%d-%d' % (c, i),
        i + 1, 'br-int', 'p%d' % i, peer='q') for i in range(20)}
        for c in range(3)] + list(_random_batches(rng, 20))
    for chunk in chunks:
        expected = [e for e in slow._steps(chunk) if slow._wants(e)]
        assert fast._events_for(chunk) == expected
        assert list(fast._known.items()) == list(slow._known.items())
    assert 3 <= len(chunks) - len(stepwise) < len(chunks)


def test_chunks_keep_their_order_across_the_backlog_copy():
    # A backlog taken chunk by chunk is copied once as much was taken as
    # is left (deleted slots made every take walk them); offers between
    # takes move keys to the end.  Every chunk must be that of a plain
    # ordered backlog (the model below), whatever copies happened.
    import random

    from df_ovsdb_agent.bus import BATCH
    from df_ovsdb_agent.bus import Subscription
    rng = random.Random(7)
    sub = Subscription(print, None, None, 'n')
    model: dict = {}   # uuid -> latest state, in backlog order
    told: dict = {}    # what the subscriber was told
    snapshot = Snapshot()
    takes = 0
    for round_ in range(40):
        batch = {}
        for i in rng.sample(range(8 * BATCH),
                            rng.randrange(BATCH, 6 * BATCH)):
            batch['u%d' % i] = None if rng.random() < 0.2 \
                else vm(i, ofport=round_ + 1)
        changed = snapshot.commit(batch)
        sub.offer_states(changed)
        for uuid, state in changed.items():
            model.pop(uuid, None)
            model[uuid] = state
        for _ in range(rng.randrange(1, 8) if round_ < 39 else 10 ** 6):
            if not sub.backlog:
                break
            got = [(e.action, e.uuid) for e in sub._take()]
            takes += 1
            offline, updated, online = [], [], []
            for uuid in list(model)[:BATCH]:
                new, old = model.pop(uuid), told.get(uuid)
                if new is None:
                    if old is not None:
                        offline.append((Action.OFFLINE, uuid))
                        del told[uuid]
                elif old is None:
                    online.append((Action.ONLINE, uuid))
                    told[uuid] = new
                elif old != new:
                    updated.append((Action.UPDATED, uuid))
                    told[uuid] = new
            # Offline first within a chunk, each part in backlog order.
            assert got == offline + updated + online, takes
            assert sub.backlog == len(model)
    assert not model and told == snapshot.copy()
    assert takes > 100
