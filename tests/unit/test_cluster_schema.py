"""The consumers' record validator (cluster.schema) and host holds."""

import json

import pytest

from df_ovsdb_agent.cluster import Holds
from df_ovsdb_agent.cluster import schema
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.publishers.base import record_of
from tests import helpers


def vm(**extra):
    return dict(record_of(helpers.vm('tap1', 'u-1', 'p1', 5, 'br-int'),
                          'hv1'), **extra)


def test_what_the_publishers_write_is_accepted_as_is():
    for interface in (
            Interface(Kind.VM, 'tap1', 'u-1', 5, 'br-int', iface_id='p1',
                      attached_mac='fa:16:3e:00:00:01', link_state='up'),
            Interface(Kind.TUNNEL, 'vx1', 'u-2', 7, 'br-tun',
                      tunnel_type='vxlan', remote_ip='127.0.0.2'),
            Interface(Kind.PATCH, 'p1', 'u-3', None, None, peer='p2'),
            Interface(Kind.BRIDGE, 'br-int', 'u-4', 65534, 'br-int')):
        record = record_of(interface, 'hv1')
        stored = stores.dumps(record)
        assert schema.check_record(schema.loads(stored), 'hv1',
                                   interface.name) == record
        assert schema.check_record(schema.loads(stored.encode()), 'hv1',
                                   interface.name) == record
        event = dict(record, action='online')
        assert schema.check_entry(event, 'hv1') == (Action.ONLINE, record)


def test_sync_markers_and_liveness_records():
    assert schema.check_entry({'sync': 'started', 'host': 'hv1'},
                              'hv1') is Sync.STARTED
    alive = stores.alive_record('hv1', 'o', '1.0', 42, 1700000000.5, True,
                                3, 60)
    assert schema.parse_alive(stores.dumps(alive), 'hv1') == alive


@pytest.mark.parametrize('data, reason', [
    # The record measured coming out as an event.
    ({'kind': ['not', 'a', 'kind'], 'sync': 'finished', 'uuid': {'x': 1}},
     'kind'),
    ([1, 2], 'object'),
    (vm(kind='router'), 'kind'),
    (vm(uuid={'x': 1}), 'uuid'),
    (vm(uuid=''), 'uuid'),
    (vm(ofport='5'), 'ofport'),
    (vm(ofport=True), 'ofport'),
    (vm(ofport=2 ** 40), 'ofport'),
    (vm(iface_id=['a']), 'iface_id'),
    (vm(bridge=7), 'bridge'),
    (vm(name='tap2'), 'name'),
    (vm(host='hv2'), 'host'),
    (vm(iface_id='x' * (schema.MAX_STRING + 1)), 'longer'),
    (vm(iface_id='\udcff'), 'UTF-8'),
    (vm(extra={'a': 1}), 'scalar'),
    (dict(vm(), **{'Bad Field': 1}), 'field name'),
    (dict(vm(), **{'f%d' % i: i for i in range(schema.MAX_FIELDS)}),
     'fields'),
])
def test_bad_records_are_refused_with_a_reason(data, reason):
    with pytest.raises(schema.BadRecord, match=reason):
        schema.check_record(data, 'hv1', 'tap1')


def test_old_records_lose_their_action_and_new_fields_are_kept():
    record = schema.check_record(vm(action='online', mtu=1500), 'hv1',
                                 'tap1')
    assert 'action' not in record and record['mtu'] == 1500


@pytest.mark.parametrize('data, reason', [
    ({'sync': 'halfway'}, 'sync'),
    ({'kind': ['not', 'a', 'kind'], 'sync': 'finished', 'uuid': {'x': 1}},
     'other fields'),
    ({'sync': 'finished', 'host': 'hv2'}, 'host'),
    ({'sync': ['started']}, 'sync'),
    (vm(), 'action'),
    (vm(action=['online']), 'action'),
    (dict(vm(action='online'), name=None), 'name'),
    (vm(action='online', kind=['vm']), 'kind'),
])
def test_bad_stream_entries(data, reason):
    with pytest.raises(schema.BadRecord, match=reason):
        schema.check_entry(data, 'hv1')


@pytest.mark.parametrize('data, reason', [
    ({'owner': 5}, 'owner'),
    ({'owner': 'o', 'pid': '1'}, 'pid'),
    ({'owner': 'o', 'ttl': True}, 'ttl'),
    ({'owner': 'o', 'synced': 'yes'}, 'synced'),
    ({'owner': 'o', 'host': 'hv2'}, 'host'),
    ({'owner': 'o', 'nested': [1]}, 'scalar'),
])
def test_bad_liveness_records(data, reason):
    with pytest.raises(schema.BadRecord, match=reason):
        schema.check_alive(data, 'hv1')


@pytest.mark.parametrize('value, reason', [
    ('[' * 100000 + ']' * 100000, 'deeper'),
    ('{"a":' * 40000 + '1' + '}' * 40000, 'deeper'),
    ('{"a": [[[[[1]]]]]}', 'deeper'),
    ('x' * (schema.MAX_VALUE_BYTES + 1), 'over'),
    (b'{"name": "\xff"}', 'UTF-8'),
    ('{"name": ', 'JSON'),
    ('', 'JSON'),
    (None, 'no value'),
    (5, 'text'),
])
def test_loads_is_bounded(value, reason):
    with pytest.raises(schema.BadRecord, match=reason):
        schema.loads(value)


def test_brackets_inside_strings_do_not_count_as_nesting():
    value = json.dumps(vm(iface_id='[[[[[{{{{{"\\'))
    assert schema.loads(value)['iface_id'] == '[[[[[{{{{{"\\'


def test_keys_are_decoded_leniently_and_refused_as_names():
    key = schema.decode_key(b'/df-ovsdb-agent/hv1/interfaces/\xff\xfe')
    assert key.endswith('\udcff\udcfe')
    with pytest.raises(schema.BadRecord, match='UTF-8'):
        schema.check_name(key.rsplit('/', 1)[1])
    for bad in ('', None, 'x' * (schema.MAX_NAME + 1)):
        with pytest.raises(schema.BadRecord):
            schema.check_name(bad)
    # Logged as escapes, never as raw surrogates.
    assert schema.printable(key).endswith('\\udcff\\udcfe')
    assert schema.printable(key).encode('utf-8')


def test_grace_is_the_hosts_ttl_bounded():
    assert schema.grace({'ttl': 30}, 60) == 30
    assert schema.grace({'ttl': 0.01}, 60) == 1
    assert schema.grace({'ttl': 10 ** 9}, 60) == 3600
    for alive in (None, {}, {'ttl': 'x'}, {'ttl': True}, {'ttl': -5},
                  {'ttl': float('nan')}):
        assert schema.grace(alive, 60) == 60


def test_holds_keep_their_first_deadline():
    holds = Holds(default_grace=60)
    assert holds.hold('hv1', {'ttl': 10}, now=100.0)
    assert holds.hold('hv2', None, now=100.0)
    assert not holds.hold('hv1', {'ttl': 10}, now=105.0)
    assert 'hv1' in holds and len(holds) == 2
    assert holds.next_deadline() == 110.0
    assert holds.due(109.9) == []
    assert holds.due(110.0) == ['hv1']
    assert holds.due(160.0) == ['hv1', 'hv2']
    holds.release('hv1')
    assert holds.hosts() == ['hv2'] and holds.next_deadline() == 160.0
    holds.release('hv2')
    holds.release('hv3')  # not held: nothing to do
    assert not holds and holds.next_deadline() is None


def _outcome(parse, *args):
    """What ``parse(*args)`` gives: ('ok', items in order) or ('bad',
    reason).
    """
    try:
        result = parse(*args)
    except schema.BadRecord as exc:
        return 'bad', str(exc)
    if isinstance(result, dict):
        return 'ok', list(result.items())
    if isinstance(result, tuple):
        return 'ok', (result[0], list(result[1].items()))
    return 'ok', result


_MUTATIONS = [
    {}, {'action': 'online'}, {'action': [1]}, {'host': 'hv2'},
    {'host': 'hv1'}, {'name': 'tap2'}, {'name': None}, {'kind': 'nope'},
    {'kind': None}, {'kind': ['vm']}, {'kind': 'tunnel'}, {'kind': 'patch'},
    {'uuid': ''}, {'uuid': 5}, {'uuid': None}, {'ofport': True},
    {'ofport': -1}, {'ofport': -2}, {'ofport': 2 ** 31 - 1},
    {'ofport': 2 ** 31}, {'ofport': 1.0}, {'ofport': '5'},
    {'iface_id': 7}, {'iface_id': None}, {'iface_id': {'a': 1}},
    {'peer': 5}, {'peer': 'p2'}, {'remote_ip': True}, {'bridge': 1.5},
    {'new_field': 1}, {'new_field': 'text'}, {'new_field': [1]},
    {'Bad': 1}, {'9x': 1}, {'x' * 64: 1}, {'x' * 65: 1},
    {'iface_id': '\udcff'}, {'iface_id': '\ud800x'}, {'iface_id': 'é✓'},
    {'iface_id': 'a' * (schema.MAX_STRING + 1)},
    {'new_field': 'a' * schema.MAX_STRING},
    {**{'f%d' % i: i for i in range(schema.MAX_FIELDS)}},
]


def _reference_record(value, host, name):
    """What the readers did before parse_record (name first)."""
    schema.check_name(name)
    return schema.check_record(schema.loads(value), host, name)


@pytest.mark.parametrize('mutation', _MUTATIONS)
@pytest.mark.parametrize('encode', [False, True])
def test_the_fast_path_decides_as_the_field_by_field_check(mutation,
                                                           encode):
    """parse_record / parse_entry (with their fast path for plain
    records) accept exactly what check_record / check_entry of loads()
    accept, with the same record or the same reason.
    """
    data = dict(vm(), **mutation)
    for text in (json.dumps(data), json.dumps(data, ensure_ascii=False)):
        try:
            value = text.encode('utf-8', 'surrogateescape') if encode \
                else text
        except UnicodeEncodeError:
            value = text
        for host, name in (('hv1', 'tap1'), ('hv1', 'tap2'), ('', 'tap1'),
                           ('hv1', 'x' * (schema.MAX_NAME + 1)),
                           ('h\udcff', 'tap1'), ('hv1', 'täp1')):
            assert _outcome(schema.parse_record, value, host, name) == (
                _outcome(_reference_record, value, host, name))
        for action in ('online', 'offline', 'bogus', None):
            entry = dict(data, action=action)
            value = json.dumps(entry)
            assert _outcome(schema.parse_entry, value, 'hv1') == _outcome(
                lambda v, h: schema.check_entry(schema.loads(v), h),
                value, 'hv1')


def test_a_publishers_record_takes_the_fast_path():
    for action in (None, 'online'):
        data, clean = schema._loads(stores.dumps(
            vm() if action is None else vm(action=action)))
        assert clean
        assert schema._fast_record(data, 'hv1', 'tap1') == vm()
    # Where it would have to look at each string, it does not decide.
    assert not schema._loads('{"a": "\\u00e9"}')[1]
    assert not schema._loads('"%s"' % ('a' * schema.MAX_STRING))[1]
    assert schema._fast_record(vm(extra=[1]), 'hv1', 'tap1') is None


@pytest.mark.parametrize('value', [
    '{"a":1}', ' {"a":1}', '{"a":1} ', '\n\t{"a":1}\n', '\ufeff{"a":1}',
    '{"a":1}x', '{"a":1}{"b":2}', '', ' ', '1', '"x"', '[1,2]', 'NaN',
    b'{"a":2}', bytearray(b'{"a":2}'), b'\xef\xbb\xbf{}', b' [] '])
def test_loads_parses_as_json_loads(value):
    text = bytes(value).decode() if not isinstance(value, str) else value
    try:
        want = ('ok', json.dumps(json.loads(text)))
    except ValueError:
        want = ('bad', 'value is not JSON')
    try:
        got = ('ok', json.dumps(schema.loads(value)))
    except schema.BadRecord as exc:
        got = ('bad', str(exc))
    assert got == want


@pytest.mark.parametrize('mutation', _MUTATIONS[:16])
def test_stream_entries_of_any_host_decide_as_check_entry(mutation):
    """parse_entry checks the host before its fast path: the same
    outcome as check_entry, whatever the host.
    """
    for action in ('online', 'offline', 'bogus'):
        value = json.dumps({**vm(), **mutation, 'action': action})
        for host in ('hv1', 'hv2', '', 'h\udcff', 'x' * (schema.MAX_NAME + 1),
                     'häst'):
            assert _outcome(schema.parse_entry, value, host) == _outcome(
                lambda v, h: schema.check_entry(schema.loads(v), h),
                value, host)


def test_redis_records_of_a_hash_decide_as_parse_record_each():
    """The Redis reader checks a hash's host once: each field still gets
    parse_record's outcome (a bad host refuses every record).
    """
    from df_ovsdb_agent.cluster import redis as cluster_redis

    good = stores.dumps(vm())
    values = {'tap1': good, 'tap2': stores.dumps(vm(name='tap2')),
              '': good, 'x' * (schema.MAX_NAME + 1): good,
              't\udcff': good, 'tap3': '{"kind": "vm"', 'tap4': None}
    for host in ('hv1', '', 'h\udcff', 'x' * (schema.MAX_NAME + 1)):
        state, skipped = cluster_redis._records(host, dict(values))
        want = {}
        for name, value in values.items():
            outcome = _outcome(schema.parse_record, value, host, name)
            if outcome[0] == 'ok':
                want[(host, name)] = outcome[1]
        assert {k: list(v.items()) for k, v in state.items()} == want
        assert skipped == len(values) - len(want)
    assert len(cluster_redis._records('hv1', dict(values))[0]) == 2
