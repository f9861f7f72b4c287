"""A store wiped under a live consumer does not flap the fleet.

Real etcd and Redis are killed and restarted on empty data while real
agents' publishers republish: the consumer holds each host's last view
until the host is synced again, then reports only what really changed
meanwhile -- no ``down``/``up``, no ``offline``/``online`` for unchanged
interfaces.  A host that never comes back is reported down after its
grace (its liveness TTL), not before.
"""

import time

import pytest

from df_ovsdb_agent.cluster import ClusterHost
from tests.functional.simhosts import changes
from tests.functional.simhosts import converged
from tests.functional.simhosts import EtcdHost
from tests.functional.simhosts import markers
from tests.functional.simhosts import record
from tests.functional.simhosts import RedisHost
from tests.functional.simhosts import Tail
from tests.functional.stores import EtcdServer
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import RedisServer
from tests.functional.stores import wait_until
from tests.functional import test_cluster_etcd
from tests.functional import test_cluster_redis
from tests.helpers import vsctl_vm as vm

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]

TTL = 3  # seconds: lease / liveness TTL of the publishers here


@pytest.fixture(params=['etcd', 'redis'])
def store(request, tmp_path):
    """A store server, its publisher options and a consumer factory."""
    if request.param == 'etcd':
        server = EtcdServer(str(tmp_path / 'etcd'), extra_args=(
            '--experimental-watch-progress-notify-interval', '200ms'))
        make = test_cluster_etcd.watcher
        options = {'lease_ttl': TTL}
    else:
        server = RedisServer(str(tmp_path / 'redis'))
        make = test_cluster_redis.reader
        options = {'liveness_ttl': TTL}
    server.start()
    server.kind = request.param
    server.consumer = lambda: make(server) if request.param == 'etcd' \
        else make(server, liveness_interval=0.2)
    server.options = options
    yield server
    server.stop()


def wipe(server):
    """kill -9, forget every key, start again on the same port."""
    server.kill()
    if server.kind == 'etcd':
        server.wipe()
    server.start()


def names(tail, host):
    return sorted(k[1] for k in tail.state if k[0] == host)


def test_wiped_store_real_agent_only_real_changes(store, ovs, make_agent,
                                                  make_publisher):
    agent = make_agent(ovs.remote)
    publisher = make_publisher(store.kind, agent, 'hv1', url=store.url,
                               **store.options)
    agent.start()
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*vm('tap1'))
    ovs.vsctl(*vm('tap2'))
    assert publisher.wait_flushed(10)
    tail = Tail(store.consumer())
    try:
        tail.wait(lambda evs: 'host hv1 synced' in markers(evs) and
                  names(tail, 'hv1') == ['br-int', 'tap1', 'tap2'])
        mark = tail.wait(lambda evs: True)
        wipe(store)
        # The consumer sees the empty store before the agent wrote again.
        wait_until(lambda: tail.watcher.resets >= 1, 20, 'the reset')
        # Real changes while the store is being refilled.
        ovs.vsctl(*vm('tap3'))
        ovs.vsctl('del-port', 'tap2')
        tail.wait(lambda evs: names(tail, 'hv1') == [
            'br-int', 'tap1', 'tap3'], 30)
        # The publisher is done: nothing more is coming.
        assert publisher.wait_flushed(10)
        wait_until(lambda: not tail.watcher.holds, 10, 'the hold to end')
        events = tail.since(mark)
    finally:
        tail.stop()
    assert not tail.errors, tail.errors
    assert changes(events) == [('hv1', 'offline', 'tap2'),
                               ('hv1', 'online', 'tap3')]
    assert markers(events) == []


def etcd_alive(host, **kwargs):
    """A liveness record that says ``ttl`` TTL on a lease of 60 s, so the
    simulated host does not need keepalives.
    """
    host.ttl = TTL
    try:
        host.set_alive(**kwargs)
    finally:
        host.ttl = 60


def test_a_host_that_never_comes_back_goes_down_after_its_grace(store):
    if store.kind == 'etcd':
        hosts = [EtcdHost(store, h, ttl=60) for h in ('hv1', 'hv2')]
        for host in hosts:
            host.put(*[record(host.host, 'tap%d' % i) for i in range(3)])
            etcd_alive(host, synced=True)
    else:
        # Liveness records that say TTL but live 60 s.
        hosts = [RedisHost(store.client(), h, ttl=TTL)
                 for h in ('hv1', 'hv2')]
        for host in hosts:
            host.set_alive(synced=True, interfaces=3, ttl_ms=60000)
            host.change(puts=[record(host.host, 'tap%d' % i)
                              for i in range(3)], sync=True)
    hv1, hv2 = hosts
    tail = Tail(store.consumer())
    try:
        mark = tail.wait(converged(tail, hv1, hv2))
        wipe(store)
        wait_until(lambda: tail.watcher.resets >= 1, 20, 'the reset')
        reset_at = time.monotonic()
        # hv2's publisher writes again; hv1's never does.
        if store.kind == 'redis':
            hv2.client = store.client()
            hv2.rewrite(synced=True, ttl_ms=60000)
        else:
            hv2.grant()
            etcd_alive(hv2, synced=False)
            hv2.put(*hv2.records.values())
            etcd_alive(hv2, synced=True)
        tail.wait(lambda evs: 'hv2' not in tail.watcher.holds)
        tail.wait(lambda evs: 'host hv1 down' in markers(evs), 20)
        down_after = time.monotonic() - reset_at
        hv1.records.clear()
        tail.wait(converged(tail, hv1, hv2))
        events = tail.since(mark)
    finally:
        tail.stop()
    # Not before hv1's grace (its TTL), counted from the reset seen.
    assert down_after >= TTL - 0.5, down_after
    assert markers(events) == ['host hv1 down']
    assert changes(events) == [('hv1', 'offline', 'tap%d' % i)
                               for i in range(3)]
    # hv2, back unchanged, gave no event; hv1 went down, then offline.
    hv1_events = [e for e in events if getattr(e, 'host', None) == 'hv1']
    assert isinstance(hv1_events[0], ClusterHost)
