"""A cold start writes without reading first (Store.first_write): the etcd
transaction that holds only while the host has no key, what it falls back
to, and when the writer uses it.
"""

import base64

import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import etcd_b64
from df_ovsdb_agent.cluster.stores import etcd_range_end
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.publishers import etcd
from df_ovsdb_agent.publishers.plan import plan
from df_ovsdb_agent.publishers.store import NotOwner
from df_ovsdb_agent.publishers.writer import Step
from df_ovsdb_agent.state import KeyedState
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import rec
from tests.unit.test_publisher_merged import MergingStore
from tests.unit.test_publisher_merged import ready_writer

ALIVE = {'synced': True}


class Client:
    """What EtcdStore uses of an etcd3gw client: every request recorded
    (path, body), canned replies by path.
    """

    base_url = 'http://127.0.0.1:1'
    api_path = '/v3/'

    def __init__(self, **replies):
        self.replies = {path: list(rs) for path, rs in replies.items()}
        self.timeout = 5.0
        self.sent = []
        self.timeouts = []

    def post(self, url, json):
        path = url[len(self.base_url + self.api_path) - 1:]
        self.sent.append((path, json))
        self.timeouts.append(self.timeout)
        reply = self.replies[path].pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def paths(self):
        return [path for path, _ in self.sent]


def grant(lease=7):
    return {'ID': str(lease), 'TTL': '60'}


def kv(key, value, lease=0, revision=5):
    return {'key': etcd_b64(key), 'value': base64.b64encode(value).decode(),
            'lease': str(lease), 'create_revision': str(revision),
            'mod_revision': str(revision)}


def cold_store(client, claim=True):
    store = etcd.EtcdStore(StoreOptions('http://127.0.0.1:1'), '/p', 60)
    store.bind(instance())
    store._client = client
    store._base, store._api = client.base_url, client.api_path
    if claim:
        store.claim({'owner': 'o1', 'synced': False})
    return store


def first(names, alive=ALIVE):
    write = plan(KeyedState(stores.record_identity),
                 {n: rec(n, 'u-' + n) for n in names}, resync=True)
    write.alive = alive
    return write


def test_a_cold_host_is_a_grant_and_one_transaction():
    client = Client(**{'/lease/grant': [grant()],
                       '/kv/txn': [{'succeeded': True}]})
    store = cold_store(client)
    assert store.first_write(first(['tap1', 'tap2'])) is None
    assert client.paths() == ['/lease/grant', '/kv/txn']
    body = client.sent[1][1]
    root = '/p/hv1/'
    host_range = {'key': etcd_b64(root), 'range_end': etcd_range_end(root)}
    # True iff no key of the host exists: CREATE == 0 over its range.
    assert body['compare'] == [dict(host_range, target='CREATE',
                                    create_revision=0, result='EQUAL')]
    assert body['failure'] == [{'request_range': host_range}]
    puts = [op['request_put'] for op in body['success']]
    assert [base64.b64decode(p['key']).decode() for p in puts] == [
        '/p/hv1/interfaces/tap1', '/p/hv1/interfaces/tap2', '/p/hv1/alive']
    assert {p['lease'] for p in puts} == {7}
    assert base64.b64decode(puts[-1]['value']) == b'{"synced":true}'
    # The transaction waits a quarter of the fresh lease's 60 s (a cold
    # start's backlog), the grant the configured 5 s.
    assert client.timeouts[0] == 5.0 and 14.0 < client.timeouts[1] <= 15.0
    assert client.timeout == 5.0
    # The claim is made: later writes carry the lease guard.
    assert store._claim is None and store._claim_compare is None
    assert store._lease_of == {'tap1': 7, 'tap2': 7}


def test_a_host_with_keys_gets_the_range_back_parsed_as_read_state():
    kvs = [kv('/p/hv1/alive', b'{"owner":"o1","pid":9,"started":50.0}',
              lease=3),
           kv('/p/hv1/interfaces/tap1',
              stores.dumps(rec('tap1', 'u1')).encode(), lease=3),
           kv('/p/hv1/interfaces/bad', b'{not json', lease=3)]
    # A key that is not UTF-8: read surrogate-escaped.
    kvs[2]['key'] = base64.b64encode(b'/p/hv1/interfaces/bad\xff').decode()
    keepalive = {'result': {'ID': '3', 'TTL': '60'}}
    failed = {'responses': [{'response_range': {'kvs': kvs}}]}
    client = Client(**{'/lease/grant': [grant()], '/kv/txn': [failed],
                       '/lease/keepalive': [keepalive, keepalive]})
    store = cold_store(client)
    found = store.first_write(first(['tap1']))
    assert client.paths() == ['/lease/grant', '/kv/txn', '/lease/keepalive']
    # The same as read_state from the same keys, on a store like it.
    reader = Client(**{'/kv/range': [{'kvs': kvs}],
                       '/lease/grant': [grant()],
                       '/lease/keepalive': [keepalive]})
    expected = cold_store(reader).read_state()
    assert found == expected
    state, rewrite = found
    assert state['tap1'] == rec('tap1', 'u1')
    assert rewrite == frozenset({'bad\udcff'})
    # The predecessor (pid 9, started earlier) is taken over: its lease
    # adopted, the claim compares the liveness key's revision.
    assert store._adopt == [3]
    assert store._claim_compare['target'] == 'MOD'


def test_another_owner_refuses_and_the_empty_lease_is_dropped():
    kvs = [kv('/p/hv1/alive', b'{"owner":"other","pid":1,"started":1.0}')]
    client = Client(**{'/lease/grant': [grant()], '/kv/txn': [
        {'responses': [{'response_range': {'kvs': kvs}}]}]})
    store = cold_store(client)
    with pytest.raises(NotOwner) as info:
        store.first_write(first(['tap1']))
    assert info.value.alive['owner'] == 'other'
    # No keepalive of a lease that holds nothing at the next connection.
    assert store.leases == [] and store.expires is None


@pytest.mark.parametrize('names, why', [
    (['t%03d' % i for i in range(etcd.MAX_TXN_OPS)], 'too many ops'),
    (['a'], 'no claim'),
])
def test_reads_instead_when_one_transaction_cannot_claim(names, why):
    client = Client(**{'/kv/range': [{}], '/lease/grant': [grant()]})
    store = cold_store(client, claim=why != 'no claim')
    assert store.first_write(first(names)) == ({}, frozenset())
    assert client.paths()[0] == '/kv/range'
    assert '/kv/txn' not in client.paths()


def test_one_op_under_the_limit_is_still_one_transaction():
    names = ['t%03d' % i for i in range(etcd.MAX_TXN_OPS - 1)]
    client = Client(**{'/lease/grant': [grant()],
                       '/kv/txn': [{'succeeded': True}]})
    assert cold_store(client).first_write(first(names)) is None
    assert len(client.sent[1][1]['success']) == etcd.MAX_TXN_OPS


def test_deletes_or_too_many_bytes_read_instead(monkeypatch):
    write = first(['a', 'b'])
    write.state['gone'] = None
    client = Client(**{'/kv/range': [{}], '/lease/grant': [grant()]})
    assert cold_store(client).first_write(write) == ({}, frozenset())
    assert client.paths() == ['/kv/range', '/lease/grant']
    monkeypatch.setattr(etcd, 'MAX_TXN_BYTES', 100)
    client = Client(**{'/kv/range': [{}], '/lease/grant': [grant()]})
    store = cold_store(client)
    assert store.first_write(first(['a', 'b'])) == ({}, frozenset())
    assert client.paths() == ['/lease/grant', '/kv/range']
    assert store._lease_of == {}


def test_a_refused_transaction_reads_and_writes_nothing():
    import etcd3gw.exceptions

    too_large = etcd3gw.exceptions.Etcd3Exception(
        detail_text='etcdserver: request is too large')
    client = Client(**{'/lease/grant': [grant()], '/kv/txn': [too_large],
                       '/kv/range': [{}]})
    store = cold_store(client)
    assert store.first_write(first(['a'])) == ({}, frozenset())
    assert client.paths() == ['/lease/grant', '/kv/txn', '/kv/range']
    assert store._lease_of == {} and store._claim is not None
    # Any other failure propagates: the writer reconnects.
    client = Client(**{'/lease/grant': [grant()],
                       '/kv/txn': [ConnectionError('refused')]})
    store = cold_store(client)
    with pytest.raises(ConnectionError):
        store.first_write(first(['a']))
    assert store._lease_of == {}


class FirstWritingStore(MergingStore):
    """A MergingStore that writes first when it holds nothing."""

    writes_first = True

    def first_write(self, write):
        self.calls.append('first')
        if self.data:
            return self.read_state()
        self.apply(write)
        return None


def test_writer_writes_first_on_a_cold_start_only():
    store = FirstWritingStore()
    writer = ready_writer(store)
    assert writer._pick() == (Step.ESTABLISH, None)
    writer._establish()
    assert store.calls == ['claim', 'first',
                           ('apply', ['tap1', 'tap2'], True, True)]
    assert writer._stored.copy() == store.data
    # The synced record went with it: nothing left to do.
    assert writer.connected and writer._pick() == (None, None)
    # A reconnection of a writer that knows of keys reads first.
    store.calls = []
    writer.connected = False
    writer._establish()
    assert store.calls == ['claim', 'read', ('apply', [], True, True)]


def test_writer_plans_again_from_what_the_first_write_found():
    store = FirstWritingStore()
    store.data = {'tap1': rec('tap1', 'old'), 'stale': rec('stale', 's')}
    writer = ready_writer(store)
    writer._establish()
    assert store.calls == ['claim', 'first', 'read',
                           ('apply', ['stale', 'tap1', 'tap2'], True, True)]
    assert sorted(store.data) == ['tap1', 'tap2']
    assert writer._stored.copy() == store.data


def test_writer_held_by_another_reads_first():
    store = FirstWritingStore()
    writer = ready_writer(store)
    writer._refused_by = ('other', 1, 1.0)
    writer._establish()
    assert store.calls[:2] == ['claim', 'read']


def test_writer_retrying_after_a_failure_reads_first():
    store = FirstWritingStore()
    writer = ready_writer(store)
    writer._streak = 1  # the attempt before failed (Writer._failed)
    writer._establish()
    assert store.calls == ['claim', 'read',
                           ('apply', ['tap1', 'tap2'], True, True)]
    # Once an attempt went well, a cold reconnection writes first again.
    writer._streak = 0
    writer._stored.clear()
    store.data = {}
    store.calls = []
    writer._establish()
    assert store.calls[:2] == ['claim', 'first']


def test_a_store_without_the_capability_reads_as_before():
    store = MergingStore()
    assert not store.writes_first
    writer = ready_writer(store)
    writer._establish()
    assert store.calls == ['claim', 'read',
                           ('apply', ['tap1', 'tap2'], True, True)]
    # The default first_write is a read.
    assert store.first_write(first(['x'])) == (store.data, frozenset())
