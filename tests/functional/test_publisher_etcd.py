"""The etcd publisher and consumer against real etcd and Open vSwitch."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from df_ovsdb_agent.cluster.etcd import list_interfaces
from df_ovsdb_agent.cluster.etcd import watch_interfaces
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.testing.pki import make_certificates
from df_ovsdb_agent.testing import sandbox
from tests.functional.stores import enable_etcd_auth
from tests.functional.stores import etcd_alive
from tests.functional.stores import etcd_records
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import EtcdServer
from tests.functional.stores import expected_records
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import PASSWORD
from tests.functional.stores import wait_until
from tests.recorder import Recorder

pytestmark = [pytest.mark.functional, pytest.mark.timeout(60)]

VM = ['add-port', 'br-int', 'tap1', '--', 'set', 'Interface', 'tap1',
      'external_ids:iface-id=port-1',
      'external_ids:attached-mac=fa:16:3e:00:00:01']


def converged(server, agent, host='hv1', lease=None):
    """Whether etcd holds exactly the agent's interfaces (on ``lease``)."""
    stored = etcd_records(server, host)
    want = expected_records(agent, host)
    if {n: r for n, (r, _) in stored.items()} != want:
        return False
    return lease is None or all(l == lease() for _, l in stored.values())


def start(make_agent, make_publisher, ovs, server, host='hv1', **options):
    agent = make_agent(ovs.remote)
    publisher = make_publisher('etcd', agent, host, url=server.url,
                               **options)
    agent.start()
    assert publisher.wait_flushed(10)
    return agent, publisher


def test_interfaces_mirrored_on_the_lease(ovs, etcd_server, make_agent,
                                          make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, etcd_server)
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*VM)
    wait_until(lambda: sorted(etcd_records(etcd_server, 'hv1')) ==
               ['br-int', 'tap1'])
    # State only: the interface as the agent has it, plus the host, and no
    # "action" in a stored value.

    def tap1():
        return [i for i in agent.interfaces() if i.name == 'tap1'][0]
    wait_until(lambda: etcd_records(etcd_server, 'hv1')['tap1'][0] ==
               dict(tap1().to_dict(), host='hv1'))
    stored = etcd_records(etcd_server, 'hv1')
    record, lease = stored['tap1']
    assert (record['kind'], record['bridge'], record['iface_id'],
            record['attached_mac']) == ('vm', 'br-int', 'port-1',
                                        'fa:16:3e:00:00:01')
    assert 'action' not in record
    assert {l for _, l in stored.values()} == {pub.store.lease_id}
    alive = etcd_alive(etcd_server, 'hv1')
    assert alive[1] == pub.store.lease_id
    assert {k: alive[0][k] for k in ('host', 'owner', 'pid', 'ttl')} == {
        'host': 'hv1', 'owner': pub.writer.instance.owner,
        'pid': os.getpid(), 'ttl': 60}
    wait_until(lambda: etcd_alive(etcd_server, 'hv1')[0]['interfaces'] == 2)
    assert etcd_alive(etcd_server, 'hv1')[0]['synced'] is True
    ovs.vsctl('set', 'Interface', 'tap1',
              'external_ids:attached-mac=fa:16:3e:00:00:02')
    wait_until(lambda: etcd_records(etcd_server, 'hv1')['tap1'][0][
        'attached_mac'] == 'fa:16:3e:00:00:02')
    ovs.vsctl('del-port', 'tap1')
    wait_until(lambda: sorted(etcd_records(etcd_server, 'hv1')) ==
               ['br-int'])


def test_reconcile_removes_stale_keys_only_of_its_host(
        ovs, etcd_server, make_agent, make_publisher):
    client = etcd_server.client()
    client.put('/df-ovsdb-agent/hv1/interfaces/tap-gone', '{"name": 1}')
    client.put('/df-ovsdb-agent/hv2/interfaces/tap9', '{}')
    ovs.vsctl('add-br', 'br-int')
    agent, pub = start(make_agent, make_publisher, ovs, etcd_server)
    assert sorted(etcd_records(etcd_server, 'hv1')) == ['br-int']
    assert list(etcd_records(etcd_server, 'hv2')) == ['tap9']

    # Tampering is undone at the next agent resync.
    client.put('/df-ovsdb-agent/hv1/interfaces/tap-bogus', '{}')
    client.delete('/df-ovsdb-agent/hv1/interfaces/br-int')
    syncs = agent.syncs
    ovs.restart_ovsdb()
    assert agent.wait_synced(20, after=syncs)
    assert pub.wait_flushed(10)
    assert converged(etcd_server, agent, lease=lambda: pub.store.lease_id)


@pytest.mark.parametrize('keep_data', [True, False],
                         ids=['data-kept', 'data-lost'])
def test_etcd_restart_while_events_flow_converges(
        ovs, etcd_server, make_agent, make_publisher, keep_data):
    agent, pub = start(make_agent, make_publisher, ovs, etcd_server)
    recorder = Recorder()
    agent.subscribe(recorder, name='recorder')
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*VM)
    wait_until(lambda: sorted(etcd_records(etcd_server, 'hv1')) ==
               ['br-int', 'tap1'])
    lease = pub.store.lease_id

    etcd_server.kill()
    # The agent and its other subscribers carry on while etcd is down.
    ovs.vsctl('del-port', 'tap1')
    recorder.wait_event(action='offline', name='tap1', timeout=5)
    for i in range(5):
        ovs.vsctl('add-port', 'br-int', 'tap-%d' % i, '--', 'set',
                  'Interface', 'tap-%d' % i,
                  'external_ids:iface-id=port-%d' % i)
    recorder.wait_event(action='online', name='tap-4', timeout=5)
    # /healthz names the publisher that cannot write.
    wait_until(lambda: pub.problem() == 'not connected to %s'
               % pub.store.target, 20, 'the publisher to report etcd down')
    if not keep_data:
        etcd_server.wipe()
    etcd_server.start()
    ovs.vsctl('del-port', 'tap-0')
    wait_until(lambda: converged(etcd_server, agent,
                                 lease=lambda: pub.store.lease_id), 20)
    assert pub.writer.failures > 0
    assert (pub.store.lease_id == lease) is keep_data
    wait_until(lambda: pub.problem() is None, 20, 'the publisher healthy')


def test_store_down_at_start_does_not_hold_the_agent(
        tmp_path, ovs, make_agent, make_publisher):
    server = EtcdServer(str(tmp_path / 'etcd'))  # not started yet
    agent = make_agent(ovs.remote)
    pub = make_publisher('etcd', agent, 'hv1', url=server.url)
    began = time.monotonic()
    agent.start()
    assert time.monotonic() - began < 5
    ovs.vsctl('add-br', 'br-int')
    assert agent.bus.wait_idle(5)
    assert not pub.writer.connected
    try:
        server.start()
        wait_until(lambda: converged(server, agent), 20)
    finally:
        server.stop()


def test_killed_agent_keys_expire_with_its_lease(tmp_path, ovs,
                                                 etcd_server):
    conf = tmp_path / 'agent.conf'
    conf.write_text(
        '[DEFAULT]\nhost = hv-doomed\n'
        '[ovsdb]\nconnection = %s\n'
        '[agent]\npublishers = etcd\n'
        '[publisher_etcd]\nurl = %s\nlease_ttl = 2\n'
        % (ovs.remote, etcd_server.url))
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*VM)
    daemon = os.path.join(os.path.dirname(sys.executable), 'df-ovsdb-agent')
    with open(tmp_path / 'agent.log', 'w') as log:
        proc = subprocess.Popen([daemon, '--config-file', str(conf)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: sorted(etcd_records(etcd_server, 'hv-doomed'))
                   == ['br-int', 'tap1'], 20, 'the daemon to publish')
        # Alive and refreshing: the keys outlive several TTLs.
        time.sleep(3)  # the behaviour under test is "nothing happens"
        assert len(etcd_records(etcd_server, 'hv-doomed')) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed = time.monotonic()
        wait_until(lambda: not etcd_records(etcd_server, 'hv-doomed'), 10,
                   'the lease to expire')
        assert time.monotonic() - killed < 2 + 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_two_agents_seen_by_one_watcher(tmp_path, ovs, etcd_server,
                                        make_agent, make_publisher):
    other = sandbox.OvsSandbox(base_dir=str(tmp_path / 'ovs2'))
    os.makedirs(other.dir)
    other.start()
    try:
        agent1, _ = start(make_agent, make_publisher, ovs, etcd_server, 'hv1')
        agent2, _ = start(make_agent, make_publisher, other, etcd_server,
                          'hv2')
        ovs.vsctl('add-br', 'br-int')
        watcher = watch_interfaces(StoreOptions(etcd_server.url))
        recorder = Recorder()
        thread = threading.Thread(target=lambda: [recorder(e)
                                                  for e in watcher])
        thread.start()
        try:
            other.vsctl('add-br', 'br-int')
            other.vsctl(*VM)
            ovs.vsctl('add-port', 'br-int', 'tap7', '--', 'set',
                      'Interface', 'tap7', 'external_ids:iface-id=p7')
            # tap7 is online once vswitchd gave it an ofport: deleted
            # before that, it never was (a loaded machine showed it).
            recorder.wait_for(lambda evs: ('hv1', 'online', 'tap7') in
                              _summary(evs), 10)
            ovs.vsctl('del-port', 'tap7')
            want = [('hv1', 'online', 'br-int'), ('hv2', 'online', 'br-int'),
                    ('hv2', 'online', 'tap1'), ('hv1', 'online', 'tap7'),
                    ('hv1', 'offline', 'tap7')]
            events = recorder.wait_for(lambda evs: set(want) <= set(
                _summary(evs)), 10)
            assert sorted(_summary(events)) == sorted(want)
            assert str(events[0]) == 'sync started'
        finally:
            watcher.stop()
            thread.join(5)
        assert not thread.is_alive()
        assert [(r['host'], r['name']) for r in list_interfaces(
            StoreOptions(etcd_server.url))] == [
            ('hv1', 'br-int'), ('hv2', 'br-int'), ('hv2', 'tap1')]
    finally:
        other.stop()


def _summary(events):
    return [(e.host, e.action.value, e.name) for e in events
            if hasattr(e, 'host') and hasattr(e, 'action')]


def _names(watcher):
    return [r['name'] for r in watcher.view.records()]


def test_watcher_survives_etcd_restart_and_expiry(
        ovs, etcd_server, make_agent, make_publisher):
    agent, pub = start(make_agent, make_publisher, ovs, etcd_server,
                       lease_ttl=2)
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*VM)
    watcher = watch_interfaces(StoreOptions(etcd_server.url),
                               max_backoff=0.5)
    recorder = Recorder()
    thread = threading.Thread(target=lambda: [recorder(e) for e in watcher])
    thread.start()
    try:
        recorder.wait_for(lambda evs: _names(watcher) == ['br-int', 'tap1'])
        etcd_server.kill()
        etcd_server.wipe()
        ovs.vsctl('del-port', 'tap1')
        etcd_server.start()
        # The watcher lists again and the publisher rewrites its keys.
        recorder.wait_for(lambda evs: ('hv1', 'offline', 'tap1') in
                          _summary(evs) and _names(watcher) == ['br-int'], 20)
        # Then the agent goes away for good: its lease expires.
        agent.stop()
        pub.stop()
        recorder.wait_for(lambda evs: _names(watcher) == [], timeout=10)
        assert _summary(recorder.events)[-1] == ('hv1', 'offline', 'br-int')
    finally:
        watcher.stop()
        thread.join(5)


def test_credentials_work_and_are_never_logged(ovs, etcd_server,
                                               make_agent, make_publisher,
                                               caplog):
    caplog.set_level(logging.DEBUG)
    enable_etcd_auth(etcd_server)
    ovs.vsctl('add-br', 'br-int')
    agent = make_agent(ovs.remote)
    good = make_publisher('etcd', agent, 'hv1', url=etcd_server.url,
                          username='root', password=PASSWORD)
    bad = make_publisher('etcd', agent, 'hv2', url=etcd_server.url,
                         username='root', password=PASSWORD + 'x')
    agent.start()
    assert good.wait_flushed(10)
    options = StoreOptions(etcd_server.url, username='root',
                           password=PASSWORD)
    assert [r['name'] for r in list_interfaces(options)] == ['br-int']
    wait_until(lambda: bad.writer.failures >= 2, 10, 'retries')
    assert not bad.writer.connected
    assert 'authentication failed' in caplog.text
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(options)


def test_tls_with_client_certificates(tmp_path, ovs, make_agent,
                                      make_publisher):
    certs = make_certificates(str(tmp_path / 'pki'))
    server = EtcdServer(str(tmp_path / 'etcd'), scheme='https', extra_args=(
        '--cert-file', certs['server_cert'], '--key-file',
        certs['server_key'], '--trusted-ca-file', certs['ca'],
        '--client-cert-auth'))
    server.tls = {'ca_cert': certs['ca'], 'cert_cert': certs['client_cert'],
                  'cert_key': certs['client_key']}
    server.start()
    try:
        ovs.vsctl('add-br', 'br-int')
        agent = make_agent(ovs.remote)
        tls = dict(ca_file=certs['ca'], cert_file=certs['client_cert'],
                   key_file=certs['client_key'])
        pub = make_publisher('etcd', agent, 'hv1', url=server.url, **tls)
        agent.start()
        assert pub.wait_flushed(10)
        options = StoreOptions(server.url, **tls)
        assert [r['name'] for r in list_interfaces(options)] == ['br-int']
        # Without a client certificate the server refuses us.
        with pytest.raises(Exception):
            list_interfaces(StoreOptions(server.url, ca_file=certs['ca']))
    finally:
        server.stop()


@pytest.mark.parametrize('options, message', [
    ({'url': 'etcd://127.0.0.1:2379'}, 'bad etcd url'),
    ({'url': 'http://user:pw@127.0.0.1:2379'}, 'bad etcd url'),
    ({'url': 'http://127.0.0.1:2379', 'ca_file': '/ca.pem'},
     'not https://'),
    ({'prefix': 'no-slash'}, 'must start with "/"'),
])
def test_bad_options_fail_at_load(make_agent, make_publisher, options,
                                  message):
    agent = make_agent('tcp:127.0.0.1:1')
    with pytest.raises(ConfigError, match=message) as info:
        make_publisher('etcd', agent, 'hv1', **options)
    assert 'pw' not in str(info.value)
    assert stores.redact('http://u:pw@h:1') == 'http://u:***@h:1'


def _all_threads_stopped(pid):
    tasks = '/proc/%d/task' % pid
    states = []
    for task in os.listdir(tasks):
        with open('%s/%s/stat' % (tasks, task)) as f:
            # The state follows the command name in parentheses.
            states.append(f.read().rsplit(')', 1)[1].split()[0])
    return all(state in ('T', 't') for state in states)


def test_a_frozen_etcd_fails_each_request_within_the_timeout(etcd_server):
    """etcd SIGSTOPped (its port still accepts connections, nothing
    answers): a request fails after the configured timeout, a keepalive
    after its refresh timeout, instead of blocking the writer for ever.
    """
    from etcd3gw.exceptions import ConnectionTimeoutError

    from df_ovsdb_agent.publishers.etcd import EtcdStore
    from df_ovsdb_agent.publishers.store import Instance

    store = EtcdStore(StoreOptions(etcd_server.url, timeout=1.0),
                      stores.ETCD_PREFIX, lease_ttl=60)
    store.bind(Instance('hv1', 'o1', os.getpid(), time.time(), '1.0'))
    store.connect()
    try:
        store.read_state()  # the API path is known: no discovery below
        lease = store._grant()
        etcd_server.proc.send_signal(signal.SIGSTOP)
        try:
            # Stopped only once every thread is (a busy machine delays it).
            wait_until(lambda: _all_threads_stopped(etcd_server.proc.pid),
                       5, 'etcd to stop')
            began = time.monotonic()
            with pytest.raises(ConnectionTimeoutError):
                store.read_state()
            took = time.monotonic() - began
            assert 0.9 <= took < 2.5, took
            # A keepalive of a lease with 0.8 s left waits half of that
            # (Store.refresh_timeout), not the configured 1 s; the client
            # has the configured timeout again afterwards.
            store._deadlines[lease] = time.monotonic() + 0.8
            began = time.monotonic()
            with pytest.raises(ConnectionTimeoutError):
                store.tick({})
            took = time.monotonic() - began
            assert 0.35 <= took < 0.9, took
            assert store._client.timeout == 1.0
        finally:
            etcd_server.proc.send_signal(signal.SIGCONT)
        # Back: the same store works again after a reconnection.
        store.connect()
        assert store.read_state() == ({}, frozenset())
    finally:
        store.close()
