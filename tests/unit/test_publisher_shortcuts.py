"""The writer's per-record shortcuts give what the general paths give:
``stores.dumps`` is ``json.dumps``, ``check_record``'s one-pass common
case is the full check, ``KeyedState.changes`` is the rules of
``transition`` in ``ordered`` order, ``put`` and ``set`` are ``update``
-- over randomised, hostile inputs (seeded: a failure names its seed).
"""

import json
import random

import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.publishers.writer import Writer
from df_ovsdb_agent.state import Change
from df_ovsdb_agent.state import KeyedState
from df_ovsdb_agent.state import ordered
from df_ovsdb_agent.state import transition

SEEDS = range(40)


def reference_dumps(data):
    return json.dumps(data, sort_keys=True, separators=(',', ':'))


def text(rng, size=None):
    """A string that may hold anything a hostile peer can send: controls,
    quotes, non-ASCII, astral characters, lone surrogates.
    """
    if size is None:
        size = rng.choice([0, 1, 5, 17, 64, 4095, 4096, 4097, 5000])
    pools = ['abc-_:.', '"\\/\b\f\n\r\t\x00\x01\x1f\x7f', 'éü€日本',
             '\U0001f600\U00010000', '\ud800\udcff\udfff']
    chars = ''.join(rng.sample(pools, rng.randint(1, len(pools))))
    return ''.join(rng.choices(chars, k=size))


def scalar(rng):
    return rng.choice([
        lambda: text(rng), lambda: text(rng, rng.randint(0, 40)),
        lambda: rng.randint(-2 ** 70, 2 ** 70), lambda: rng.randint(0, 9),
        lambda: rng.uniform(-1e300, 1e300), lambda: rng.choice(
            [float('inf'), float('-inf'), -0.0, 1e-320]),
        lambda: rng.choice([True, False, None])])()


def value(rng, depth=0):
    if depth < 3 and rng.random() < 0.15:
        if rng.random() < 0.5:
            return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return {text(rng, rng.randint(0, 8)): value(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}
    return scalar(rng)


@pytest.mark.parametrize('seed', SEEDS)
def test_dumps_is_json_dumps(seed):
    rng = random.Random(seed)
    for _ in range(30):
        data = {text(rng, rng.randint(0, 12)): value(rng)
                for _ in range(rng.randint(0, 14))}
        assert stores.dumps(data) == reference_dumps(data)
    nan = {'x': float('nan')}
    assert stores.dumps(nan) == reference_dumps(nan) == '{"x":NaN}'


@pytest.mark.parametrize('data', [
    {1: 'a', 2: 'b'}, {'a': object()}, {'a': 1, 2: 'b'}, {'a': b'x'},
    {(1, 2): 'a'}])
def test_dumps_fails_as_json_dumps_fails(data):
    try:
        expected = reference_dumps(data)
    except Exception as exc:
        with pytest.raises(type(exc)) as found:
            stores.dumps(data)
        assert str(found.value) == str(exc)
    else:
        assert stores.dumps(data) == expected


def test_dumps_refuses_a_circular_dict():
    data: dict = {'a': 1}
    data['self'] = data
    with pytest.raises(ValueError, match="Circular reference"):
        stores.dumps(data)
    # Nothing was left behind that refuses the next dict.
    assert stores.dumps({'a': 1}) == '{"a":1}'


class Text(str):
    pass


class Number(int):
    pass


def record(rng):
    """A record around every limit of check_record, mostly good."""
    keys = ['kind', 'uuid', 'ofport', 'bridge', 'iface_id', 'attached_mac',
            'host']
    data = {key: rng.choice([
        lambda: 'x' * rng.choice([1, 36, 4095, 4096, 4097]),
        lambda: text(rng), lambda: rng.randint(-9, 2 ** 40),
        lambda: rng.choice([None, True, 0.5, float('nan')]),
        lambda: rng.choice([['x'], {'x': 1}, b'x', Text('a'), Number(1),
                            ('t',)]),
        lambda: 'é' * rng.choice([1, 2048, 2049])])()
        for key in rng.sample(keys, rng.randint(0, len(keys)))}
    if rng.random() < 0.9:
        data['name'] = rng.choice(['tap1', '', 'x' * 4097, 'ta\udcffp',
                                   'tap\n"2', None, 0, Text('tap')])
    for i in range(rng.choice([0, 0, 0, 3, 40])):
        data['extra%d' % i] = 'y' * rng.choice([10, 300, 4000])
    for i in range(rng.choice([0, 0, 0, 70, 100])):  # keys over the limit
        data['k%0*d' % (rng.choice([150, 199]), i)] = None
    return data


@pytest.mark.parametrize('seed', SEEDS)
def test_check_record_shortcut_is_the_full_check(seed):
    rng = random.Random(seed)
    verdicts = set()
    for _ in range(300):
        data = record(rng)
        found = records.check_record(data)
        assert found == records._check_record(data), data
        verdicts.add(None if found is None else found.code)
    # The draw reaches the shortcut's answer and the full check's.
    assert None in verdicts and len(verdicts) > 1


def test_check_record_shortcut_keeps_every_limit():
    good = {'name': 'tap1', 'kind': 'vm', 'uuid': 'u', 'ofport': 1,
            'host': 'h', 'iface_id': 'x' * records.MAX_VALUE_BYTES}
    assert records.check_record(good) is None
    for key, bad, code in [('iface_id', 'x' * 4097, 'too_large'),
                           ('iface_id', '\ud800', 'not_unicode'),
                           ('iface_id', ['x'], 'bad_type'),
                           ('name', '', 'bad_name'),
                           ('extra', 'y' * 4000, None)]:
        data = dict(good, **{key: bad})
        if code is None:  # 20,000 bytes of values: the whole record
            data.update(more='z' * 4000, most='w' * 4000, mist='v' * 4000)
            code = 'too_large'
        assert records.check_record(data).code == code
    # Keys count too: 100 keys of 200 bytes are over 20 KB of JSON.
    data = dict(good, iface_id='x',
                **{'k%0199d' % i: None for i in range(100)})
    assert records.check_record(data).code == 'too_large'


def reference_changes(state, batch):
    """KeyedState.changes as it was: transition() per key, ordered."""
    changes = []
    for key, new in batch.items():
        old = state.get(key)
        changes.extend(Change(action, key, value,
                              old if action is Action.UPDATED else None)
                       for action, value in transition(old, new,
                                                       state.identity))
    return ordered(changes)


@pytest.mark.parametrize('seed', SEEDS)
def test_changes_are_the_transitions_in_order(seed):
    rng = random.Random(seed)
    # value: (identity, payload); identity changes are offline + online.
    state = KeyedState(lambda value: value[0])
    for _ in range(200):
        batch = {rng.randint(0, 30): rng.choice(
            [None, (rng.randint(0, 2), rng.randint(0, 2))])
            for _ in range(rng.randint(0, 20))}
        expected = reference_changes(state, batch)
        found = state.changes(batch)
        assert found == expected
        assert all(type(change) is Change for change in found)
        twin = KeyedState(state.identity, state.copy())
        single = KeyedState(state.identity, state.copy())
        assert state.update(batch) == expected
        twin.put(batch)
        for key, value in batch.items():
            single.set(key, value)
        assert twin.copy() == single.copy() == state.copy()


def test_changes_of_a_cold_start_are_all_online():
    batch = {'tap%d' % i: {'uuid': 'u%d' % i} for i in range(5)}
    changes = KeyedState().changes(batch)
    assert changes == [Change(Action.ONLINE, key, value)
                       for key, value in batch.items()]
    assert changes[0].previous is None and changes[0].action is Action.ONLINE


@pytest.mark.parametrize('seed', SEEDS)
def test_offered_events_make_the_desired_state(seed):
    """Writer.offer's inlined common case keeps the rules: an interface
    event sets its name, an offline one removes the name only while the
    name is still that interface's (a reused name stays with the newer).
    """
    rng = random.Random(seed)
    writer = Writer(store=None, identify=None, max_backoff=1.0)
    oracle: dict = {}
    touched = set()
    for _ in range(300):
        name = 'tap%d' % rng.randint(0, 9)
        interface = Interface(Kind.VM, name, 'u%d' % rng.randint(0, 3),
                              rng.randint(1, 3))
        action = rng.choice([Action.ONLINE, Action.UPDATED, Action.OFFLINE])
        writer.offer(InterfaceEvent(action, interface))
        if action is not Action.OFFLINE:
            oracle[name] = interface
            touched.add(name)
        elif name in oracle and oracle[name].uuid == interface.uuid:
            del oracle[name]
            touched.add(name)
    assert writer.desired() == oracle
    assert writer._dirty == touched
