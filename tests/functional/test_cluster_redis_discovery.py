"""How the Redis reader finds new hosts, against a real redis-server: a
publisher's claim adds the host to the hosts set and one entry to the
registrations stream in one script; the reader reads that stream in the
XREAD it blocks in, so a new host wakes it up.  The entry is only a hint:
the hosts set and the liveness record decide, and publishers that write
no such stream are still found by the hosts set.

``liveness_interval`` is 300 s in these tests: a host found before it
would not have been found by the periodic check, and the reader's
``discovered`` counters say what found each host.
"""

import logging

import pytest

from df_ovsdb_agent.cluster.redis import RedisStreamReader
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions
from tests.functional.simhosts import converged
from tests.functional.simhosts import record
from tests.functional.simhosts import RedisHost
from tests.functional.simhosts import Tail
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]

REGISTRATIONS = stores.redis_registrations_key(stores.REDIS_PREFIX)
HOSTS = stores.redis_hosts_key(stores.REDIS_PREFIX)


def reader(server, **kwargs):
    kwargs.setdefault('block', 2.0)
    kwargs.setdefault('liveness_interval', 300.0)
    return RedisStreamReader(StoreOptions(server.url, timeout=2.0),
                             max_backoff=0.5, **kwargs)


def start_host(client, name, count=3, register=True):
    """A host written as a publisher writes it; ``register``: with the
    registration entry a new publisher adds (in the same MULTI as the
    SADD), else as an old publisher, which writes none.
    """
    host = RedisHost(client, name)
    pipe = client.pipeline(transaction=True)
    host.set_alive(synced=True, interfaces=count, pipe=pipe)
    host.change(puts=[record(name, 'tap%d' % i, ofport=i + 1)
                      for i in range(count)], sync=True, pipe=pipe)
    if register:
        pipe.xadd(REGISTRATIONS, {'host': name}, maxlen=1000)
    pipe.execute()
    return host


def blocked_in_xread(client):
    """Whether a client of the server is blocked in an XREAD."""
    return any(c.get('cmd') == 'xread' and 'b' in c.get('flags', '')
               for c in client.client_list())


def smembers_calls(client):
    return client.info('commandstats').get('cmdstat_smembers',
                                           {}).get('calls', 0)


def test_a_host_registered_while_the_reader_blocks_is_loaded_at_once(
        redis_server):
    client = redis_server.client()
    first = start_host(client, 'hv1')
    watcher = reader(redis_server)
    tail = Tail(watcher)
    try:
        tail.wait(converged(tail, first), what='hv1')
        # Loading hv1 made the reader read the hosts set once more soon
        # after (see PROBE_MIN): wait for that read, then for the blocking
        # read (2 s) after it.  The next liveness check is 300 s away:
        # only the registration entry can wake the reader now.
        wait_until(lambda: smembers_calls(client) == 2, 10, 'the probe')
        wait_until(lambda: blocked_in_xread(client), 10, 'a blocked XREAD')
        second = start_host(client, 'hv2')
        tail.wait(converged(tail, first, second), what='hv2')
    finally:
        tail.stop()
    assert watcher.discovered == {'connect': 1, 'hint': 1}
    # Found without reading the whole hosts set again.
    assert smembers_calls(client) == 2
    assert sorted(watcher.positions) == ['hv1', 'hv2']


def test_bad_registration_entries_are_skipped_and_others_loaded(
        redis_server, caplog):
    client = redis_server.client()
    watcher = reader(redis_server)
    tail = Tail(watcher)
    try:
        wait_until(lambda: blocked_in_xread(client), 10, 'a blocked XREAD')
        with caplog.at_level(logging.WARNING):
            # Not in the hosts set (and no keys at all), twice.
            client.xadd(REGISTRATIONS, {'host': 'ghost'})
            client.xadd(REGISTRATIONS, {'host': 'ghost'})
            # In the set but not alive: nothing to load, nothing said.
            client.sadd(HOSTS, 'zombie')
            client.xadd(REGISTRATIONS, {'host': 'zombie'})
            # Not host names: too long, not UTF-8, no field.
            client.xadd(REGISTRATIONS, {'host': 'x' * 1000000})
            client.xadd(REGISTRATIONS, {'host': b'\xff\xfe'})
            client.xadd(REGISTRATIONS, {'other': 'hv9'})
            good = start_host(client, 'hv3')
            tail.wait(converged(tail, good), what='hv3')
    finally:
        tail.stop()
    assert watcher.discovered == {'hint': 1}
    assert {h for h, _ in tail.state} == {'hv3'}
    assert 'ghost' not in watcher.positions
    assert 'zombie' not in watcher.positions
    lines = [r.getMessage() for r in caplog.records
             if r.name == 'df_ovsdb_agent.cluster.redis']
    # One bounded line each; the repeated ghost is named once.
    assert len(lines) == 4, lines
    assert sum('ghost' in line for line in lines) == 1
    assert all(len(line) < 600 for line in lines), lines
    assert watcher.skipped == 4


def test_hosts_of_old_publishers_are_found_by_the_hosts_set(redis_server):
    """Publishers that write no registrations stream: the set is read as
    before, at each liveness check and after one that loaded hosts.
    """
    client = redis_server.client()
    first = start_host(client, 'hv1', register=False)
    watcher = reader(redis_server, block=0.2, liveness_interval=0.5)
    tail = Tail(watcher)
    try:
        tail.wait(converged(tail, first), what='hv1')
        second = start_host(client, 'hv2', register=False)
        tail.wait(converged(tail, first, second), what='hv2')
    finally:
        tail.stop()
    assert client.exists(REGISTRATIONS) == 0
    assert watcher.discovered.get('hint', 0) == 0
    assert sum(watcher.discovered.values()) == 2


def test_publisher_claim_registers_the_host_for_a_blocked_reader(
        ovs, redis_server, make_agent, make_publisher):
    """The real publisher's first write: data, liveness record, hosts set
    and registration entry in one script; a reader blocked on an empty
    store loads the host from the hint.
    """
    client = redis_server.client()
    watcher = reader(redis_server)
    tail = Tail(watcher)
    try:
        wait_until(lambda: blocked_in_xread(client), 10, 'a blocked XREAD')
        agent = make_agent(ovs.remote)
        publisher = make_publisher('redis', agent, 'hv1',
                                   url=redis_server.url)
        agent.start()
        assert publisher.wait_flushed(10)
        tail.wait(lambda events: 'sync finished host=hv1' in map(
            str, events), what='hv1 loaded')
    finally:
        tail.stop()
    assert watcher.discovered == {'hint': 1}
    entries = client.xrange(REGISTRATIONS)
    assert [fields for _, fields in entries] == [{'host': 'hv1'}]
    assert client.smembers(HOSTS) == {'hv1'}
