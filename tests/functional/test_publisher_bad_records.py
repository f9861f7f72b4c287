"""One bad record never blocks the others, against real etcd and Redis.

A record over the publishers' limits, one the store refuses, one carrying
a lone surrogate from a hostile peer, and garbage already in the host's own
keys: the host's other records are written, the bad one is named (ERROR
line, /healthz, metric) and written as soon as it becomes storable.  Store
passwords never show, in any URL form, in the real daemon's log or
/healthz.
"""

import base64
import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.request

from prometheus_client import parser
import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent import metrics
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing import sandbox
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import ovs_map
from tests.functional.procs import Proc
from tests.functional.procs import script
from tests.functional.procs import write_conf
from tests.functional.stores import etcd_records
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import EtcdServer
from tests.functional.stores import expected_records
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(90)]

BIG = 2 << 20  # the 2 MiB etcd 3.4's gateway refuses


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _samples(url):
    status, text = _get(url + '/metrics')
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(text)
            for s in family.samples}


def _set_external_ids(remote, name, **ids):
    """Set an Interface's external_ids in one raw transaction (a 2 MiB
    value is over the kernel's limit for one ovs-vsctl argument).
    """
    with Rpc(remote) as rpc:
        rpc.transact({'op': 'update', 'table': 'Interface',
                      'where': [['name', '==', name]],
                      'row': {'external_ids': ovs_map(
                          {k.replace('_', '-'): v for k, v in ids.items()})}})


def _add_vm(ovs, name, iface_id):
    ovs.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name,
              'external_ids:iface-id=%s' % iface_id)


class StoreView:
    """name -> record of host hv1, read from the real store."""

    def __init__(self, kind, server):
        self.kind = kind
        self.server = server

    def records(self):
        if self.kind == 'etcd':
            return {n: r for n, (r, _) in
                    etcd_records(self.server, 'hv1').items()}
        raw = self.server.client().hgetall(
            stores.redis_state_key(stores.REDIS_PREFIX, 'hv1'))
        return {name: json.loads(value) for name, value in raw.items()}


@pytest.fixture(params=['etcd', 'redis'])
def store(request, tmp_path):
    if request.param == 'etcd':
        server = request.getfixturevalue('etcd_server')
    else:
        server = request.getfixturevalue('redis_server')
    return StoreView(request.param, server)


def _start(ovs, store, make_agent, make_publisher, **options):
    agent = make_agent(ovs.remote, max_message_size=64 << 20)
    pub = make_publisher(store.kind, agent, 'hv1', url=store.server.url,
                         **options)
    server = metrics.MetricsServer(agent, '127.0.0.1', 0, [pub])
    server.start()
    agent.start()
    return agent, pub, server


def _published(agent, store, without=()):
    """Whether the store holds exactly the agent's interfaces, less
    ``without``.
    """
    want = {n: r for n, r in expected_records(agent, 'hv1').items()
            if n not in without}
    return store.records() == want


def _aside_errors(caplog, name):
    return [r for r in caplog.records if r.levelno == logging.ERROR and
            'sets aside the record of interface %s:' % name in
            r.getMessage()]


def test_oversized_value_is_set_aside_and_the_rest_flows(
        ovs, store, make_agent, make_publisher, caplog):
    caplog.set_level(logging.INFO)
    ovs.vsctl('add-br', 'br-int')
    for i in (1, 2):
        _add_vm(ovs, 'tap%d' % i, 'port-%d' % i)
    _add_vm(ovs, 'tap-big', 'port-big')
    _set_external_ids(ovs.remote, 'tap-big', iface_id='x' * BIG)
    agent, pub, server = _start(ovs, store, make_agent, make_publisher)
    plugin = type(pub).__name__
    try:
        # The first reconcile writes every record but the big one.
        wait_until(lambda: pub.set_aside() and
                   _published(agent, store, without={'tap-big'}), 30)
        assert sorted(store.records()) == ['br-int', 'tap1', 'tap2']
        why = 'iface_id is %d bytes, over the 4096-byte limit per value' % (
            BIG + 0)
        [line] = _aside_errors(caplog, 'tap-big')
        assert why in line.getMessage()
        assert len(line.getMessage()) < 600
        status, body = _get(server.url + '/healthz')
        assert (status, body) == (200, 'ok; %s: 1 record(s) set aside: '
                                       'tap-big (%s)\n' % (plugin, why))
        samples = _samples(server.url)
        assert samples[('df_ovsdb_agent_publisher_records_set_aside',
                        (('plugin', plugin),))] == 1
        assert samples[('df_ovsdb_agent_publisher_record_set_aside',
                        (('name', 'tap-big'), ('plugin', plugin),
                         ('reason', 'too_large')))] == 1
        assert samples[('df_ovsdb_agent_plugin_healthy',
                        (('plugin', plugin),))] == 0
        assert pub.writer.failures == 0

        # Later interfaces keep flowing.
        _add_vm(ovs, 'tap3', 'port-3')
        wait_until(lambda: _published(agent, store, without={'tap-big'}) and
                   'tap3' in store.records())

        # A published record that grows over the limit leaves the store:
        # its old value must not stand for the interface.
        _set_external_ids(ovs.remote, 'tap1', iface_id='y' * 5000)
        wait_until(lambda: 'tap1' not in store.records() and
                   len(pub.set_aside()) == 2)
        assert _published(agent, store, without={'tap-big', 'tap1'})
        assert len(_aside_errors(caplog, 'tap1')) == 1

        # Shrunk: written at once, no longer named anywhere.
        _set_external_ids(ovs.remote, 'tap-big', iface_id='port-big')
        _set_external_ids(ovs.remote, 'tap1', iface_id='port-1')
        wait_until(lambda: _published(agent, store) and
                   not pub.set_aside())
        assert store.records()['tap-big']['iface_id'] == 'port-big'
        assert _get(server.url + '/healthz') == (200, 'ok\n')
        assert _samples(server.url)[(
            'df_ovsdb_agent_publisher_records_set_aside',
            (('plugin', plugin),))] == 0
        assert 'set aside before' in caplog.text
        assert len(_aside_errors(caplog, 'tap-big')) == 1
        assert pub.writer.failures == 0
    finally:
        server.stop()


def test_records_etcd_refuses_are_found_and_set_aside(
        tmp_path, ovsdb, make_agent, make_publisher, caplog):
    """Records within the publisher's limits, but not etcd's: the refused
    transaction is bisected, the culprit set aside, the rest written.
    """
    caplog.set_level(logging.INFO)
    server = EtcdServer(str(tmp_path / 'etcd'),
                        extra_args=('--max-request-bytes', '6000'))
    server.start()
    try:
        names = ['tap%02d' % i for i in range(40)]
        with Rpc(ovsdb.remote) as rpc:
            rpc.transact(*add_bridge_ops('br-int'))
            # 40 records of ~250 bytes: more than 6,000 bytes together.
            rpc.transact(*add_ports_ops('br-int', names + ['tap-fat'],
                                        lambda i: i + 1))
        # ~8 KB of JSON: within the publisher's limits, over etcd's.
        _set_external_ids(ovsdb.remote, 'tap-fat', iface_id='f' * 4000,
                          attached_mac='m' * 4000)
        store = StoreView('etcd', server)
        agent, pub, metrics_server = _start(ovsdb, store, make_agent,
                                            make_publisher)
        try:
            wait_until(lambda: _published(agent, store,
                                          without={'tap-fat'}), 30)
            aside = pub.writer.set_aside()
            assert list(aside) == ['tap-fat']
            assert aside['tap-fat'].code == 'refused'
            assert 'request is too large' in aside['tap-fat'].text
            assert len(_aside_errors(caplog, 'tap-fat')) == 1
            assert pub.writer.failures == 0
            _, body = _get(metrics_server.url + '/healthz')
            assert 'EtcdPublisher: 1 record(s) set aside: tap-fat ' \
                   '(refused by etcd http://127.0.0.1:' in body
            # Not tried again while unchanged: a later change of another
            # interface is written without touching it.
            _set_external_ids(ovsdb.remote, 'tap00', iface_id='new')
            wait_until(lambda: store.records()['tap00'].get('iface_id') ==
                       'new')
            assert len(_aside_errors(caplog, 'tap-fat')) == 1
            # Storable again once it changes.
            _set_external_ids(ovsdb.remote, 'tap-fat', iface_id='fat')
            wait_until(lambda: _published(agent, store) and
                       not pub.set_aside())
        finally:
            metrics_server.stop()
    finally:
        server.stop()


# -- garbage in the host's own records ---------------------------------------

DEEP = '[' * 100000
TYPED = '{"kind": ["not","a","kind"], "sync": "finished", "uuid": {"x": 1}}'


def _corrupt(store, name_suffix=''):
    """Put garbage under host hv1 by hand: a key that is not UTF-8, a
    value that is not UTF-8 for tap1, one nested 100,000 deep, one with
    wrong types.
    """
    garbage = [(b'\xff\xfe' + name_suffix.encode(), b'{}'),
               (b'tap1', b'\xff\xfe{"x'),
               (b'deep' + name_suffix.encode(), DEEP.encode()),
               (b'typed' + name_suffix.encode(), TYPED.encode())]
    if store.kind == 'etcd':
        client = store.server.client()
        top = stores.etcd_host_prefix(stores.ETCD_PREFIX, 'hv1').encode()
        for name, value in garbage:
            client.post(client.get_url('/kv/put'), json={
                'key': base64.b64encode(top + name).decode(),
                'value': base64.b64encode(value).decode()})
    else:
        import redis
        with redis.Redis(host='127.0.0.1', port=store.server.port) as raw:
            raw.hset(stores.redis_state_key(stores.REDIS_PREFIX, 'hv1'),
                     mapping=dict(garbage))


def _raw_names(store):
    """Every name under hv1, as bytes (garbage included)."""
    if store.kind == 'etcd':
        top = stores.etcd_host_prefix(stores.ETCD_PREFIX, 'hv1')
        client = store.server.client()
        kvs = client.post(client.get_url('/kv/range'), json={
            'key': stores.etcd_b64(top), 'range_end':
            stores.etcd_range_end(top), 'keys_only': True}).get('kvs', [])
        return sorted(base64.b64decode(kv['key'])[len(top):] for kv in kvs)
    import redis
    with redis.Redis(host='127.0.0.1', port=store.server.port) as raw:
        return sorted(raw.hkeys(stores.redis_state_key(stores.REDIS_PREFIX,
                                                       'hv1')))


def test_garbage_in_own_records_is_overwritten(ovs, store, make_agent,
                                               make_publisher):
    ovs.vsctl('add-br', 'br-int')
    _add_vm(ovs, 'tap1', 'port-1')
    _corrupt(store)
    agent, pub, server = _start(ovs, store, make_agent, make_publisher,
                                resync_interval=0.5)
    try:
        # The first reconcile: garbage deleted, tap1 rewritten.
        wait_until(lambda: _raw_names(store) == [b'br-int', b'tap1'] and
                   _published(agent, store), 30)
        # Garbage appearing later is repaired by the periodic reconcile,
        # and new interfaces keep flowing.
        _corrupt(store, '-2')
        _add_vm(ovs, 'tap2', 'port-2')
        wait_until(lambda: _raw_names(store) == [b'br-int', b'tap1',
                                                 b'tap2'] and
                   _published(agent, store), 30)
        assert pub.writer.failures == 0
        assert not pub.set_aside()
        if store.kind == 'redis':
            # No event is owed for garbage: the stream has the real
            # interfaces only.
            entries = store.server.client().xrange(
                stores.redis_stream_key(stores.REDIS_PREFIX, 'hv1'))
            names = {json.loads(e['event']).get('name')
                     for _, e in entries} - {None}
            assert names == {'br-int', 'tap1', 'tap2'}
    finally:
        server.stop()


# -- a lone surrogate from a hostile peer ------------------------------------

MARKER = b'QSURRQ'
SURROGATE = b'\\udcff'  # the same length: JSON framing is unchanged
assert len(MARKER) == len(SURROGATE)


class RewritingProxy:
    """A TCP proxy in front of ovsdb-server that turns every ``QSURRQ`` it
    sends the agent into the JSON escape of a lone surrogate: a peer no
    real ovsdb-server can be (it refuses such strings), speaking valid
    JSON-RPC otherwise.
    """

    def __init__(self, target_port):
        self.target_port = target_port
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self._conns = []
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def remote(self):
        return 'tcp:127.0.0.1:%d' % self.port

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(('127.0.0.1',
                                               self.target_port))
            self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True),
                             daemon=True).start()

    def _pump(self, src, dst, rewrite):
        held = b''
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                data = held + data
                if rewrite:
                    data = data.replace(MARKER, SURROGATE)
                    # Hold back a tail that may be the start of a marker.
                    keep = next((n for n in range(len(MARKER) - 1, 0, -1)
                                 if data.endswith(MARKER[:n])), 0)
                    held = data[len(data) - keep:] if keep else b''
                    data = data[:len(data) - keep]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self._stopped = True
        self.sock.close()
        for conn in self._conns:
            conn.close()


def test_lone_surrogate_from_a_peer_is_set_aside(
        ovs, redis_server, make_agent, make_publisher, caplog):
    caplog.set_level(logging.INFO)
    port = int(ovs.remote.rsplit(':', 1)[1])
    proxy = RewritingProxy(port)
    store = StoreView('redis', redis_server)
    try:
        ovs.vsctl('add-br', 'br-int')
        _add_vm(ovs, 'tap1', 'port-1')
        _add_vm(ovs, 'tap' + MARKER.decode(), 'port-x')
        _add_vm(ovs, 'tap2', 'p-' + MARKER.decode())

        class Behind:
            remote = proxy.remote
        agent, pub, server = _start(Behind, store, make_agent,
                                    make_publisher)
        bad_name = 'tap\udcff'
        try:
            wait_until(lambda: len(pub.set_aside()) == 2 and
                       _published(agent, store,
                                  without={bad_name, 'tap2'}), 30)
            assert sorted(store.records()) == ['br-int', 'tap1']
            assert pub.writer.failures == 0
            aside = pub.writer.set_aside()
            assert aside[bad_name].text == 'name is not valid Unicode'
            assert aside['tap2'].text == 'iface_id is not valid Unicode'
            # Named escaped, in the log line and /healthz (which must
            # stay encodable).
            assert len(_aside_errors(caplog, 'tap\\\\udcff')) == 1
            status, body = _get(server.url + '/healthz')
            assert status == 200
            assert ('RedisPublisher: 2 record(s) set aside: tap2 (iface_id '
                    'is not valid Unicode), tap\\\\udcff (name is not valid '
                    'Unicode)') in body
            assert ('df_ovsdb_agent_publisher_record_set_aside',
                    (('name', 'tap\\\\udcff'), ('plugin', 'RedisPublisher'),
                     ('reason', 'not_unicode'))) in _samples(server.url)
            # Its interface changes into something storable: written.
            ovs.vsctl('set', 'Interface', 'tap2',
                      'external_ids:iface-id=port-2')
            wait_until(lambda: 'tap2' in store.records() and
                       list(pub.writer.set_aside()) == [bad_name])
            assert store.records()['tap2']['iface_id'] == 'port-2'
            # It goes away: nothing is set aside any more.
            ovs.vsctl('del-port', 'tap' + MARKER.decode())
            wait_until(lambda: not pub.set_aside() and
                       _published(agent, store))
            assert pub.writer.failures == 0
        finally:
            server.stop()
    finally:
        proxy.stop()


# -- store passwords, in every URL form --------------------------------------

SECRET = 'Sup3r-s3cret-pw'


@pytest.mark.parametrize('publisher,url', [
    ('redis', 'redis://:{s}@127.0.0.1:{p}/0'),
    ('redis', 'rediss://:{s}@127.0.0.1:{p}/0'),
    ('redis', 'redis://admin:{s}@127.0.0.1:{p}/0'),
    ('redis', 'redis://:{s}@{s}@127.0.0.1:{p}/0'),
    ('redis', 'redis://127.0.0.1:{p}/0?password={s}'),
    ('redis', 'redis://127.0.0.1:{p}/0?db=0&pw={s}'),
    ('redis', 'redis://127.0.0.1:{p}/0?token={s}'),
    ('redis', 'unix://:{s}@{d}/none.sock?db=0&password={s}'),
    ('etcd', 'http://127.0.0.1:{p}/?token={s}'),
    ('etcd', 'http://127.0.0.1:{p}?secret={s}'),
], ids=['userinfo', 'rediss', 'user-and-password', 'at-in-password',
        'query-password', 'query-pw', 'query-token', 'unix', 'etcd-token',
        'etcd-secret'])
def test_store_password_never_shows(tmp_path, ovsdb, publisher, url):
    """Through the real daemon (at DEBUG): its log and /healthz, while the
    store cannot be reached.
    """
    url = url.format(s=SECRET, p=sandbox.free_port(), d=tmp_path)
    ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                'ofport=65534')
    conf = write_conf(tmp_path, (
        '[DEFAULT]\ndebug = true\nhost = hv1\n'
        '[ovsdb]\nconnection = %s\n'
        '[agent]\npublishers = %s\nshutdown_timeout = 2\n'
        '[metrics]\nenabled = true\nport = 0\n'
        '[publisher_%s]\nurl = %s\nmax_backoff = 0.2\ntimeout = 1\n')
        % (ovsdb.remote, publisher, publisher, url))
    proc = Proc([script('df-ovsdb-agent'), '--config-file', conf],
                env=dict(os.environ))
    try:
        line = proc.wait_line('Serving metrics on http://', 30)
        base_url = line.split('Serving metrics on ')[1].split('/metrics')[0]
        proc.wait_line('Publisher cannot use', 30)
        proc.wait_line('retrying in', 30)
        status, body = _get(base_url + '/healthz')
        assert 'not connected to' in body, body
        assert '***' in body
        assert SECRET not in body
        assert proc.stop() == 0
        log = '\n'.join(proc.lines)
        assert '***' in log
        assert SECRET not in log, [x for x in proc.lines if SECRET in x]
        assert 'Traceback' not in log
    finally:
        proc.kill()
