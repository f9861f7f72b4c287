"""The server's schema: fetched at start-up, checked against what we monitor.

:func:`fetch_schema` gives start-up its one-line errors (nobody answers,
the database is missing, the reply is not a schema).
:func:`monitored_types` checks the schema against the declaration in
:mod:`df_ovsdb_agent.ovsdb.tables` and returns the column types the
replica decodes with; the monitor calls it on every connection, since the
schema can change while the agent runs (``ovsdb-client convert``).
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any, Optional

from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.exceptions import SchemaError
from df_ovsdb_agent import logsafe
from df_ovsdb_agent.ovsdb import jsonrpc
from df_ovsdb_agent.ovsdb import peer as peer_lib
from df_ovsdb_agent.ovsdb.replica import ColumnType
from df_ovsdb_agent.ovsdb.replica import is_int
from df_ovsdb_agent.ovsdb.replica import is_number
from df_ovsdb_agent.ovsdb.tables import TABLES

LOG = logging.getLogger(__name__)

DATABASE = 'Open_vSwitch'
RETRY_INTERVAL = 0.5
# The Open_vSwitch schema is ~50 KB; anything near this is not one.
MAX_SCHEMA_SIZE = 16 << 20

Types = dict  # table -> column -> ColumnType


def get_schema_request(database: str = DATABASE, ident: Any = 'schema'):
    return {'method': 'get_schema', 'params': [database], 'id': ident}


def error_text(error: Any) -> str:
    """The text of a JSON-RPC error value, escaped and bounded for logs."""
    if isinstance(error, dict):
        error = error.get('details') or error.get('error')
    return logsafe.safe(error, 200)


def transient(error: Any) -> bool:
    """An error reply that may go away (anything but a missing database).

    Relays and cluster members still joining answer errors for a while.
    """
    code = error.get('error') if isinstance(error, dict) else error
    return code != 'unknown database'


def fetch_schema(remotes: list[str], timeout: float,
                 database: str = DATABASE,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 trust: Optional[peer_lib.PeerTrust] = None
                 ) -> dict[str, Any]:
    """Ask the first answering remote for ``database``'s schema.

    Error replies other than "unknown database" are retried until
    ``timeout``.  A peer ``trust`` refuses is never asked: the other
    remotes are tried.

    :raises OvsdbUnreachable: nobody answered within ``timeout`` seconds.
    :raises UntrustedPeer: no trusted remote answered and one was refused.
    :raises SchemaError: the server does not serve ``database``.
    """
    return fetch_schema_from(remotes, timeout, database, ssl_context,
                             trust)[0]


def fetch_schema_from(remotes: list[str], timeout: float,
                      database: str = DATABASE,
                      ssl_context: Optional[ssl.SSLContext] = None,
                      trust: Optional[peer_lib.PeerTrust] = None
                      ) -> tuple[dict[str, Any], str]:
    """:func:`fetch_schema`, and the remote that served it: the
    monitor's first session connects there and uses this schema instead
    of fetching and checking it again.
    """
    where = ','.join(remotes)
    deadline = time.monotonic() + timeout
    state = {'connected': False, 'last_error': None, 'refused': None}
    attempt = 0
    while True:
        remote = remotes[attempt % len(remotes)]
        attempt += 1
        result = _try_remote(remote, deadline, database, ssl_context, state,
                             trust)
        if result is not None:
            return result
        now = time.monotonic()
        if now >= deadline:
            break
        if attempt % len(remotes) == 0:
            time.sleep(min(RETRY_INTERVAL / 5, deadline - now))
    if state['refused'] is not None:
        # The most important thing to know: someone else poses as OVSDB.
        raise peer_lib.UntrustedPeer(state['refused'])
    if state['last_error'] is not None:
        raise SchemaError('OVSDB server at %s cannot serve %s yet: %s'
                          % (where, database, state['last_error']))
    if state['connected']:
        raise OvsdbUnreachable('OVSDB server at %s accepted the connection '
                               'but gave no valid OVSDB answer within %ss'
                               % (where, timeout))
    raise OvsdbUnreachable('cannot connect to OVSDB at %s within %ss'
                           % (where, timeout))


def _try_remote(remote: str, deadline: float, database: str,
                ssl_context: Optional[ssl.SSLContext],
                state: dict,
                trust: Optional[peer_lib.PeerTrust] = None
                ) -> Optional[tuple[dict, str]]:
    try:
        conn = jsonrpc.Connection.open(
            remote, max(0.01, deadline - time.monotonic()), MAX_SCHEMA_SIZE,
            ssl_context, trust)
    except peer_lib.UntrustedPeer as exc:
        # Said once, in the error raised at the deadline.
        LOG.debug('%s', exc)
        state['refused'] = str(exc)
        return None
    except (OSError, ValueError) as exc:
        LOG.debug('OVSDB at %s: connection attempt failed: %s', remote, exc)
        return None
    state['connected'] = True
    try:
        schema = _ask(conn, deadline, database)
        return None if schema is None else (schema, remote)
    except jsonrpc.MessageTooBig:
        raise SchemaError('OVSDB server at %s sent a reply over %d bytes '
                          'instead of a schema'
                          % (remote, MAX_SCHEMA_SIZE)) from None
    except _Transient as exc:
        state['last_error'] = str(exc)
        return None
    except (jsonrpc.ProtocolError, jsonrpc.ConnectionClosed) as exc:
        LOG.debug('OVSDB at %s: %s', remote, exc)
        return None
    finally:
        conn.close()


class _Transient(Exception):
    pass


def _ask(conn: jsonrpc.Connection, deadline: float,
         database: str) -> Optional[dict]:
    """One connection's get_schema exchange, retrying transient errors."""
    while True:
        conn.send(get_schema_request(database))
        reply = await_reply(conn, 'schema', deadline)
        if reply is None:
            return None
        if reply.get('error') is None:
            return schema_from_result(reply.get('result'), conn.remote)
        if not transient(reply['error']):
            raise SchemaError('OVSDB server at %s does not serve database '
                              '%s: %s' % (conn.remote, database,
                                          error_text(reply['error'])))
        if time.monotonic() + RETRY_INTERVAL >= deadline:
            raise _Transient(error_text(reply['error']))
        time.sleep(RETRY_INTERVAL)


def await_reply(conn: jsonrpc.Connection, ident: Any,
                deadline: float) -> Optional[dict]:
    """Read until the reply to ``ident`` (answering echoes) or deadline."""
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return None
        msg = conn.recv(wait)
        if msg is None:
            return None
        if not isinstance(msg, dict):
            raise jsonrpc.ProtocolError('sent a JSON-RPC message that is '
                                        'not an object')
        if msg.get('method') == 'echo' and 'id' in msg:
            conn.send({'id': msg['id'], 'result': msg.get('params'),
                       'error': None})
        elif 'method' not in msg and msg.get('id') == ident:
            return msg


def schema_from_result(result: Any, remote: str) -> dict:
    if not isinstance(result, dict):
        raise SchemaError('OVSDB server at %s sent a malformed schema'
                          % remote)
    return result


def monitored_types(schema: dict[str, Any]) -> Types:
    """table -> column -> :class:`ColumnType` for the declared columns.

    :raises SchemaError: a required table or column is missing, or the
        schema cannot be parsed.
    """
    tables = schema.get('tables')
    tables = tables if isinstance(tables, dict) else {}
    types: Types = {}
    for table in TABLES:
        spec = tables.get(table.name)
        columns = spec.get('columns') if isinstance(spec, dict) else None
        if not isinstance(columns, dict):
            if table.required:
                raise SchemaError('database %s has no %s table (is this an '
                                  'Open vSwitch database?)'
                                  % (_name(schema), table.name))
            continue
        missing = [c for c in table.columns if c not in columns]
        if missing:
            if table.required:
                raise SchemaError('%s table lacks column(s) %s'
                                  % (table.name, ', '.join(missing)))
            continue
        present = table.columns + tuple(c for c in table.optional
                                        if c in columns)
        types[table.name] = {c: _column_type(schema, columns[c])
                             for c in present}
    return types


def _column_type(schema: dict, column: Any) -> ColumnType:
    try:
        check_type(column['type'])
        return ColumnType.from_json(column['type'])
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError('cannot parse the %s schema: %s'
                          % (_name(schema),
                             logsafe.safe(str(exc), 200))) from None


# Constraint members each atomic type may carry (python-ovs's BaseType).
_CONSTRAINTS = {
    'integer': ('minInteger', 'maxInteger'),
    'real': ('minReal', 'maxReal'),
    'string': ('minLength', 'maxLength'),
    'uuid': ('refTable', 'refType'),
    'boolean': (),
}
_UINT_MAX = 2 ** 32 - 1
_TYPE_MEMBERS = frozenset({'key', 'value', 'min', 'max'})


def _check_base(spec: Any) -> None:
    """One atomic type (a type's key or value), as python-ovs checks it."""
    if isinstance(spec, str):
        if spec not in _CONSTRAINTS:
            raise ValueError('unknown atomic type %s' % logsafe.safe(spec))
        return
    if not isinstance(spec, dict):
        raise ValueError('atomic type is neither a string nor an object')
    name = spec.get('type')
    if not isinstance(name, str) or name not in _CONSTRAINTS:
        raise ValueError('unknown atomic type %s' % logsafe.safe(name))
    # With an enum python-ovs reads no other constraint: one is unknown.
    allowed = ('type', 'enum') if 'enum' in spec else \
        ('type',) + _CONSTRAINTS[name]
    unknown = [m for m in spec if m not in allowed]
    if unknown:
        raise ValueError('%s type has unknown member(s) %s'
                         % (name, logsafe.safe(', '.join(map(str, unknown)),
                                               80)))
    if 'enum' in spec:
        enum = spec['enum']
        atoms = enum[1] if isinstance(enum, list) and len(enum) == 2 and \
            enum[0] == 'set' and isinstance(enum[1], list) else [enum]
        if name != 'uuid' and not all(
                type(a) is bool if name == 'boolean' else
                is_number(a) if name == 'real' else
                is_int(a) if name == 'integer' else isinstance(a, str)
                for a in atoms):
            raise ValueError('%s enum holds a value of another type' % name)
    elif name in ('integer', 'real'):
        check = is_int if name == 'integer' else is_number
        low, high = (spec.get(m) for m in _CONSTRAINTS[name])
        if any(b is not None and not check(b) for b in (low, high)):
            raise ValueError('%s bound is not %s' % (name, name))
        if low is not None and high is not None and low > high:
            raise ValueError('%s exceeds %s' % _CONSTRAINTS[name])
    elif name == 'string':
        low, high = spec.get('minLength', 0), spec.get('maxLength', 0)
        if not all(is_int(b) and 0 <= b <= _UINT_MAX for b in (low, high)):
            raise ValueError('minLength/maxLength is not a count')
        if 'maxLength' in spec and low > high:
            raise ValueError('minLength exceeds maxLength')
    elif name == 'uuid' and 'refTable' in spec:
        if not isinstance(spec['refTable'], str):
            raise ValueError('refTable is not a name')
        if spec.get('refType', 'strong') not in ('strong', 'weak'):
            raise ValueError('refType must be "strong" or "weak"')


def check_type(spec: Any) -> None:
    """Refuse a column type python-ovs's schema parser would refuse.

    The agent decodes only the monitored columns, so only their types are
    checked, here, instead of parsing the whole schema with python-ovs
    (whose import pulls in eventlet: ~0.25 s of CPU at the first start,
    ~2 ms per parse).

    :raises ValueError: the type is malformed.
    """
    if not isinstance(spec, dict):
        _check_base(spec)
        return
    unknown = [m for m in spec if m not in _TYPE_MEMBERS]
    if unknown:
        raise ValueError('type has unknown member(s) %s'
                         % logsafe.safe(', '.join(map(str, unknown)), 80))
    if 'key' not in spec:
        raise ValueError('type has no key')
    _check_base(spec['key'])
    if spec.get('value'):
        _check_base(spec['value'])
    n_min, n_max = spec.get('min', 1), spec.get('max', 1)
    if not is_int(n_min) or not (is_int(n_max) or n_max == 'unlimited'):
        raise ValueError('type has a malformed min or max')
    # python-ovs's Type.is_valid(): min 0 or 1, max at least 1.
    if not (0 <= n_min <= 1 and (n_max == 'unlimited' or n_max >= 1)):
        raise ValueError('type fails constraint checks (min %d, max %s)'
                         % (n_min, logsafe.safe(n_max, 20)))


def _name(schema: dict) -> str:
    """The schema's name, escaped and bounded for an error line."""
    return logsafe.safe(schema.get('name'), 80)
