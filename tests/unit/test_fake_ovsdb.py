"""What the one fake OVSDB peer answers: the protocol as the agent reads
it, over a real loopback socket (it is test support, so its answers are
the contract the hostile-peer tests rely on).
"""

import json
import socket

import pytest

from df_ovsdb_agent.testing.fake_ovsdb import FakeOvsdb
from df_ovsdb_agent.testing.fake_ovsdb import requests
from df_ovsdb_agent.testing.fake_ovsdb import server_row
from df_ovsdb_agent.testing.fake_ovsdb import TXN
from df_ovsdb_agent.testing.sandbox import SCHEMA

DUMP = {'Interface': {'u1': {'initial': {'name': 'tap\udcff'}}}}


def ask(peer, *messages):
    """Send ``messages`` back to back; the replies to those with an id."""
    host, port = peer.remote.split(':')[1:]
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b''.join(json.dumps(m).encode() for m in messages))
        replies = []
        want = sum(1 for m in messages if m.get('id') is not None)
        stream = requests(conn)
        while len(replies) < want:
            replies.append(next(stream))
        return replies


@pytest.fixture
def peer():
    with FakeOvsdb(DUMP) as fake:
        yield fake


def test_schema_server_row_dump_and_echo_in_order(peer):
    with open(SCHEMA) as f:
        schema = json.load(f)
    replies = ask(
        peer,
        {'id': 1, 'method': 'get_schema', 'params': ['Open_vSwitch']},
        {'id': None, 'method': 'set_db_change_aware', 'params': [True]},
        {'id': 2, 'method': 'monitor_cond', 'params': ['_Server', 's', {}]},
        {'id': 3, 'method': 'monitor_cond_since',
         'params': ['Open_vSwitch', 'm', {}, TXN]},
        {'id': 4, 'method': 'echo', 'params': ['x']},
        {'id': 5, 'method': 'transact', 'params': ['Open_vSwitch']})
    assert replies == [
        {'id': 1, 'error': None, 'result': schema},
        {'id': 2, 'error': None, 'result': server_row()},
        {'id': 3, 'error': None, 'result': [False, TXN, DUMP]},
        {'id': 4, 'error': None, 'result': ['x']},
        {'id': 5, 'error': None, 'result': {}}]


def test_other_database_and_schema_error():
    with FakeOvsdb({}, schema_error={'error': 'forged'}) as broken, \
            FakeOvsdb({}) as fake:
        assert ask(broken, {'id': 1, 'method': 'get_schema',
                            'params': ['Open_vSwitch']}) == [
            {'id': 1, 'result': None, 'error': {'error': 'forged'}}]
        assert ask(fake, {'id': 'x', 'method': 'get_schema',
                          'params': ['_Server']}) == [
            {'id': 'x', 'result': None,
             'error': {'error': 'unknown database'}}]


def test_raw_bytes_dump_is_sent_as_given():
    with FakeOvsdb(b'{"Interface":{},"Junk":[{},{}]}', txn='t') as fake:
        assert ask(fake, {'id': 1, 'method': 'monitor_cond_since',
                          'params': ['Open_vSwitch']}) == [
            {'id': 1, 'error': None,
             'result': [False, 't', {'Interface': {}, 'Junk': [{}, {}]}]}]
