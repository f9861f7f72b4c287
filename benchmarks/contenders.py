"""The things measured, each as it would be written by its users.

Every contender runs in its own process (see :mod:`benchmarks.worker`) and
reports to a :class:`Reporter`: one ``event(name)`` per notification its
subscriber receives, ``sync_started``/``sync_finished`` around (re)syncs.
"""

import json
import os
import re
import subprocess
import threading
import time
from typing import Callable, Optional

COLUMNS = ('name', 'type', 'ofport', 'external_ids', 'options')


def agent_tables() -> dict:
    """What the agent monitors (its declaration): table -> columns.

    The floor and the raw IDL monitor exactly this, so that every ratio
    compares the same data on the wire.
    """
    from df_ovsdb_agent.ovsdb.tables import TABLES
    return {t.name: list(t.columns) + list(getattr(t, 'optional', ()))
            for t in TABLES}


SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
MARK_PREFIX = 'lat'
POLL_INTERVAL = 2.0


def now_ns() -> int:
    # CLOCK_MONOTONIC is system-wide on Linux: comparable across processes.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


# Reporter._next when no target is armed: a count never reached.
_NEVER = 1 << 62
# Names in [_MARK_LOW, _MARK_HIGH) start with MARK_PREFIX: two string
# comparisons per event instead of a method call.
_MARK_LOW = MARK_PREFIX
_MARK_HIGH = MARK_PREFIX[:-1] + chr(ord(MARK_PREFIX[-1]) + 1)


class Reporter:
    """Counts deliveries and writes protocol lines to the parent.

    The count is inside every contender's measured CPU, so ``event`` does
    the least that still counts each notification and sees the exact one
    that reaches a target: one addition into a counter that is never
    reset, one comparison with the nearest armed target (``_next``, an
    absolute count) and one name check for marks.  Only reaching a target
    takes the lock.  ``event`` is called from one thread per contender
    (its subscriber's); ``expect``/``expect_resync`` come from the command
    thread, re-arm under the lock and then check the count themselves.
    """

    def __init__(self, out) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._seen = 0  # every notification, never reset
        self._next = _NEVER
        self._base = 0  # _seen at the last expect(): count's zero
        self._resync_base = 0
        self.target: Optional[int] = None  # relative to _base
        self._sync_target: Optional[int] = None  # relative to _base
        self.resync_target: Optional[int] = None  # to _resync_base
        self.synced = False

    @property
    def count(self) -> int:
        """Notifications since the last :meth:`expect` (or the start)."""
        return self._seen - self._base

    @property
    def resync_count(self) -> int:
        """Notifications since the last resync began or was expected."""
        return self._seen - self._resync_base

    @property
    def sync_target(self) -> Optional[int]:
        """Notifications that make the initial sync (no sync marker)."""
        return self._sync_target

    @sync_target.setter
    def sync_target(self, count: Optional[int]) -> None:
        with self._lock:
            self._sync_target = count
            self._rearm()

    def emit(self, **msg) -> None:
        with self._lock:
            self._emit(msg)

    def _emit(self, msg: dict) -> None:
        self._out.write(json.dumps(msg) + '\n')
        self._out.flush()

    def event(self, name: Optional[str], n: int = 1) -> None:
        """The subscriber got ``n`` notifications (named when known)."""
        seen = self._seen + n
        self._seen = seen
        if name is not None and _MARK_LOW <= name < _MARK_HIGH:
            self.mark(name)
        if seen >= self._next:
            with self._lock:
                self._check()

    def _rearm(self) -> None:
        """_next: the nearest armed target (lock held)."""
        nearest = _NEVER
        if self.target is not None:
            nearest = self._base + self.target
        if self._sync_target is not None:
            nearest = min(nearest, self._base + self._sync_target)
        if self.resync_target is not None:
            nearest = min(nearest, self._resync_base + self.resync_target)
        self._next = nearest

    def _check(self) -> None:
        """Report every target the count reached (lock held)."""
        seen = self._seen
        if self.target is not None and seen - self._base >= self.target:
            self.target = None
            self._emit({'ev': 'reached', 't': now_ns(),
                        'count': seen - self._base})
        if (self._sync_target is not None
                and seen - self._base >= self._sync_target):
            self._sync_target = None
            self.synced = True
            self._emit({'ev': 'synced', 't': now_ns(),
                        'events': seen - self._base})
        if (self.resync_target is not None
                and seen - self._resync_base >= self.resync_target):
            self.resync_target = None
            self._resynced()
        self._rearm()

    def mark(self, name: str) -> None:
        self.emit(ev='mark', name=name, t=now_ns())

    def expect(self, count: int) -> None:
        """Report 'reached' once ``count`` more notifications arrived."""
        with self._lock:
            self._base = self._seen
            self.target = count
            self._rearm()
            # Events counted since _seen was read saw the old _next.
            if self._seen >= self._next:
                self._check()

    def expect_resync(self, count: Optional[int]) -> None:
        """Report 'resynced' at the next sync_finished, or after ``count``
        notifications for contenders that have no sync marker.
        """
        with self._lock:
            self._resync_base = self._seen
            self.resync_target = count
            self._rearm()
            if self._seen >= self._next:
                self._check()

    def sync_started(self) -> None:
        with self._lock:
            if self.synced:
                self._resync_base = self._seen
                self._rearm()

    def sync_finished(self) -> None:
        with self._lock:
            if not self.synced:
                self.synced = True
                self._emit({'ev': 'synced', 't': now_ns(),
                            'events': self.count})
            else:
                self._resynced()

    def _resynced(self) -> None:
        self._emit({'ev': 'resynced', 't': now_ns(),
                    'events': self.resync_count})


class Contender:
    """Base: ``run`` monitors until ``stop`` is set."""

    #: Does it report sync_finished itself (else: count-based sync)?
    has_sync_marker = False

    def __init__(self, remote: str, rep: Reporter,
                 stop: threading.Event) -> None:
        self.remote = remote
        self.rep = rep
        self.stop = stop

    def run(self) -> None:
        raise NotImplementedError


class AgentContender(Contender):
    """The df-ovsdb-agent library with one subscriber."""

    has_sync_marker = True

    def run(self) -> None:
        from df_ovsdb_agent.agent import Agent
        from df_ovsdb_agent.events import Sync
        from df_ovsdb_agent.events import SyncEvent
        from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
        rep = self.rep
        count = rep.event

        def subscriber(event) -> None:
            if isinstance(event, SyncEvent):
                if event.sync is Sync.FINISHED:
                    rep.sync_finished()
                else:
                    rep.sync_started()
            else:
                count(event.interface.name)

        _report_connections(rep)
        agent = Agent(settings=OvsdbSettings(connection=self.remote,
                                             sync_timeout=600))
        agent.subscribe(subscriber, name='bench')
        agent.start()
        self.stop.wait()
        agent.stop(timeout=2)


def _report_connections(rep: Reporter) -> None:
    """Mark 'connected' whenever the agent's monitor logs a connection.

    For the resync scenario: ovsdb-server back -> resync started.
    """
    import logging

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith('Connected to OVSDB'):
                rep.mark('connected')

    logger = logging.getLogger('df_ovsdb_agent.ovsdb.monitor')
    logger.setLevel(logging.INFO)
    logger.addHandler(Handler())


def _raw_helper():
    from ovs.db import idl
    helper = idl.SchemaHelper(SCHEMA)
    for table, columns in agent_tables().items():
        helper.register_columns(table, columns)
    return helper


def idl_synced(idl) -> bool:
    """Connected, and the dump for the current connection is in."""
    session = idl._session
    return (session.is_connected() and idl._last_seqno == session.get_seqno()
            and idl.state == idl.IDL_S_MONITORING)


class RawIdlContender(Contender):
    """python-ovs ``Idl`` on the same 5 columns, driven by a bare loop."""

    has_sync_marker = True

    def run(self) -> None:
        from ovs.db import idl as ovs_idl
        from ovs import poller
        rep = self.rep
        count = rep.event

        class Idl(ovs_idl.Idl):
            def notify(self, event, row, updates=None):
                # Its subscriber wants interfaces; the other tables are
                # there because the agent monitors them too.
                if row._table.name == 'Interface':
                    count(row.name)

        idl = Idl(self.remote, _raw_helper())
        # Same reconnect backoff as the agent, so resyncs compare parsing.
        idl._session.reconnect.set_backoff(1000, 1000)
        was_synced = False
        while not self.stop.is_set():
            idl.run()
            now = idl_synced(idl)
            if now and not was_synced:
                rep.sync_finished()
            elif was_synced and not now:
                rep.sync_started()
            was_synced = now
            wait = poller.Poller()
            idl.wait(wait)
            wait.timer_wait(200)
            wait.block()
        idl.close()


class OvsdbappNaiveContender(Contender):
    """What most users write: ovsdbapp ``Connection`` over an ``OvsdbIdl``
    built with ``from_server`` (``register_all``), a ``RowEventHandler``
    and a ``RowEvent`` for Interface create/update/delete.
    """

    def run(self) -> None:
        from ovsdbapp.backend.ovs_idl import connection
        from ovsdbapp.backend.ovs_idl import event as row_event
        rep = self.rep

        class InterfaceEvent(row_event.RowEvent):
            def __init__(self):
                super().__init__((self.ROW_CREATE, self.ROW_UPDATE,
                                  self.ROW_DELETE), 'Interface', None)

            def run(self, event, row, old):
                rep.event(row.name)

        class Idl(connection.OvsdbIdl):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.notify_handler = row_event.RowEventHandler()

            def notify(self, event, row, updates=None):
                self.notify_handler.notify(event, row, updates)

        idl = Idl.from_server(self.remote, 'Open_vSwitch')
        idl.notify_handler.watch_event(InterfaceEvent())
        conn = connection.Connection(idl, timeout=600)
        conn.start()
        self._watch_resyncs(idl)
        conn.stop(timeout=2)

    def _watch_resyncs(self, idl) -> None:
        # A naive user has no sync marker; the initial sync is counted
        # (every Interface row once), resyncs are read off the IDL state
        # plus an empty handler queue.
        rep, queue = self.rep, idl.notify_handler.notifications
        while not rep.synced and not self.stop.wait(0.01):
            pass
        was_synced = True
        while not self.stop.wait(0.002):
            now = idl_synced(idl) and queue.empty()
            if now and not was_synced:
                rep.sync_finished()
            elif was_synced and not now and not idl_synced(idl):
                rep.sync_started()
            was_synced = now


def monitor_cmd(remote: str, tables: Optional[dict] = None) -> list[str]:
    tables = tables or {'Interface': COLUMNS}
    cmd = ['ovsdb-client', 'monitor', remote, 'Open_vSwitch']
    for table, columns in tables.items():
        cmd += [table, ','.join(columns)]
    return cmd + ['--format=json']


class NeutronJsonContender(Contender):
    """The neutron OVS agent's way: ``ovsdb-client monitor --format=json``
    as a subprocess, each output line parsed with ``json.loads``.
    """

    has_sync_marker = True

    def run(self) -> None:
        rep = self.rep
        count = rep.event
        proc = self._start_monitor()
        first = True
        for line in proc.stdout:
            update = json.loads(line)
            headings = update['headings']
            for values in update['data']:
                row = dict(zip(headings, values))
                if row['action'] == 'old':
                    continue
                row['external_ids'] = dict(row['external_ids'][1])
                count(row['name'])
            if first:
                first = False
                rep.sync_finished()

    #: Tables and columns monitored (None: neutron's Interface columns).
    tables: Optional[dict] = None

    def _start_monitor(self) -> subprocess.Popen:
        """``ovsdb-client monitor`` of ``tables``, killed on stop."""
        proc = subprocess.Popen(monitor_cmd(self.remote, self.tables),
                                stdout=subprocess.PIPE)
        threading.Thread(target=self._stopper, args=(proc,),
                         daemon=True).start()
        return proc

    def _stopper(self, proc: subprocess.Popen) -> None:
        self.stop.wait()
        proc.kill()
        proc.wait()


_ACTIONS = (b'"initial"', b'"insert"', b'"delete"', b'"new"')
_MARK = re.compile(rb'"(%s\d+)"' % MARK_PREFIX.encode())


class CFloorContender(NeutronJsonContender):
    """The floor: ``ovsdb-client monitor`` (C) of what the agent monitors.

    ``ovsdb-client monitor`` takes one table, so one process per declared
    table runs at once; the sync is complete when each printed its initial
    dump.  Only their output is counted, with bytes operations; the CPU and
    memory reported are the ovsdb-client processes' own.
    """

    def run(self) -> None:
        tables = agent_tables()
        self._left = len(tables)
        self._lock = threading.Lock()
        readers = []
        for table, columns in tables.items():
            self.tables = {table: columns}
            proc = self._start_monitor()
            reader = threading.Thread(target=self._read, daemon=True,
                                      args=(proc, table == 'Interface'))
            reader.start()
            readers.append(reader)
        for reader in readers:
            reader.join()

    def _read(self, proc: subprocess.Popen, counted: bool) -> None:
        rep = self.rep
        fd = proc.stdout.fileno()
        pending: list = []
        first = True
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                return
            if b'\n' not in data:
                # Joined only once a line is complete: a 16 MiB line read
                # 64 KiB at a time must not be re-copied on every read.
                pending.append(data)
                continue
            *lines, rest = (b''.join(pending) + data).split(b'\n')
            pending = [rest]
            for line in lines:
                if counted:
                    if b'"%s' % MARK_PREFIX.encode() in line:
                        for name in _MARK.findall(line):
                            rep.mark(name.decode())
                    rep.event(None, sum(line.count(a) for a in _ACTIONS))
                if first:
                    first = False
                    self._dumped()

    def _dumped(self) -> None:
        with self._lock:
            self._left -= 1
            if not self._left:
                self.rep.sync_finished()


class PollingContender(Contender):
    """The loop the agent replaces: fetch the whole Interface table every
    ``POLL_INTERVAL`` seconds (like ``ovs-vsctl list Interface``) and diff.
    Uses the stdlib's C JSON parser, so it is a generous baseline.
    """

    has_sync_marker = True

    def run(self) -> None:
        from df_ovsdb_agent.testing import rpc
        client = rpc.Client(self.remote, timeout=120.0, reconnect_idle=4.0)
        seen: dict = {}
        first = True
        while not self.stop.is_set():
            began = time.monotonic()
            rows = client.transact({'op': 'select', 'table': 'Interface',
                                    'where': []})[0]['rows']
            seen = self._diff(seen, rows)
            if first:
                first = False
                self.rep.sync_finished()
            self.stop.wait(max(0.0, POLL_INTERVAL -
                               (time.monotonic() - began)))
        client.close()

    def _diff(self, seen: dict, rows: list) -> dict:
        current = {}
        for row in rows:
            state = (row['name'], row['type'], row['ofport'],
                     json.dumps(row['external_ids']),
                     json.dumps(row['options']))
            uuid = row['_uuid'][1]
            current[uuid] = state
            if seen.get(uuid) != state:
                self.rep.event(row['name'])
        for uuid, state in seen.items():
            if uuid not in current:
                self.rep.event(state[0])
        return current


CONTENDERS: dict[str, Callable] = {
    'agent': AgentContender,
    'agent_pyjson': AgentContender,
    'raw_idl': RawIdlContender,
    'raw_idl_pyjson': RawIdlContender,
    'ovsdbapp_naive': OvsdbappNaiveContender,
    'neutron_json': NeutronJsonContender,
    'c_floor': CFloorContender,
    'polling': PollingContender,
}

#: Variants that run python-ovs with its pure-Python JSON parser forced.
PURE_PYTHON_JSON = {'agent_pyjson', 'raw_idl_pyjson'}
