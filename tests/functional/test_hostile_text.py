"""Text from a hostile OVSDB peer: forged log lines and lone surrogates.

A fake peer (:class:`~df_ovsdb_agent.testing.fake_ovsdb.FakeOvsdb`: the
real Open_vSwitch schema, then a crafted monitor reply) puts a newline with a
forged log prefix into a row uuid, an interface name, an iface-id, the
system-id and an error text, and a lone surrogate (JSON ``"\\udcff"``) into
names.  Whatever the path -- an exception text, the daemon's event log,
the error line of a console tool, ``df-ovsdb-events`` JSON on stdout, the
state_file app -- each message stays one escaped, bounded line, and
nothing fails to encode.
"""

import json
import re
import signal
import subprocess

import pytest

from df_ovsdb_agent.testing.fake_ovsdb import FakeOvsdb
from df_ovsdb_agent.testing.sandbox import stop_process
from df_ovsdb_agent.testing.sandbox import wait_for
from tests.functional.ovsdb_ops import ovs_map
from tests.functional.procs import script
from tests.functional.procs import write_conf

FORGED = ('\n2026-12-06 10:00:00.000 1 ERROR df_ovsdb_agent.forged [-] '
          'FORGED line')
# Every line the daemon writes to its log file starts like this.
LOG_PREFIX = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \d+ [A-Z]+ ')
# A value's bound (logsafe.DEFAULT_LIMIT) plus the rest of any line.
LONGEST_LINE = 1500
TXN = '11111111-2222-3333-4444-555555555555'


@pytest.fixture
def peers():
    started = []

    def start(updates, schema_error=None):
        peer = FakeOvsdb(updates, schema_error, txn=TXN, timeout=60)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


def _dump(name, iface_id, system_id):
    return {
        'Interface': {'6a1f2c7e-0000-4000-8000-000000000001': {'initial': {
            'name': name, 'type': '', 'ofport': 7,
            'external_ids': ovs_map({'iface-id': iface_id}),
            'options': ovs_map({})}}},
        'Open_vSwitch': {'6a1f2c7e-0000-4000-8000-0000000000ff': {
            'initial': {'external_ids': ovs_map({'system-id': system_id})}}},
    }


def _daemon(tmp_path, remote, extra=''):
    log = tmp_path / 'agent.log'
    conf = write_conf(
        tmp_path, '[DEFAULT]\nlog_file = %s\n[ovsdb]\nconnection = %s\n'
        'probe_interval = 0\n[agent]\nstate_dir = %s\nshutdown_timeout = 2\n'
        '%s' % (log, remote, tmp_path / 'state', extra))
    proc = subprocess.Popen([script('df-ovsdb-agent'), '--config-file', conf],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors='backslashreplace')
    return proc, log


def _wait_log(proc, log, needle, timeout=30):
    def seen():
        if proc.poll() is not None:
            raise AssertionError('daemon exited: %s' % proc.stdout.read())
        return log.exists() and needle in log.read_text(
            errors='backslashreplace')
    wait_for(seen, timeout, '%r in %s' % (needle, log))


def _stop(proc):
    stop_process(proc, signal.SIGTERM)
    return proc.stdout.read()


def _check_lines(text):
    """Every line is a real log line, bounded; none is forged."""
    lines = text.splitlines()
    for line in lines:
        assert LOG_PREFIX.match(line), 'not a log line: %r' % line
        assert 'df_ovsdb_agent.forged' not in line[:80], line
        assert len(line) <= LONGEST_LINE, len(line)
    assert 'Logging error' not in text
    return lines


def test_forged_uuid_in_an_update_error_is_one_line(tmp_path, peers):
    uuid = 'deadbeef' + FORGED + 'u' * 5000
    # A delete of a row the dump never had: the error names the row.
    peer = peers({'Interface': {uuid: {'delete': None}}})
    proc, log = _daemon(tmp_path, peer.remote)
    try:
        _wait_log(proc, log, 'delete of an unknown row')
    finally:
        out = _stop(proc)
    lines = _check_lines(log.read_text())
    hits = [line for line in lines if 'deadbeef' in line]
    assert hits, lines
    for line in hits:
        # Escaped, and bounded: the uuid shows 40 characters, not 5,000
        # (oslo.log repeats the exception's own text: escaped when built).
        assert 'deadbeef\\n2026-12-06 10:00:00.000 1 ERRO...[+' in line
        assert 'u' * 100 not in line
    assert 'Traceback' not in out and 'Logging error' not in out


def test_forged_name_and_lone_surrogate_in_the_event_log(tmp_path, peers):
    name = 'tap\udcff' + FORGED + ' NAME' + 'n' * 3000
    iface_id = 'port\udcff' + FORGED + ' IFACE'
    system_id = 'chassis' + FORGED + ' SYSTEM\udcff'
    peer = peers(_dump(name, iface_id, system_id))
    state_file = tmp_path / 'interfaces.json'
    proc, log = _daemon(
        tmp_path, peer.remote,
        'apps = state_file\n[app_state_file]\npath = %s\n' % state_file)
    try:
        _wait_log(proc, log, 'running: 1 interfaces online')
        wait_for(lambda: state_file.exists() and json.loads(
            state_file.read_text())['synced'], 15, 'the state file synced')
    finally:
        out = _stop(proc)
    lines = _check_lines(log.read_text())
    events = [line for line in lines if ' vm online ' in line]
    assert len(events) == 1, lines
    assert 'tap\\udcff\\n2026-12-06 10:00:00.000 1 ERROR ' in events[0]
    assert 'port\\udcff\\n2026' in events[0]
    assert 'n' * 300 not in events[0]
    chassis = [line for line in lines if 'SYSTEM' in line]
    assert chassis and all('chassis\\n2026' in line for line in chassis)
    assert 'Traceback' not in out and 'Logging error' not in out
    # The state file keeps the exact value, as JSON escapes.
    body = json.loads(state_file.read_text())
    assert [i['name'] for i in body['interfaces']] == [name]
    assert body['interfaces'][0]['iface_id'] == iface_id


def test_lone_surrogate_on_events_stdout(tmp_path, peers):
    name = 'tap\udcff' + FORGED
    peer = peers(_dump(name, 'port\udcff', 'chassis\udcff'))
    out = subprocess.run([script('df-ovsdb-events'), '--connection',
                          peer.remote, '--once', '--verbose'],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # Pure ASCII JSON, one object a line: the surrogate is a JSON escape.
    lines = out.stdout.decode('ascii').splitlines()
    events = [json.loads(line) for line in lines]
    assert [e.get('name') for e in events[1:-1]] == [name]
    assert events[-1]['chassis'] == 'chassis\udcff'
    err = out.stderr.decode('utf-8')
    assert 'Logging error' not in err and 'Traceback' not in err


def test_forged_error_text_is_one_error_line(tmp_path, peers):
    peer = peers({}, schema_error={'error': 'boom\udcff' + FORGED,
                                   'details': 'on fire\udcff' + FORGED +
                                   'd' * 5000})
    conf = write_conf(tmp_path, '[ovsdb]\nconnection = %s\ntimeout = 1\n'
                      % peer.remote)
    out = subprocess.run([script('df-ovsdb-events'), '--config-file', conf,
                          '--once'], capture_output=True, timeout=60)
    assert out.returncode == 1
    err = out.stderr.decode('utf-8')
    assert len(err.splitlines()) == 1, err
    assert err.startswith('df-ovsdb-events: error: OVSDB server at ')
    assert 'on fire\\udcff\\n2026-12-06' in err
    assert 'd' * 300 not in err
    assert out.stdout == b''
