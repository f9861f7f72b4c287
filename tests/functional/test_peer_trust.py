"""Only the real ovsdb-server is believed.

An impostor run by ``nobody`` (:mod:`tests.functional.impostor`, started
under ``setpriv``) serves a forged VM port and chassis.  On the default
remote ``127.0.0.1:6640`` it runs in a private network namespace
(:mod:`tests.functional.netns`), so the machine's own port is never
touched; elsewhere on a free loopback port or a socket in a temp dir.  It
must be refused before any of its data is used; a real ovsdb-server run
by root must still be believed; and the monitor stays on the remote that
works.
"""

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import types

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.testing import sandbox
from tests.functional import impostor
from tests.functional import netns
from tests.functional.procs import Proc
from tests.functional.procs import script
from tests.functional.procs import write_conf
from tests.functional.test_metrics import _wait_health

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which('unshare') or
    not shutil.which('setpriv'),
    reason='needs root, unshare and setpriv (util-linux) to run a server '
           'as nobody in a private network namespace')

NOBODY = 'uid 65534 (nobody)'


def in_netns(tmp_path, *command, impostor=None, ovsdb=False, **env):
    """Run ``command`` in a private network namespace (see netns.py)."""
    args = ['unshare', '-n', '-m', '--propagation', 'private',
            sys.executable, '-m', 'tests.functional.netns', str(tmp_path)]
    if impostor:
        args += ['--impostor', impostor]
    if ovsdb:
        args.append('--ovsdb')
    return subprocess.run(args + ['--'] + list(command), cwd=netns.REPO,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OS_OVSDB__TIMEOUT='2', **env))


def assert_refused(out, remote):
    err = out.stderr.strip()
    assert out.returncode != 0, out
    assert 'Traceback' not in err
    assert err.splitlines() == [
        'df-ovsdb-events: error: OVSDB at %s is run by %s, not by a trusted '
        'user (root, openvswitch); refused' % (remote, NOBODY)], err
    assert out.stdout == ''
    assert impostor.FORGED_IFACE_ID not in out.stdout + err


def test_impostor_on_the_default_tcp_remote_is_refused(tmp_path):
    out = in_netns(tmp_path, script('df-ovsdb-events'), '--once',
                   impostor='tcp:127.0.0.1:6640')
    assert_refused(out, 'tcp:127.0.0.1:6640')


def test_with_the_check_off_the_impostor_is_believed(tmp_path):
    # Why the check is on by default: this is what anyone could forge.
    out = in_netns(tmp_path, script('df-ovsdb-events'), '--once',
                   impostor='tcp:127.0.0.1:6640',
                   OS_OVSDB__CHECK_PEER_USER='false')
    assert out.returncode == 0, out
    assert '"iface_id": "%s"' % impostor.FORGED_IFACE_ID in out.stdout
    assert '"chassis": "%s"' % impostor.FORGED_CHASSIS in out.stdout


def test_nobody_trusted_by_name_is_believed(tmp_path):
    out = in_netns(tmp_path, script('df-ovsdb-events'), '--once',
                   impostor='tcp:127.0.0.1:6640',
                   OS_OVSDB__TRUSTED_USERS='root,nobody')
    assert out.returncode == 0, out
    assert impostor.FORGED_CHASSIS in out.stdout


def test_real_ovsdb_server_run_by_root_is_believed(tmp_path):
    out = in_netns(tmp_path, script('df-ovsdb-events'), '--once',
                   ovsdb=True)
    assert out.returncode == 0, out
    assert '"kind": "bridge"' in out.stdout and '"br-int"' in out.stdout


@pytest.fixture
def nobody_dir():
    """A directory nobody can bind a socket in (pytest's are root's)."""
    path = tempfile.mkdtemp(prefix='df-peer-')
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def impostors():
    started = []

    def start(remote):
        started.append(netns.start_impostor(remote))
        return remote

    yield start
    for proc in started:
        sandbox.stop_process(proc, signal.SIGTERM)


def test_impostor_on_a_unix_socket_is_refused(nobody_dir, impostors):
    remote = impostors('unix:%s' % os.path.join(nobody_dir, 'db.sock'))
    out = subprocess.run([script('df-ovsdb-events'), '--once',
                          '--connection', remote], capture_output=True,
                         text=True, timeout=60,
                         env=dict(os.environ, OS_OVSDB__TIMEOUT='2'))
    assert_refused(out, remote)


def test_agent_skips_the_impostor_and_syncs_on_the_real_server(
        ovsdb, impostors, caplog):
    ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                'ofport=1')
    fake = impostors('tcp:127.0.0.1:%d' % sandbox.free_port())
    agent = Agent('%s,%s' % (fake, ovsdb.unix_remote))
    caplog.set_level(logging.ERROR, 'df_ovsdb_agent.ovsdb.monitor')
    agent.start()
    try:
        assert agent.wait_synced(10)
        assert agent.monitor.remote_name == ovsdb.unix_remote
        assert [i.name for i in agent.interfaces()] == ['br-int']
        assert agent.chassis.system_id != impostor.FORGED_CHASSIS
        # It says why it skipped the first remote, once, at ERROR.
        lines = [r.getMessage() for r in caplog.records
                 if r.levelno == logging.ERROR]
        assert lines == ['OVSDB at %s is run by %s, not by a trusted user '
                         '(root, openvswitch); refused' % (fake, NOBODY)]
        assert agent.monitor.peer_refusal is None  # connected since
    finally:
        agent.stop()


def test_daemon_retries_and_healthz_says_why(impostors, tmp_path):
    fake = impostors('tcp:127.0.0.1:%d' % sandbox.free_port())
    metrics = sandbox.free_port()
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = %s\ntimeout = 1\n'
                                '[metrics]\nenabled = true\nport = %d\n'
                      % (fake, metrics))
    proc = Proc([script('df-ovsdb-agent'), '--config-file', conf])
    try:
        line = proc.wait_line('retrying in', timeout=30)
        assert 'ERROR' in line and fake in line and NOBODY in line, line
        proc.wait_line('retrying in', timeout=30)  # it keeps trying
        server = types.SimpleNamespace(url='http://127.0.0.1:%d' % metrics)
        status, body = _wait_health(server, 503)
        assert status == 503
        assert body.startswith('not connected to OVSDB: OVSDB at %s is run '
                               'by %s' % (fake, NOBODY)), body
        assert proc.stop() == 0
        assert not [x for x in proc.lines if 'Traceback' in x or
                    impostor.FORGED_CHASSIS in x]
    finally:
        proc.kill()


@pytest.mark.parametrize('first', ['same-server-tcp', 'dead-tcp'])
def test_monitor_stays_on_the_remote_that_works(ovsdb, first):
    """After a lost connection the same remote is tried first again."""
    ovsdb.vsctl('add-br', 'br-int')
    if first == 'same-server-tcp':
        remotes, expected = [ovsdb.remote, ovsdb.unix_remote], ovsdb.remote
    else:
        remotes = ['tcp:127.0.0.1:%d' % sandbox.free_port(),
                   ovsdb.unix_remote]
        expected = ovsdb.unix_remote
    agent = Agent(','.join(remotes))
    agent.start()
    try:
        assert agent.wait_synced(10)
        monitor = agent.monitor
        assert monitor.remote_name == expected
        for _ in range(3):
            syncs, attempts = agent.syncs, monitor.attempts
            # Drops every client; the server and its remotes stay up.
            subprocess.run(['ovs-appctl', '-t', os.path.join(
                ovsdb.dir, 'ovsdb-server.ctl'), 'ovsdb-server/reconnect'],
                check=True, capture_output=True, timeout=10)
            assert agent.wait_synced(15, after=syncs)
            # One attempt, on the same remote: the list is not walked.
            assert monitor.attempts == attempts + 1
            assert monitor.replies[-1].remote == expected
    finally:
        agent.stop()
