"""The one persistent monitor: its own thread, reconnects, the sink.

Flow: socket -> :class:`~df_ovsdb_agent.ovsdb.client.Session` (one update
message at a time) -> :class:`~df_ovsdb_agent.ovsdb.replica.Replica` ->
the sink (one ``on_batch`` per update message; ``on_sync_started`` /
``on_synced`` around every (re)sync).  Anything that goes wrong between
the socket and the sink is logged, counted and ends in a fresh full sync:
never a silently wrong view.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import ssl
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Optional

from df_ovsdb_agent.backoff import Backoff
from df_ovsdb_agent.classifier import InterfaceRows
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.deadline import remaining
from df_ovsdb_agent.exceptions import AgentError
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.ovsdb import client as client_lib
from df_ovsdb_agent.ovsdb.gcpause import collector_paused
from df_ovsdb_agent.ovsdb import jsonrpc
from df_ovsdb_agent.ovsdb.membership import Membership
from df_ovsdb_agent.ovsdb import peer as peer_lib
from df_ovsdb_agent.ovsdb import remote as remote_lib
from df_ovsdb_agent.ovsdb.replica import Replica
from df_ovsdb_agent.ovsdb.replica import Row
from df_ovsdb_agent.ovsdb.replica import UpdateError
from df_ovsdb_agent.ovsdb import replica_file as replica_file_lib
from df_ovsdb_agent.ovsdb import schema as schema_lib
from df_ovsdb_agent.ovsdb import serverdb
from df_ovsdb_agent.ovsdb.sink import Sink
from df_ovsdb_agent.ovsdb.tables import BRIDGE
from df_ovsdb_agent.ovsdb.tables import INTERFACE
from df_ovsdb_agent.ovsdb.tables import PORT
from df_ovsdb_agent.ovsdb.tables import SYSTEM
from df_ovsdb_agent.ovsdb.tables import TABLES
from df_ovsdb_agent import persist

LOG = logging.getLogger(__name__)

# The mission's loopback TCP remote first; the socket a stock Open vSwitch
# listens on as the fallback.
DEFAULT_CONNECTION = 'tcp:127.0.0.1:6640,unix:/var/run/openvswitch/db.sock'
# Seconds between two rounds of the monitor loop at most (see alive()).
HEARTBEAT = 1.0
# A connection resets the reconnect backoff only once it has stayed up
# this long after its sync: a server that breaks each session right after
# the sync would otherwise be hammered with full dumps at min_backoff.
# 10 s is ten times the default max_backoff and two default inactivity
# probe intervals: a session that survived that is no longer "just synced".
HEALTHY_AFTER_SYNC = 10.0


@dataclasses.dataclass(frozen=True)
class OvsdbSettings:
    """How to reach ovsdb-server; mirrors the ``[ovsdb]`` option group.

    Backoff between connection attempts doubles from ``min_backoff`` to
    ``max_backoff`` (milliseconds), each delay jittered down by up to half.
    A local peer (``unix:``, loopback ``tcp:``) is believed only when run
    by one of ``trusted_users`` (or the agent's own user), unless
    ``check_peer_user`` is off: see :mod:`.peer`.
    """

    connection: str = DEFAULT_CONNECTION
    timeout: float = 10.0
    sync_timeout: float = 300.0
    probe_interval: int = 5000
    max_backoff: int = 1000
    # A 100,000-interface dump is 48.6 MiB; one message can cost up to
    # ~27x its size in memory (benchmarks/message_memory.py).
    max_message_size: int = 64 << 20
    ssl_key_file: Optional[str] = None
    ssl_cert_file: Optional[str] = None
    ssl_ca_cert_file: Optional[str] = None
    min_backoff: int = 100
    trusted_users: tuple[str, ...] = peer_lib.DEFAULT_TRUSTED_USERS
    check_peer_user: bool = True

    def remotes(self) -> list[str]:
        return remote_lib.split_remotes(self.connection)


def configure_ssl(settings: OvsdbSettings,
                  remotes: list[str]) -> Optional[ssl.SSLContext]:
    """The TLS context for ``ssl:`` remotes (None when there are none).

    Like OVS, the server's certificate must be signed by the CA; its name
    is not checked (remotes are IP addresses).
    """
    if not any(r.startswith('ssl:') for r in remotes):
        return None
    key_file = settings.ssl_key_file or ''
    cert_file = settings.ssl_cert_file or ''
    ca_file = settings.ssl_ca_cert_file or ''
    remote_lib.check_readable(key_file, 'ssl_key_file')
    remote_lib.check_readable(cert_file, 'ssl_cert_file')
    remote_lib.check_readable(ca_file, 'ssl_ca_cert_file')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(ca_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError('ssl_ca_cert_file %s is not a usable CA '
                          'certificate: %s' % (settings.ssl_ca_cert_file,
                                               jsonrpc.reason(exc))) from None
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError('ssl_cert_file %s and ssl_key_file %s are not a '
                          'matching certificate and key: %s'
                          % (settings.ssl_cert_file, settings.ssl_key_file,
                             jsonrpc.reason(exc))) from None
    return context


def interface_row(uuid: str, values: Mapping[str, Any],
                  bridge: Optional[str] = None) -> RowValues:
    """A replica Interface row (its :class:`~.replica.Row` view, or any
    column -> value mapping) as the classifier's :class:`RowValues`.

    Optional columns the server's schema lacks are None.
    """
    get = values.get
    # tuple.__new__: RowValues(...) runs a Python-level __new__ per row.
    return _new_row(RowValues, (
        uuid, values['name'], values['type'], values['ofport'],
        values['external_ids'], values['options'], get('mac_in_use'),
        get('link_state'), get('admin_state'), bridge))


_new_row = tuple.__new__
# RowValues' fields that are Interface columns, in the replica's order
# when the schema has every optional column (see interface_builder).
_ROW_COLUMNS = RowValues._fields[1:-1]


RowBuilder = Callable[[str, tuple, Optional[str]], RowValues]


def interface_builder(replica: Replica) -> RowBuilder:
    """A function (uuid, stored Interface row, bridge) -> RowValues.

    The replica's Interface rows are tuples in the declaration's order,
    which is RowValues' own: a row is then wrapped, not looked up column
    by column.  Optional columns the server's schema lacks are None.
    """
    columns = replica.columns[INTERFACE]
    if columns == _ROW_COLUMNS[:len(columns)]:
        pad = (None,) * (len(_ROW_COLUMNS) - len(columns))

        def build(uuid: str, values: tuple,
                  bridge: Optional[str]) -> RowValues:
            return _new_row(RowValues, (uuid, *values, *pad, bridge))
        return build
    positions = replica.positions[INTERFACE]
    return lambda uuid, values, bridge: interface_row(
        uuid, Row(values, positions), bridge)


def sync_rows(replica: Replica,
              bridges_of: Callable[[Iterable[str]], Iterable[Optional[str]]]
              ) -> Iterable[RowValues]:
    """Every Interface row of the replica as RowValues, for
    ``Sink.on_synced``: when the replica's columns are RowValues' own, an
    :class:`~df_ovsdb_agent.classifier.InterfaceRows` over a copy of the
    table's uuids and rows (the classifier walks those without building
    a RowValues per row), else a list of RowValues.

    :param bridges_of: the bridge names of interfaces, in order
        (:meth:`~.membership.Membership.bridges_of`).
    """
    rows = replica.tables[INTERFACE]
    columns = replica.columns[INTERFACE]
    if columns != _ROW_COLUMNS[:len(columns)]:
        build = interface_builder(replica)
        return [build(uuid, values, bridge) for (uuid, values), bridge
                in zip(rows.items(), bridges_of(rows))]
    # Copies: the replica's table changes with the next update, a sink
    # may keep what it was given.
    return InterfaceRows(list(rows), list(rows.values()),
                         list(bridges_of(rows)),
                         len(_ROW_COLUMNS) - len(columns))


def interface_rows(replica: Replica,
                   bridges_of: Callable[[Iterable[str]],
                                        Iterable[Optional[str]]]
                   ) -> list[RowValues]:
    """:func:`sync_rows` as a list of RowValues."""
    return list(sync_rows(replica, bridges_of))


def _table(replica: Replica, table: str) -> Mapping[str, Any]:
    """The view of ``table``, empty when the server's schema lacks it."""
    return replica.rows(table) if table in replica.tables else {}


class Monitor:
    """Owns the monitor thread, the replica and the reconnect policy."""

    def __init__(self, settings: OvsdbSettings, sink: Sink,
                 replica_file: Optional[str] = None) -> None:
        """Build a monitor; :meth:`start` runs it.

        :param replica_file: keep the replica and its transaction id there
            (after each sync and on stop), and resume from it at start: see
            :mod:`.replica_file`.
        """
        self.settings = settings
        self._sink = sink
        self.replica_file = replica_file
        # Saved on a thread of its own: serialising and fsyncing a big
        # replica must not hold up the events on the monitor thread.
        self._replica_cut: Optional[replica_file_lib.Cut] = None
        self._replica_writer = None if replica_file is None else \
            persist.StateWriter(replica_file, lambda: self._replica_cut,
                                'replica', encode=replica_file_lib.encode)
        self._bytes_done = 0
        self._thread: Optional[threading.Thread] = None
        # start()'s remote, schema and types, for the first session.
        self._first_schema: Optional[tuple] = None
        self._stopping = threading.Event()
        self._first_sync = threading.Event()
        self._conn: Optional[jsonrpc.Connection] = None
        self._replica: Optional[Replica] = None
        self._membership = Membership()
        # The highest _Server.Database index seen (in memory across
        # reconnects, in the replica file across restarts).
        self._seen: Optional[serverdb.Seen] = None
        # Why the last server was not used, until a sync succeeds (for
        # /healthz), and how many times a server was refused.
        self.refusal: Optional[str] = None
        self.refused_servers = 0
        self.heartbeat = time.monotonic()
        self._sync_open = False
        self._system: Optional[dict] = None
        self._ssl: Optional[ssl.SSLContext] = None
        self._remotes: list[str] = []
        self._last_error: Optional[str] = None
        self._trust: Optional[peer_lib.PeerTrust] = None
        # remote -> why its peer was refused (each said once at ERROR).
        self._peers_refused: dict[str, str] = {}
        #: Why the last local peer was refused, until a connection is
        #: made (for /healthz).
        self.peer_refusal: Optional[str] = None
        self.remote_name: Optional[str] = None
        self.attempts = 0
        self.connections = 0
        self.syncs = 0
        self.forced_resyncs = 0
        # The last monitor replies (test and debug introspection).
        self.replies: collections.deque = collections.deque(maxlen=64)

    def alive(self, within: Optional[float] = None) -> bool:
        """Whether the monitor thread runs and its loop went round within
        ``within`` seconds (default: three times the longest single wait
        it makes, a connection attempt or a sync).

        For watchdogs: a wedged monitor stops being alive.
        """
        thread = self._thread
        if thread is None or not thread.is_alive():
            return False
        if within is None:
            within = 3 * max(self.settings.timeout,
                             self.settings.probe_interval / 1000.0,
                             HEARTBEAT)
        idle = time.monotonic() - self.heartbeat
        return idle < within or (self._sync_open and
                                 idle < self.settings.sync_timeout)

    @property
    def bytes_received(self) -> int:
        """Bytes read from ovsdb-server over every connection so far."""
        conn = self._conn
        return self._bytes_done + (conn.bytes_received if conn else 0)

    @property
    def datapath_ids(self) -> Mapping[str, int]:
        """bridge name -> OpenFlow datapath id, as last seen in OVSDB."""
        return self._membership.datapath_ids

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def refused(self) -> Optional[str]:
        """Why OVSDB is not used, as /healthz appends it to its status, or
        None: ``": <problem>"`` while the local peer is refused (not
        connected), ``" (refused OVSDB at <remote>: <reason>)"`` while the
        last server's data was refused (until a sync succeeds), or both.
        """
        text = ''
        peer = self.peer_refusal
        if peer and not self.connected:
            text += ': %s' % peer
        server = self.refusal
        if server:
            text += ' (refused OVSDB at %s)' % server
        return text or None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Connect, fetch and validate the schema, and sync once.

        Returns when the first dump has been handed to the sink.
        :raises AgentError: with a one-line reason when that is impossible.
        """
        settings = self.settings
        remotes = settings.remotes()
        if settings.timeout <= 0 or settings.sync_timeout <= 0:
            raise ConfigError('OVSDB timeouts must be positive')
        self._ssl = configure_ssl(settings, remotes)
        self._remotes = remotes
        self._trust = peer_lib.PeerTrust(settings.trusted_users,
                                         settings.check_peer_user)
        try:
            schema, remote = schema_lib.fetch_schema_from(
                remotes, settings.timeout, ssl_context=self._ssl,
                trust=self._trust)
        except peer_lib.UntrustedPeer as exc:
            self.peer_refusal = str(exc)
            raise
        types = schema_lib.monitored_types(schema)
        LOG.info('Monitoring %s.%s columns %s at %s', schema_lib.DATABASE,
                 INTERFACE, ','.join(types[INTERFACE]), ','.join(remotes))
        if self.replica_file is not None and self._replica is None:
            saved = replica_file_lib.read(self.replica_file, types)
            self._replica = saved.replica
            # In memory it can only be newer than on disk.
            self._seen = self._seen or saved.seen
        # The first session, on the same remote, uses this schema, checked
        # already: fetching and checking it again cost ~13 ms of CPU (1.3
        # us per interface at 10k).  Every later session fetches its own.
        self._first_schema = (remote, schema, types)
        if self._replica_writer is not None:
            self._replica_writer.start()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='df-ovsdb-monitor')
        self._thread.start()
        if not self._first_sync.wait(settings.sync_timeout):
            self.stop()
            refused = '' if self.refusal is None else \
                ' (refused OVSDB at %s)' % self.refusal
            raise OvsdbUnreachable(
                'OVSDB at %s did not complete the initial sync within %ss%s'
                % (','.join(remotes), settings.sync_timeout, refused))

    def stop(self, timeout: Optional[float] = 5.0) -> bool:
        """Stop the monitor thread and close the connection, then save
        the replica (all within ``timeout``).
        """
        thread = self._thread
        if thread is None:
            return True
        left = remaining(timeout)
        self._stopping.set()
        conn = self._conn
        if conn is not None:
            conn.interrupt()
        thread.join(left())
        stopped = not thread.is_alive()
        if stopped:
            self._thread = None
            self._save_replica()
        if self._replica_writer is not None:
            self._replica_writer.stop(left())
        return stopped

    def _save_replica(self) -> None:
        """Have the replica saved with its transaction id, if it has one
        (a cut here, the writing on the writer's thread).
        """
        replica = self._replica
        if self._replica_writer is None or replica is None or \
                replica.txn_id is None:
            return
        self._replica_cut = replica_file_lib.cut(replica, self._seen)
        self._replica_writer.mark()

    # -- the thread ----------------------------------------------------------

    def _run(self) -> None:
        settings = self.settings
        backoff = Backoff(settings.min_backoff / 1000.0,
                          settings.max_backoff / 1000.0)
        index = 0
        failing = False
        self._sync_started()
        # start()'s schema, for the first connection if it reaches the
        # remote that served it (the remotes are tried in order, as ever).
        first, self._first_schema = self._first_schema, None
        while not self._stopping.is_set():
            self.heartbeat = time.monotonic()
            # Stay on the remote that works: the next one is tried only
            # when this one fails (not at every reconnect).
            remote = self._remotes[index % len(self._remotes)]
            self.attempts += 1
            known, first = (first[1:] if first is not None and
                            first[0] == remote else None), None
            try:
                conn = jsonrpc.Connection.open(
                    remote, settings.timeout, settings.max_message_size,
                    self._ssl, self._trust)
            except peer_lib.UntrustedPeer as exc:
                self._refuse(remote, str(exc))
                failing = True
                index += 1
                self._stopping.wait(backoff.next())
                continue
            except (OSError, ValueError) as exc:
                log = LOG.debug if failing else LOG.warning
                log('OVSDB at %s: connection attempt failed (%s)', remote,
                    jsonrpc.reason(exc))
                failing = True
                index += 1
                self._stopping.wait(backoff.next())
                continue
            failing = False
            self._peers_refused.pop(remote, None)
            self.peer_refusal = None
            synced_at = self._serve(conn, remote, known)
            if synced_at is None:
                index += 1  # connected but never synced: a failure too
            elif time.monotonic() - synced_at >= HEALTHY_AFTER_SYNC:
                backoff.reset()
            if not self._stopping.is_set():
                self._stopping.wait(backoff.next())

    def _refuse(self, remote: str, problem: str) -> None:
        """Say once (per remote and reason) that its peer is refused."""
        log = LOG.debug if self._peers_refused.get(remote) == problem \
            else LOG.error
        self._peers_refused[remote] = problem
        self.peer_refusal = problem
        log('%s', problem)

    def _serve(self, conn: jsonrpc.Connection, remote: str,
               schema: Optional[tuple] = None) -> Optional[float]:
        """Run one connection; when it completed its first sync (None if
        never): the reconnect backoff starts over only after a connection
        stayed up :data:`HEALTHY_AFTER_SYNC` seconds past that.

        :param schema: (schema, types) start() fetched from ``remote``
            and checked, for this connection's first sync only.
        """
        self._conn, self.remote_name = conn, remote
        self.connections += 1
        LOG.info('Connected to OVSDB at %s', remote)
        synced: Optional[float] = None
        if self._stopping.is_set():
            conn.interrupt()  # stop() ran before _conn was visible
        try:
            session = client_lib.Session(conn, self.settings.probe_interval,
                                         self.settings.sync_timeout)
            while True:
                replica = self._sync(session, remote, schema)
                schema = None  # after a monitor_canceled: fetched again
                if synced is None:
                    synced = time.monotonic()
                try:
                    self._follow(session, replica)
                except client_lib.MonitorCanceled:
                    LOG.warning('OVSDB at %s canceled the monitor (schema '
                                'conversion?); fetching the schema again',
                                remote)
        except jsonrpc.ConnectionClosed as exc:
            if not self._stopping.is_set():
                LOG.warning('Lost OVSDB connection to %s (%s); reconnecting',
                            remote, exc)
        except client_lib.ServerRefused as exc:
            self._refuse_server(remote, str(exc))
        except (client_lib.SessionError, jsonrpc.ProtocolError) as exc:
            self._force_resync(remote, str(exc))
        except UpdateError as exc:
            self._force_resync(remote, 'sent an update that does not fit '
                               '(%s)' % exc)
        except AgentError as exc:  # e.g. a schema without our columns
            # Said once, not on every backed-off retry.
            log = LOG.debug if str(exc) == self._last_error else LOG.error
            self._last_error = str(exc)
            log('OVSDB at %s: %s; retrying', remote, exc)
            self._drop_replica()
        except Exception:  # anything else between socket and sink
            self.forced_resyncs += 1
            LOG.exception('Error handling OVSDB updates from %s; forcing a '
                          'fresh sync', remote)
            self._drop_replica()
        finally:
            self._bytes_done += conn.bytes_received
            self._conn = None
            conn.close()
            self._sync_started()
        return synced

    def _check_server(self, remote: str, row: Optional[Mapping]) -> None:
        """Leave ``remote`` if its _Server row says its data is stale;
        else remember its index.
        """
        reason = serverdb.refusal(row, self._seen)
        if reason is not None:
            raise client_lib.ServerRefused(reason)
        seen = serverdb.advance(self._seen, row)
        if self._seen is not None and seen is not None and \
                seen.cid != self._seen.cid:
            LOG.info('OVSDB at %s belongs to another cluster (cid %s, '
                     'index %d); indexes count from there', remote,
                     safe(seen.cid, 40), seen.index)
        self._seen = seen

    def _refuse_server(self, remote: str, reason: str) -> None:
        """Leave a server whose _Server row says its data is stale."""
        # The replica and the published state are kept as they are (no
        # event): the next server resumes from them.
        self.refused_servers += 1
        refusal = '%s: %s' % (remote, reason)
        # Not repeated at every backed-off retry while the same remote is
        # refused for the same reason.
        log = LOG.debug if refusal == self.refusal else LOG.warning
        self.refusal = refusal
        log('OVSDB at %s is not used: %s; keeping the last state, trying '
            'the next remote', remote, reason)

    def _force_resync(self, remote: str, problem: str) -> None:
        """Count and log a bad session; the next sync is a full dump."""
        self.forced_resyncs += 1
        LOG.error('OVSDB at %s %s; reconnecting', remote, problem)
        self._drop_replica()

    def _drop_replica(self) -> None:
        # The replica may be half updated: only a full dump can be trusted.
        if self._replica is not None:
            self._replica.clear()

    def _sync_started(self) -> None:
        """Tell the sink a (re)sync began, once until it completes."""
        if not self._sync_open and not self._stopping.is_set():
            self._sync_open = True
            try:
                self._sink.on_sync_started()
            except Exception:
                # Also runs on the way out of a connection: it must not
                # end the thread.  The next sync reports everything anyway.
                self.forced_resyncs += 1
                LOG.exception('Error reporting an OVSDB resync start')

    def _sync(self, session: client_lib.Session, remote: str,
              schema: Optional[tuple] = None) -> Replica:
        """(Re)sync on this connection: schema, monitor, full report.

        :param schema: (schema, types) start() fetched from this remote
            and checked; None: fetch and check them.
        """
        self._sync_started()
        deadline = time.monotonic() + self.settings.sync_timeout
        if schema is None:
            fetched = session.get_schema(deadline)
        else:
            session.change_aware()
        # Before any of its data: is this server's copy current?
        session.watch_server(lambda row: self._check_server(remote, row),
                             deadline)
        types = schema_lib.monitored_types(fetched) if schema is None \
            else schema[1]
        if self._replica is None or self._replica.types != types:
            self._replica = Replica(types)
        replica = self._replica
        # Only the flag: what it touched refers into the parsed dump, which
        # should be freed before the sink builds its own view.
        found = session.monitor(replica, deadline)[0]
        self.replies.append(client_lib.MonitorReply(
            self.connections, remote, session.method, found,
            session.last_rows))
        LOG.debug('OVSDB at %s: %s found=%s, %d rows', remote,
                  session.method, found, session.last_rows)
        self._save_replica()
        self.refusal = None  # the state comes from a good server again
        self._report_system(replica, always=True)
        with collector_paused():
            self._membership.rebuild_from(
                _table(replica, BRIDGE),
                replica.rows(PORT).column('interfaces')
                if PORT in replica.tables else {})
            self._sink.on_synced(sync_rows(
                replica, self._membership.bridges_of))
        self._sync_open = False
        self._last_error = None
        self.syncs += 1
        self._first_sync.set()
        return replica

    def _follow(self, session: client_lib.Session,
                replica: Replica) -> None:
        """Report each update message as one batch until the end."""
        rows = replica.tables[INTERFACE]
        build = interface_builder(replica)
        while not self._stopping.is_set():
            # Wake at least every HEARTBEAT seconds, so that alive() can
            # tell an idle monitor from a wedged one.
            self.heartbeat = time.monotonic()
            touched = session.next_update(replica,
                                          self.heartbeat + HEARTBEAT)
            if touched is None:
                continue
            if SYSTEM in touched:
                self._report_system(replica)
            uuids = set(touched.get(INTERFACE, ()))
            if BRIDGE in touched or PORT in touched:
                # A port moved: its interfaces' bridge changed, in this
                # same transaction.
                uuids.update(uuid for uuid in self._membership.update(
                    _table(replica, BRIDGE), _table(replica, PORT),
                    touched.get(BRIDGE, ()), touched.get(PORT, ()))
                    if uuid in rows)
            if uuids:
                bridge_of = self._membership.bridge_of
                batch = {}
                for uuid in uuids:
                    values = rows.get(uuid)
                    batch[uuid] = (build(uuid, values, bridge_of(uuid))
                                   if values is not None else None)
                self._sink.on_batch(batch)

    def _report_system(self, replica: Replica, always: bool = False) -> None:
        on_system = getattr(self._sink, 'on_system', None)
        if on_system is None:
            return
        external_ids: dict[str, Any] = {}
        if SYSTEM in replica.tables:
            for values in replica.rows(SYSTEM).values():
                external_ids = values['external_ids']
                break
        if always or external_ids != self._system:
            self._system = external_ids
            on_system(external_ids)


__all__ = ['DEFAULT_CONNECTION', 'Monitor', 'OvsdbSettings', 'TABLES',
           'configure_ssl']
