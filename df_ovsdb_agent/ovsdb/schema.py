"""Fetch the server's schema once and prune it to what we monitor."""

import logging
import time
from typing import Any

from ovs.db import idl as ovs_idl
from ovs.db import schema as ovs_schema
from ovs import jsonrpc
from ovs import poller

from df_ovsdb_agent.classifier import COLUMNS
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.exceptions import SchemaError
from df_ovsdb_agent.ovsdb.streamcap import MessageCap

LOG = logging.getLogger(__name__)

DATABASE = 'Open_vSwitch'
TABLE = 'Interface'
RETRY_INTERVAL = 0.5
MAX_SCHEMA_SIZE = 16 << 20


def fetch_schema(remotes: list[str], timeout: float,
                 database: str = DATABASE) -> dict[str, Any]:
    """Ask the first answering remote for ``database``'s schema.

    Error replies other than "unknown database" (a relay or a cluster
    member still joining) are retried until ``timeout``.

    :raises OvsdbUnreachable: nobody answered within ``timeout`` seconds.
    :raises SchemaError: the server does not serve ``database``.
    """
    session = jsonrpc.Session.open_multiple(remotes)
    # The Open_vSwitch schema is ~50 KB; anything near this is not one.
    too_big: list = []
    cap = MessageCap(MAX_SCHEMA_SIZE, too_big.append)
    deadline = time.monotonic() + timeout
    asked_seqno, request, next_ask = None, None, 0.0
    connected, last_error = False, None
    try:
        while True:
            session.run()
            now = time.monotonic()
            if session.is_connected():
                connected = True
                if (session.get_seqno() != asked_seqno or
                        (request is None and now >= next_ask)):
                    if session.get_seqno() != asked_seqno:
                        cap.wrap(session.rpc.stream)
                    asked_seqno = session.get_seqno()
                    request = jsonrpc.Message.create_request(
                        'get_schema', [database])
                    session.send(request)
                msg = session.recv()
                if msg is not None:
                    cap.message_done()
                    if request is not None and msg.id == request.id:
                        if not _transient(msg):
                            return _schema_from_reply(msg, remotes, database)
                        last_error, request = msg.error, None
                        next_ask = now + RETRY_INTERVAL
                    continue
            if now >= deadline:
                if too_big:
                    raise SchemaError('OVSDB server at %s sent a reply over '
                                      '%d bytes instead of a schema'
                                      % (','.join(remotes), too_big[0]))
                if last_error is not None:
                    raise SchemaError('OVSDB server at %s cannot serve %s '
                                      'yet: %s' % (','.join(remotes),
                                                   database, last_error))
                raise OvsdbUnreachable(_unreachable(remotes, timeout,
                                                    connected))
            wake = deadline if request is not None else min(deadline,
                                                            next_ask)
            wait = poller.Poller()
            session.wait(wait)
            session.recv_wait(wait)
            wait.timer_wait(int(max(0.0, wake - now) * 1000) + 1)
            wait.block()
    finally:
        session.close()


def _transient(msg: jsonrpc.Message) -> bool:
    """An error reply that may go away (anything but a missing database)."""
    if msg.type != jsonrpc.Message.T_ERROR:
        return False
    error = msg.error.get('error') if isinstance(msg.error, dict) else msg.error
    return error != 'unknown database'


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
        # SchemaHelper parses lazily; parse now so a broken schema is a
        # one-line error here rather than a traceback inside Idl().
        ovs_schema.DbSchema.from_json(schema)
        helper = ovs_idl.SchemaHelper(None, schema)
    except Exception as exc:
        raise SchemaError('cannot parse the %s schema: %s'
                          % (schema.get('name'), exc)) from None
    helper.register_columns(TABLE, list(COLUMNS))
    return helper
