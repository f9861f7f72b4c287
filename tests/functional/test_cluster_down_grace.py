"""A lease blip does not flap a host's interfaces (``down_grace``).

Real etcd and Redis; hosts simulated in the publishers' layout
(tests.functional.simhosts).  A host whose liveness record vanishes (etcd:
its lease revoked, every key with it; Redis: the record deleted) and comes
back within the consumer's ``down_grace`` costs no interface event and no
``down``/``up``; one that stays away longer is reported ``down``, then
``offline`` for every interface, no earlier than the grace; when it comes
back, ``up``, ``online`` for each interface and ``synced``.  By default
(no ``down_grace`` given) the grace is half the TTL the host's liveness
record announced.
"""

import time

import pytest

from df_ovsdb_agent.cluster import ClusterSync
from tests.functional.simhosts import changes
from tests.functional.simhosts import converged
from tests.functional.simhosts import markers
from tests.functional.simhosts import record
from tests.functional.simhosts import Tail
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import wait_until
from tests.functional import test_cluster_etcd
from tests.functional.test_cluster_etcd import etcd_fixture  # noqa: F401
from tests.functional import test_cluster_redis

pytestmark = [pytest.mark.functional, pytest.mark.timeout(90)]


class EtcdSide:
    """Hosts and a consumer on etcd."""

    def __init__(self, server):
        self.server = server

    def consumer(self, **kwargs):
        return test_cluster_etcd.watcher(self.server, **kwargs)

    def start_host(self, name):
        return test_cluster_etcd.start_host(self.server, name)

    def vanish(self, host):
        """The host's lease is lost: its keys go with it."""
        kept = dict(host.records)
        host.revoke()
        host.records.update(kept)

    def come_back(self, host):
        """As the publisher after a lost lease: a new lease, claim, the
        records again, synced.
        """
        host.rewrite(synced=True)

    def add(self, host, name):
        host.put(record(host.host, name))

    def announce_ttl(self, host, ttl):
        """The liveness record says ``ttl``; the lease stays as it was."""
        host.ttl = ttl
        host.set_alive(synced=True)


class RedisSide:
    """Hosts and a consumer on Redis."""

    def __init__(self, server):
        self.server = server
        self.client = server.client()

    def consumer(self, **kwargs):
        return test_cluster_redis.reader(self.server, liveness_interval=0.1,
                                         **kwargs)

    def start_host(self, name):
        return test_cluster_redis.start_host(self.client, name)

    def vanish(self, host):
        """The liveness record expired: the hash and stream stay."""
        self.client.delete(host.alive_key)

    def come_back(self, host):
        """As the publisher: claim (not synced), then synced."""
        host.set_alive(synced=False)
        host.set_alive(synced=True)

    def add(self, host, name):
        host.change(puts=[record(host.host, name)])

    def announce_ttl(self, host, ttl):
        """The liveness record says ``ttl``; the key lives 600 s."""
        host.ttl = ttl
        host.set_alive(synced=True, ttl_ms=600000)


@pytest.fixture(params=['etcd', 'redis'])
def side(request):
    if request.param == 'etcd':
        return EtcdSide(request.getfixturevalue('etcd'))
    return RedisSide(request.getfixturevalue('redis_server'))


def _ride_out_a_blip(side, down_grace, ttl=None):
    """hv1's liveness record vanishes and comes back while a consumer
    with ``down_grace`` watches; then hv2 adds tap9.  The consumer's
    events from hv2's sync on, once it has seen all of that.
    """
    hv1, hv2 = side.start_host('hv1'), side.start_host('hv2')
    if ttl is not None:
        side.announce_ttl(hv1, ttl)
    tail = Tail(side.consumer(down_grace=down_grace))
    try:
        tail.wait(converged(tail, hv1, hv2))
        mark = tail.wait(lambda evs: 'host hv2 synced' in markers(evs))
        side.vanish(hv1)
        # The consumer saw the record gone (else the test proves nothing).
        wait_until(lambda: tail.watcher.downs.held == 1, 20, 'the hold')
        side.come_back(hv1)
        wait_until(lambda: tail.watcher.downs.ridden == 1, 20,
                   'hv1 to come back')
        # A later change on another host: everything before it is in.
        side.add(hv2, 'tap9')
        tail.wait(converged(tail, hv1, hv2))
        events = tail.since(mark)
    finally:
        tail.stop()
    assert not tail.errors
    assert changes(events) == [('hv2', 'online', 'tap9')]
    assert len(tail.watcher.holds) == 0
    return events


def _vanish_until_offline(side, tail, host, mark):
    """Make ``host``'s liveness record vanish; (seconds until the
    consumer had its 5 interfaces offline, its events since ``mark``).
    """
    gone = time.monotonic()
    side.vanish(host)
    tail.wait(lambda evs: len(changes(evs[mark:])) == 5)
    return time.monotonic() - gone, tail.since(mark)


def test_blip_shorter_than_the_grace_costs_no_event(side):
    events = _ride_out_a_blip(side, down_grace=30.0)
    if isinstance(side, EtcdSide):
        assert markers(events) == []
    else:  # its claim may be seen unsynced first, then "synced"
        assert set(markers(events)) <= {'host hv1 synced'}


def test_down_past_the_grace_then_back(side):
    grace = 1.0
    hv1, hv2 = side.start_host('hv1'), side.start_host('hv2')
    tail = Tail(side.consumer(down_grace=grace))
    try:
        tail.wait(converged(tail, hv1, hv2))
        mark = tail.wait(lambda evs: 'host hv2 synced' in markers(evs))
        waited, down = _vanish_until_offline(side, tail, hv1, mark)
        assert tail.watcher.downs.held == 1
        kept = dict(hv1.records)
        hv1.records.clear()
        tail.wait(converged(tail, hv1, hv2))
        hv1.records.update(kept)
        mark += len(down)
        side.come_back(hv1)
        tail.wait(converged(tail, hv1, hv2))
        tail.wait(lambda evs: 'host hv1 synced' in markers(evs[mark:]))
        back = tail.since(mark)
    finally:
        tail.stop()
    assert not tail.errors
    assert waited >= grace
    # (On a quiet etcd watch the grace ends the watch: a list follows,
    # between sync markers.)
    assert [str(e) for e in down if not isinstance(e, ClusterSync)] == [
        'host hv1 down'] + [
        'hv1 vm offline tap%d ofport=%d' % (i, i + 1) for i in range(5)]
    assert changes(back) == [('hv1', 'online', 'tap%d' % i)
                             for i in range(5)]
    assert markers(back) == ['host hv1 up', 'host hv1 synced']
    assert tail.watcher.downs.ridden == 0


def test_default_grace_rides_out_a_blip(side):
    # No down_grace given: half the TTL hv1's record announces (10 s).
    events = _ride_out_a_blip(side, down_grace=None, ttl=20)
    assert set(markers(events)) <= {'host hv1 synced'}


def test_default_grace_reports_a_dead_host_after_half_its_ttl(side):
    # hv1's record announces a 3 s TTL (its lease / key lives 600 s: only
    # the record's ttl can give the 1.5 s the reader waits).
    grace = 1.5
    hv1, hv2 = side.start_host('hv1'), side.start_host('hv2')
    side.announce_ttl(hv1, 3)
    tail = Tail(side.consumer(down_grace=None))
    try:
        tail.wait(converged(tail, hv1, hv2))
        mark = tail.wait(lambda evs: 'host hv2 synced' in markers(evs))
        waited, down = _vanish_until_offline(side, tail, hv1, mark)
    finally:
        tail.stop()
    assert not tail.errors
    assert waited >= grace
    assert tail.watcher.downs.held == 1
    assert tail.watcher.downs.ridden == 0
    assert [str(e) for e in down if not isinstance(e, ClusterSync)] == [
        'host hv1 down'] + [
        'hv1 vm offline tap%d ofport=%d' % (i, i + 1) for i in range(5)]


def test_zero_grace_reports_a_vanished_host_at_once(side):
    hv1, hv2 = side.start_host('hv1'), side.start_host('hv2')
    tail = Tail(side.consumer(down_grace=0.0))
    try:
        tail.wait(converged(tail, hv1, hv2))
        mark = tail.wait(lambda evs: 'host hv2 synced' in markers(evs))
        down = _vanish_until_offline(side, tail, hv1, mark)[1]
    finally:
        tail.stop()
    assert not tail.errors
    assert tail.watcher.downs.held == 0
    assert 'host hv1 down' in markers(down)
    assert changes(down) == [('hv1', 'offline', 'tap%d' % i)
                             for i in range(5)]
