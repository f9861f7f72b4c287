"""The Redis reader's hash parsing: one JSON parse per host's hash
(schema.loads_many_text) and the per-value path (schema.parse_record)
decide every value alike, hostile ones included.
"""

import json
import random

import pytest

from df_ovsdb_agent.cluster import redis as cluster_redis
from df_ovsdb_agent.cluster import schema
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent import logsafe

HOST = 'hv1'

#: Text values (as the reader's client decodes them) that a joined parse
#: must neither split nor join wrongly, and what the per-value path
#: refuses or treats with care.
HOSTILE = [
    '{"kind":"vm","uuid":"a"},{"kind":"vm","uuid":"b"}',
    '{"kind":"vm","uuid":"c","x":[{}',
    '{}]}', '{"a":"}', '"}', '{"a":1,}', '{"a":tru}', '{"a":1}}',
    '{"kind":"vm","uuid":"d","note":"',
    '{"kind":"vm","uuid":"e","note":"a\nb"}',
    '{"kind":"vm",\n"uuid":"e2"}',
    '{"kind":"vm","uuid":"e3","note":"a\tb"}',
    '{"kind":"vm","uuid":"f"} ', ' {"kind":"vm","uuid":"g"}',
    '\ufeff{"kind":"vm","uuid":"g2"}',
    '{"kind":"vm","uuid":"h","note":"\\u00e9"}',
    '{"kind":"vm","uuid":"h2","note":"\\ud800"}',
    '{"kind":"vm","uuid":"h3","note":"\\\\u"}',
    '{"kind":"vm","uuid":"i","note":"\u00e9"}',
    '{"kind":"vm","uuid":"j","note":"\udcff"}',
    '{"kind":"vm","uuid":"j2","note":"\ud800"}',
    '{"kind":"vm","uuid":"k","kind":"bogus"}',
    '{"kind":"bogus","uuid":"k2","kind":"vm"}',
    '{"kind":"vm","uuid":"l","ofport":NaN}',
    '{"kind":"vm","uuid":"m","ofport":1e999}',
    '{"kind":"vm","uuid":"m2","ofport":' + '9' * 5000 + '}',
    '{"kind":"vm","uuid":"n","name":"other"}',
    '{"kind":"vm","uuid":"o","x":{"y":1}}',
    '{"kind":"vm","uuid":"p"', '{"kind":"vm"}', '{"kind":"vm","uuid":""}',
    '{' + '"a":' * 5 + '1' + '}' * 5,
    '[' * 100000 + ']' * 100000,
    '{"a":' * 40000 + '1' + '}' * 40000,
    '{"kind":"vm","uuid":"q","note":"' + 'x' * schema.MAX_STRING + '"}',
    '{"kind":"vm","uuid":"q2","n":"' + 'x' * schema.MAX_VALUE_BYTES + '"}',
    '{"kind":"vm","uuid":"r","weird field":1}',
    '{"kind":"vm","uuid":"s","action":"online"}',
    '{"kind":"vm","uuid":"t","ofport":true}',
    '{"kind":"vm","uuid":"u","host":"hv2"}',
    '{"kind":"vm","uuid":"v","\\u006eame":"x"}',
    '{"kind":"vm","uuid":"w","n":"\x00"}',
    '', ' ', 'null', '{}', '1', '"x"', '[]', 'NaN', '}{', '{',
    None, b'{"kind":"vm","uuid":"x"}', 5, ['{}'],
]

#: HOSTILE but the deep values (a scan in Python each: 20 ms): for the
#: random hashes.
_CHEAP_HOSTILE = [value for value in HOSTILE
                  if not isinstance(value, str) or '{"a":{' not in value and
                  '[[' not in value]

#: Characters random edits of a record's text insert.
_EDITS = '{}[]",:\\\n\t u0123456789eE.-+aé\udcff\x00'


def _record(rng: random.Random, name: str, bad: float = 0.1) -> dict:
    """A record as a publisher writes it, or not quite (a share ``bad``
    of its strings are not plain).
    """
    kind = rng.choice(['vm', 'vm', 'vm', 'tunnel', 'patch', 'bridge',
                       'router', None])
    data = {'kind': kind, 'name': name,
            'uuid': rng.choice(['u-%d' % rng.randrange(1000)] * 6 +
                               ['', 5, None]),
            'ofport': rng.choice([None, 1, 7, 65534, -1, 0, 2 ** 31 - 1] +
                                 [-2, 2 ** 31, True, 1.0, '5']),
            'bridge': rng.choice(['br-int', None, None, 7]),
            'host': HOST}
    for field in ('iface_id', 'attached_mac', 'mac_in_use', 'link_state',
                  'admin_state', 'peer', 'remote_ip'):
        if rng.random() < 0.6:
            data[field] = rng.choice(
                ['\u00e9t\u00e9', '\udcff', 3, False,
                 'x' * (schema.MAX_STRING + 1)] if rng.random() < bad else
                ['p-%d' % rng.randrange(99), None, 'fa:16:3e:00:00:01',
                 'up'])
    roll = rng.random()
    if roll < 0.05:
        data['action'] = rng.choice(['online', 'bogus', None, 1])
    elif roll < 0.1:
        data['mtu'] = rng.choice([1500, 'x', None, 1.5])
    elif roll < 0.12:
        data['Bad'] = 1
    elif roll < 0.14:
        data['name'] = 'other'
    elif roll < 0.16:
        data['host'] = 'hv2'
    elif roll < 0.18:
        del data['name']
        del data['host']
    elif roll < 0.2:
        del data['kind']
    keys = list(data)
    if rng.random() < 0.3:
        rng.shuffle(keys)
    return {key: data[key] for key in keys}


def _publishers(i: int) -> dict:
    """Interface ``tap<i>``'s record as a publisher writes it."""
    return {'kind': 'vm', 'name': 'tap%d' % i, 'uuid': 'u-%d' % i,
            'ofport': i + 1, 'bridge': 'br-int', 'iface_id': 'p-%d' % i,
            'attached_mac': 'fa:16:3e:00:00:%02x' % i, 'mac_in_use': None,
            'link_state': 'up', 'admin_state': 'up', 'host': HOST}


def _value(rng: random.Random, name: str, bad: float) -> object:
    """A stored value: what a publisher writes (its record's fields may
    be refused), written otherwise, or with a share ``bad`` of hostile
    values and random edits of the text.
    """
    roll = rng.random()
    if roll < bad * 0.3:
        return rng.choice(_CHEAP_HOSTILE)
    data = _record(rng, name, bad)
    if roll > bad + 0.2:
        return stores.dumps(data)
    text = json.dumps(data, ensure_ascii=rng.random() < 0.5,
                      indent=rng.choice([None, None, 0, 1]),
                      separators=rng.choice([None, (',', ':')]))
    if roll > bad:
        return text
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars) + 1)
        what = rng.random()
        if what < 0.4 and at < len(chars):
            del chars[at]
        elif what < 0.7 and at < len(chars):
            chars[at] = rng.choice(_EDITS)
        else:
            chars.insert(at, rng.choice(_EDITS))
    return ''.join(chars)


def _same(value: object) -> str:
    """A parsed value's identity: types, key order and all (repr tells
    1 from 1.0 and True; NaN is nan either way).
    """
    return repr(value)


def _loaded(value: object) -> object:
    """loads(value), or None if it refuses it."""
    try:
        return schema.loads(value)  # type: ignore[arg-type]
    except schema.BadRecord:
        return None


def _oracle(host: str, values: dict) -> tuple[dict, set, int]:
    """What the reader gave before one parse per hash: parse_record per
    value, the name checked first; (host, name) -> record items, the
    (name, reason) of each value refused, how many.
    """
    state = {}
    refused = set()
    for name, value in values.items():
        try:
            schema.check_name(name)
            state[(host, name)] = list(schema.parse_record(
                value, host, name).items())
        except schema.BadRecord as exc:
            # (As the warning names it: escaped, cut.)
            refused.add((logsafe.safe(name, 100), str(exc)))
    return state, refused, len(refused)


def _got(host: str, values: dict) -> tuple[dict, set, int]:
    warned: set = set()
    state, skipped = cluster_redis._records(host, dict(values), warned)
    refused = {(where.split(' of host ')[0], reason)
               for _, where, reason in warned}
    return ({key: list(record.items()) for key, record in state.items()},
            refused, skipped)


def test_a_hash_of_publishers_records_is_parsed_in_one_go():
    values = [stores.dumps(_publishers(i)) for i in range(50)]
    assert all(map(schema._plain_text, values))
    parsed = schema.loads_many_text(values)
    assert [_same(p) for p in parsed] == [
        _same(schema.loads(v)) for v in values]
    assert schema.loads_many_text([]) == []


@pytest.mark.parametrize('seed', range(8))
def test_one_parse_per_hash_decides_each_value_as_parse_record(seed):
    """Random hashes of mostly good, some edited, some hostile values:
    loads_many_text parses a value only as loads() does, and only a
    plain one; _records gives each name parse_record's record or its
    reason, and the same count of skipped.
    """
    rng = random.Random(seed)
    taken = 0
    for _ in range(150):
        size = rng.choice([1, 2, 3, 10, 50])
        names = ['tap%d' % i for i in range(size)]
        if rng.random() < 0.1:
            names[0] = rng.choice(['', 't\udcff', 'x' * 1025, 'täp'])
        bad = rng.choice([0.0, 0.0, 0.01, 0.05, 0.3])
        values = {name: _value(rng, name, bad) for name in names}
        raws = list(values.values())
        parsed = schema.loads_many_text(raws)
        assert len(parsed) == len(raws)
        for raw, data in zip(raws, parsed):
            if data is not None:
                taken += 1
                assert schema._plain_text(raw)
                assert _same(data) == _same(schema.loads(raw))
        if all(schema._plain_text(raw) and type(_loaded(raw)) is dict
               for raw in raws):
            # Plain values that each parse alone parse together.
            assert None not in parsed
        for host in (HOST, HOST, '', 'h\udcff'):
            assert _got(host, values) == _oracle(host, values)
    assert taken > 1000  # the joined parse is what was tested


@pytest.mark.parametrize('hostile', HOSTILE)
def test_a_hostile_value_costs_only_itself(hostile):
    for at in (0, 5, 9):
        values = {'tap%d' % i: stores.dumps(_publishers(i))
                  for i in range(10)}
        values['tap%d' % at] = hostile
        parsed = schema.loads_many_text(list(values.values()))
        # Taken in the joined parse only if plain, and then as loads().
        assert parsed[at] is None or (
            schema._plain_text(hostile) and
            _same(parsed[at]) == _same(schema.loads(hostile)))
        assert _got(HOST, values) == _oracle(HOST, values)


def _item(rng: random.Random, i: int, odd: float) -> dict:
    """A parsed record: as a publisher writes it (any kind, fields left
    out), or with a share ``odd`` of _record()'s deviations.
    """
    if rng.random() < odd:
        return _record(rng, 'tap%d' % i, 0.0)
    data = _publishers(i)
    data['kind'] = rng.choice(['vm', 'tunnel', 'patch', 'bridge'])
    data['ofport'] = rng.choice([None, -1, 0, i + 1, 2 ** 31 - 1])
    for field in list(data):
        if field not in ('kind', 'uuid') and rng.random() < 0.1:
            del data[field]
    if rng.random() < 0.05:
        data['action'] = rng.choice(['online', 'updated', None])
    return data


@pytest.mark.parametrize('seed', range(4))
def test_a_hash_checked_at_once_is_each_record_checked(seed):
    """check_plain_records gives the records _fast_record gives, in
    place, when every item takes that fast path, and None (the items
    untouched) when any does not; ofports 1, 1.0 and True side by side.
    """
    rng = random.Random(seed)
    outcomes = {True: 0, False: 0}
    for _ in range(3000):
        size = rng.choice([1, 2, 3, 5, 50])
        odd = rng.choice([0.0, 0.0, 0.02, 0.2, 1.0])
        items = [_item(rng, i, odd) for i in range(size)]
        names = ['tap%d' % i for i in range(size)]
        host = rng.choice([HOST, HOST, 'hv2'])
        each = [schema._fast_record(dict(d), host, name, True)
                for d, name in zip(items, names)]
        batch = [dict(d) for d in items]
        got = schema.check_plain_records(batch, host, names)
        taken = None not in each
        outcomes[taken] += 1
        if taken:
            assert got is batch
            assert [list(d.items()) for d in got] == [
                list(d.items()) for d in each]
        else:
            assert got is None
            assert [list(d.items()) for d in batch] == [
                list(d.items()) for d in items]
    # Both outcomes, often.
    assert min(outcomes.values()) > 500
    assert schema.check_plain_records([], HOST, []) is None
    assert schema.check_plain_records([None], HOST, ['tap0']) is None
    for lacking in ({'kind': 'vm'}, {'uuid': 'u'}, {}):
        assert schema.check_plain_records([lacking], HOST, ['tap0']) is None


@pytest.mark.parametrize('names', [
    ['tap0'], ['tap0', 'tap1'], [''], ['tap0', ''], ['t\udcff'],
    ['täp'], ['x' * schema.MAX_NAME], ['x' * (schema.MAX_NAME + 1)],
    ['tap0', None], ['tap0', b'tap1'], [5], []])
def test_names_checked_at_once_as_check_name_each(names):
    def good(name):
        try:
            schema.check_name(name)
        except schema.BadRecord:
            return False
        return name.isascii()
    assert schema.plain_names(names) == (bool(names) and
                                         all(map(good, names)))
