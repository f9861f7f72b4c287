"""Operability: /metrics and /healthz against a real ovsdb-server, and the
daemon's SIGHUP (log reload) and SIGTERM (bounded stop)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from oslo_config import cfg
from prometheus_client import parser
import pytest

from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import metrics
from df_ovsdb_agent import plugins
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.sandbox import stop_process
from df_ovsdb_agent.testing.sandbox import wait_for
from tests.functional.ovsdb_ops import add_ports_ops
from tests.recorder import Recorder


def _get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _scrape(server):
    status, text = _get(server.url + '/metrics')
    assert status == 200
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name,
                     tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels):
    return samples[('df_ovsdb_agent_' + name, tuple(sorted(labels.items())))]


def _wait_health(server, status, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        got = _get(server.url + '/healthz')
        if got[0] == status or time.monotonic() > deadline:
            return got
        time.sleep(0.05)  # polling an HTTP endpoint: nothing to wait on


def test_metrics_and_health_follow_the_agent(ovsdb, make_agent):
    ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                'ofport=65534')
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(*add_ports_ops(
            'br-int', ['tap%d' % i for i in range(5)], lambda i: i + 1))
    agent = make_agent(ovsdb.remote, probe_interval=1000)

    class StoreDown(plugins.Plugin):
        def start(self):
            pass

        def problem(self):
            return 'not connected to etcd http://127.0.0.1:1'
    server = metrics.MetricsServer(agent, '127.0.0.1', 0,
                                   [StoreDown(agent, None, 'hv1')])
    server.start()
    try:
        assert server.port != 0
        assert _get(server.url + '/healthz') == (
            503, 'not connected to OVSDB; StoreDown: not connected to etcd '
                 'http://127.0.0.1:1\n')

        def boom(event):
            raise RuntimeError('subscriber bug')
        agent.subscribe(boom, name='boom')
        gate = threading.Event()
        agent.subscribe(lambda event: gate.wait(10), name='slow')
        agent.start()
        status, reason = _get(server.url + '/healthz')
        assert status == 200 and reason.startswith('ok; StoreDown: not '
                                                   'connected to etcd')
        rec = Recorder()
        agent.subscribe(rec, name='rec', replay=True)
        rec.wait_for(lambda evs: len(rec.summary(evs)) == 6)
        agent.bus.subscriptions[0].wait_idle(5)  # the counter itself
        boom_sub = [s for s in agent.bus.subscriptions if s.name == 'boom'][0]
        assert boom_sub.wait_idle(5)
        # OVSDB is fine (200); the failing plugin and subscriber are named.
        assert _get(server.url + '/healthz') == (
            200, 'ok; StoreDown: not connected to etcd http://127.0.0.1:1; '
                 'subscriber boom: failing (%d errors)\n' % boom_sub.errors)

        samples = _scrape(server)
        assert _value(samples, 'connected') == 1
        assert _value(samples, 'synced') == 1
        assert _value(samples, 'reconnects_total') == 0
        assert _value(samples, 'resyncs_total') == 0
        assert _value(samples, 'last_sync_duration_seconds') > 0
        assert _value(samples, 'interfaces_online', kind='vm') == 5
        assert _value(samples, 'interfaces_online', kind='bridge') == 1
        assert _value(samples, 'interfaces_online', kind='tunnel') == 0
        assert _value(samples, 'events_total', kind='vm',
                      action='online') == 5
        assert _value(samples, 'events_total', kind='bridge',
                      action='online') == 1
        assert _value(samples, 'subscriber_errors_total',
                      subscriber='boom') >= 6
        assert _value(samples, 'plugin_healthy', plugin='StoreDown') == 0
        # "slow" holds its first event; the rest waits, bounded.
        assert 1 <= _value(samples, 'subscriber_backlog',
                           subscriber='slow') <= 6 + 2
        gate.set()

        syncs = agent.syncs
        ovsdb.kill_ovsdb()
        status, reason = _wait_health(server, 503)
        assert status == 503, reason
        ovsdb.start_ovsdb()
        assert agent.wait_synced(10, after=syncs)
        status, reason = _wait_health(server, 200)
        assert status == 200 and reason.startswith('ok; '), reason
        ovsdb.vsctl('del-port', 'tap0')
        rec.wait_event(name='tap0', action='offline')
        agent.bus.wait_idle(5)
        samples = _scrape(server)
        assert _value(samples, 'reconnects_total') == 1
        assert _value(samples, 'resyncs_total') == 1
        assert _value(samples, 'interfaces_online', kind='vm') == 4
        assert _value(samples, 'events_total', kind='vm',
                      action='offline') == 1
        assert _value(samples, 'subscriber_backlog', subscriber='slow') == 0
        assert _get(server.url + '/nothing')[0] == 404
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', server.port), timeout=1)


def _closed_by_server(sock):
    """True once the server closed ``sock`` (EOF or reset)."""
    try:
        return sock.recv(4096) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_slow_clients_neither_pin_threads_nor_block_health(ovsdb,
                                                           make_agent):
    agent = make_agent(ovsdb.remote)
    agent.start()
    server = metrics.MetricsServer(agent, '127.0.0.1', 0)
    server.start()
    slow = []
    try:
        threads = threading.active_count()
        began = time.monotonic()
        # 200 slowloris clients: a request head that never ends.
        for _ in range(200):
            sock = socket.create_connection(('127.0.0.1', server.port),
                                            timeout=5)
            sock.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')
            slow.append(sock)
        connected = time.monotonic()
        # A real client is answered meanwhile, while they still hang.
        assert _get(server.url + '/healthz', timeout=5) == (200, 'ok\n')
        for sock in slow:
            sock.setblocking(False)
        if time.monotonic() - connected < metrics.REQUEST_TIMEOUT - 1:
            hanging = [s for s in slow if not _closed_by_server(s)]
            # All but the one closed to make room for the real client.
            assert len(hanging) == metrics.MAX_CONNECTIONS - 1
        # One thread serves them all.
        assert threading.active_count() <= threads
        # Trickling a byte now and then does not keep a connection: every
        # slow one is closed within the per-request time, the oldest ones
        # at once to make room.
        open_ = list(slow)
        deadline = connected + metrics.REQUEST_TIMEOUT + 5
        while open_:
            assert time.monotonic() < deadline, \
                '%d slow clients still connected' % len(open_)
            for sock in open_:
                try:
                    sock.send(b'X')
                except OSError:
                    pass
            open_ = [s for s in open_ if not _closed_by_server(s)]
            time.sleep(0.2)  # the trickle's pace, not a wait for a result
        assert time.monotonic() - began > metrics.REQUEST_TIMEOUT - 1
        assert _get(server.url + '/healthz', timeout=5) == (200, 'ok\n')
    finally:
        for sock in slow:
            sock.close()
        server.stop()


@pytest.mark.parametrize('request_bytes,status', [
    (b'POST /healthz HTTP/1.1\r\n\r\n', 405),
    (b'nonsense\r\n\r\n', 400),
    (b'GET /nowhere HTTP/1.0\r\n\r\n', 404),
    (b'GET /healthz HTTP/1.1\r\n' + b'X: y\r\n' * 2000, 431),
], ids=['post', 'garbage', 'not-found', 'huge-head'])
def test_bad_requests_get_one_answer(request_bytes, status):
    class Down:
        connected = synced = False

        class bus:
            subscriptions = ()

        def subscribe(self, *args, **kwargs):
            return None

        def unsubscribe(self, sub):
            pass

    server = metrics.MetricsServer(Down(), '127.0.0.1', 0)
    server.start()
    try:
        with socket.create_connection(('127.0.0.1', server.port),
                                      timeout=5) as sock:
            try:
                sock.sendall(request_bytes)
            except OSError:
                pass  # closed after the answer, before all was sent
            reply = b''
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        assert reply.startswith(b'HTTP/1.1 %d ' % status), reply
    finally:
        server.stop()


def test_listener_is_opt_in_and_loopback_by_default():
    conf = cfg.ConfigOpts()
    conf.register_opts(metrics.METRICS_OPTS, group='metrics')
    conf([])
    assert conf.metrics.enabled is False
    assert conf.metrics.host == '127.0.0.1'
    assert conf.metrics.port == 9464
    assert metrics.MetricsServer(object()).host == '127.0.0.1'


def test_busy_port_is_one_clear_error():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        server = metrics.MetricsServer(object(), '127.0.0.1', port)
        with pytest.raises(ConfigError) as err:
            server.start()
    assert str(err.value) == ('cannot serve metrics on 127.0.0.1:%d: '
                              'Address already in use' % port)


# -- the daemon: SIGHUP and SIGTERM -------------------------------------------

def _daemon(tmp_path, remote, debug):
    conf = tmp_path / 'agent.conf'
    log = tmp_path / 'agent.log'
    conf.write_text('[DEFAULT]\ndebug = %s\nlog_file = %s\n'
                    '[ovsdb]\nconnection = %s\nprobe_interval = 1000\n'
                    '[agent]\nshutdown_timeout = 2\n'
                    % (debug, log, remote))
    # The console script operators run (native threads).
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), 'df-ovsdb-agent'),
         '--config-file', str(conf)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, conf, log


def _wait_log(log, text, timeout=20, proc=None):
    def seen():
        if proc is not None and proc.poll() is not None:
            raise AssertionError('daemon exited: %s' % proc.stdout.read())
        return log.exists() and text in log.read_text()
    wait_for(seen, timeout, '%r in %s' % (text, log))


def test_sighup_reloads_log_settings(ovsdb, tmp_path):
    proc, conf, log = _daemon(tmp_path, ovsdb.remote, 'false')
    try:
        _wait_log(log, 'running', proc=proc)
        # logrotate moves the file away; SIGHUP must reopen the path and
        # apply the edited settings.
        rotated = tmp_path / 'agent.log.1'
        log.rename(rotated)
        conf.write_text(conf.read_text().replace('debug = false',
                                                 'debug = true'))
        proc.send_signal(signal.SIGHUP)
        _wait_log(log, 'Option DEFAULT.debug changed from [false] to '
                  '[true]', proc=proc)
        ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                    'ofport=65534')
        _wait_log(log, 'bridge online br-int', proc=proc)
        assert 'br-int' not in rotated.read_text()
        assert proc.poll() is None
    finally:
        stop_process(proc, signal.SIGTERM)


def test_sigterm_stops_in_bounded_time_even_with_a_hung_server(
        ovsdb, tmp_path):
    proc, conf, log = _daemon(tmp_path, ovsdb.remote, 'false')
    try:
        _wait_log(log, 'running', proc=proc)
        ovsdb.signal_ovsdb(signal.SIGSTOP)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        took = time.monotonic() - began
    finally:
        ovsdb.signal_ovsdb(signal.SIGCONT)
        stop_process(proc, signal.SIGKILL)
    assert code == 0
    # shutdown_timeout (2 s) for the monitor plus 2 s for subscribers.
    assert took < 5.0, took
    assert 'Traceback' not in log.read_text()
