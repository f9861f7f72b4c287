"""The etcd reader's decoding of the JSON gateway's base64 values."""

import base64
import json

import pytest

from df_ovsdb_agent.cluster import etcd
from df_ovsdb_agent.cluster import schema


def _reference(value):
    """What the reader accepted before its strict fast path."""
    if not isinstance(value, str):
        raise schema.BadRecord('not base64 text')
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise schema.BadRecord('not base64') from None


@pytest.mark.parametrize('value', [
    '', 'YQ==', 'YWI=', 'YWJj', 'eyJhIjoxfQ==', 'YQ', 'YQ=', 'YQ===',
    '=YQ==', 'YQ==YQ==', 'Y Q==', 'YQ==\n', '\nYQ==', 'Y\x00Q=',
    'YR==', 'YWJ=', 'ab-_', 'ab+/', 'é', '\udcff', '====', 'A', 'AB=C',
    base64.b64encode(bytes(range(256))).decode(), None, b'YQ==', 5])
def test_b64_accepts_and_refuses_exactly_what_validate_did(value):
    try:
        want = ('ok', _reference(value))
    except schema.BadRecord as exc:
        want = ('bad', str(exc))
    try:
        got = ('ok', etcd._b64(value))
    except schema.BadRecord as exc:
        got = ('bad', str(exc))
    assert got == want


@pytest.mark.parametrize('prefix', ['/df-ovsdb-agent', '/p/', '/a/b'])
def test_batch_reads_keys_as_the_store_layout_parses_them(prefix):
    """_Batch parses interface keys inline: the same (host, name) as
    stores.etcd_parse_key, and every other key as before.
    """
    from df_ovsdb_agent.cluster import stores

    top = prefix.rstrip('/')
    keys = [top + '/hv1/interfaces/tap1', top + '/hv1/interfaces/',
            top + '/hv1/interfaces/a/interfaces/b', top + '//interfaces/x',
            top + '/hv1/alive', top + '/hv1/x/alive', top + '/alive',
            top + '/h/v/interfaces/tap1', top + 'hv1/interfaces/tap1',
            '/other/hv1/interfaces/tap1', top + '/hv1/interfaces',
            top + '/h\udcff/interfaces/tap1', top + '/hv1/interfaces/t\udcff',
            top + '/' + 'h' * 1025 + '/interfaces/tap1', '', top,
            top + '/hv1/interfacesx/tap1', top + '/h\udcff/alive']
    for key in keys:
        batch = etcd._Batch(prefix)
        batch.add(key, None)
        parsed = stores.etcd_parse_key(prefix, key)
        alive = stores.etcd_parse_alive_key(prefix, key)
        good = all(type(part) is str and part.isascii() and
                   0 < len(part) <= schema.MAX_NAME
                   for part in parsed or (alive or '\udcff',))
        if parsed is not None:
            assert batch.hosts == {}
            assert list(batch.interfaces) == [parsed]
            assert batch.skipped == (0 if good and '/' not in parsed[0]
                                     else 1)
        elif alive is not None:
            assert batch.interfaces == {}
            assert batch.hosts == {alive: None}
            assert batch.skipped == (0 if good else 1)
        else:
            assert batch.interfaces == {} and batch.hosts == {}


def _record(host, name, **extra):
    record = {'kind': 'vm', 'uuid': 'u-' + name, 'name': name,
              'host': host, 'ofport': 1, 'iface_id': 'i-' + name,
              'attached_mac': 'fa:16:3e:00:00:01', 'admin_state': None}
    record.update(extra)
    return record


def _b64text(raw):
    return base64.b64encode(raw).decode('ascii')


#: Raw values that must not be split or joined wrongly by one parse for
#: all: a value holding two objects next to one holding a half (a
#: count of objects alone would not notice), unbalanced brackets,
#: strings that would swallow the separator, and what the general path
#: refuses or treats with care.
HOSTILE = [
    b'{"kind":"vm","uuid":"a"},{"kind":"vm","uuid":"b"}',
    b'{"kind":"vm","uuid":"c","x":[{}',
    b'{}]}',
    b'{"kind":"vm","uuid":"d","note":"',
    b'"}',
    b'{"kind":"vm","uuid":"e","note":"a\nb"}',
    b'{"kind":"vm","uuid":"f"} ',
    b' {"kind":"vm","uuid":"g"}',
    b'{"kind":"vm","uuid":"h","note":"\\u00e9"}',
    b'{"kind":"vm","uuid":"i","note":"\xc3\xa9"}',
    b'{"kind":"vm","uuid":"j","note":"\xff"}',
    b'{"kind":"vm","uuid":"k","kind":"bogus"}',
    b'{"kind":"vm","uuid":"l","ofport":NaN}',
    b'{"kind":"vm","uuid":"m","ofport":1e999}',
    b'{"kind":"vm","uuid":"n","name":"other"}',
    b'{"kind":"vm","uuid":"o","x":{"y":1}}',
    b'{"kind":"vm","uuid":"p"',
    b'{"kind":"vm"}',
    b'{' + b'"a":' * 5 + b'1}',
    b'[' * 100000 + b']' * 100000,
    b'{"kind":"vm","uuid":"q","note":"' + b'x' * (schema.MAX_STRING + 1)
    + b'"}',
    b'{"kind":"vm","uuid":"r","weird field":1}',
    b'{"kind":"vm","uuid":"s","action":"online"}',
    b'', b'null', b'{}', b'1', b'"x"',
]


def _items(prefix, hostile):
    """(key, base64 value) pairs of a watch response: good records of
    two hosts with ``hostile`` raw values in between, a liveness record,
    a delete, a key written twice, keys and values that are not ours.
    """
    top = prefix.rstrip('/')
    items = []
    for i in range(6):
        host = 'hv%d' % (i % 2)
        items.append(('%s/%s/interfaces/tap%d' % (top, host, i), _b64text(
            json.dumps(_record(host, 'tap%d' % i)).encode())))
    for i, raw in enumerate(hostile):
        items.append(('%s/hv1/interfaces/bad%d' % (top, i), _b64text(raw)))
        items.append(('%s/hv0/interfaces/ok%d' % (top, i), _b64text(
            json.dumps(_record('hv0', 'ok%d' % i)).encode())))
    items += [
        (top + '/hv0/alive', _b64text(b'{"synced":true,"ttl":60}')),
        (top + '/hv0/interfaces/tap0', None),
        (top + '/hv1/interfaces/tap1', _b64text(json.dumps(
            _record('hv1', 'tap1', ofport=7)).encode())),
        (top + '/hv1/interfaces/notb64', '{"kind":"vm"}'),
        (top + '/hv1/interfaces/notstr', 5),
        (top + '/h/v/interfaces/slash', _b64text(
            json.dumps(_record('h/v', 'slash')).encode())),
        (top + '/hv\udcff/interfaces/tap1', _b64text(
            json.dumps(_record('hv\udcff', 'tap1')).encode())),
        (top + '/other', _b64text(b'{}')),
    ]
    return items


@pytest.mark.parametrize('prefix', ['/df-ovsdb-agent', '/a/b/'])
@pytest.mark.parametrize('hostile', [[], HOSTILE, HOSTILE[:3],
                                     HOSTILE[3:5], list(reversed(HOSTILE))])
def test_add_all_gives_what_add_gives_one_by_one(prefix, hostile):
    """_Batch.add_all (one JSON parse for a response's records) ends with
    the same records, in the same order, the same hosts and the same
    skip count as _Batch.add of each key, hostile values included; a bad
    value costs only its own record.
    """
    items = _items(prefix, hostile)
    one = etcd._Batch(prefix)
    for key, value in items:
        one.add(key, value)
    many = etcd._Batch(prefix)
    many.add_all(items)
    assert list(many.interfaces.items()) == list(one.interfaces.items())
    assert many.hosts == one.hosts
    assert many.skipped == one.skipped
    # Every good record survived its hostile neighbours.
    assert all(many.interfaces[('hv%d' % (i % 2), 'tap%d' % i)]
               for i in range(1, 6))
    assert all(many.interfaces[('hv0', 'ok%d' % i)]
               for i in range(len(hostile)))
    assert many.interfaces[('hv1', 'tap1')]['ofport'] == 7


def test_loads_many_parses_plain_values_once_and_leaves_the_rest():
    plain = [json.dumps(_record('hv0', 'tap%d' % i),
                        separators=(',', ':')).encode() for i in range(3)]
    # Plain by their bytes and JSON: parsed as loads() parses them.
    odd = [b'{"kind":"vm","uuid":"k","kind":"bogus"}',
           b'{"kind":"vm","uuid":"l","ofport":NaN}', b'{}',
           b'{"kind":"vm","uuid":"m","ofport":1e999}']
    # Not plain: two objects, half of one, nesting, padding, escapes.
    others = [HOSTILE[0], HOSTILE[1], HOSTILE[3], HOSTILE[4], HOSTILE[6],
              HOSTILE[7], HOSTILE[8], HOSTILE[9], HOSTILE[15], HOSTILE[19],
              HOSTILE[20], b'', b'null']
    values = plain + odd + others
    got = schema.loads_many(values)
    assert len(got) == len(values)
    # The fast path is taken, and gives what loads() gives ...
    want = [schema.loads(v) for v in plain + odd]
    assert [json.dumps(d) for d in got[:len(want)]] == [
        json.dumps(d) for d in want]
    # ... and leaves everything else to be parsed one by one.
    assert got[len(want):] == [None] * len(others)


@pytest.mark.parametrize('breaker', [
    b'{"a":tru}', b'{}]}', b'{"kind":"vm","uuid":"e","note":"a\nb"}',
    b'{"a":"}', b'{"a":1,}'])
def test_loads_many_gives_up_on_the_whole_parse_without_losing_values(
        breaker):
    # Plain by its bytes, but no JSON value with the others: None for
    # all, so each is parsed (and refused or not) on its own.
    values = [b'{"kind":"vm","uuid":"a"}', breaker,
              b'{"kind":"vm","uuid":"b"}']
    assert schema._plain(breaker)
    assert schema.loads_many(values) == [None, None, None]
    assert schema.loads_many([]) == []
