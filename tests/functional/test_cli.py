"""The console scripts, run as real processes against a real ovsdb-server."""

import json
import signal
import subprocess
import time

import pytest

from df_ovsdb_agent.testing import sandbox
from tests.functional.procs import Proc
from tests.functional.procs import script
from tests.functional.procs import write_conf


@pytest.fixture
def procs():
    started = []

    def start(*args, **kwargs):
        proc = Proc(list(args), **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def test_events_once_prints_current_state(ovs):
    ovs.vsctl('add-br', 'br-int', '--', 'add-port', 'br-int', 'tap1', '--',
              'set', 'Interface', 'tap1', 'external_ids:iface-id=p1',
              'external_ids:attached-mac=fa:16:3e:00:00:01')
    out = subprocess.run([script('df-ovsdb-events'), '--connection',
                          ovs.remote, '--once'], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0] == {'sync': 'started', 'chassis': None}
    assert lines[-1] == {'sync': 'finished', 'chassis': None}
    body = sorted(lines[1:-1], key=lambda d: d['name'])
    assert [(d['kind'], d['action'], d['name']) for d in body] == [
        ('bridge', 'online', 'br-int'), ('vm', 'online', 'tap1')]
    vm = body[1]
    assert vm['iface_id'] == 'p1' and vm['attached_mac'] == 'fa:16:3e:00:00:01'
    assert vm['ofport'] > 0 and len(vm['uuid']) == 36
    assert out.stderr == ''


def test_events_tail_streams_until_sigterm(ovs, procs):
    tail = procs(script('df-ovsdb-events'), '--connection', ovs.remote)
    tail.wait_line('"sync": "finished"')
    ovs.vsctl('add-br', 'br-int')
    line = tail.wait_line('br-int')
    assert json.loads(line)['action'] == 'online'
    assert tail.stop() == 0


def test_daemon_logs_events_runs_apps_and_exits_0_on_sigterm(
        ovs, procs, tmp_path):
    state = tmp_path / 'state' / 'interfaces.json'
    conf = write_conf(tmp_path, '''
[ovsdb]
connection = %s
[agent]
apps = state_file
[app_state_file]
path = %s
''' % (ovs.remote, state))
    daemon = procs(script('df-ovsdb-agent'), '--config-file', conf)
    daemon.wait_line('df-ovsdb-agent running')
    ovs.vsctl('add-br', 'br-int', '--', 'add-port', 'br-int', 'tap1', '--',
              'set', 'Interface', 'tap1', 'external_ids:iface-id=p1')
    line = daemon.wait_line('vm online tap1')
    assert 'INFO' in line and 'iface_id=p1' in line
    daemon.wait_line('bridge online br-int')
    ovs.vsctl('del-port', 'tap1')
    daemon.wait_line('vm offline tap1')
    # The state_file app wrote what is online now (once it caught up).
    deadline = time.monotonic() + 10
    names = None
    while time.monotonic() < deadline:
        if state.exists():
            names = [i['name'] for i in
                     json.loads(state.read_text())['interfaces']]
            if names == ['br-int']:
                break
        time.sleep(0.05)  # a file written by another process: poll it
    assert names == ['br-int']
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_line('reloading log settings')
    ovs.vsctl('add-br', 'br-ex')     # still running and logging after HUP
    daemon.wait_line('bridge online br-ex')
    assert daemon.stop(signal.SIGTERM) == 0
    daemon.wait_line('df-ovsdb-agent stopped')
    assert not any('Traceback' in line for line in daemon.lines)


def _schema_file(tmp_path, name, tables):
    path = tmp_path / 'bad.ovsschema'
    path.write_text(json.dumps({'name': name, 'version': '1.0.0',
                                'tables': tables}))
    return str(path)


def _bad_start(args, timeout=60):
    out = subprocess.run(args, capture_output=True, text=True,
                         timeout=timeout)
    err = out.stderr.strip()
    assert out.returncode != 0
    assert 'Traceback' not in err
    assert len(err.splitlines()) == 1, err
    return err


# The daemon waits for OVSDB instead: see test_daemon.py.
@pytest.mark.parametrize('cmd', ['df-ovsdb-events'])
def test_unreachable_remote_fails_after_timeout(tmp_path, cmd):
    port = sandbox.free_port()
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = tcp:127.0.0.1:%d\n'
                                'timeout = 1\n' % port)
    started = time.monotonic()
    err = _bad_start([script(cmd), '--config-file', conf])
    assert 'cannot connect to OVSDB at tcp:127.0.0.1:%d within 1.0s' % port \
        in err
    assert time.monotonic() - started < 20


@pytest.mark.parametrize('conf_text,expected', [
    ('[ovsdb]\nconnection = tpc:127.0.0.1:6640\n', "'tpc:127.0.0.1:6640' "
     "is not valid"),
    ('[ovsdb]\nconnection = tcp:localhost:6640\n', 'needs an IP address'),
    ('[ovsdb]\nconnection = tcp:127.0.0.1:99999\n', 'invalid port'),
    ('[ovsdb]\nconnection = ptcp:6640:127.0.0.1\n', 'is passive'),
    ('[ovsdb]\nconnection =\n', 'connection is empty'),
    ('[ovsdb]\ntimeout = soon\n', 'timeout'),
    ('[ovsdb]\nmax_backoff = 10\n', 'max_backoff'),
    ('[agent]\nrequire_ofport = maybe\n', 'require_ofport'),
    ('[agent]\nbridge_names = br-int,,br-ex\n', 'bridge_names contains an '
     'empty name'),
    ('[agent]\napps = no_such_app\n', "unknown plugin 'no_such_app'"),
    ('[ovsdb]\nconnection = ssl:127.0.0.1:6640\n', 'ssl_key_file is '
     'required'),
    ('[ovsdb]\nconnection = ssl:127.0.0.1:6640\nssl_key_file = /nonexist\n'
     'ssl_cert_file = /nonexist\nssl_ca_cert_file = /nonexist\n',
     'ssl_key_file /nonexist is missing or unreadable'),
], ids=['typo-method', 'hostname', 'port', 'passive', 'empty', 'timeout',
        'backoff', 'bool', 'empty-bridge', 'unknown-app', 'ssl-no-key',
        'ssl-missing-files'])
def test_bad_config_is_one_clear_line(tmp_path, conf_text, expected):
    conf = write_conf(tmp_path, conf_text)
    err = _bad_start([script('df-ovsdb-agent'), '--config-file', conf])
    assert expected in err
    assert err.startswith('df-ovsdb-agent: error: ')


def test_missing_config_file_is_one_clear_line(tmp_path):
    err = _bad_start([script('df-ovsdb-agent'), '--config-file',
                      str(tmp_path / 'nope.conf')])
    assert 'nope.conf' in err


@pytest.mark.parametrize('database,tables,expected', [
    ('OVN_Test', {'Interface': {'columns': {'name': {'type': 'string'}}}},
     'does not serve database Open_vSwitch'),
    ('Open_vSwitch', {'Bridge': {'columns': {'name': {'type': 'string'}}}},
     'database Open_vSwitch has no Interface table'),
], ids=['wrong-database-name', 'schema-without-interface-table'])
def test_unusable_schema_is_one_clear_line(tmp_path, database, tables,
                                           expected):
    schema = _schema_file(tmp_path, database, tables)
    with sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=False,
                            schema=schema) as box:
        err = _bad_start([script('df-ovsdb-events'), '--once',
                          '--connection', box.remote])
    assert expected in err
