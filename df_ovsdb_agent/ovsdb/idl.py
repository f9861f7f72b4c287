"""A python-ovs IDL on the pruned Interface table that feeds a sink.

python-ovs drops its rows on reconnect without delete notifications and
replays them as inserts.  So notifications are forwarded one by one only
while the IDL is monitoring; while a (re)sync is in flight they are ignored
and, once the dump is in, the sink gets the whole table to diff against.
"""

import logging
import time
from typing import Any, Iterator, Optional

from ovs.db import error as ovs_error
from ovs.db import idl as ovs_idl
from ovs import jsonrpc

from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.ovsdb.schema import TABLE
from df_ovsdb_agent.ovsdb.sink import Sink
from df_ovsdb_agent.ovsdb.streamcap import MessageCap

LOG = logging.getLogger(__name__)


def row_values(row: ovs_idl.Row) -> RowValues:
    """Extract the classification columns from an IDL row.

    Reads the committed Datums directly: ``Row.__getattr__`` converts every
    value through ``to_python`` and costs several times more per row.  It
    uses ``dict.get`` because python-ovs's ``ColumnDefaultDict.__missing__``
    builds a fresh default Datum for every absent column (``options`` is
    absent from most rows).  ~1.6x faster than ``Datum.as_scalar``; it runs
    for every row of every (re)sync.
    """
    get = row._data.get
    return RowValues(
        str(row.uuid),
        _scalar(get('name')) or '',
        _scalar(get('type')) or '',
        _scalar(get('ofport')),
        _as_map(get('external_ids')),
        _as_map(get('options')))


def _scalar(datum) -> Any:
    """The value of a one-value Datum; None if absent, empty or a set."""
    if datum is not None and len(datum.values) == 1:
        for atom in datum.values:
            return atom.value
    return None


def _as_map(datum) -> dict:
    """A map Datum as a plain dict; {} if the column is absent."""
    if datum is None or not datum.values:
        return {}
    return {k.value: v.value for k, v in datum.values.items()}


class InterfaceIdl(ovs_idl.Idl):
    """IDL for the Interface table that reports to a :class:`Sink`.

    Besides forwarding, it guards against what python-ovs tolerates
    silently: a dead connection that still looks monitored, a malformed
    or refused monitor reply, an update it could only half apply, and a
    server that never finishes a sync.  Each ends in a logged reconnect
    and a fresh sync, never in a stale or half-filled state.
    """

    def __init__(self, remote: str, schema_helper: ovs_idl.SchemaHelper,
                 sink: Sink, probe_interval: Optional[int] = None,
                 max_backoff: int = 1000,
                 sync_timeout: float = 300.0,
                 max_message_size: int = 256 << 20) -> None:
        # leader_only=False: a read-only monitor is happy with any member
        # of a cluster, and with relays.
        super().__init__(remote, schema_helper,
                         probe_interval=probe_interval, leader_only=False)
        # python-ovs backs off up to 8 s by default; a hypervisor agent
        # should be back within a second of ovsdb-server.
        self._session.reconnect.set_backoff(1000, max_backoff)
        if probe_interval:
            # python-ovs disables probes on unix: sockets, but a stopped or
            # wedged ovsdb-server keeps a unix socket open just as well as a
            # TCP one; probe every kind of remote.
            self._session.reconnect.set_probe_interval(probe_interval)
        self._recv = self._session.recv
        self._session.recv = self._checked_recv
        self._sink = sink
        self.sync_timeout = sync_timeout
        self._cap = MessageCap(max_message_size, self._message_too_big)
        self._forward = False
        # Rows notified during one run(): reported as one batch, so a
        # transaction reaches the agent whole.
        self._batch: dict[str, Optional[RowValues]] = {}
        self._sync_open = False
        self._conn_state = (None, False)
        self._peer: Optional[str] = None
        self._sync_deadline: Optional[float] = None
        # Set when python-ovs could not apply what the server sent; the
        # replica is untrustworthy until the next connection's dump.
        self._poisoned = False
        self.syncs = 0
        self.connections = 0

    @property
    def connected(self) -> bool:
        return self._session.is_connected()

    @property
    def remote_name(self) -> str:
        return self._session.get_name()

    def _monitoring(self) -> bool:
        # python-ovs leaves state at MONITORING while disconnected; a
        # replica without a connection is stale, not monitored.
        return (self.state == self.IDL_S_MONITORING and
                self._session.is_connected() and not self._poisoned)

    def run(self) -> bool:
        monitoring = self._monitoring()
        self._forward = monitoring
        try:
            return super().run()
        finally:
            self._forward = False
            batch, self._batch = self._batch, {}
            if batch and not self._poisoned:
                self._sink.on_batch(batch)
            self._after_run(monitoring)

    def wait(self, poller) -> None:
        super().wait(poller)
        if self._sync_deadline is not None:
            remaining = self._sync_deadline - time.monotonic()
            poller.timer_wait(max(0, int(remaining * 1000)))

    def _after_run(self, was_monitoring: bool) -> None:
        self._track_connection()
        if not self._monitoring():
            if not self._sync_open:
                self._sync_open = True
                self._sink.on_sync_started()
            self._check_sync_deadline()
        elif not was_monitoring and self._sync_open:
            self._sync_open = False
            self._sync_deadline = None
            self.syncs += 1
            self._sink.on_synced(self._rows())

    def _track_connection(self) -> None:
        # The session's seqno moves when a connection attempt starts and
        # when one is lost (even both within one run()); is_connected()
        # tells when the attempt succeeded.
        state = (self._session.get_seqno(), self._session.is_connected())
        if state == self._conn_state:
            return
        new_attempt = state[0] != self._conn_state[0]
        self._conn_state = state
        if new_attempt:
            self._poisoned = False
        if self._peer is not None and (new_attempt or not state[1]):
            LOG.warning('Lost OVSDB connection to %s; reconnecting',
                        self._peer)
            self._peer = None
            self._sync_deadline = None
        if state[1] and self._peer is None:
            self._peer = self.remote_name
            self._cap.wrap(self._session.rpc.stream)
            self.connections += 1
            self._sync_deadline = time.monotonic() + self.sync_timeout
            LOG.info('Connected to OVSDB at %s', self._peer)

    def _check_sync_deadline(self) -> None:
        if (self._sync_deadline is not None and
                time.monotonic() >= self._sync_deadline):
            self._resync('did not complete a sync within %ss'
                         % self.sync_timeout)

    def _resync(self, problem: str) -> None:
        LOG.error('OVSDB at %s %s; reconnecting', self.remote_name, problem)
        self._poisoned = True
        self._sync_deadline = None
        self.force_reconnect()

    def _message_too_big(self, limit: int) -> None:
        LOG.error('OVSDB at %s sent a message over %d bytes; reconnecting',
                  self.remote_name, limit)
        self._poisoned = True

    def _checked_recv(self):
        msg = self._recv()
        if msg is not None:
            self._cap.message_done()
        if (msg is not None and self._monitor_request_id is not None and
                msg.id == self._monitor_request_id):
            problem = monitor_reply_problem(msg, self.state)
            if problem:
                self._resync(problem)
                return None  # python-ovs never sees it
        return msg

    def _Idl__parse_update(self, update, version, tables=None) -> None:
        # Overrides python-ovs's private parser entry point, which logs a
        # parse error and carries on with a half-applied update.
        try:
            self._Idl__do_parse_update(update, version, tables or self.tables)
        except ovs_error.Error as exc:
            self._resync('sent an update that cannot be applied (%s)' % exc)

    def _rows(self) -> Iterator[RowValues]:
        for row in self.tables[TABLE].rows.values():
            yield row_values(row)

    def notify(self, event: str, row: ovs_idl.Row, updates=None) -> None:
        if not self._forward or self._poisoned:
            return
        if event == ovs_idl.ROW_DELETE:
            self._batch[str(row.uuid)] = None
        else:
            self._batch[str(row.uuid)] = row_values(row)


def monitor_reply_problem(msg: jsonrpc.Message, state: int) -> Optional[str]:
    """What is wrong with a reply to our monitor request, or None."""
    if msg.type == jsonrpc.Message.T_ERROR:
        if msg.error == 'unknown method':
            return None  # python-ovs falls back to an older monitor method
        return 'refused the monitor request: %s' % (msg.error,)
    result = msg.result
    if state == ovs_idl.Idl.IDL_S_DATA_MONITOR_COND_SINCE_REQUESTED:
        if not (isinstance(result, list) and len(result) == 3 and
                isinstance(result[2], dict)):
            return 'sent a malformed monitor_cond_since reply'
    elif not isinstance(result, dict):
        return 'sent a malformed monitor reply'
    return None
