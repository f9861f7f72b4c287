"""One connection's monitor protocol: schema, monitor request, updates.

A :class:`Session` lives as long as one connection.  It asks for the
schema, sends ``monitor_cond_since`` (falling back to ``monitor_cond`` and
``monitor`` on "unknown method"), applies the reply and every later update
message to the :class:`~df_ovsdb_agent.ovsdb.replica.Replica` one whole
message at a time, answers the server's echo requests and sends its own
inactivity probes.  It never talks to the sink: it returns what changed.
"""

import itertools
import logging
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional

from df_ovsdb_agent.ovsdb.gcpause import collector_paused
from df_ovsdb_agent.ovsdb import jsonrpc
from df_ovsdb_agent.ovsdb.replica import Replica
from df_ovsdb_agent.ovsdb.replica import UpdateError
from df_ovsdb_agent.ovsdb.replica import UUID_ZERO
from df_ovsdb_agent.ovsdb import schema as schema_lib
from df_ovsdb_agent.ovsdb import serverdb

LOG = logging.getLogger(__name__)

METHODS = ('monitor_cond_since', 'monitor_cond', 'monitor')
_UPDATES = {'update3': 2, 'update2': 2, 'update': 1}
_ids = itertools.count(1)


class SessionError(Exception):
    """The server said or did something that ends this connection.

    ``str()`` is the log line's tail, e.g. "refused the monitor request".
    """


class ServerRefused(SessionError):
    """The server's ``_Server`` row says its data must not be used.

    ``str()`` is the reason, e.g. "not connected to its cluster".
    """


# Called with the monitored database's _Server.Database row (None if the
# server does not list it) whenever it is known or changes; raises
# ServerRefused to leave the server.
ServerCheck = Callable[[Optional[Mapping]], None]


class MonitorCanceled(Exception):
    """The server canceled our monitor (online schema conversion)."""


class MonitorReply(NamedTuple):
    """What one monitor request brought (for logs, metrics and tests)."""

    connection: int
    remote: str
    method: str
    found: bool
    rows: int


class Session:
    """The monitor protocol on one :class:`jsonrpc.Connection`."""

    def __init__(self, conn: jsonrpc.Connection, probe_interval: int,
                 sync_timeout: float,
                 database: str = schema_lib.DATABASE) -> None:
        self.conn = conn
        self.sync_timeout = sync_timeout
        self.database = database
        # Inactivity probe: after this long without a byte from the
        # server send an echo; after as long again, give up.  0 = never.
        self.probe = probe_interval / 1000.0
        self._probe_sent = False
        self._monitor_id: Optional[str] = None
        self.method = METHODS[0]
        self.last_rows = 0
        # The server's own _Server.Database row (see watch_server).
        self.server = Replica(serverdb.TYPES)
        self._server_id: Optional[str] = None
        self._server_check: Optional[ServerCheck] = None

    # -- reading, with echo both ways ------------------------------------

    def recv(self, deadline: Optional[float]) -> Optional[dict]:
        """The next message meant for us, or None at ``deadline``.

        :raises ConnectionClosed: no answer to our inactivity probe.
        """
        while True:
            now = time.monotonic()
            wake = deadline
            if self.probe:
                due = self.conn.last_received + self.probe * (
                    2 if self._probe_sent else 1)
                if now >= due:
                    if self._probe_sent:
                        # A lost connection, not bad input: the replica
                        # stays good for monitor_cond_since.
                        raise jsonrpc.ConnectionClosed(
                            'no response to inactivity probe after %.3g '
                            'seconds, disconnecting' % (2 * self.probe))
                    self._probe_sent = True
                    self.conn.send({'method': 'echo', 'params': [],
                                    'id': 'echo'})
                    continue
                wake = due if wake is None else min(wake, due)
            if deadline is not None and now >= deadline:
                return None
            msg = self.conn.recv(None if wake is None else wake - now)
            if msg is None:
                continue
            self._probe_sent = False
            if not isinstance(msg, dict):
                raise jsonrpc.ProtocolError('sent a JSON-RPC message that '
                                            'is not an object')
            method = msg.get('method')
            if method == 'echo' and msg.get('id') is not None:
                self.conn.send({'id': msg['id'], 'result': msg.get('params'),
                                'error': None})
            elif method is None and msg.get('id') == 'echo':
                continue  # the answer to our probe
            else:
                return msg

    def _await_reply(self, ident: Any, deadline: float) -> dict:
        while True:
            msg = self.recv(deadline)
            if msg is None:
                raise SessionError('did not complete a sync within %ss'
                                   % self.sync_timeout)
            if 'method' not in msg and msg.get('id') == ident:
                return msg
            # A _Server change is checked even now: before the data
            # monitor's reply is applied, a member that lost its cluster
            # meanwhile must be left.  Anything else before our reply (a
            # stale monitor's update) is not for this monitor.
            self._server_update(msg)

    def _server_update(self, msg: dict) -> bool:
        """Apply and check an update of our _Server monitor; False if
        ``msg`` is not one.
        """
        params = msg.get('params')
        if self._server_id is None or msg.get('method') != 'update2' or \
                not isinstance(params, list) or len(params) != 2 or \
                params[0] != self._server_id:
            return False
        self.server.apply(params[1], 2)
        self._check_server()
        return True

    def _check_server(self) -> None:
        if self._server_check is not None:
            self._server_check(serverdb.find(
                self.server.rows(serverdb.TABLE), self.database))

    # -- the handshake ----------------------------------------------------

    def get_schema(self, deadline: float) -> dict:
        """The server's schema.

        :raises SessionError: an error reply or a malformed schema.
        """
        ident = 'schema-%d' % next(_ids)
        self.conn.send(schema_lib.get_schema_request(self.database, ident))
        reply = self._await_reply(ident, deadline)
        if reply.get('error') is not None:
            raise SessionError('cannot serve %s: %s' % (
                self.database, schema_lib.error_text(reply['error'])))
        result = reply.get('result')
        if not isinstance(result, dict):
            raise SessionError('sent a malformed schema')
        self.change_aware()
        return result

    def change_aware(self) -> None:
        """Ask to be told of schema conversions (monitor_canceled) rather
        than disconnected.

        Sent once a valid schema came on this connection (the peer is an
        OVSDB server); the reply (or "unknown method") is ignored.
        """
        self.conn.send({'method': 'set_db_change_aware', 'params': [True],
                        'id': 'aware-%d' % next(_ids)})

    def watch_server(self, check: ServerCheck, deadline: float) -> bool:
        """Monitor the server's ``_Server.Database`` row and ``check`` it
        now and on every change, as python-ovs does (once per session).

        :returns: False if the server has no ``_Server`` to monitor (older
            than 2.9): nothing to check then.
        :raises ServerRefused: from ``check``.
        :raises UpdateError: a malformed row.
        """
        if self._server_id is not None:
            return True
        ident = 'server-%d' % next(_ids)
        monitor_id = 'df-server-%d' % next(_ids)
        self.conn.send(serverdb.monitor_request(self.database, monitor_id,
                                                ident))
        reply = self._await_reply(ident, deadline)
        if reply.get('error') is not None:
            LOG.debug('No _Server database to check (%s)',
                      schema_lib.error_text(reply['error']))
            return False
        self.server.apply(reply.get('result'), 2)
        self._server_id, self._server_check = monitor_id, check
        self._check_server()
        return True

    def monitor(self, replica: Replica, deadline: float) -> tuple[bool, dict]:
        """Request monitoring of the replica's tables and apply the reply.

        Starts from the method that worked last on this connection's
        predecessors' server generation, i.e. always the newest first.

        :returns: (found, touched): found is True when the server sent
            only the changes since ``replica.txn_id`` (the replica was
            kept); otherwise the replica now holds the full dump.
        :raises SessionError: refused or malformed reply.
        :raises UpdateError: the dump does not fit the schema.
        """
        for method in METHODS:
            ident = 'monitor-%d' % next(_ids)
            self._monitor_id = 'df-%d' % next(_ids)
            # The reply and the updates after it are parsed with their
            # rows staged for this replica (update2/update3 shapes only).
            self.conn.row_hook = None if method == 'monitor' else replica
            self.conn.send({'method': method, 'id': ident,
                            'params': self._params(method, replica)})
            reply = self._await_reply(ident, deadline)
            error = reply.get('error')
            if error is not None:
                code = error.get('error') if isinstance(error, dict) \
                    else error
                if code == 'unknown method':
                    continue
                raise SessionError('refused the monitor request: %s'
                                   % schema_lib.error_text(error))
            self.method = method
            return self._apply_reply(method, reply.get('result'), replica)
        raise SessionError('refused every monitor method')

    def _params(self, method: str, replica: Replica) -> list:
        requests: dict = {}
        for table, types in replica.types.items():
            columns = list(types)
            requests[table] = ({'columns': columns} if method == 'monitor'
                               else [{'columns': columns}])
        params = [self.database, self._monitor_id, requests]
        if method == 'monitor_cond_since':
            params.append(replica.txn_id or UUID_ZERO)
        return params

    def _apply_reply(self, method: str, result: Any,
                     replica: Replica) -> tuple[bool, dict]:
        found = False
        if method == 'monitor_cond_since':
            if not (isinstance(result, list) and len(result) == 3 and
                    isinstance(result[0], bool) and
                    isinstance(result[1], str) and
                    isinstance(result[2], dict)):
                raise SessionError('sent a malformed monitor_cond_since '
                                   'reply')
            found, txn_id, updates = result
            found = found and replica.txn_id is not None
        else:
            if not isinstance(result, dict):
                raise SessionError('sent a malformed monitor reply')
            txn_id, updates = None, result
        if not found:
            replica.clear()
        with collector_paused():
            touched = replica.apply(updates,
                                    1 if method == 'monitor' else 2,
                                    consume=True)
        replica.txn_id = txn_id
        self.last_rows = sum(len(rows) for rows in touched.values())
        return found, touched

    # -- after the handshake ----------------------------------------------

    def next_update(self, replica: Replica,
                    deadline: Optional[float] = None) -> Optional[dict]:
        """Wait for one update message and apply it whole.

        :returns: {table: touched uuids}, or None at ``deadline``.
        :raises MonitorCanceled: the server canceled the monitor.
        :raises UpdateError: the update does not fit the replica.
        :raises ServerRefused: the server's _Server row changed for the
            worse (see :meth:`watch_server`).
        """
        while True:
            msg = self.recv(deadline)
            if msg is None:
                return None
            if self._server_update(msg):
                continue
            method = msg.get('method')
            params = msg.get('params')
            if method == 'monitor_canceled':
                if params == [self._monitor_id]:
                    raise MonitorCanceled()
                continue
            version = _UPDATES.get(method) if isinstance(method, str) \
                else None
            if version is None:
                continue  # a reply or request we did not ask for
            size = 3 if method == 'update3' else 2
            if not (isinstance(params, list) and len(params) == size):
                raise UpdateError('sent a malformed %s' % method)
            if params[0] != self._monitor_id:
                continue  # a canceled monitor's last words
            touched = replica.apply(params[-1], version, consume=True)
            if method == 'update3':
                if not isinstance(params[1], str):
                    raise UpdateError('sent a malformed update3')
                replica.txn_id = params[1]
            return touched
