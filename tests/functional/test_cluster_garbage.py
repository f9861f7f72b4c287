"""Garbage under the prefix: the consumers skip it and go on.

Keys with invalid UTF-8, values nested 100,000 deep, records of the wrong
shape, in a real etcd and a real Redis, under a live consumer (the
library's and ``df-ovsdb-cluster-events`` tailing) and for ``--once``:
every valid host's interfaces still come, the garbage is named on stderr
(escaped), never printed as an event, and valid changes written after it
still arrive.
"""

import base64
import json
import logging
import subprocess

import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.testing.sandbox import SandboxError
from tests.functional.simhosts import changes
from tests.functional.simhosts import converged
from tests.functional.simhosts import markers
from tests.functional.simhosts import record
from tests.functional.simhosts import Tail
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import wait_until
from tests.functional.test_cluster_cli import CLI
from tests.functional.test_cluster_cli import Lines
from tests.functional.test_cluster_cli import summary
from tests.functional import test_cluster_etcd
from tests.functional import test_cluster_redis

pytestmark = [pytest.mark.functional, pytest.mark.timeout(90)]

DEEP = b'[' * 100000 + b']' * 100000
# Measured coming out as an event before the consumers checked records.
BAD_SHAPE = json.dumps({'kind': ['not', 'a', 'kind'], 'sync': 'finished',
                        'uuid': {'x': 1}}).encode()
VALID = json.dumps(record('hv1', 'x')).encode()


def etcd_garbage(prefix=b'/df-ovsdb-agent/'):
    """(key, value) pairs, as bytes, none of them a record."""
    return [
        (prefix + b'hv1/interfaces/\xff\xfe', VALID),
        (prefix + b'\xff/alive', json.dumps({'owner': 'o'}).encode()),
        (prefix + b'hv1/interfaces/deep', DEEP),
        (prefix + b'hv1/interfaces/badkind', BAD_SHAPE),
        (prefix + b'hv1/interfaces/notjson', b'not json'),
        (prefix + b'hv1/interfaces/badutf8',
         b'{"kind": "vm", "name": "badutf8", "uuid": "\xff", "ofport": 1}'),
        (prefix + b'hvbad/alive', b'{"owner": 5}'),
    ]


def etcd_put_raw(server, pairs):
    client = server.client()
    for key, value in pairs:
        client.post(client.get_url('/kv/put'), json={
            'key': base64.b64encode(key).decode(),
            'value': base64.b64encode(value).decode()})


def no_traceback(stderr):
    assert 'Traceback' not in stderr and 'Logging error' not in stderr, (
        stderr)


def named(stderr):
    """The garbage is named on stderr, escaped."""
    assert 'Skipping' in stderr, stderr
    assert '\\\\udcff' in stderr or '\\udcff' in stderr, stderr
    for line in stderr.splitlines():
        assert len(line) < 1000, line[:200]


# -- etcd ----------------------------------------------------------------

@pytest.fixture(name='etcd')
def etcd_fixture(tmp_path):
    yield from test_cluster_etcd.etcd_fixture.__wrapped__(tmp_path)


def test_etcd_watcher_skips_garbage_and_goes_on(etcd, caplog):
    caplog.set_level(logging.WARNING)
    hv1 = test_cluster_etcd.start_host(etcd, 'hv1')
    hv2 = test_cluster_etcd.start_host(etcd, 'hv2')
    garbage = etcd_garbage()
    etcd_put_raw(etcd, garbage)
    tail = Tail(test_cluster_etcd.watcher(etcd))
    try:
        # The list: the valid hosts exactly, nothing of the garbage.
        mark = tail.wait(converged(tail, hv1, hv2))
        assert tail.watcher.skipped == len(garbage)
        # The watch: garbage again, then valid changes after it.
        etcd_put_raw(etcd, garbage)
        hv1.put(record('hv1', 'tap9'))
        hv2.delete('tap0')
        tail.wait(converged(tail, hv1, hv2))
        events = tail.since(mark)
    finally:
        tail.stop()
    assert changes(events) == [('hv1', 'online', 'tap9'),
                               ('hv2', 'offline', 'tap0')]
    assert markers(events) == []
    assert tail.watcher.skipped == 2 * len(garbage)
    text = caplog.text
    assert 'Skipping etcd key /df-ovsdb-agent/hv1/interfaces/\\\\udcff' in (
        text)
    assert 'value nested deeper than 4' in text
    assert 'no valid kind' in text and 'no valid owner' in text


def test_etcd_cli_once_and_tail_with_garbage(etcd):
    hv1 = test_cluster_etcd.start_host(etcd, 'hv1', count=2)
    test_cluster_etcd.start_host(etcd, 'hv2', count=1)
    etcd_put_raw(etcd, etcd_garbage())
    once = subprocess.run([CLI, '--etcd', etcd.url, '--once'],
                          capture_output=True, text=True, timeout=30)
    assert once.returncode == 0, once.stderr
    lines = [json.loads(line) for line in once.stdout.splitlines()]
    assert summary(lines) == [('hv1', 'online', 'tap0'),
                              ('hv1', 'online', 'tap1'),
                              ('hv2', 'online', 'tap0')]
    named(once.stderr)
    no_traceback(once.stderr)

    tail = Lines('--etcd', etcd.url)
    try:
        tail.wait_for(lambda lines: {'sync': 'finished'} in lines)
        etcd_put_raw(etcd, etcd_garbage())
        hv1.put(record('hv1', 'tap9'))
        lines = tail.wait_for(
            lambda lines: ('hv1', 'online', 'tap9') in summary(lines))
    finally:
        assert tail.terminate() == 0
    _only_the_valid_records(tail, lines)


def _only_the_valid_records(tail, lines):
    """The tail printed every valid record and nothing of the garbage,
    which it named on stderr without a traceback.
    """
    assert sorted(summary(lines)) == [
        ('hv1', 'online', 'tap0'), ('hv1', 'online', 'tap1'),
        ('hv1', 'online', 'tap9'), ('hv2', 'online', 'tap0')]
    assert all(line.get('host') in ('hv1', 'hv2', None) for line in lines)
    stderr = tail.proc.stderr.read()
    named(stderr)
    no_traceback(stderr)


# -- Redis ---------------------------------------------------------------

def raw_client(server):
    import redis
    return redis.Redis(host='127.0.0.1', port=server.port,
                       decode_responses=False)


def redis_garbage(raw, prefix='df-ovsdb-agent'):
    """Garbage in hv1's hash, in the hosts set and liveness records."""
    state = stores.redis_state_key(prefix, 'hv1').encode()
    raw.hset(state, b'\xff\xfe', VALID)
    raw.hset(state, b'deep', DEEP)
    raw.hset(state, b'badkind', BAD_SHAPE)
    raw.hset(state, b'badutf8', b'{"kind": "vm", "uuid": "\xff"}')
    hosts = stores.redis_hosts_key(prefix).encode()
    raw.sadd(hosts, b'\xff', b'hvbad')
    raw.set(prefix.encode() + b':\xff:alive', b'{"owner": "o"}')
    raw.set(stores.redis_alive_key(prefix, 'hvbad'), b'{"owner": 5}')


def redis_stream_garbage(raw, prefix='df-ovsdb-agent'):
    stream = stores.redis_stream_key(prefix, 'hv1')
    for fields in ({b'event': DEEP}, {b'event': BAD_SHAPE},
                   {b'other': b'x'}, {b'event': b'\xff'},
                   {b'event': json.dumps(dict(record('hv1', 'tap0'),
                                              action='gone')).encode()}):
        raw.xadd(stream, fields)


def force_reconnect(raw, reader):
    """Kill the reader's connections until it reconnected (redis-py
    silently replaces a pooled connection killed while idle: only one
    killed in a blocking read fails the reader).
    """
    before = reader.connects
    for _ in range(50):
        raw.client_kill_filter(_type='normal', skipme=True)
        try:
            wait_until(lambda: reader.connects > before, 1, 'a reconnect')
            return
        except SandboxError:
            continue
    raise AssertionError('the reader never reconnected')


def test_redis_reader_skips_garbage_and_goes_on(redis_server, caplog):
    caplog.set_level(logging.WARNING)
    client = redis_server.client()
    hv1 = test_cluster_redis.start_host(client, 'hv1')
    hv2 = test_cluster_redis.start_host(client, 'hv2')
    raw = raw_client(redis_server)
    redis_garbage(raw)
    tail = Tail(test_cluster_redis.reader(redis_server,
                                          liveness_interval=0.2))
    try:
        mark = tail.wait(converged(tail, hv1, hv2))
        # Hash garbage (4), host \xff, hvbad's liveness record: each
        # counted and named once, however often they are read.
        wait_until(lambda: tail.watcher.skipped == 6, 10, 'the skips')
        redis_stream_garbage(raw)
        hv1.change(puts=[record('hv1', 'tap9')])
        tail.wait(converged(tail, hv1, hv2))
        assert tail.watcher.skipped == 11
        # A reconnect resumes after the garbage, not before it, and loses
        # nothing (positions advance only past handled entries).
        force_reconnect(raw, tail.watcher)
        hv2.change(deletes=['tap0'])
        redis_stream_garbage(raw)
        hv1.change(puts=[record('hv1', 'tap8')])
        tail.wait(converged(tail, hv1, hv2))
        events = tail.since(mark)
    finally:
        tail.stop()
    assert changes(events) == [('hv1', 'online', 'tap8'),
                               ('hv1', 'online', 'tap9'),
                               ('hv2', 'offline', 'tap0')]
    assert markers(events) == []
    assert tail.watcher.resets == 0
    text = caplog.text
    assert 'Skipping interface \\\\udcff\\\\udcfe of host hv1' in text
    assert 'Skipping host \\\\udcff' in text
    assert 'value nested deeper than 4' in text
    assert 'no valid action' in text
    assert text.count('no valid owner') == 1


def test_redis_cli_once_and_tail_with_garbage(redis_server):
    client = redis_server.client()
    hv1 = test_cluster_redis.start_host(client, 'hv1', count=2)
    test_cluster_redis.start_host(client, 'hv2', count=1)
    raw = raw_client(redis_server)
    redis_garbage(raw)
    once = subprocess.run([CLI, '--redis', redis_server.url, '--once'],
                          capture_output=True, text=True, timeout=30)
    assert once.returncode == 0, once.stderr
    lines = [json.loads(line) for line in once.stdout.splitlines()]
    assert summary(lines) == [('hv1', 'online', 'tap0'),
                              ('hv1', 'online', 'tap1'),
                              ('hv2', 'online', 'tap0')]
    named(once.stderr)
    no_traceback(once.stderr)

    tail = Lines('--redis', redis_server.url, '--liveness-interval', '0.2')
    try:
        tail.wait_for(lambda lines: {'sync': 'finished', 'host': 'hv2'}
                      in lines and {'sync': 'finished', 'host': 'hv1'}
                      in lines)
        redis_stream_garbage(raw)
        hv1.change(puts=[record('hv1', 'tap9')])
        lines = tail.wait_for(
            lambda lines: ('hv1', 'online', 'tap9') in summary(lines))
    finally:
        assert tail.terminate() == 0
    _only_the_valid_records(tail, lines)
