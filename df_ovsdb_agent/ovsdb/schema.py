"""Fetch the server's schema once and prune it to what we monitor."""

import logging
import time
from typing import Any

from ovs.db import idl as ovs_idl
from ovs import jsonrpc
from ovs import poller

from df_ovsdb_agent.classifier import COLUMNS
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.exceptions import SchemaError

LOG = logging.getLogger(__name__)

DATABASE = 'Open_vSwitch'
TABLE = 'Interface'


def fetch_schema(remotes: list[str], timeout: float,
                 database: str = DATABASE) -> dict[str, Any]:
    """Ask the first answering remote for ``database``'s schema.

    :raises OvsdbUnreachable: nobody answered within ``timeout`` seconds.
    :raises SchemaError: the server does not serve ``database``.
    """
    session = jsonrpc.Session.open_multiple(remotes)
    deadline = time.monotonic() + timeout
    request, seqno, connected = None, None, False
    try:
        while True:
            session.run()
            if session.is_connected():
                connected = True
                if session.get_seqno() != seqno:  # (re)connected: (re)ask
                    seqno = session.get_seqno()
                    request = jsonrpc.Message.create_request(
                        'get_schema', [database])
                    session.send(request)
                msg = session.recv()
                if msg is not None and msg.id == request.id:
                    return _schema_from_reply(msg, remotes, database)
                if msg is not None:
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OvsdbUnreachable(_unreachable(remotes, timeout,
                                                    connected))
            wait = poller.Poller()
            session.wait(wait)
            session.recv_wait(wait)
            wait.timer_wait(int(remaining * 1000) + 1)
            wait.block()
    finally:
        session.close()


def _unreachable(remotes: list[str], timeout: float, connected: bool) -> str:
    where = ','.join(remotes)
    if connected:
        return ('OVSDB server at %s accepted the connection but gave no '
                'valid OVSDB answer within %ss' % (where, timeout))
    return 'cannot connect to OVSDB at %s within %ss' % (where, timeout)


def _schema_from_reply(msg: jsonrpc.Message, remotes: list[str],
                       database: str) -> dict[str, Any]:
    if msg.type == jsonrpc.Message.T_ERROR:
        error = msg.error
        if isinstance(error, dict):
            error = error.get('details') or error.get('error')
        raise SchemaError('OVSDB server at %s does not serve database %s: %s'
                          % (','.join(remotes), database, error))
    if not isinstance(msg.result, dict):
        raise SchemaError('OVSDB server at %s sent a malformed schema'
                          % ','.join(remotes))
    return msg.result


def interface_schema_helper(schema: dict[str, Any]) -> ovs_idl.SchemaHelper:
    """Return a SchemaHelper registering only the classification columns."""
    table = schema.get('tables', {}).get(TABLE)
    if not isinstance(table, dict):
        raise SchemaError('database %s has no %s table (is this an '
                          'Open vSwitch database?)'
                          % (schema.get('name'), TABLE))
    missing = [c for c in COLUMNS if c not in table.get('columns', {})]
    if missing:
        raise SchemaError('%s table lacks column(s) %s'
                          % (TABLE, ', '.join(missing)))
    try:
        helper = ovs_idl.SchemaHelper(None, schema)
    except Exception as exc:
        raise SchemaError('cannot parse the %s schema: %s'
                          % (schema.get('name'), exc)) from None
    helper.register_columns(TABLE, list(COLUMNS))
    return helper
