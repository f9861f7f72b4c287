"""The Redis publisher and stream reader against real Redis and OVS."""

import json
import logging
import threading

import pytest

from df_ovsdb_agent.cluster.redis import read_interfaces
from df_ovsdb_agent.cluster.redis import RedisStreamReader
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.testing.pki import make_certificates
from tests.functional.stores import expected_records
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import PASSWORD
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import RedisServer
from tests.functional.stores import wait_until
from tests.helpers import vsctl_vm as vm
from tests.recorder import Recorder

pytestmark = [pytest.mark.functional, pytest.mark.timeout(60)]

STATE = 'df-ovsdb-agent:hv1:interfaces'
STREAM = 'df-ovsdb-agent:hv1:events'


def hash_records(server, key=STATE):
    return {name: json.loads(value)
            for name, value in server.client().hgetall(key).items()}


def stream_events(server, key=STREAM):
    """(action or sync, name) of every entry of the stream."""
    out = []
    for _, fields in server.client().xrange(key):
        event = json.loads(fields['event'])
        out.append((event.get('action') or event['sync'],
                    event.get('name')))
    return out


def start(make_agent, make_publisher, ovs, server, host='hv1', **options):
    agent = make_agent(ovs.remote)
    publisher = make_publisher('redis', agent, host, url=server.url,
                               **options)
    agent.start()
    assert publisher.wait_flushed(10)
    return agent, publisher


def summary(events):
    """Interface events and sync markers (host markers: test_cluster_redis).
    """
    return [(e.host, e.action.value, e.name) if hasattr(e, 'action')
            else str(e) for e in events if not hasattr(e, 'state')]


def test_state_hash_and_event_stream(ovs, redis_server, make_agent,
                                     make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, redis_server)
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*vm('tap1', 'p1'))
    ovs.vsctl('set', 'Interface', 'tap1', 'external_ids:iface-id=p1b')
    ovs.vsctl('del-port', 'tap1')
    ovs.vsctl(*vm('tap2', 'p2'))
    wait_until(lambda: ('online', 'tap2') in stream_events(redis_server))
    assert hash_records(redis_server) == expected_records(agent, 'hv1')
    assert sorted(hash_records(redis_server)) == ['br-int', 'tap2']
    assert stream_events(redis_server) == [
        ('online', 'br-int'), ('online', 'tap1'), ('updated', 'tap1'),
        ('offline', 'tap1'), ('online', 'tap2')]
    assert redis_server.client().smembers('df-ovsdb-agent:hosts') == {'hv1'}


def test_stream_is_bounded(ovs, redis_server, make_agent, make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, redis_server,
                       stream_maxlen=4)
    ovs.vsctl('add-br', 'br-int')
    for i in range(5):
        ovs.vsctl(*vm('tap%d' % i, 'p%d' % i))
    wait_until(lambda: len(hash_records(redis_server)) == 6)
    assert redis_server.client().xlen(STREAM) == 4
    assert len(hash_records(redis_server)) == 6


def test_redis_restart_while_events_flow_converges(
        ovs, redis_server, make_agent, make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, redis_server)
    recorder = Recorder()
    agent.subscribe(recorder, name='recorder')
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*vm('tap1', 'p1'))
    wait_until(lambda: sorted(hash_records(redis_server)) ==
               ['br-int', 'tap1'])

    redis_server.kill()  # no persistence: everything is lost
    ovs.vsctl('del-port', 'tap1')
    ovs.vsctl(*vm('tap2', 'p2'))
    recorder.wait_event(action='online', name='tap2', timeout=5)
    redis_server.start()
    ovs.vsctl(*vm('tap3', 'p3'))
    wait_until(lambda: hash_records(redis_server) ==
               expected_records(agent, 'hv1'), 20)
    assert pub.writer.failures > 0
    # The stream restarts with the net state, not the lost backlog.
    assert ('offline', 'tap1') not in stream_events(redis_server)
    assert stream_events(redis_server)[0] == ('started', None)
    assert redis_server.client().smembers('df-ovsdb-agent:hosts') == {'hv1'}


class Tail:
    """Runs a reader in a thread, recording what it yields."""

    def __init__(self, reader):
        self.reader = reader
        self.recorder = Recorder()
        self.thread = threading.Thread(
            target=lambda: [self.recorder(e) for e in reader])
        self.thread.start()

    def wait(self, predicate, timeout=10.0):
        return self.recorder.wait_for(lambda evs: predicate(summary(evs)),
                                      timeout)

    def stop(self):
        self.reader.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()


def test_reader_reads_state_then_follows_and_resumes(
        ovs, redis_server, make_agent, make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, redis_server)
    ovs.vsctl('add-br', 'br-int')
    wait_until(lambda: sorted(hash_records(redis_server)) == ['br-int'])
    options = StoreOptions(redis_server.url)
    tail = Tail(RedisStreamReader(options, block=0.2))
    try:
        tail.wait(lambda s: s == ['sync started host=hv1',
                                  ('hv1', 'online', 'br-int'),
                                  'sync finished host=hv1'])
        ovs.vsctl(*vm('tap1', 'p1'))
        events = tail.wait(lambda s: ('hv1', 'online', 'tap1') in s)
    finally:
        tail.stop()
    position = events[-1].position
    assert position == tail.reader.positions['hv1']

    ovs.vsctl('del-port', 'tap1')
    ovs.vsctl(*vm('tap2', 'p2'))
    resumed = Tail(RedisStreamReader(options, resume={'hv1': position},
                                     block=0.2))
    try:
        resumed.wait(lambda s: s == [('hv1', 'offline', 'tap1'),
                                     ('hv1', 'online', 'tap2')])
    finally:
        resumed.stop()
    assert [r['name'] for r in read_interfaces(options)] == ['br-int',
                                                             'tap2']


def test_reader_resets_when_its_position_was_trimmed(
        ovs, redis_server, make_agent, make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, redis_server,
                       stream_maxlen=2)
    ovs.vsctl('add-br', 'br-int')
    wait_until(lambda: sorted(hash_records(redis_server)) == ['br-int'])
    old = redis_server.client().xrevrange(STREAM, count=1)[0][0]
    for i in range(3):
        ovs.vsctl(*vm('tap%d' % i, 'p%d' % i))
    wait_until(lambda: len(hash_records(redis_server)) == 4)
    tail = Tail(RedisStreamReader(StoreOptions(redis_server.url),
                                  resume={'hv1': old}, block=0.2))
    try:
        events = tail.wait(lambda s: 'sync finished host=hv1 (reset)' in s)
    finally:
        tail.stop()
    assert summary(events) == [
        'sync started host=hv1 (reset)', ('hv1', 'online', 'br-int'),
        ('hv1', 'online', 'tap0'), ('hv1', 'online', 'tap1'),
        ('hv1', 'online', 'tap2'), 'sync finished host=hv1 (reset)']


def test_reader_follows_through_data_loss(ovs, redis_server, make_agent,
                                          make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, redis_server)
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*vm('tap1', 'p1'))
    wait_until(lambda: sorted(hash_records(redis_server)) ==
               ['br-int', 'tap1'])
    reader = RedisStreamReader(StoreOptions(redis_server.url), block=0.2,
                               max_backoff=0.5)
    tail = Tail(reader)
    try:
        tail.wait(lambda s: 'sync finished host=hv1' in s)
        redis_server.kill()
        ovs.vsctl('del-port', 'tap1')
        redis_server.start()
        tail.wait(lambda s: ('hv1', 'offline', 'tap1') in s, 20)
        wait_until(lambda: [r['name'] for r in reader.view.records()] ==
                   ['br-int'] and pub.wait_flushed(0))
    finally:
        tail.stop()


def test_password_works_and_is_never_logged(tmp_path, ovs, make_agent,
                                            make_publisher, caplog):
    caplog.set_level(logging.DEBUG)
    server = RedisServer(str(tmp_path / 'redis'), password=PASSWORD)
    server.start()
    try:
        ovs.vsctl('add-br', 'br-int')
        agent = make_agent(ovs.remote)
        good = make_publisher('redis', agent, 'hv1', url=server.url,
                              password=PASSWORD)
        bad = make_publisher('redis', agent, 'hv2', url=server.url,
                             password='wrong')
        leaky = make_publisher('redis', agent, 'hv3', url=server.url.replace(
            'redis://', 'redis://:%s-x@' % PASSWORD))
        agent.start()
        assert good.wait_flushed(10)
        wait_until(lambda: bad.writer.failures >= 2 and
                   leaky.writer.failures >= 2, 10, 'retries')
        assert not bad.writer.connected
        assert sorted(hash_records(server)) == ['br-int']
        assert PASSWORD not in caplog.text
        assert ':***@' in caplog.text
    finally:
        server.stop()


def test_tls(tmp_path, ovs, make_agent, make_publisher):
    certs = make_certificates(str(tmp_path / 'pki'))
    server = RedisServer(str(tmp_path / 'redis'))
    port = server.port
    server.port = 0  # plain port off
    server.command = lambda: [
        'redis-server', '--port', '0', '--tls-port', str(port), '--bind',
        '127.0.0.1', '--dir', server.dir, '--save', '', '--appendonly', 'no',
        '--tls-cert-file', certs['server_cert'], '--tls-key-file',
        certs['server_key'], '--tls-ca-cert-file', certs['ca']]
    url = 'rediss://127.0.0.1:%d/0' % port
    tls = dict(ca_file=certs['ca'], cert_file=certs['client_cert'],
               key_file=certs['client_key'])
    server.ready = lambda: read_interfaces(StoreOptions(url, **tls)) == []
    server.start()
    try:
        ovs.vsctl('add-br', 'br-int')
        agent = make_agent(ovs.remote)
        pub = make_publisher('redis', agent, 'hv1', url=url, **tls)
        agent.start()
        assert pub.wait_flushed(10)
        assert [r['name'] for r in read_interfaces(
            StoreOptions(url, **tls))] == ['br-int']
    finally:
        server.stop()


@pytest.mark.parametrize('options, message', [
    ({'url': 'http://127.0.0.1:6379'}, 'bad redis url'),
    ({'url': 'redis://127.0.0.1:6379', 'ca_file': '/ca.pem'},
     'not rediss://'),
    ({'url': 'rediss://127.0.0.1:6379', 'cert_file': '/c.pem'},
     'go together'),
])
def test_bad_options_fail_at_load(make_agent, make_publisher, options,
                                  message):
    agent = make_agent('tcp:127.0.0.1:1')
    with pytest.raises(ConfigError, match=message):
        make_publisher('redis', agent, 'hv1', **options)


def test_client_sends_no_optional_handshake(redis_server):
    """A connection's first command after the protocol's own ``HELLO``
    (RESP3) is the publisher's: no ``CLIENT SETINFO`` nor ``CLIENT
    MAINT_NOTIFICATIONS`` round trip first (Redis 7.0 answers both with
    an error, 7.2+ counts ``client|setinfo``).
    """
    from df_ovsdb_agent.cluster.stores import redis_client

    # One admin connection for both readings (its own handshake, if any,
    # is over before the first).
    admin = redis_server.client()

    def handshakes():
        errors = admin.info('errorstats')
        calls = admin.info('commandstats')
        return (sum(e['count'] for e in errors.values()),
                calls.get('cmdstat_client|setinfo', {}).get('calls', 0))

    try:
        before = handshakes()
        client = redis_client(StoreOptions(redis_server.url))
        try:
            assert client.get('df-no-such-key') is None
        finally:
            client.close()
        assert handshakes() == before
    finally:
        admin.close()
