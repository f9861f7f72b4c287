"""Pure logic the publishers share with the cluster consumers (key
layout, redaction; their backoff is tested in test_backoff) and the etcd
adapter's transaction bounds.

The publisher modules' own tests sit beside them: test_publisher_records,
_plan, _store and _writer.
"""


import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.publishers import etcd as etcd_publisher


@pytest.mark.parametrize('function,args,expected', [
    ('etcd_alive_key', ('/p/', 'hv1'), '/p/hv1/alive'),
    ('etcd_parse_alive_key', ('/p', '/p/hv1/alive'), 'hv1'),
    ('etcd_parse_alive_key', ('/p', '/p/hv1/interfaces/alive'), None),
    ('etcd_parse_key', ('/p', '/p/hv1/alive'), None),
    ('redis_alive_key', ('kp', 'hv1'), 'kp:hv1:alive'),
    ('parse_alive', ('{"owner": "o"}',), {'owner': 'o'}),
    ('parse_alive', ('[1]',), None),
    ('parse_alive', (b'\xff',), None),
], ids=['etcd-key', 'etcd-parse', 'etcd-parse-interface-named-alive',
        'etcd-alive-is-no-interface', 'redis-key', 'parse', 'parse-not-object',
        'parse-not-utf8'])
def test_alive_key_layout(function, args, expected):
    got = getattr(stores, function)(*args)
    assert got is None if expected is None else got == expected


def _put(size):
    return {'request_put': {'key': 'k', 'value': 'v' * size}}


@pytest.mark.parametrize('size,count,chunks', [
    (10, 300, [128, 128, 44]),
    (400 << 10, 5, [2, 2, 1]),
    # One operation over the bound still goes (alone): etcd decides.
    (2 << 20, 2, [1, 1]),
], ids=['by-operations', 'by-bytes', 'one-over-the-bound'])
def test_etcd_transactions_are_bounded_in_operations_and_bytes(
        size, count, chunks):
    ops = [_put(size)] * count
    assert [len(c) for c in etcd_publisher._chunks(ops)] == chunks


@pytest.mark.parametrize('url,shown', [
    ('redis://:pw@h:1/0', 'redis://:***@h:1/0'),
    ('rediss://:pw@127.0.0.1:6380/0', 'rediss://:***@127.0.0.1:6380/0'),
    ('redis://user:pw@h/0', 'redis://user:***@h/0'),
    ('redis://u:p@ss@h/0', 'redis://u:***@h/0'),
    ('redis://:pa/ss@h', 'redis://:***@h'),
    ('redis://h:1/0?password=pw', 'redis://h:1/0?password=***'),
    ('redis://h/0?db=1&pw=a&token=b;secret=c&Api_Key=d',
     'redis://h/0?db=1&pw=***&token=***;secret=***&Api_Key=***'),
    ('redis://h/0?pass%77ord=pw', 'redis://h/0?pass%77ord=***'),
    ('unix://:pw@/run/r.sock?db=0&password=pw',
     'unix://:***@/run/r.sock?db=0&password=***'),
    ('redis://h/0?user=me@x&password=a@b',
     'redis://h/0?user=me@x&password=***'),
    ('redis://[::1:6379/0?password=pw', 'redis://[::1:6379/0?password=***'),
    ('redis://u@h/0', 'redis://u@h/0'),
    ('http://127.0.0.1:2379', 'http://127.0.0.1:2379'),
    ('unix:///run/redis@1.sock?db=0', 'unix:///run/redis@1.sock?db=0'),
])
def test_redact_masks_every_form_of_a_password(url, shown):
    assert stores.redact(url) == shown
