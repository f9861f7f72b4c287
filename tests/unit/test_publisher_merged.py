"""One write per (re)connection: the claim, the data and the liveness
record together; and the refresh timing against the TTL.
"""

import base64
import time

import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.publishers import etcd
from df_ovsdb_agent.publishers.plan import Write
from df_ovsdb_agent.publishers.writer import MIN_RETRY
from df_ovsdb_agent.publishers.writer import Step
from df_ovsdb_agent.publishers.writer import Writer
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import MemoryStore
from tests.unit.publisher_support import rec


class MergingStore(MemoryStore):
    """A MemoryStore that claims with its first write, as etcd and Redis
    do, and records every store call in order.
    """

    writes_alive = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []
        self.alive = None
        self.pending = None

    def claim(self, alive):
        self.calls.append('claim')
        self.pending = alive

    def read_state(self):
        self.calls.append('read')
        return super().read_state()

    def apply(self, write):
        super().apply(write)
        self.calls.append(('apply', sorted(write.state),
                           None if write.alive is None
                           else write.alive['synced'],
                           self.pending is not None))
        if write.alive is not None or self.pending is not None:
            self.alive = write.alive or self.pending
            self.pending = None

    def put_alive(self, alive):
        self.calls.append(('put_alive', alive['synced'],
                           self.pending is not None))
        self.alive = alive
        self.pending = None


def vm(name, uuid):
    return Interface(Kind.VM, name, uuid, 1, bridge='br-int', iface_id='p')


def ready_writer(store, names=('tap1', 'tap2')):
    writer = Writer(store, lambda: instance(), max_backoff=10.0)
    writer._identity()
    with writer._cond:
        for i, name in enumerate(names):
            writer._desired.update({name: vm(name, 'u%d' % i)})
    writer.offer(SyncEvent(Sync.FINISHED))
    return writer


def test_a_connection_is_one_write_with_the_synced_record_last():
    store = MergingStore()
    writer = ready_writer(store)
    assert writer._pick() == (Step.ESTABLISH, None)
    writer._establish()
    # No separate claim or liveness write: one apply made the claim,
    # wrote the data and then the synced record.
    assert store.calls == ['claim', 'read',
                           ('apply', ['tap1', 'tap2'], True, True)]
    assert store.alive['synced'] is True and store.alive['interfaces'] == 2
    assert writer.connected
    # The liveness record written is the writer's view: no ALIVE step.
    work, _ = writer._pick()
    assert work is None


def test_nothing_to_write_claims_with_the_liveness_record_alone():
    store = MergingStore()
    store.data = {'tap1': rec('tap1', 'x')}
    writer = ready_writer(store, names=())
    store.data = {}
    writer._establish()
    assert store.calls == ['claim', 'read', ('apply', [], True, True)]


def test_a_refused_record_leaves_the_liveness_record_to_a_put():
    store = MergingStore(lambda r: r['name'] == 'tap2')
    writer = ready_writer(store)
    writer._establish()
    applies = [c for c in store.calls if c[0] == 'apply']
    # The halves carry no liveness record; the first one made the claim.
    assert all(c[2] is None for c in applies)
    assert applies[0][3] is True
    assert store.calls[-1] == ('put_alive', True, False)
    assert store.alive['interfaces'] == 1 and sorted(store.data) == ['tap1']


def test_write_subset_drops_the_liveness_record():
    write = Write([], {'a': None, 'b': None}, alive={'synced': True})
    assert bool(Write([], {}, alive={})) and not Write([], {})
    assert write.subset(['a']).alive is None


def test_refresh_scheduled_from_when_it_was_sent_never_later():
    store = MemoryStore()
    store.ttl, store.tick_interval = 60, 20.0
    writer = ready_writer(store)
    began = time.monotonic() - 5.0  # a refresh that took 5 s
    writer._refreshed_at(began)
    assert began + 18.0 <= writer._next_tick <= began + 20.0
    assert writer.min_margin is None and writer.refreshes == 1
    writer._refreshed_at(began + 50.0)
    assert writer.min_margin == 10.0


def test_retry_delay_is_a_quarter_of_the_time_left():
    store = MemoryStore()
    store.ttl = 8
    writer = ready_writer(store)
    # Without a refresh yet: the plain backoff.
    writer._backoff._last = 10.0
    assert writer._delay() <= 10.0
    writer._refreshed = time.monotonic() - 6.0  # 2 s left
    for _ in range(50):
        writer._backoff._last = 10.0
        assert MIN_RETRY <= writer._delay() <= 0.5
    # Past the TTL the lease is gone anyway: the plain backoff again.
    writer._refreshed = time.monotonic() - 9.0
    writer._backoff._last = 10.0
    delays = [writer._delay() for _ in range(20)]
    assert max(delays) > 0.5


def test_refresh_timeout_gives_a_slow_store_time_but_not_the_lease():
    timeout = MemoryStore.refresh_timeout
    assert timeout(5.0, 40.0) == 10.0   # a keepalive at TTL/3 of 60 s
    assert timeout(5.0, 8.0) == 4.0     # at most half the time left
    assert timeout(5.0, 2.0) == 1.0
    assert timeout(1.0, 20.0) == 5.0
    assert timeout(5.0, 0.01) == 0.1


def test_etcd_lease_deadlines_count_from_the_request_sent():
    store = etcd_store()
    assert store.expires is None
    sent = time.monotonic()
    store._deadlines = {7: sent + 20.0, 8: sent + 50.0}
    store.leases = [7, 8]
    assert store.expires == sent + 20.0
    store.leases = [8]
    assert store.expires == sent + 50.0


def etcd_store():
    store = etcd.EtcdStore(StoreOptions('http://127.0.0.1:1'), '/p', 60)
    store.bind(instance())
    store.leases = [7]
    return store


def alive_ops(chunk, store):
    key = stores.etcd_b64(store.alive_key)
    return [op['request_put'] for op in chunk
            if op.get('request_put', {}).get('key') == key]


def test_etcd_one_transaction_with_the_synced_record_last():
    store = etcd_store()
    store._claim = {'synced': False}
    ops = [{'request_put': {'key': 'k%d' % i, 'value': 'v', 'lease': 7}}
           for i in range(50)]
    [chunk] = store._with_alive(ops, {'synced': True})
    assert chunk[:-1] == ops and len(alive_ops(chunk, store)) == 1
    assert chunk[-1]['request_put']['value'] == stores.etcd_b64(
        stores.dumps({'synced': True}))
    # Nothing but the claim: one put of the liveness record.
    assert [len(c) for c in store._with_alive([], None)] == [1]


def test_etcd_large_write_claims_first_and_is_synced_last():
    store = etcd_store()
    store._claim = {'synced': False}
    ops = [{'request_put': {'key': 'k%d' % i, 'value': 'v', 'lease': 7}}
           for i in range(etcd.MAX_TXN_OPS)]
    chunks = store._with_alive(ops, {'synced': True})
    assert len(chunks) == 2
    assert all(len(c) <= etcd.MAX_TXN_OPS for c in chunks)
    first, last = alive_ops(chunks[0], store), alive_ops(chunks[-1], store)
    assert chunks[0][0]['request_put'] is first[0] and len(first) == 1
    assert chunks[-1][-1]['request_put'] is last[0] and len(last) == 1
    assert base64.b64decode(first[0]['value']) == b'{"synced":false}'
    # Without a pending claim, no record in the first transaction.
    store._claim = None
    chunks = store._with_alive(ops, {'synced': True})
    assert alive_ops(chunks[0], store) == [] and len(chunks) == 2


class FakeClient:
    """What EtcdStore uses of an etcd3gw client: canned keepalive replies,
    and the timeout each request was sent with.
    """

    # As etcd3gw >= 2.4: a base URL, an API path found once.
    base_url = 'http://127.0.0.1:1'
    api_path = '/v3/'

    def __init__(self, *replies):
        self.replies = list(replies)
        self.timeout = 5.0
        self.timeouts = []

    def get_url(self, path):
        return path

    def post(self, url, json):
        self.timeouts.append(self.timeout)
        return self.replies.pop(0)


def test_etcd_keepalive_error_is_a_failure_not_a_lost_lease():
    store = etcd_store()
    store._deadlines = {7: time.monotonic() + 40.0}
    store._client = FakeClient(
        {'error': {'grpc_code': 14, 'message': 'etcdserver: request '
                   'timed out'}},
        {'result': {'ID': '7', 'TTL': '60'}},
        {'result': {'ID': '7'}})
    with pytest.raises(etcd.KeepaliveFailed, match='request timed out'):
        store._keepalive(7)
    assert 7 in store._deadlines  # not known to be lost
    before = time.monotonic()
    assert store._keepalive(7) == 60
    assert before + 60 <= store._deadlines[7] <= time.monotonic() + 60
    # The lease had ~40 s left: the keepalives waited ~10 s, not 5 s.
    assert all(9.0 < t <= 10.0 for t in store._client.timeouts)
    assert store._client.timeout == 5.0
    # etcd no longer knows it: no TTL in the reply.
    assert store._keepalive(7) == -1 and 7 not in store._deadlines
