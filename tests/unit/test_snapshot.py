from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.snapshot import diff
from df_ovsdb_agent.snapshot import Snapshot


def vm(uuid, ofport=1, iface_id='x'):
    return Interface(Kind.VM, 'tap-' + uuid, uuid, ofport, iface_id=iface_id)


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
