"""What every publisher shares: desired state, one writer, backoff, reconcile.

A publisher mirrors the host's online interfaces into a store.  Its bus
callback only records the *desired* state (name -> record) and marks names
dirty, so it never blocks and never grows beyond one record per interface.
A single writer thread pushes dirty names to the store.  Whenever the store
is (re)connected, and after every agent resync, the writer *reconciles*:
it reads what the store holds for this host and writes exactly the
difference, so stale keys go away and a backlog lost while the store was
down is never replayed -- only the net change is.  Failures make the writer
reconnect with capped exponential backoff; it never gives up.
"""

import abc
import logging
import threading
import time
from typing import Optional

from oslo_config import cfg

from df_ovsdb_agent.cluster import record_changes
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster.stores import Backoff
from df_ovsdb_agent.cluster.stores import describe_error
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.plugins import Plugin

LOG = logging.getLogger(__name__)

CREDENTIAL_OPTS = [
    cfg.StrOpt('username',
               help='User to authenticate as; unset: no authentication.'),
    cfg.StrOpt('password', secret=True,
               help='Password of that user. Never logged.'),
]

TLS_OPTS = [
    cfg.StrOpt('ca_file', help='CA certificate that signed the server\'s.'),
    cfg.StrOpt('cert_file', help='Client certificate, for mutual TLS.'),
    cfg.StrOpt('key_file', help='Private key of the client certificate.'),
]

RETRY_OPTS = [
    cfg.FloatOpt('timeout', default=5.0, min=0.1,
                 help='Seconds to wait for one request to the store; also '
                      'how long pending writes may flush at shutdown.'),
    cfg.FloatOpt('max_backoff', default=10.0, min=0.1,
                 help='Upper bound, in seconds, of the delay between '
                      'attempts to reach the store. Retries never stop.'),
]


class Change:
    """One record to write: ``online``/``updated`` put it, ``offline``
    removes it (``record`` is then its last stored value)."""

    __slots__ = ('action', 'name', 'record')

    def __init__(self, action: Action, name: str, record: Record) -> None:
        self.action = action
        self.name = name
        self.record = record

    def event(self) -> dict:
        """The JSON form of the change, as an event with its host."""
        return dict(self.record, action=self.action.value)

    def __repr__(self) -> str:
        return 'Change(%s %s)' % (self.action.value, self.name)


def changes_between(stored: dict[str, Record],
                    desired: dict[str, Record]) -> list[Change]:
    """Changes that turn the store's ``stored`` records into ``desired``.

    Removals come first, so no name is ever online twice at once.
    """
    changes = [Change(Action.OFFLINE, name, old)
               for name, old in stored.items() if name not in desired]
    for name, new in desired.items():
        changes.extend(Change(action, name, record) for action, record
                       in record_changes(stored.get(name), new))
    return changes


class Store(abc.ABC):
    """A store as the writer thread drives it; called from that thread only.

    Any exception means "the store is unusable": the writer calls
    :meth:`close`, backs off, then :meth:`connect` and reconciles.
    """

    #: Seconds between :meth:`tick` calls, or None for no ticks.
    tick_interval: Optional[float] = None

    @property
    @abc.abstractmethod
    def target(self) -> str:
        """Where the store is, safe to log (no credentials)."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Make the store usable (connect, authenticate, get a lease)."""

    @abc.abstractmethod
    def read_state(self) -> dict[str, Record]:
        """name -> record of everything the store holds for this host."""

    @abc.abstractmethod
    def apply(self, changes: list[Change], resync: bool) -> None:
        """Write ``changes``; ``resync`` when they come from a reconcile."""

    def tick(self) -> None:
        """Periodic upkeep, e.g. keeping a lease alive."""

    def close(self) -> None:
        """Drop connections; :meth:`connect` may follow."""


class Writer:
    """Desired state plus the one thread that mirrors it into a store."""

    def __init__(self, store: Store, host: str, max_backoff: float) -> None:
        self.store = store
        self.host = host
        self._backoff = Backoff(max_backoff)
        self._cond = threading.Condition()
        self._desired: dict[str, Record] = {}
        self._dirty: set[str] = set()
        self._reconcile = True
        self._closing = False
        self._stopped = False
        self._busy = False
        # What the writer believes the store holds; writer thread only.
        self._stored: dict[str, Record] = {}
        self._next_tick = 0.0
        self.connected = False
        self.failures = 0
        self.reconciles = 0
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name='df-ovsdb-publisher-%s' % type(store).__name__)

    # -- bus side: never blocks -------------------------------------------

    def offer(self, event) -> None:
        """Record an agent event in the desired state (bus callback)."""
        with self._cond:
            if isinstance(event, InterfaceEvent):
                self._offer_interface(event)
            elif event.sync is Sync.FINISHED:
                # The agent's view was just rebuilt from OVSDB: make the
                # store match it exactly, whatever happened to the store.
                self._reconcile = True
            self._cond.notify_all()

    def _offer_interface(self, event: InterfaceEvent) -> None:
        name = event.name
        if event.action is Action.OFFLINE:
            current = self._desired.get(name)
            # A name reused by a newer interface stays with the newer one.
            if current is None or current['uuid'] != event.uuid:
                return
            del self._desired[name]
        else:
            self._desired[name] = dict(event.interface.to_dict(),
                                       host=self.host)
        self._dirty.add(name)

    # -- life cycle -------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Flush pending writes for up to ``timeout`` seconds, then stop."""
        if not self._thread.is_alive():
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def wait_flushed(self, timeout: Optional[float] = None) -> bool:
        """Wait until the store holds the desired state as of now."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._stopped or (
                    self.connected and not self._busy and
                    not self._dirty and not self._reconcile), timeout)

    def desired(self) -> dict[str, Record]:
        with self._cond:
            return dict(self._desired)

    # -- writer thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            work = self._next_work()
            if work is None:
                break
            try:
                if not self.connected:
                    self._connect()
                if work == 'tick':
                    self.store.tick()
                    self._schedule_tick()
                elif work == 'reconcile':
                    self._do_reconcile()
                elif work:
                    self._push(work)
                self._backoff.reset()
            except Exception as exc:
                self._failed(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        self._close_store()

    def _next_work(self):
        """Wait for something to do: 'tick', 'reconcile', a dirty-record
        dict, or None to exit."""
        with self._cond:
            while True:
                if self._stopped:
                    return None
                idle = not (self._dirty or self._reconcile)
                if self._closing and (idle or not self.connected):
                    return None
                ticks = self.store.tick_interval is not None
                due = ticks and self.connected and (
                    time.monotonic() >= self._next_tick)
                if due:
                    work = 'tick'
                elif self._reconcile or not self.connected:
                    self._reconcile = False
                    self._dirty.clear()
                    work = 'reconcile'
                elif self._dirty:
                    work = {n: self._desired.get(n) for n in self._dirty}
                    self._dirty.clear()
                else:
                    wait = (self._next_tick - time.monotonic()
                            if ticks and self.connected else None)
                    self._cond.wait(wait)
                    continue
                self._busy = True
                return work

    def _connect(self) -> None:
        self.store.connect()
        self._schedule_tick()
        with self._cond:
            self.connected = True
        LOG.info('Publisher connected to %s', self.store.target)

    def _schedule_tick(self) -> None:
        if self.store.tick_interval is not None:
            self._next_tick = time.monotonic() + self.store.tick_interval

    def _do_reconcile(self) -> None:
        desired = self.desired()
        stored = self.store.read_state()
        changes = changes_between(stored, desired)
        if changes:
            self.store.apply(changes, resync=True)
        self._stored = desired
        self.reconciles += 1
        LOG.info('Reconciled %s for host %s: %d interfaces, %d changes',
                 self.store.target, self.host, len(desired), len(changes))

    def _push(self, dirty: dict[str, Optional[Record]]) -> None:
        changes = []
        for name, new in sorted(dirty.items()):
            changes.extend(Change(action, name, record) for action, record
                           in record_changes(self._stored.get(name), new))
        # Removals first, as in changes_between (the sort is stable).
        changes.sort(key=lambda change: change.action is not Action.OFFLINE)
        if changes:
            self.store.apply(changes, resync=False)
        for name, new in dirty.items():
            if new is None:
                self._stored.pop(name, None)
            else:
                self._stored[name] = new

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        delay = self._backoff.next()
        LOG.warning('Publisher cannot use %s (%s); retrying in %.1fs',
                    self.store.target, describe_error(exc), delay)
        self._close_store()
        with self._cond:
            # Whatever was taken is covered by the reconcile that follows
            # the reconnect: it writes the full desired state.
            self.connected = False
            self._reconcile = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._stopped or self._closing,
                                delay)

    def _close_store(self) -> None:
        try:
            self.store.close()
        except Exception as exc:
            LOG.debug('Closing %s failed: %s', self.store.target, exc)


class StorePublisher(Plugin):
    """A publisher plugin: subscribes with replay and runs a :class:`Writer`.

    Subclasses declare ``CONFIG_OPTS`` and build their :class:`Store`.
    """

    def __init__(self, agent, config, host: str) -> None:
        super().__init__(agent, config, host)
        self.options = StoreOptions.from_group(config)
        self.store = self.make_store()  # validates the options now
        self.writer = Writer(self.store, host, config.max_backoff)
        self._sub = None

    @abc.abstractmethod
    def make_store(self) -> Store:
        """Build the store from ``self.config`` (raise ConfigError)."""

    def start(self) -> None:
        LOG.info('Publishing host %s to %s', self.host, self.store.target)
        self.writer.start()
        self._sub = self.agent.subscribe(
            self.writer.offer, replay=True,
            name='publisher-%s' % type(self).__name__)

    def stop(self) -> None:
        if self._sub is not None:
            self.agent.unsubscribe(self._sub)
        self.writer.stop(self.config.timeout)

    def wait_flushed(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything delivered so far is in the store."""
        if self._sub is not None and not self._sub.wait_idle(timeout):
            return False
        return self.writer.wait_flushed(timeout)
