"""The daemon's life cycle as an operator and systemd see it.

It waits for OVSDB at boot for as long as it takes, ends with exit 0 on
SIGTERM whenever it comes, tells systemd when it is ready and alive, and
keeps its log lines one line each whatever OVSDB holds.
"""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from df_ovsdb_agent.testing.fake_ovsdb import HostileServer
from df_ovsdb_agent.testing import sandbox
from tests.functional.procs import Proc
from tests.functional.procs import script
from tests.functional.procs import write_conf
from tests.functional.stores import redis_server_fixture  # noqa: F401


def daemon(conf, **env):
    return Proc([script('df-ovsdb-agent'), '--config-file', conf],
                env=dict(os.environ, **env))


def stop(proc, sig=signal.SIGTERM, within=10.0):
    """Signal ``proc`` and return (exit code, seconds it took)."""
    began = time.monotonic()
    code = proc.stop(sig, timeout=within + 20)
    return code, time.monotonic() - began


def test_waits_for_ovsdb_at_boot_then_syncs(tmp_path):
    port = sandbox.free_port()
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = tcp:127.0.0.1:%d\n'
                                'timeout = 1\n' % port)
    proc = daemon(conf)
    try:
        line = proc.wait_line('retrying in')
        assert 'cannot connect to OVSDB at tcp:127.0.0.1:%d' % port in line
        assert 'WARNING' in line
        # Still waiting, one line per attempt (no busy loop of lines).
        proc.wait_line('retrying in', timeout=30)
        assert proc.proc.poll() is None
        box = sandbox.OvsSandbox(base_dir=str(tmp_path / 'ovs'),
                                 vswitchd=False, port=port)
        os.makedirs(box.dir)
        box.start()
        try:
            box.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                      'ofport=1')
            proc.wait_line('df-ovsdb-agent running', timeout=60)
            proc.wait_line('bridge online br-int')
            assert stop(proc)[0] == 0
        finally:
            box.stop()
    finally:
        proc.kill()


@pytest.mark.parametrize('peer', ['nobody', 'silent'])
def test_sigterm_during_the_wait_for_ovsdb_exits_0_at_once(tmp_path, peer):
    server = None
    if peer == 'silent':
        # Accepts and never answers: the start-up wait is inside a request.
        server = HostileServer(lambda conn: conn.recv(1 << 20) and
                               time.sleep(120))
        remote = server.remote
    else:
        remote = 'tcp:127.0.0.1:%d' % sandbox.free_port()
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = %s\ntimeout = 30\n'
                                '[agent]\nshutdown_timeout = 2\n' % remote)
    proc = daemon(conf)
    try:
        # In the wait: the saved state is loaded before it begins, and a
        # silent peer has the connection.
        proc.wait_line('No saved state')
        if server is not None:
            assert server.wait_connections(1, 15)
        code, took = stop(proc)
        assert code == 0
        assert took < 2 + 3, took
        proc.wait_line('df-ovsdb-agent stopped')
        assert not [line for line in proc.lines if 'Traceback' in line]
    finally:
        proc.kill()
        if server is not None:
            server.stop()


def _notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / 'notify.sock')
    sock.bind(path)
    sock.settimeout(30)
    return sock, path


def _messages(sock, until, limit=100):
    """Datagrams received until one contains ``until``."""
    seen = []
    for _ in range(limit):
        data = sock.recv(4096).decode()
        seen.append(data)
        if until in data:
            return seen
    raise AssertionError('no %r in %s' % (until, seen))


def test_systemd_ready_status_watchdog_stopping(ovs, tmp_path):
    ovs.vsctl('add-br', 'br-int')
    sock, path = _notify_socket(tmp_path)
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = %s\n' % ovs.remote)
    proc = daemon(conf, NOTIFY_SOCKET=path, WATCHDOG_USEC='1000000')
    try:
        seen = _messages(sock, 'READY=1')
        ready = seen[-1]
        # Ready only once the first sync is complete.
        assert 'STATUS=connected, synced, 1 interfaces online' in ready
        proc.wait_line('df-ovsdb-agent running')
        # The watchdog is fed while the monitor runs (every 0.5 s here).
        _messages(sock, 'WATCHDOG=1')
        _messages(sock, 'WATCHDOG=1')
        ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface',
                  'tap1', 'external_ids:iface-id=p1')
        _messages(sock, 'STATUS=connected, synced, 2 interfaces online')
        proc.proc.send_signal(signal.SIGTERM)
        _messages(sock, 'STOPPING=1')
        assert proc.proc.wait(20) == 0
    finally:
        proc.kill()
        sock.close()


def test_log_lines_are_escaped_and_bounded(ovs, tmp_path):
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = %s\n' % ovs.remote)
    proc = daemon(conf)
    try:
        proc.wait_line('df-ovsdb-agent running')
        forged = 'x\n2026-01-01 00:00:00.000 1 ERROR fake [-] forged line'
        ovs.vsctl('add-br', 'br-int', '--', 'add-port', 'br-int', 'tap1',
                  '--', 'set', 'Interface', 'tap1',
                  'external_ids:iface-id="%s"' % forged.replace('\n', '\\n'),
                  'external_ids:attached-mac=%s' % ('m' * 100000))
        line = proc.wait_line('vm online tap1')
        assert 'iface_id=x\\n2026-01-01' in line
        assert len(line) < 1000
        assert '...[+' in line
        proc.wait_line('bridge online br-int')
        assert not [x for x in proc.lines if x.startswith('2026-01-01')]
        assert stop(proc)[0] == 0
    finally:
        proc.kill()


def test_event_log_level_debug_keeps_events_out_of_info(ovs, tmp_path):
    ovs.vsctl('add-br', 'br-int')
    conf = write_conf(tmp_path, '[DEFAULT]\ndebug = True\n'
                                '[ovsdb]\nconnection = %s\n'
                                '[agent]\nevent_log_level = DEBUG\n'
                      % ovs.remote)
    proc = daemon(conf)
    try:
        proc.wait_line('DEBUG df_ovsdb_agent.cmd.agent [-] bridge online '
                       'br-int')
        ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface',
                  'tap1', 'external_ids:iface-id=p1')
        proc.wait_line('DEBUG df_ovsdb_agent.cmd.agent [-] vm online tap1')
        assert stop(proc)[0] == 0
        assert not [x for x in proc.lines
                    if 'INFO df_ovsdb_agent.cmd.agent [-] vm ' in x or
                    'INFO df_ovsdb_agent.cmd.agent [-] bridge ' in x]
    finally:
        proc.kill()


def test_fatal_start_up_error_reaches_the_log_file(tmp_path):
    log_file = tmp_path / 'agent.log'
    conf = write_conf(tmp_path, '[DEFAULT]\nlog_file = %s\n'
                                '[agent]\napps = no_such_app\n' % log_file)
    out = subprocess.run([script('df-ovsdb-agent'), '--config-file', conf],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    err = out.stderr.strip()
    assert len(err.splitlines()) == 1 and "unknown plugin 'no_such_app'" in err
    logged = log_file.read_text()
    assert "ERROR df_ovsdb_agent.cmd.agent [-] unknown plugin 'no_such_app'" \
        in logged, logged


def test_default_remote_list_falls_back_to_the_unix_socket(ovs, tmp_path):
    from df_ovsdb_agent.ovsdb.monitor import DEFAULT_CONNECTION
    tcp, unix = DEFAULT_CONNECTION.split(',')
    assert (tcp, unix) == ('tcp:127.0.0.1:6640',
                           'unix:/var/run/openvswitch/db.sock')
    # The same shape with this test's own remotes: nobody on the TCP port,
    # the switch on its unix socket.
    ovs.vsctl('add-br', 'br-int')
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = tcp:127.0.0.1:%d,%s\n'
                      % (sandbox.free_port(), ovs.unix_remote))
    proc = daemon(conf)
    try:
        proc.wait_line('df-ovsdb-agent running')
        proc.wait_line('bridge online br-int')
        assert stop(proc)[0] == 0
    finally:
        proc.kill()


def test_a_wedged_monitor_is_not_alive(ovs):
    from df_ovsdb_agent.agent import Agent
    ovs.vsctl('add-br', 'br-int')
    agent = Agent(ovs.remote)
    agent.start()
    release = threading.Event()
    try:
        assert agent.monitor_alive()
        # Idle for longer than a heartbeat: still alive.
        time.sleep(1.5)
        assert agent.monitor.alive(within=3)
        entered = threading.Event()

        def wedged(rows):
            entered.set()
            release.wait(60)
        agent.on_batch = wedged  # the monitor calls its sink's on_batch
        ovs.vsctl('add-port', 'br-int', 'tap1')
        assert entered.wait(10)
        sandbox.wait_for(lambda: not agent.monitor.alive(within=3), 10,
                         'the monitor to be found wedged')
        release.set()
        sandbox.wait_for(lambda: agent.monitor.alive(within=3), 10,
                         'the monitor to be alive again')
    finally:
        release.set()
        agent.stop()


def test_publisher_without_its_extra_is_one_start_up_line(tmp_path):
    # A Python without redis-py: sitecustomize hides the installed one.
    hide = tmp_path / 'hide'
    hide.mkdir()
    (hide / 'sitecustomize.py').write_text(
        "import sys\nsys.modules['redis'] = None\n")
    conf = write_conf(tmp_path, '[agent]\npublishers = redis\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(hide)] + [p for p in os.environ.get('PYTHONPATH', '').split(
            os.pathsep) if p]))
    out = subprocess.run([script('df-ovsdb-agent'), '--config-file', conf],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "df-ovsdb-agent: error: publisher redis needs the Python package "
        "redis, which is not installed: pip install "
        "'df-ovsdb-agent[redis]'")


def test_shutdown_is_bounded_by_shutdown_timeout_overall(
        ovs, redis_server, tmp_path):
    # A publisher whose store hangs (SIGSTOP) while it has something to
    # write, and a shutdown_timeout of 2 s: the daemon still exits 0 in
    # about 2 s, not after the store's own timeouts.
    ovs.vsctl('add-br', 'br-int')
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = %s\n'
                                '[agent]\npublishers = redis\n'
                                'shutdown_timeout = 2\n'
                                '[publisher_redis]\nurl = %s\ntimeout = 30\n'
                      % (ovs.remote, redis_server.url))
    proc = daemon(conf)
    try:
        proc.wait_line('df-ovsdb-agent running')
        proc.wait_line('Publisher connected')
        redis_server.proc.send_signal(signal.SIGSTOP)
        ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface',
                  'tap1', 'external_ids:iface-id=p1')
        proc.wait_line('vm online tap1')
        code, took = stop(proc)
        assert code == 0
        assert took < 2 + 1.5, took
        proc.wait_line('exiting anyway')
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
        proc.kill()
