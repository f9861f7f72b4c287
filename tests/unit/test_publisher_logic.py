"""Pure logic of the publishers: write plans, ownership rules, backoff,
record limits and set-aside records.
"""


import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import Backoff
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.publishers import base
from df_ovsdb_agent.publishers import etcd as etcd_publisher
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import MemoryStore


def test_backoff_is_jittered_capped_and_resets():
    backoffs = [Backoff(2.0, initial=0.1) for _ in range(20)]
    sequences = [[b.next() for _ in range(12)] for b in backoffs]
    for seq in sequences:
        assert all(0.1 <= d <= 2.0 for d in seq)
    # Hosts that failed together do not retry in lockstep.
    assert len({seq[1] for seq in sequences}) > 1
    # It grows: late delays are mostly near the cap.
    late = [seq[-1] for seq in sequences]
    assert sum(late) / len(late) > 0.5
    backoffs[0].reset()
    assert backoffs[0].next() <= 0.3


def test_jittered_stays_within_ten_percent():
    values = [stores.jittered(300.0) for _ in range(500)]
    assert all(270.0 <= v <= 330.0 for v in values)
    assert max(values) - min(values) > 10


def test_alive_key_layout():
    assert stores.etcd_alive_key('/p/', 'hv1') == '/p/hv1/alive'
    assert stores.etcd_parse_alive_key('/p', '/p/hv1/alive') == 'hv1'
    assert stores.etcd_parse_alive_key('/p', '/p/hv1/interfaces/alive') \
        is None
    assert stores.etcd_parse_key('/p', '/p/hv1/alive') is None
    assert stores.redis_alive_key('kp', 'hv1') == 'kp:hv1:alive'
    assert stores.parse_alive('{"owner": "o"}') == {'owner': 'o'}
    assert stores.parse_alive('[1]') is None
    assert stores.parse_alive(b'\xff') is None


# -- bad records: limits, garbage in the store, set aside ---------------------

def vm(name, uuid='u-' + '1' * 34, iface_id='port-1'):
    return Interface(Kind.VM, name, uuid, 1, bridge='br-int',
                     iface_id=iface_id)


def writer_for(store):
    writer = base.Writer(store, lambda: instance(), max_backoff=1.0)
    writer._identity()
    return writer


def test_a_refused_record_is_found_by_bisection_and_set_aside(caplog):
    store = MemoryStore(lambda r: r.get('iface_id') == 'poison')
    writer = writer_for(store)
    names = ['tap%02d' % i for i in range(16)]
    with writer._cond:
        for i, name in enumerate(names):
            writer._desired.update({name: vm(
                name, 'u%d' % i, 'poison' if name == 'tap05' else 'p')})
    writer._do_reconcile()
    assert sorted(store.data) == [n for n in names if n != 'tap05']
    assert writer.set_aside() == {'tap05': base.Aside(
        'refused', 'refused by memory: UnicodeEncodeError: \'utf-8\' codec '
        'can\'t encode character \'\\x78\' in position 0: refused')}
    # log2(16) levels of halves: a handful of writes, not one per record.
    assert len(store.writes) <= 8
    errors = [r for r in caplog.records if r.levelname == 'ERROR']
    assert len(errors) == 1 and 'tap05' in errors[0].getMessage()
    # Unchanged, it is not offered again: no refusal, no new ERROR.
    store.writes.clear()
    writer._push({'tap05': vm('tap05', 'u5', 'poison')})
    writer._do_reconcile()
    assert store.writes == []
    assert len([r for r in caplog.records if r.levelname == 'ERROR']) == 1
    # Changed into something storable: written, no longer set aside.
    fixed = vm('tap05', 'u5', 'p')
    with writer._cond:
        writer._desired.update({'tap05': fixed})
    writer._push({'tap05': fixed})
    assert store.data['tap05']['iface_id'] == 'p'
    assert writer.set_aside() == {}
    assert writer._alive_key() == (False, 16)


def test_a_record_that_turns_bad_leaves_the_store():
    store = MemoryStore(lambda r: r.get('iface_id') == 'poison')
    writer = writer_for(store)
    good = vm('tap1', 'u1', 'p')
    with writer._cond:
        writer._desired.update({'tap1': good, 'tap2': vm('tap2', 'u2')})
    writer._do_reconcile()
    assert sorted(store.data) == ['tap1', 'tap2']
    # Refused by the store: its stale value is deleted.
    bad = vm('tap1', 'u1', 'poison')
    with writer._cond:
        writer._desired.update({'tap1': bad})
    writer._push({'tap1': bad})
    assert sorted(store.data) == ['tap2']
    assert writer._stored.copy() == {'tap2': store.data['tap2']}
    # Over the limits: never offered to the store at all.
    big = vm('tap2', 'u2', 'x' * 5000)
    store.writes.clear()
    writer._push({'tap2': big})
    assert store.data == {} and store.writes == [['tap2']]
    assert sorted(writer.set_aside()) == ['tap1', 'tap2']
    assert writer.set_aside()['tap2'].code == 'too_large'
    # Gone: nothing to set aside any more.
    writer._push({'tap1': None, 'tap2': None})
    assert writer.set_aside() == {}


def test_a_store_that_is_down_is_not_a_bad_record():
    store = MemoryStore(fail=ConnectionError('refused'))
    writer = writer_for(store)
    with writer._cond:
        writer._desired.update({'tap1': vm('tap1')})
    with pytest.raises(ConnectionError):
        writer._do_reconcile()
    assert writer.set_aside() == {}


def test_etcd_transactions_are_bounded_in_operations_and_bytes():
    def put(size):
        return {'request_put': {'key': 'k', 'value': 'v' * size}}
    small = [put(10)] * 300
    assert [len(c) for c in etcd_publisher._chunks(small)] == [128, 128, 44]
    big = [put(400 << 10)] * 5
    assert [len(c) for c in etcd_publisher._chunks(big)] == [2, 2, 1]
    # One operation over the bound still goes (alone): etcd decides.
    assert [len(c) for c in etcd_publisher._chunks([put(2 << 20)] * 2)] \
        == [1, 1]


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
