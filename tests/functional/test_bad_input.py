"""Bad input everywhere: hostile peers at start-up and at run time.

At start-up every case must end in one clear line naming the problem and a
non-zero exit, within the configured timeout: never a hang, never a
traceback.  At run time (the real ovsdb-server replaced by a broken peer on
the same port) the agent must log a line naming the problem, keep retrying
without publishing a single interface event, and recover exactly once the
real server is back.

The broken peers are :class:`HostileServer`: raw sockets speaking
garbage or malformed JSON-RPC, not imitations of ovsdb-server.  The
config-file table lives in ``test_cli.py``.
"""

import json
import logging
import os
import re
import subprocess
import sys
import time

import pytest

from df_ovsdb_agent.testing.fake_ovsdb import HostileServer
from df_ovsdb_agent.testing.fake_ovsdb import read_request
from df_ovsdb_agent.testing.ovsdb_server import create_db
from df_ovsdb_agent.testing.ovsdb_server import OvsdbProcess
from df_ovsdb_agent.testing.rpc import Client as Rpc
from tests.functional.audit import agent_state
from tests.functional.audit import mismatches
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import db_truth
from tests.recorder import Recorder

BIN = os.path.dirname(sys.executable)
STARTUP_TIMEOUT = 2


# -- hostile behaviours ---------------------------------------------------

def garbage(conn):
    read_request(conn)
    conn.sendall(b'\x00\xff\xfe\x01 this is not JSON \x80\x81')
    read_request(conn)  # hold the connection until the peer leaves


def not_json_rpc(conn):
    while read_request(conn) is not None:
        conn.sendall(b'[1, 2, 3] "a string" {"neither": "request"}')


def _reply_all(result=None, error=None):
    def behaviour(conn):
        while True:
            msg = read_request(conn)
            if msg is None:
                return
            conn.sendall(json.dumps({'id': msg.get('id'), 'result': result,
                                     'error': error}).encode())
    return behaviour


malformed_replies = _reply_all(result=42)
error_replies = _reply_all(error='database is on fire')
broken_schema = _reply_all(result={
    'name': 'Open_vSwitch', 'version': '1.0.0',
    'tables': {'Interface': {'columns': {
        c: {'type': 'no-such-type'} for c in ('name', 'type', 'ofport',
                                              'external_ids', 'options')}}}})


def _open_string_reply(conn):
    """Answer the first request with the start of a string result.

    True if there was a request.
    """
    msg = read_request(conn)
    if msg is None:
        return False
    conn.sendall(b'{"id": %s, "error": null, "result": "'
                 % json.dumps(msg.get('id')).encode())
    return True


def oversized_reply(conn):
    """One 32 MB string as the answer to whatever was asked."""
    if not _open_string_reply(conn):
        return
    chunk = b'x' * 65536
    for _ in range(512):
        conn.sendall(chunk)
    conn.sendall(b'"}')
    read_request(conn)


def endless_reply(conn):
    """An answer that never ends: bytes keep coming, no message completes."""
    if not _open_string_reply(conn):
        return
    chunk = b'x' * 65536
    deadline = time.monotonic() + 30  # bounded even if nobody stops it
    while time.monotonic() < deadline:
        conn.sendall(chunk)


def silent(conn):
    read_request(conn, timeout=30)
    read_request(conn, timeout=30)


@pytest.fixture
def hostile():
    servers = []

    def start(behaviour, port=None):
        server = HostileServer(behaviour, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- start-up ----------------------------------------------------------------

def _bad_start(tmp_path, remote, cmd='df-ovsdb-events', extra=''):
    conf = tmp_path / 'agent.conf'
    conf.write_text('[ovsdb]\nconnection = %s\ntimeout = %d\n%s'
                    % (remote, STARTUP_TIMEOUT, extra))
    args = [os.path.join(BIN, cmd), '--config-file', str(conf)]
    if cmd == 'df-ovsdb-events':
        args.append('--once')
    began = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - began
    err = out.stderr.strip()
    assert out.returncode != 0, out
    assert 'Traceback' not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith('%s: error: ' % cmd)
    assert out.stdout == ''
    return err, took


NO_ANSWER = (r'OVSDB server at tcp:127\.0\.0\.1:\d+ accepted the connection '
             r'but gave no valid OVSDB answer within 2\.0s')


@pytest.mark.parametrize('behaviour,expected', [
    (garbage, NO_ANSWER),
    (not_json_rpc, NO_ANSWER),
    (silent, NO_ANSWER),
    # Retried until the timeout: relays and joining cluster members answer
    # errors that go away.
    (error_replies, r'cannot serve Open_vSwitch yet: database is on fire'),
    (malformed_replies, r'tcp:127\.0\.0\.1:\d+ sent a malformed schema'),
    (broken_schema, r'cannot parse the Open_vSwitch schema'),
    (oversized_reply, r'tcp:127\.0\.0\.1:\d+ sent a reply over 16777216 '
                      r'bytes instead of a schema'),
    (endless_reply, r'tcp:127\.0\.0\.1:\d+ sent a reply over 16777216 '
                    r'bytes instead of a schema'),
], ids=['garbage', 'not-json-rpc', 'silent', 'error-reply',
        'malformed-reply', 'broken-schema', 'oversized-reply',
        'endless-reply'])
def test_hostile_server_at_startup(tmp_path, hostile, behaviour, expected):
    server = hostile(behaviour)
    err, took = _bad_start(tmp_path, server.remote)
    assert re.search(expected, err), err
    # The timeout is honoured: no hang, however the peer misbehaves.
    assert took < STARTUP_TIMEOUT + 8, took


def _schema(tmp_path, name, tables):
    path = tmp_path / ('%s.ovsschema' % name)
    for table in tables.values():
        table.setdefault('isRoot', True)
    path.write_text(json.dumps({'name': name, 'version': '1.0.0',
                                'tables': tables}))
    return str(path)


def test_interface_table_without_needed_columns(tmp_path):
    strmap = {'type': {'key': 'string', 'value': 'string', 'min': 0,
                       'max': 'unlimited'}}
    schema = _schema(tmp_path, 'Open_vSwitch', {'Interface': {'columns': {
        'name': {'type': 'string'}, 'type': {'type': 'string'},
        'external_ids': strmap}}})
    create_db(str(tmp_path / 'odd.db'), schema)
    server = OvsdbProcess(str(tmp_path), 'odd',
                          [str(tmp_path / 'odd.db')])
    server.start()
    try:
        err, _ = _bad_start(tmp_path, server.remote)
    finally:
        server.stop()
    assert err.endswith('Interface table lacks column(s) ofport, options')


@pytest.mark.parametrize('remote,extra,expected', [
    ('tcp:127.0.0.1:6640,tcp:1.2.3:6640', '', "'tcp:1.2.3:6640' needs an "
     "IP address"),
    ('unix:', '', "'unix:' has no socket path"),
    ('tcp:127.0.0.1:6640', 'probe_interval = -5\n', 'probe_interval'),
    ('tcp:127.0.0.1:6640', 'sync_timeout = 0\n', 'sync_timeout'),
    ('tcp:[::1', '', "'tcp:[::1' has an unclosed ["),
], ids=['one-bad-of-two', 'unix-no-path', 'negative-probe', 'zero-sync',
        'broken-ipv6'])
def test_bad_values_at_startup(tmp_path, remote, extra, expected):
    err, _ = _bad_start(tmp_path, remote, cmd='df-ovsdb-agent', extra=extra)
    assert expected in err, err


# -- run time -----------------------------------------------------------------

RUNTIME = [
    (garbage, r'pars|invalid|multibyte'),
    (not_json_rpc, r'pars|invalid|not a JSON|JSON-RPC'),
    (malformed_replies, r'malformed|pars|not an object|syntax'),
    (error_replies, r'database is on fire'),
    (oversized_reply, r'sent a message over \d+ bytes'),
    (endless_reply, r'sent a message over \d+ bytes'),
    (silent, r'inactivity probe|no response'),
]
RUNTIME_IDS = ['garbage', 'not-json-rpc', 'malformed-replies',
               'error-replies', 'oversized-reply', 'endless-reply', 'silent']


@pytest.mark.parametrize('behaviour,problem', RUNTIME, ids=RUNTIME_IDS)
def test_hostile_server_at_run_time(ovsdb, make_agent, hostile, caplog,
                                    behaviour, problem):
    caplog.set_level(logging.INFO)
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(*add_bridge_ops('br-int'))
        rpc.transact(*add_ports_ops(
            'br-int', ['tap%d' % i for i in range(3)], lambda i: i + 1))
    # sync_timeout bounds every (re)sync, not just the first one.
    agent = make_agent(ovsdb.remote, probe_interval=1000, sync_timeout=3,
                       max_message_size=8 << 20)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_for(lambda evs: len(rec.summary(evs)) == 3)
    rec.clear()
    caplog.clear()

    ovsdb.kill_ovsdb()
    server = hostile(behaviour, port=ovsdb.port)
    # The agent meets the broken peer, gives up on it and comes back:
    # it neither hangs on it nor accepts what it says.
    assert server.wait_connections(2, timeout=15), \
        'the agent stayed on a broken peer'
    server.stop()
    syncs = agent.syncs
    ovsdb.start_ovsdb()
    assert agent.wait_synced(15, after=syncs)
    rec.wait_sync('finished')

    # Nothing changed in the database: no interface may have flapped.
    assert rec.summary() == []
    assert mismatches(agent_state(agent),
                      db_truth(ovsdb.unix_remote)) == []
    problems = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and
                re.search(problem, r.getMessage())]
    assert problems, 'no log line names the problem; got:\n%s' % '\n'.join(
        r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records), 'traceback'
