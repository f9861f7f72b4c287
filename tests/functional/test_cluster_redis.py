"""The Redis consumer (cluster.redis.RedisStreamReader) against a real
redis-server: host liveness, commands per round with many hosts, restarts
with and without data, streams trimmed under a slow reader.

Hosts are simulated by writing their keys in the publishers' layout
(tests.functional.simhosts).  Every test checks the consumer's events
exactly: replayed in order they never bring an interface online twice or
take an absent one offline, they end in the store's state, and after the
initial sync they hold exactly the changes made.
"""

import random
import signal
import threading

import pytest

from df_ovsdb_agent.cluster.redis import RedisStreamReader
from df_ovsdb_agent.cluster import schema
from df_ovsdb_agent.cluster.stores import StoreOptions
from tests.functional.simhosts import changes
from tests.functional.simhosts import converged
from tests.functional.simhosts import markers
from tests.functional.simhosts import record
from tests.functional.simhosts import redis_command_calls
from tests.functional.simhosts import RedisHost
from tests.functional.simhosts import Tail
from tests.functional.simhosts import truth
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import RedisServer
from tests.functional.stores import wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]

# The commands one reader round may send, whatever the number of hosts:
# XREAD, EVALSHA (only after entries), SMEMBERS + MGET (liveness check).
ROUND_COMMANDS = ('xread', 'evalsha', 'eval', 'smembers', 'mget')


class PersistentRedis(RedisServer):
    """redis-server with an fsync-always append-only file: a kill -9
    keeps every acknowledged write.
    """

    def command(self):
        return super().command()[:-6] + [
            '--appendonly', 'yes', '--appendfsync', 'always',
            '--save', '', '--logfile', '']


def reader(server, **kwargs):
    kwargs.setdefault('block', 0.2)
    kwargs.setdefault('max_backoff', 0.5)
    # These tests see a vanished host reported at once (test_cluster_down_
    # grace tests the default hold).
    kwargs.setdefault('down_grace', 0.0)
    return RedisStreamReader(StoreOptions(server.url, timeout=2.0),
                             **kwargs)


def start_host(client, name, count=5, **kwargs):
    host = RedisHost(client, name, **kwargs)
    host.set_alive(synced=True, interfaces=count)
    host.change(puts=[record(name, 'tap%d' % i, ofport=i + 1)
                      for i in range(count)], sync=True)
    return host


def two_hosts(server):
    """Hosts hv1 and hv2 (five interfaces each) and a reader tailing."""
    client = server.client()
    hosts = start_host(client, 'hv1'), start_host(client, 'hv2')
    return hosts + (Tail(reader(server, liveness_interval=0.2)),)


def test_host_liveness_expiry_and_return(redis_server):
    client = redis_server.client()
    hv1 = start_host(client, 'hv1', count=3)
    hv2 = start_host(client, 'hv2', count=2)
    tail = Tail(reader(redis_server, liveness_interval=0.2))
    try:
        tail.wait(converged(tail, hv1, hv2))
        mark = tail.wait(lambda evs: 'host hv2 synced' in markers(evs))
        # hv1 dies: its liveness record is no longer refreshed.
        hv1.set_alive(ttl_ms=300)
        tail.wait(lambda evs: 'host hv1 down' in markers(evs[mark:]))
        gone = dict(hv1.records)
        hv1.records.clear()
        tail.wait(converged(tail, hv1, hv2))
        down = tail.since(mark)
        # Its hash stays behind, stale, and must not count.
        assert sorted(client.hkeys(hv1.state_key)) == sorted(gone)
        # It comes back with one interface less and one more.
        hv1.records.update(gone)
        hv1.change(puts=[record('hv1', 'tap7')], deletes=['tap0'])
        hv1.set_alive(synced=True)
        mark = mark + len(down)
        tail.wait(converged(tail, hv1, hv2))
        tail.wait(lambda evs: 'host hv1 synced' in markers(evs[mark:]))
        back = tail.since(mark)
    finally:
        tail.stop()
    assert [str(e) for e in down] == [
        'host hv1 down'] + ['hv1 vm offline tap%d ofport=%d' % (i, i + 1)
                            for i in range(3)]
    assert [str(e) for e in back] == [
        'sync started host=hv1', 'host hv1 up',
        'hv1 vm online tap1 ofport=2', 'hv1 vm online tap2 ofport=3',
        'hv1 vm online tap7 ofport=1', 'host hv1 synced',
        'sync finished host=hv1']


def test_many_hosts_cost_a_constant_number_of_commands_per_round(
        redis_server):
    client = redis_server.client()
    hosts = [start_host(client, 'hv%03d' % i) for i in range(200)]
    tail = Tail(reader(redis_server, liveness_interval=0.5))
    try:
        tail.wait(converged(tail, *hosts), 60)
        client.config_resetstat()
        rounds = tail.watcher.rounds
        rng = random.Random(7)
        for i in range(40):
            host = rng.choice(hosts)
            mark = tail.wait(lambda evs: True)
            host.change(puts=[record(host.host, 'tap0', ofport=100 + i)])
            tail.wait(lambda evs: changes(evs[mark:]))
        # Several liveness checks in the measured window too.
        checks = redis_command_calls(client).get('mget', 0)
        wait_until(lambda: redis_command_calls(client).get('mget', 0) >=
                   checks + 3, 10, 'liveness checks')
        calls = redis_command_calls(client)
        rounds = tail.watcher.rounds - rounds
        tail.wait(converged(tail, *hosts))
    finally:
        tail.stop()
    sent = sum(calls.get(name, 0) for name in ROUND_COMMANDS)
    # No per-host command: no load, no per-stream check outside the script.
    assert [name for name in ('hgetall', 'xrevrange', 'xinfo|stream', 'get')
            if calls.get(name)] == []
    assert 40 <= rounds and sent <= 4 * rounds, (sent, rounds, calls)
    print('\nREDIS reader, 200 hosts: %d commands in %d rounds (%.2f per '
          'round; the per-host design sent 2N+1 = 401)'
          % (sent, rounds, sent / rounds))


def test_frozen_redis_is_detected_and_state_recovered_exactly(
        redis_server, caplog):
    hv1, hv2, tail = two_hosts(redis_server)
    try:
        mark = tail.wait(converged(tail, hv1, hv2))
        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: any(
                'retrying in' in r.getMessage() for r in caplog.records
                if r.name.startswith('df_ovsdb_agent.cluster')), 20,
                'the reader to notice the frozen server')
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
        hv1.change(puts=[record('hv1', 'tap1', ofport=77),
                         record('hv1', 'tap9')], deletes=['tap0'])
        tail.wait(converged(tail, hv1, hv2))
        events = tail.since(mark)
    finally:
        tail.stop()
    # Its positions were still valid: exactly the changes, and no host
    # went down or up because the reader could not reach the server.
    assert changes(events) == [('hv1', 'offline', 'tap0'),
                               ('hv1', 'online', 'tap9'),
                               ('hv1', 'updated', 'tap1')]
    assert markers(events) == []


@pytest.mark.parametrize('how', ['kill', 'stop'])
@pytest.mark.parametrize('data', ['kept', 'wiped'])
def test_redis_restart_converges_exactly(tmp_path, how, data):
    cls = PersistentRedis if data == 'kept' else RedisServer
    server = cls(str(tmp_path / 'redis'))
    server.start()
    try:
        hv1, hv2, tail = two_hosts(server)
        try:
            mark = tail.wait(converged(tail, hv1, hv2))
            getattr(server, how)()
            server.start()
            hv1.client = hv2.client = server.client()
            if data == 'wiped':
                # The reader saw the empty server first (the hosts are
                # held), then the publishers write everything again.
                wait_until(lambda: tail.watcher.resets >= 1, 20,
                           'the reader to reconnect')
                hv1.rewrite(synced=True)
                hv2.rewrite(synced=True)
            hv1.change(deletes=['tap3'])
            hv2.change(puts=[record('hv2', 'tap4', ofport=44)])
            tail.wait(converged(tail, hv1, hv2))
            tail.wait(lambda evs: markers(evs[mark:]).count(
                'host hv1 synced') == markers(evs[mark:]).count(
                    'host hv1 up'))
            events = tail.since(mark)
        finally:
            tail.stop()
    finally:
        server.stop()
    assert tail.watcher.view.records() == sorted(
        truth(hv1, hv2).values(), key=lambda r: (r['host'], r['name']))
    # Kept: positions still valid, the reader follows on.  Wiped: the
    # hosts are held (no down, no offline) until they are synced again.
    # Either way exactly the changes made meanwhile.
    assert changes(events) == [('hv1', 'offline', 'tap3'),
                               ('hv2', 'updated', 'tap4')]
    assert markers(events) == []
    assert tail.watcher.resets == 1


def test_stream_trimmed_under_a_slow_reader(redis_server):
    client = redis_server.client()
    hv1 = start_host(client, 'hv1', maxlen=5)
    tail = Tail(reader(redis_server))
    try:
        tail.wait(converged(tail, hv1))
        mark = tail.wait(lambda evs: True)
        tail.pause()
        # The reader is stopped before it hands over an event: make sure it
        # holds one, then write far past the stream's length.
        hv1.change(puts=[record('hv1', 'tap0', ofport=50)])
        for i in range(20):
            hv1.change(puts=[record('hv1', 'tap1', ofport=60 + i)])
        hv1.change(deletes=['tap2'])
        tail.resume()
        tail.wait(converged(tail, hv1))
        events = tail.since(mark)
    finally:
        tail.stop()
    # The reader noticed the entries it missed and re-read the hash (the
    # sync markers); the updates of tap1 it still read before that may
    # come before the one the re-read gives, but tap2 goes offline once.
    assert 'sync started host=hv1' in [str(e) for e in events]
    assert set(changes(events)) == {('hv1', 'offline', 'tap2'),
                                    ('hv1', 'updated', 'tap0'),
                                    ('hv1', 'updated', 'tap1')}
    assert changes(events).count(('hv1', 'offline', 'tap2')) == 1
    assert changes(events).count(('hv1', 'updated', 'tap1')) < 20


def test_an_unchanged_liveness_record_is_not_parsed_again(redis_server,
                                                          monkeypatch):
    """The liveness check reads every host's record each time; one the
    view holds already, rewritten unchanged as publishers do, is not
    parsed again, and a changed one still is (its markers come).
    """
    parsed = []
    parse_alive = schema.parse_alive

    def counting(value, host=None):
        parsed.append(host)
        return parse_alive(value, host)

    monkeypatch.setattr(schema, 'parse_alive', counting)
    client = redis_server.client()
    hv1 = start_host(client, 'hv1', count=2)
    watcher = reader(redis_server, liveness_interval=0.05)
    tail = Tail(watcher)
    try:
        tail.wait(converged(tail, hv1))
        tail.wait(lambda evs: 'host hv1 synced' in markers(evs))
        # Its load, then checks that find it followed: parsed once, by
        # the check that found it (its load reads the record again in
        # its transaction and, finding it the same, keeps that parse),
        # never by the checks after.
        rounds = watcher.rounds
        wait_until(lambda: watcher.rounds >= rounds + 10,
                   what='ten more rounds')
        assert parsed.count('hv1') == 1
        before = len(parsed)
        mark = len(tail.events)
        hv1.set_alive(synced=True)  # rewritten, unchanged
        rounds = watcher.rounds
        wait_until(lambda: watcher.rounds >= rounds + 10,
                   what='ten more rounds')
        assert len(parsed) == before
        assert tail.events[mark:] == []
        hv1.set_alive(synced=True, pid=2)  # restarted
        tail.wait(lambda evs: markers(evs[mark:]) == [
            'host hv1 up', 'host hv1 synced'])
        assert parsed[before:] == ['hv1']
        rounds = watcher.rounds
        wait_until(lambda: watcher.rounds >= rounds + 5,
                   what='five more rounds')
        assert parsed[before:] == ['hv1']
        client.delete(hv1.alive_key)
        tail.wait(lambda evs: 'host hv1 down' in markers(evs[mark:]))
    finally:
        tail.stop()


def test_hosts_coming_up_one_after_another_are_noticed_before_the_next_check(
        redis_server):
    """While a fleet comes up, each liveness check that loaded hosts is
    followed by a read of the hosts set for new ones only: hosts added
    every 50 ms are all followed long before the next full check
    (``liveness_interval`` 60 s here).
    """
    client = redis_server.client()
    hosts = [start_host(client, 'hv00', count=2)]
    stop = threading.Event()

    def boot():
        for i in range(1, 31):
            if stop.wait(0.05):
                return
            hosts.append(start_host(client, 'hv%02d' % i, count=2))

    booting = threading.Thread(target=boot)
    booting.start()
    watcher = reader(redis_server, liveness_interval=60.0)
    tail = Tail(watcher)
    try:
        booting.join(10)
        assert len(hosts) == 31
        tail.wait(converged(tail, *hosts), timeout=10.0,
                  what='every host, before the next full check')
        assert sorted(watcher.positions) == ['hv%02d' % i
                                             for i in range(31)]
    finally:
        stop.set()
        booting.join(10)
        tail.stop()


def test_a_load_reads_position_and_liveness_in_its_transaction(redis_server):
    """A load's one script per batch gives each host its stream's last ID
    (0-0 with no stream) and its liveness record; the record the check
    that found a host parsed is kept only if the load read the same one
    (here the host synced in between: its "synced" comes).
    """
    from df_ovsdb_agent.cluster import redis as cluster_redis

    client = redis_server.client()
    hv1 = start_host(client, 'hv1', count=2)
    hv2 = RedisHost(client, 'hv2')
    hv2.set_alive(synced=False, interfaces=1)
    client.hset(hv2.state_key, 'tap0',
                '{"kind":"vm","name":"tap0","uuid":"u","ofport":1}')
    RedisHost(client, 'hv3')  # no liveness record: not loaded
    last = client.xrevrange(hv1.stream_key, count=1)[0][0]
    old = client.get(hv2.alive_key)
    hv2.set_alive(synced=True, interfaces=1)
    watcher = reader(redis_server)
    conn = cluster_redis.reader_client(watcher.options)
    try:
        watcher._load_script = conn.register_script(
            cluster_redis.LOAD_SCRIPT)
        known = {'hv2': (old, schema.parse_alive(old, 'hv2'))}
        assert not known['hv2'][1]['synced']
        events = list(watcher._load(conn, ['hv1', 'hv2', 'hv3'], 'check',
                                    known))
    finally:
        conn.close()
    assert [str(e) for e in events] == [
        'sync started host=hv1', 'host hv1 up',
        'hv1 vm online tap0 ofport=1', 'hv1 vm online tap1 ofport=2',
        'host hv1 synced', 'sync finished host=hv1',
        'sync started host=hv2', 'host hv2 up',
        'hv2 vm online tap0 ofport=1', 'host hv2 synced',
        'sync finished host=hv2']
    assert watcher.positions == {'hv1': last, 'hv2': '0-0'}
    assert watcher.view.alive('hv2')['synced'] is True
