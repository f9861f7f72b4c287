from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.snapshot import diff
from df_ovsdb_agent.snapshot import Snapshot
from tests.helpers import uuid_vm as vm


def actions(events):
    return sorted((e.action.value, e.uuid) for e in events)


def test_diff_unchanged_gives_nothing():
    state = {u: vm(u) for u in 'abc'}
    assert diff(state, dict(state)) == []


def test_diff_vanished_new_and_changed():
    old = {'a': vm('a'), 'b': vm('b'), 'c': vm('c')}
    new = {'b': vm('b'), 'c': vm('c', ofport=9), 'd': vm('d')}
    assert actions(diff(old, new)) == [('offline', 'a'), ('online', 'd'),
                                       ('updated', 'c')]


def test_diff_puts_offline_first():
    events = diff({'a': vm('a')}, {'b': vm('b')})
    assert [e.action for e in events] == [Action.OFFLINE, Action.ONLINE]


def test_snapshot_apply_and_replace():
    snap = Snapshot()
    assert actions(snap.apply({'a': vm('a')})) == [('online', 'a')]
    assert snap.apply({'a': vm('a')}) == []
    assert actions(snap.apply({'a': vm('a', 2)})) == [('updated', 'a')]
    assert actions(snap.apply({'b': None})) == []
    assert len(snap) == 1
    assert actions(snap.replace({'b': vm('b')})) == [
        ('offline', 'a'), ('online', 'b')]
    assert [i.uuid for i in snap] == ['b']
    assert snap.get('b') == vm('b')
    assert actions(snap.apply({'b': None})) == [('offline', 'b')]
    assert len(snap) == 0


def test_snapshot_batch_is_offline_first():
    snap = Snapshot({'old': vm('old')})
    new = Interface(Kind.VM, 'tap-old', 'new', 1, iface_id='x')
    events = snap.apply({'new': new, 'old': None})
    assert [(e.action, e.uuid) for e in events] == [
        (Action.OFFLINE, 'old'), (Action.ONLINE, 'new')]


def test_snapshot_restored_state_diffs_exactly():
    restored = {'a': vm('a'), 'b': vm('b'), 'c': vm('c')}
    snap = Snapshot(restored)
    current = {'b': vm('b'), 'c': vm('c', ofport=7), 'd': vm('d')}
    assert actions(snap.replace(current)) == [
        ('offline', 'a'), ('online', 'd'), ('updated', 'c')]


def test_updated_events_say_what_changed():
    snap = Snapshot({'a': vm('a')})
    [event] = snap.apply({'a': vm('a', ofport=2, iface_id='y')})
    assert event.action is Action.UPDATED
    assert event.changed == {'ofport', 'iface_id'}
    [event] = snap.replace({'a': vm('a', ofport=3, iface_id='y')})
    assert event.changed == {'ofport'}
    [online] = snap.apply({'b': vm('b')})
    [offline] = snap.apply({'b': None})
    assert online.changed == offline.changed == frozenset()


def test_coalesced_update_names_every_attribute_changed_since_told():
    from df_ovsdb_agent.bus import EventBus
    import threading
    got, release, first = [], threading.Event(), threading.Event()

    def slow(event):
        got.append(event)
        first.set()
        release.wait(10)

    bus = EventBus()
    sub = bus.subscribe(slow, current={'a': vm('a')})
    bus.publish_many(diff({'a': vm('a')}, {'a': vm('a', ofport=2)}))
    assert first.wait(10)  # the subscriber holds the first update
    bus.publish_many(diff({'a': vm('a', ofport=2)},
                          {'a': vm('a', ofport=2, iface_id='y')}))
    bus.publish_many(diff({'a': vm('a', ofport=2, iface_id='y')},
                          {'a': vm('a', ofport=4, iface_id='y')}))
    release.set()
    assert sub.wait_idle(10)
    bus.close(5)
    assert [e.changed for e in got] == [{'ofport'}, {'ofport', 'iface_id'}]
