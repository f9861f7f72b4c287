"""Duplicate iface-ids among online VM interfaces."""

from df_ovsdb_agent.conflicts import IfaceIdIndex
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from tests import helpers


def vm(name, iface_id):
    return helpers.vm(name, iface_id=iface_id)


def states(events):
    return dict(events)


def ev(action, interface):
    # The index follows states (uuid -> Interface, None: offline).
    return interface.uuid, None if action == 'offline' else interface


def test_second_vm_with_an_iface_id_starts_a_conflict_once():
    index = IfaceIdIndex()
    assert index.apply(states([ev('online', vm('tap1', 'p1'))])) == []
    assert index.apply(states([ev('online', vm('tap2', 'p1'))])) == [
        [vm('tap1', 'p1'), vm('tap2', 'p1')]]
    assert index.conflicts == 1
    # A third one is still the same conflict, not a new warning.
    assert index.apply(states([ev('online', vm('tap3', 'p1'))])) == []
    assert index.apply(states([ev('offline', vm('tap3', 'p1')),
                               ev('offline', vm('tap2', 'p1'))])) == []
    assert index.conflicts == 0


def test_update_moving_the_iface_id_is_followed():
    index = IfaceIdIndex()
    index.apply(states([ev('online', vm('tap1', 'p1')),
                        ev('online', vm('tap2', 'p2'))]))
    assert index.apply(states([ev('updated', vm('tap2', 'p1'))])) == [
        [vm('tap1', 'p1'), vm('tap2', 'p1')]]
    assert index.apply(states([ev('updated', vm('tap2', 'p3'))])) == []
    assert index.conflicts == 0


def test_non_vm_kinds_are_ignored():
    index = IfaceIdIndex()
    patch = Interface(Kind.PATCH, 'p', 'u', 1, peer='q')
    assert index.apply(states([ev('online', patch),
                               ev('online', vm('t', 'x'))])) == []
    assert index.conflicts == 0
