"""The publishers' store writes per connection and their refresh timing.

Against real etcd / redis-server and ovsdb-server: a (re)connection is
one write (claim, data, then the ``synced`` liveness record), and a store
that is frozen (SIGSTOP) for less than the lease / liveness TTL, or
starved of CPU, costs no lease, no key and no consumer event.
"""

import base64
import logging
import signal
import subprocess
import sys
import time

import pytest

from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import ClusterHost
from df_ovsdb_agent.cluster.etcd import watch_interfaces
from df_ovsdb_agent.cluster.redis import RedisStreamReader
from df_ovsdb_agent.cluster.stores import StoreOptions
from tests.functional.simhosts import Tail
from tests.functional.stores import etcd_lease_alive
from tests.functional.stores import etcd_range
from tests.functional.stores import etcd_revision
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import expected_records
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import wait_until
from tests.functional.test_publisher_lifecycle import EtcdSide
from tests.functional.test_publisher_lifecycle import populate
from tests.functional.test_publisher_lifecycle import RedisSide
from tests.functional.test_publisher_lifecycle import run
from tests.functional.test_publisher_lifecycle import stop

pytestmark = [pytest.mark.functional, pytest.mark.timeout(90)]

LOG = logging.getLogger(__name__)

#: Time left on the lease when a frozen store is resumed, in seconds.
MARGIN = 2.0


@pytest.fixture(params=['etcd', 'redis'])
def side(request):
    if request.param == 'etcd':
        return EtcdSide(request.getfixturevalue('etcd_server'))
    return RedisSide(request.getfixturevalue('redis_server'))


def consumer(side):
    """The store's real reader, following every host in a thread."""
    options = StoreOptions(side.server.url, timeout=1.0)
    if side.name == 'etcd':
        return Tail(watch_interfaces(options, max_backoff=0.2))
    return Tail(RedisStreamReader(options, block=0.2, max_backoff=0.2,
                                  liveness_interval=0.2))


def host_keys(server, host='hv1'):
    """key -> (create_revision, mod_revision, lease) of the host's keys."""
    return {base64.b64decode(kv['key']).decode(): (
        int(kv['create_revision']), int(kv['mod_revision']),
        int(kv.get('lease', 0)))
        for kv in etcd_range(server, '/df-ovsdb-agent/%s/' % host)}


def markers(events):
    return [e for e in events if isinstance(e, (ClusterEvent, ClusterHost))]


def test_etcd_start_is_one_transaction_synced_record_last(
        ovsdb, etcd_server, make_agent, make_publisher):
    side = EtcdSide(etcd_server)
    populate(ovsdb)
    tail = consumer(side)
    try:
        tail.wait(lambda evs: len(evs) >= 2, what='the first list')
        before = etcd_revision(etcd_server)
        agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=8)
        assert pub.writer.wait_flushed(10)
        # Claim, four interface keys and the synced liveness record: one
        # revision (one raft proposal besides the lease grant).
        keys = host_keys(etcd_server)
        assert len(keys) == 5
        assert {(c, m) for c, m, _ in keys.values()} == {(before + 1,
                                                          before + 1)}
        assert etcd_revision(etcd_server) == before + 1
        assert side.alive()['synced'] is True
        # The consumer got them in that order: up, the interfaces, synced.
        names = sorted(expected_records(agent, 'hv1'))
        tail.wait(lambda evs: [str(e) for e in markers(evs)][-1:] ==
                  ['host hv1 synced'], what='the host synced')
        got = [(type(e).__name__, getattr(e, 'name', str(e)))
               for e in markers(tail.events)]
        assert got == ([('ClusterHost', 'host hv1 up')] +
                       [('ClusterEvent', n) for n in names] +
                       [('ClusterHost', 'host hv1 synced')])

        # A restart that adopts the leases: one revision, the liveness
        # record alone, and no consumer event.
        seen = len(tail.events)
        stop(agent, pub)
        before = etcd_revision(etcd_server)
        agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=8)
        assert pub.writer.wait_flushed(10)
        assert etcd_revision(etcd_server) == before + 1
        after = host_keys(etcd_server)
        alive_key = '/df-ovsdb-agent/hv1/alive'
        assert after[alive_key][1] == before + 1
        assert {k: v for k, v in after.items() if k != alive_key} == {
            k: v for k, v in keys.items() if k != alive_key}
        tail.wait(lambda evs: 'host hv1 synced' in map(str, evs[seen:]),
                  what='the new process')
        assert [e for e in tail.since(seen)
                if isinstance(e, ClusterEvent)] == []
    finally:
        tail.stop()
    assert tail.errors == []


def _refreshed(pub, after):
    return pub.writer.refreshes > after and pub.writer.connected


def test_store_frozen_for_less_than_the_ttl_loses_nothing(
        ovsdb, side, make_agent, make_publisher):
    """SIGSTOP right after a refresh, SIGCONT MARGIN s before the TTL
    runs out: requests time out (1 s) and are retried, sooner and sooner
    as the lease runs out; the first one after SIGCONT keeps the lease.
    ``max_backoff`` is the default, 10 s: a plain backoff would sleep
    past the resume.
    """
    ttl = 8
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=ttl,
                     timeout=1.0, max_backoff=10.0)
    leases = list(getattr(pub.store, 'leases', []))
    tail = consumer(side)
    try:
        tail.wait(lambda evs: 'host hv1 synced' in map(str, evs),
                  what='the consumer to see the host')
        seen = len(tail.events)
        mark = side.mark()
        failures = pub.writer.failures
        refreshes = pub.writer.refreshes
        wait_until(lambda: pub.writer.refreshes > refreshes, ttl,
                   'a refresh')
        side.server.proc.send_signal(signal.SIGSTOP)
        try:
            left = pub.writer._refreshed + ttl - time.monotonic()
            # The behaviour under test is time: the store stays frozen.
            time.sleep(left - MARGIN)
        finally:
            side.server.proc.send_signal(signal.SIGCONT)
        assert pub.writer.failures > failures  # it did notice
        refreshes = pub.writer.refreshes
        wait_until(lambda: _refreshed(pub, refreshes), ttl,
                   'a refresh after the resume')
        wait_until(lambda: side.held_by(pub) and side.records() ==
                   expected_records(agent, 'hv1'), 10)
        if side.name == 'etcd':
            assert pub.store.leases == leases and pub.store.lost == 0
            assert all(etcd_lease_alive(side.server, lease)
                       for lease in leases)
        assert side.changes_since(mark) == []
        # One more consumer round: it has seen all there is to see.
        wait_until(lambda: pub.writer.wait_flushed(0), 10)
        assert markers(tail.since(seen)) == []
    finally:
        tail.stop()
    assert pub.writer.min_margin > 0
    LOG.info('%s frozen %.1fs of a %ds TTL: least time left at a refresh '
             '%.2fs, %d failures', side.name, ttl - MARGIN, ttl,
             pub.writer.min_margin, pub.writer.failures - failures)


def test_cpu_hog_loses_no_lease(ovsdb, side, make_agent, make_publisher):
    """Four busy processes per core for two TTLs: every refresh lands."""
    ttl = 4
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=ttl,
                     max_backoff=10.0)
    leases = list(getattr(pub.store, 'leases', []))
    mark = side.mark()
    refreshes = pub.writer.refreshes
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(8)]
    try:
        wait_until(lambda: pub.writer.refreshes >= refreshes + 6, 6 * ttl,
                   'six refreshes under the hog')
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(10)
    assert side.held_by(pub)
    if side.name == 'etcd':
        assert pub.store.leases == leases and pub.store.lost == 0
    assert side.changes_since(mark) == []
    assert pub.writer.min_margin > 0
    LOG.info('%s under a CPU hog, TTL %ds: least time left at a refresh '
             '%.2fs, %d failures', side.name, ttl, pub.writer.min_margin,
             pub.writer.failures)


#: Publishers (each with its own agent and host id) sharing one store.
WRITERS = 6


def _stream_since(side, marks):
    """Redis: the entries of every host's stream after its mark."""
    return {host: side.client.xrange('df-ovsdb-agent:%s:events' % host,
                                     min='(' + mark)
            for host, mark in marks.items()}


def _stream_mark(side, host):
    last = side.client.xrevrange('df-ovsdb-agent:%s:events' % host,
                                 count=1)
    return last[0][0] if last else '0-0'


def test_writers_back_off_from_a_frozen_store_and_lose_nothing(
        ovsdb, side, make_agent, make_publisher):
    """Several publishers, a store frozen (SIGSTOP) for half the TTL, then
    resumed: each writer retries less often the longer its attempts time
    out (each waits at least a quarter to a half of what its failed
    attempt took, doubled per failure in a row), yet every lease /
    liveness record is refreshed in time: no key lost, no consumer event.
    """
    ttl, frozen = 24, 10.0
    populate(ovsdb)
    hosts = ['hv%d' % i for i in range(1, WRITERS + 1)]
    runs = {host: run(make_agent, make_publisher, side, ovsdb, host=host,
                      ttl=ttl, timeout=1.0, max_backoff=10.0)
            for host in hosts}
    tail = consumer(side)
    try:
        tail.wait(lambda evs: {'host %s synced' % h for h in hosts} <=
                  set(map(str, evs)), what='the consumer to see the hosts')
        seen = len(tail.events)
        mark = side.mark()
        marks = ({h: _stream_mark(side, h) for h in hosts}
                 if side.name == 'redis' else {})
        leases = {h: list(getattr(pub.store, 'leases', []))
                  for h, (_, pub) in runs.items()}
        failures = {h: pub.writer.failures for h, (_, pub) in runs.items()}
        # Frozen just before the first writer's next refresh is due: the
        # writers fail from their next refresh (every third of the TTL)
        # to the resume, and none had refreshed long before the freeze.
        wait_until(lambda: min(pub.writer._next_tick for _, pub in
                               runs.values()) - time.monotonic() < 0.3,
                   ttl, 'a refresh to be due')
        side.server.proc.send_signal(signal.SIGSTOP)
        try:
            # The behaviour under test is time: the store stays frozen.
            time.sleep(frozen)
        finally:
            side.server.proc.send_signal(signal.SIGCONT)
        resumed = {h: pub.writer.refreshes for h, (_, pub) in runs.items()}
        for host, (agent, pub) in runs.items():
            wait_until(lambda: _refreshed(pub, resumed[host]), ttl,
                       'a refresh of %s after the resume' % host)
            wait_until(lambda: side.held_by(pub, host) and
                       side.records(host) == expected_records(agent, host),
                       10, 'the keys of %s' % host)
            if side.name == 'etcd':
                assert pub.store.leases == leases[host]
                assert pub.store.lost == 0
        if side.name == 'etcd':
            assert side.changes_since(mark) == []
        else:
            assert all(entries == [] for entries in
                       _stream_since(side, marks).values())
        for _, pub in runs.values():
            assert pub.writer.wait_flushed(10)
        assert markers(tail.since(seen)) == []
    finally:
        tail.stop()
    attempts = sorted(pub.writer.failures - failures[h]
                      for h, (_, pub) in runs.items())
    margins = [pub.writer.min_margin for _, pub in runs.values()]
    assert all(m is not None and m > 0 for m in margins)
    if side.name == 'redis':
        # Every writer's refresh (every third of the TTL) fell into the
        # freeze and timed out (1 s): each noticed.  An etcd keepalive
        # waits a quarter of the time its lease has left (4 s here), so
        # one sent late in the freeze is answered after the resume.
        assert attempts[0] >= 1
    LOG.info('%s frozen %.1fs of a %ds TTL, %d writers: failed attempts '
             'per writer %s, least time left at a refresh %.2fs',
             side.name, frozen, ttl, WRITERS, attempts, min(margins))
