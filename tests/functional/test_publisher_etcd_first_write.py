"""A cold start on etcd writes without reading first, against real etcd.

A host with no key in etcd costs a lease grant and one transaction, whose
compare holds only while no key of the host exists; a host with keys gets
them back from that transaction's failure branch and is reconciled from
there, as after a read.  The requests are counted as the publisher's
thread sends them (``requests.Session.request``); what etcd holds is read
raw.
"""

import base64
import random
import threading
import urllib.parse

import pytest
import requests

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from tests.functional.stores import etcd_alive
from tests.functional.stores import etcd_keys_per_lease
from tests.functional.stores import etcd_range
from tests.functional.stores import etcd_revision
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import etcd_written_since
from tests.functional.stores import expected_records
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import wait_until
from tests.functional.test_publisher_lifecycle import EtcdSide
from tests.functional.test_publisher_lifecycle import populate
from tests.functional.test_publisher_lifecycle import run
from tests.functional.test_publisher_lifecycle import stop
from tests.functional.test_publisher_lifecycle import SyntheticAgent
from tests.functional.test_publisher_lifecycle import vm
from tests.functional.test_publisher_redis_write import hostile_names

pytestmark = [pytest.mark.functional, pytest.mark.timeout(90)]

GRANT, TXN, RANGE, KEEPALIVE = ('/v3/lease/grant', '/v3/kv/txn',
                                '/v3/kv/range', '/v3/lease/keepalive')
TOP = stores.etcd_host_prefix(stores.ETCD_PREFIX, 'hv1')


@pytest.fixture(name='sent_by')
def sent_by_fixture(monkeypatch):
    """``sent_by(pub)``: the paths of the HTTP requests pub's writer
    thread sent, in order (etcd3gw's one ``GET /version`` per process and
    URL left out).
    """
    sent = []
    request = requests.Session.request

    def recorded(session, method, url, *args, **kwargs):
        sent.append((threading.current_thread(),
                     urllib.parse.urlsplit(url).path))
        return request(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, 'request', recorded)

    def sent_by(pub):
        return [path for thread, path in list(sent)
                if thread is pub.writer._thread and path != '/version']
    return sent_by


def raw_host(server, host='hv1'):
    """key bytes (after the host's interface prefix) -> (value, lease)."""
    top = stores.etcd_host_prefix(stores.ETCD_PREFIX, host).encode()
    return {base64.b64decode(kv['key'])[len(top):]: (
        base64.b64decode(kv.get('value', '')), int(kv.get('lease', 0)))
        for kv in etcd_range(server, top.decode())}


def put_raw(server, key, value=b'{}'):
    client = server.client()
    client.post(client.get_url('/kv/put'), json={
        'key': base64.b64encode(key).decode(),
        'value': base64.b64encode(value).decode()})


def interfaces(names):
    return [Interface(Kind.VM, name, 'u%d' % i, i + 1, iface_id='p%d' % i)
            for i, name in enumerate(names)]


def feed(agent, ports):
    agent.bus.publish_many([InterfaceEvent(Action.ONLINE, p) for p in ports]
                           + [SYNC_FINISHED])


def records_of(ports, host='hv1'):
    return {p.name: dict(p.to_dict(), host=host) for p in ports}


def test_cold_host_is_a_grant_and_one_transaction(
        ovsdb, etcd_server, make_agent, make_publisher, sent_by):
    side = EtcdSide(etcd_server)
    populate(ovsdb)
    before = etcd_revision(etcd_server)
    agent, pub = run(make_agent, make_publisher, side, ovsdb)
    assert pub.writer.wait_flushed(10)
    assert sent_by(pub) == [GRANT, TXN]
    # The claim, the four interface keys and the synced record: one
    # revision, all on the publisher's own lease.
    assert etcd_revision(etcd_server) == before + 1
    assert etcd_keys_per_lease(etcd_server, 'hv1') == {pub.store.lease_id: 5}
    assert side.alive()['synced'] is True
    assert side.alive()['interfaces'] == 4
    # Later changes carry the usual guard: one transaction each.
    ovsdb.vsctl(*vm('tap4', 4, 'p4'))
    wait_until(lambda: side.records() == expected_records(agent, 'hv1'))
    assert pub.writer.wait_flushed(10)
    assert set(sent_by(pub)[2:]) == {TXN}


def test_restart_onto_stale_keys_adopts_and_rewrites(
        ovsdb, etcd_server, make_agent, make_publisher, sent_by):
    """An earlier process's keys: its lease adopted, garbage and changed
    interfaces rewritten, the rest untouched -- from the range the failed
    first transaction brought back, no read of its own.
    """
    side = EtcdSide(etcd_server)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb)
    old_lease = pub.store.lease_id
    stop(agent, pub)
    # While it is down: an interface goes, one comes, one key is forged
    # and an unknown one appears off any lease.
    ovsdb.vsctl('del-port', 'tap3')
    ovsdb.vsctl(*vm('tap4', 4, 'p4'))
    put_raw(etcd_server, TOP.encode() + b'tap1', b'{"name": "forged"}')
    put_raw(etcd_server, TOP.encode() + b'tap-gone')
    mark = etcd_revision(etcd_server)

    agent, pub = run(make_agent, make_publisher, side, ovsdb)
    assert pub.writer.wait_flushed(10)
    assert sent_by(pub) == [GRANT, TXN, KEEPALIVE, TXN]
    assert old_lease in pub.store.leases and pub.store.lease_id != old_lease
    assert etcd_written_since(etcd_server, 'hv1', mark) == ['tap1', 'tap4']
    assert side.records() == expected_records(agent, 'hv1')
    assert sorted(raw_host(etcd_server)) == [b'br-int', b'tap1', b'tap2',
                                             b'tap4']
    assert etcd_revision(etcd_server) == mark + 1


def test_host_held_by_another_live_agent_writes_nothing(
        ovsdb, etcd_server, make_agent, make_publisher, sent_by):
    side = EtcdSide(etcd_server)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, owner='oA')
    before = etcd_revision(etcd_server)
    held = side.records()
    other = SyntheticAgent('hv1')
    intruder = make_publisher('etcd', other, None, 'oB', **side.options())
    ports = interfaces(['tap9'])
    feed(other, ports)
    wait_until(lambda: intruder.writer.refusals >= 3, 20,
               'the intruder to be refused a few times')
    assert intruder.writer.refused
    # One optimistic attempt; then reads only, without the lease it had
    # granted (nothing on it: left to expire, not kept alive).
    paths = sent_by(intruder)
    assert paths[:2] == [GRANT, TXN] and set(paths[2:]) == {RANGE}
    assert intruder.store.leases == []
    assert etcd_revision(etcd_server) == before
    assert side.records() == held and side.held_by(pub)

    # The first agent leaves for good: the intruder takes over.
    pub.writer.revoke_on_stop = True
    stop(agent, pub)
    wait_until(lambda: side.records() == records_of(ports) and
               side.held_by(intruder), 20, 'the intruder to take over')


@pytest.mark.parametrize('intruder', ['stale-key', 'other-owner'])
def test_key_created_between_grant_and_transaction(
        etcd_server, make_publisher, sent_by, intruder):
    """Another writer creates a key of the host after the lease grant,
    before the transaction: nothing optimistic is written; the publisher
    goes on from the key it finds.
    """
    agent = SyntheticAgent('hv1')
    pub = make_publisher('etcd', agent, None,
                         **EtcdSide(etcd_server).options())
    store = pub.store
    grant = store._grant
    alive_key = stores.etcd_alive_key(stores.ETCD_PREFIX, 'hv1')

    def race():
        if intruder == 'stale-key':
            put_raw(etcd_server, TOP.encode() + b'tap-late')
        else:
            put_raw(etcd_server, alive_key.encode(), stores.dumps({
                'owner': 'oX', 'pid': 1, 'started': 1.0}).encode())

    def grant_then_race():
        lease = grant()
        # From another thread, as another writer would.
        other = threading.Thread(target=race)
        other.start()
        other.join()
        store._grant = grant
        return lease

    store._grant = grant_then_race
    ports = interfaces(['tap1', 'tap2'])
    feed(agent, ports)
    side = EtcdSide(etcd_server)
    if intruder == 'stale-key':
        assert pub.writer.wait_flushed(10)
        assert sent_by(pub) == [GRANT, TXN, TXN]
        assert side.records() == records_of(ports) and side.held_by(pub)
        assert sorted(raw_host(etcd_server)) == [b'tap1', b'tap2']
        return
    wait_until(lambda: pub.writer.refused, 10, 'the publisher refused')
    assert sent_by(pub)[:2] == [GRANT, TXN]
    assert raw_host(etcd_server) == {}
    assert etcd_alive(etcd_server, 'hv1')[0]['owner'] == 'oX'
    # That record goes: the host is claimed (after a read, as a host
    # held by another is).
    etcd_server.client().delete(alive_key)
    wait_until(lambda: side.records() == records_of(ports) and
               side.held_by(pub), 20, 'the publisher to claim the host')
    assert not pub.writer.refused


@pytest.mark.parametrize('count, expected', [
    (126, [GRANT, TXN]),    # 126 puts + the synced record: 127 ops
    (127, [GRANT, TXN]),    # 128 ops: etcd's --max-txn-ops
    (128, [RANGE, GRANT, TXN, TXN]),
    (300, [RANGE, GRANT, TXN, TXN, TXN]),
])
def test_a_first_write_over_one_transaction_reads_first(
        etcd_server, make_publisher, sent_by, count, expected):
    agent = SyntheticAgent('hv1')
    pub = make_publisher('etcd', agent, None,
                         **EtcdSide(etcd_server).options())
    ports = interfaces(['tap%04d' % i for i in range(count)])
    feed(agent, ports)
    assert pub.writer.wait_flushed(20)
    assert sent_by(pub) == expected
    side = EtcdSide(etcd_server)
    assert side.records() == records_of(ports) and side.held_by(pub)
    assert side.alive()['synced'] is True
    assert etcd_keys_per_lease(etcd_server, 'hv1') == {
        pub.store.lease_id: count + 1}


@pytest.mark.parametrize('garbage', [False, True],
                         ids=['cold', 'garbage-keys'])
def test_hostile_names_written_first_and_taken_over(
        etcd_server, make_publisher, sent_by, garbage):
    """Names with any character; keys already there that are not UTF-8
    (read back surrogate-escaped) are deleted byte-exact.
    """
    names = hostile_names(random.Random(7))[:120]
    junk = [b'\xff', b'\xfe\x00', b'tap\xc3', b'x/\xff/..']
    for key in junk if garbage else []:
        put_raw(etcd_server, TOP.encode() + key, b'\xff{')
    agent = SyntheticAgent('hv1')
    pub = make_publisher('etcd', agent, None,
                         **EtcdSide(etcd_server).options())
    ports = interfaces(names)
    feed(agent, ports)
    assert pub.writer.wait_flushed(20)
    assert sent_by(pub) == ([GRANT, TXN, TXN] if garbage else [GRANT, TXN])
    found = raw_host(etcd_server)
    assert found == {p.name.encode(): (
        stores.dumps(dict(p.to_dict(), host='hv1')).encode(),
        pub.store.lease_id) for p in ports}

    # The next process of the owner takes the keys over as they are.
    mark = etcd_revision(etcd_server)
    pub.stop()
    agent = SyntheticAgent('hv1')
    pub = make_publisher('etcd', agent, None,
                         **EtcdSide(etcd_server).options())
    feed(agent, ports)
    assert pub.writer.wait_flushed(20)
    assert sent_by(pub) == [GRANT, TXN, KEEPALIVE, TXN]
    assert etcd_written_since(etcd_server, 'hv1', mark) == []
    assert {k: v for k, (v, _) in raw_host(etcd_server).items()} == {
        k: v for k, (v, _) in found.items()}
