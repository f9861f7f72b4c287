"""The keyed-state primitive: transitions, batches, offline-first order."""

import pytest

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import identity
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.state import Change
from df_ovsdb_agent.state import diff
from df_ovsdb_agent.state import KeyedState
from df_ovsdb_agent.state import transition

A = Interface(Kind.VM, 'tap1', 'u1', 1, iface_id='x')
A2 = Interface(Kind.VM, 'tap1', 'u1', 2, iface_id='x')
A_PATCH = Interface(Kind.PATCH, 'tap1', 'u1', 1, peer='p')
B_SAME_NAME = Interface(Kind.VM, 'tap1', 'u2', 1, iface_id='x')


@pytest.mark.parametrize('old,new,expected', [
    (None, None, []),
    (None, A, [(Action.ONLINE, A)]),
    (A, None, [(Action.OFFLINE, A)]),
    (A, A, []),
    (A, A2, [(Action.UPDATED, A2)]),
    (A, A_PATCH, [(Action.OFFLINE, A), (Action.ONLINE, A_PATCH)]),
    (A, B_SAME_NAME, [(Action.OFFLINE, A), (Action.ONLINE, B_SAME_NAME)]),
], ids=['nothing', 'online', 'offline', 'unchanged', 'updated',
        'kind-change', 'uuid-change'])
def test_transition(old, new, expected):
    assert transition(old, new, identity) == expected


def test_transition_without_identity_is_an_update():
    assert transition({'v': 1}, {'v': 2}) == [(Action.UPDATED, {'v': 2})]


def test_event_json_carries_only_kind_keys():
    event = InterfaceEvent(Action.ONLINE, A)
    assert event.to_dict() == {'kind': 'vm', 'action': 'online',
                               'name': 'tap1', 'uuid': 'u1', 'ofport': 1,
                               'bridge': None, 'iface_id': 'x',
                               'attached_mac': None, 'mac_in_use': None,
                               'link_state': None, 'admin_state': None}
    patch = Interface(Kind.PATCH, 'p', 'u', 2, bridge='br-int', peer='q',
                      link_state='up')
    assert InterfaceEvent(Action.UPDATED, patch).to_dict() == {
        'kind': 'patch', 'action': 'updated', 'name': 'p', 'uuid': 'u',
        'ofport': 2, 'bridge': 'br-int', 'peer': 'q', 'link_state': 'up'}


def test_interface_dict_round_trip():
    full = Interface(Kind.VM, 'tap9', 'u9', 9, bridge='br-int', iface_id='i',
                     attached_mac='m', mac_in_use='n', link_state='up',
                     admin_state='down')
    for interface in (A, A_PATCH, full,
                      Interface(Kind.BRIDGE, 'br', 'u', None, bridge='br'),
                      Interface(Kind.TUNNEL, 't', 'u', 3, tunnel_type='gre',
                                remote_ip='1.1.1.1', local_ip=None)):
        assert Interface.from_dict(interface.to_dict()) == interface


@pytest.mark.parametrize('data', [
    {}, {'kind': 'nope', 'name': 'a', 'uuid': 'u', 'ofport': 1},
    {'kind': 'vm', 'name': 1, 'uuid': 'u', 'ofport': 1},
    {'kind': 'vm', 'name': 'a', 'uuid': 'u', 'ofport': '1'},
    {'kind': 'vm', 'name': 'a', 'uuid': 'u', 'ofport': True},
    {'kind': 'vm', 'name': 'a', 'uuid': 'u', 'ofport': 1, 'iface_id': 5},
    [],
])
def test_interface_from_bad_dict(data):
    with pytest.raises(ValueError):
        Interface.from_dict(data)


def test_batch_is_offline_then_updated_then_online():
    # Same name re-created (new uuid) and an ofport handed from one port to
    # another within one transaction: whatever the batch's order, offline
    # comes first so no name or ofport is ever in use twice.
    state = KeyedState(lambda v: v['uuid'],
                       {'tap1': {'uuid': 'old', 'ofport': 1},
                        'tap2': {'uuid': 'u2', 'ofport': 2},
                        'tap3': {'uuid': 'u3', 'ofport': 3}})
    changes = state.update({
        'tap9': {'uuid': 'u9', 'ofport': 3},
        'tap1': {'uuid': 'new', 'ofport': 1},
        'tap2': {'uuid': 'u2', 'ofport': 5},
        'tap3': None,
    })
    assert [(c.action, c.key) for c in changes] == [
        (Action.OFFLINE, 'tap1'), (Action.OFFLINE, 'tap3'),
        (Action.UPDATED, 'tap2'),
        (Action.ONLINE, 'tap9'), (Action.ONLINE, 'tap1')]
    assert changes[0].value == {'uuid': 'old', 'ofport': 1}
    assert state.copy() == {'tap1': {'uuid': 'new', 'ofport': 1},
                            'tap2': {'uuid': 'u2', 'ofport': 5},
                            'tap9': {'uuid': 'u9', 'ofport': 3}}


def test_changes_does_not_modify():
    state = KeyedState(initial={'a': 1})
    assert state.changes({'a': None}) == [Change(Action.OFFLINE, 'a', 1)]
    assert state.copy() == {'a': 1}


def test_unknown_delete_and_equal_value_give_nothing():
    state = KeyedState(initial={'a': 1})
    assert state.update({'a': 1, 'zz': None}) == []
    assert len(state) == 1 and 'a' in state and 'zz' not in state


def test_replace_and_diff_agree():
    old = {'a': 1, 'b': 2, 'c': 3}
    new = {'b': 2, 'c': 4, 'd': 5}
    state = KeyedState(initial=old)
    assert state.replace(new) == diff(old, new) == [
        Change(Action.OFFLINE, 'a', 1), Change(Action.UPDATED, 'c', 4, 3),
        Change(Action.ONLINE, 'd', 5)]
    assert state.copy() == new
    assert diff(new, new) == []


def test_updated_change_carries_the_previous_value():
    state = KeyedState(initial={'a': 1, 'b': 2})
    assert state.update({'a': 3, 'b': None, 'c': 4}) == [
        Change(Action.OFFLINE, 'b', 2), Change(Action.UPDATED, 'a', 3, 1),
        Change(Action.ONLINE, 'c', 4)]
    assert diff({'a': 1}, {'a': 2}) == [Change(Action.UPDATED, 'a', 2, 1)]


def _random_values(rng, keys):
    # Values with an identity (uuid) so that identity changes occur too.
    return {key: {'uuid': rng.choice('xy'), 'n': rng.randrange(3)}
            for key in keys if rng.random() < 0.7}


def _net_states(changes):
    """(key, new state) per key that changed, placed by its last change
    (an identity change is offline then online: it counts as online).
    """
    last = {}
    for change in changes:
        last.pop(change.key, None)
        last[change.key] = (None if change.action is Action.OFFLINE
                            else change.value)
    return list(last.items())


@pytest.mark.parametrize('seed', range(40))
def test_commit_is_update_as_a_batch_of_states(seed):
    # commit() hands on states, update() changes: the same rules must
    # decide both, in the same order, leaving the same state.
    import random
    rng = random.Random(seed)
    keys = ['k%d' % i for i in range(8)]
    initial = _random_values(rng, keys)
    batch = {key: rng.choice([None, {'uuid': rng.choice('xy'),
                                     'n': rng.randrange(3)}])
             for key in rng.sample(keys, rng.randrange(len(keys) + 1))}
    by_changes = KeyedState(lambda v: v['uuid'], initial)
    by_states = KeyedState(lambda v: v['uuid'], initial)
    changes = by_changes.update(batch)
    committed = by_states.commit(batch)
    assert by_states.copy() == by_changes.copy()
    assert list(committed.items()) == _net_states(changes)


@pytest.mark.parametrize('seed', range(40))
def test_adopt_is_replace_as_a_batch_of_states(seed):
    import random
    rng = random.Random(seed)
    keys = ['k%d' % i for i in range(8)]
    initial, fresh = _random_values(rng, keys), _random_values(rng, keys)
    by_changes = KeyedState(lambda v: v['uuid'], initial)
    by_states = KeyedState(lambda v: v['uuid'], initial)
    changes = by_changes.replace(fresh)
    adopted = by_states.adopt(fresh)
    assert by_states.copy() == by_changes.copy() == fresh
    assert list(adopted.items()) == _net_states(changes)


@pytest.mark.parametrize('seed', range(20))
def test_adopt_into_an_empty_state_is_the_general_path(seed):
    # A first sync takes a shortcut (nothing to compare with): the same
    # batch, in the same order, and the same state as commit() gives.
    import random
    rng = random.Random(seed)
    fresh = _random_values(rng, ['k%d' % i for i in rng.sample(
        range(50), 20)])
    fresh.update({'gone%d' % i: None for i in range(rng.randrange(3))})
    shortcut = KeyedState(lambda v: v['uuid'])
    general = KeyedState(lambda v: v['uuid'])
    adopted = shortcut.adopt(fresh)
    committed = general.commit(fresh)
    assert list(adopted.items()) == list(committed.items())
    assert list(shortcut.copy().items()) == list(general.copy().items())
    assert len(shortcut) == len(fresh) - len(
        [v for v in fresh.values() if v is None])
    # The batch handed on is not the state itself.
    adopted.clear()
    assert len(shortcut) == len(general)


def test_commit_returns_only_what_changed_offline_first():
    state = KeyedState(lambda v: v['uuid'],
                       {'tap1': {'uuid': 'old', 'ofport': 1},
                        'tap2': {'uuid': 'u2', 'ofport': 2},
                        'tap3': {'uuid': 'u3', 'ofport': 3},
                        'tap4': {'uuid': 'u4', 'ofport': 4}})
    committed = state.commit({
        'tap9': {'uuid': 'u9', 'ofport': 3},
        'tap1': {'uuid': 'new', 'ofport': 1},
        'tap2': {'uuid': 'u2', 'ofport': 5},
        'tap4': {'uuid': 'u4', 'ofport': 4},
        'tap8': None,
        'tap3': None,
    })
    assert list(committed.items()) == [
        ('tap3', None), ('tap2', {'uuid': 'u2', 'ofport': 5}),
        ('tap9', {'uuid': 'u9', 'ofport': 3}),
        ('tap1', {'uuid': 'new', 'ofport': 1})]
    assert state.commit({'tap4': {'uuid': 'u4', 'ofport': 4}}) == {}
