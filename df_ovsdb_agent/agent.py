"""The agent: monitor -> classifier -> snapshot -> bus.  The library API.

Embedding it takes a few lines::

    agent = Agent('tcp:127.0.0.1:6640')
    agent.subscribe(print, kinds=['vm'])
    agent.start()                 # returns once the first sync is published
    ...
    agent.stop()
"""

import dataclasses
import logging
import re
import socket
import threading
import time
from typing import Callable, Iterable, Mapping, Optional

from df_ovsdb_agent.backoff import Backoff
from df_ovsdb_agent.backoff import START_BACKOFF
from df_ovsdb_agent.bus import Callback
from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.bus import Subscription
from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import keep_ephemeral
from df_ovsdb_agent.classifier import online
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.conflicts import IfaceIdIndex
from df_ovsdb_agent.deadline import remaining
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.events import SYNC_STARTED
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.ovsdb.monitor import Monitor
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent import persist
from df_ovsdb_agent.snapshot import Batch
from df_ovsdb_agent.snapshot import Snapshot

LOG = logging.getLogger(__name__)

# What a host id derived from OVSDB must look like: it names store keys.
HOST_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$')

ErrorCallback = Callable[[BaseException], None]


@dataclasses.dataclass(frozen=True)
class Chassis:
    """The host as Open vSwitch names it (``Open_vSwitch`` external_ids)."""

    system_id: Optional[str] = None
    hostname: Optional[str] = None


class Agent:
    """Watches the local OVSDB and publishes interface events on a bus."""

    def __init__(self, connection: Optional[str] = None, *,
                 settings: Optional[OvsdbSettings] = None,
                 policy: Optional[Policy] = None,
                 bus: Optional[EventBus] = None,
                 state_file: Optional[str] = None,
                 host: Optional[str] = None,
                 owner_id: Optional[str] = None) -> None:
        """Build an agent from a remote string or full :class:`OvsdbSettings`.

        :param connection: e.g. ``tcp:127.0.0.1:6640``; overrides
            ``settings.connection`` when both are given.
        :param state_file: keep the published state in this file and start
            from it: after a restart the first sync reports only what
            changed while the agent was down (see :mod:`.persist`).  It is
            loaded here, so subscribers that ask for ``replay`` get it.
        :param host: the host id; default: the ``system-id`` of Open
            vSwitch, else the hostname (see :attr:`host`).
        :param owner_id: a stable id of this agent installation, which
            stores use to tell a restart from a second agent.
        """
        settings = settings or OvsdbSettings()
        if connection is not None:
            settings = dataclasses.replace(settings, connection=connection)
        self.settings = settings
        self.policy = policy or Policy()
        self.bus = bus or EventBus()
        self._configured_host = host
        self.owner_id = owner_id
        self.chassis = Chassis()
        restored = None
        self._persist: Optional[persist.StateWriter] = None
        if state_file is not None:
            restored = persist.load_snapshot(state_file, host)
            self._persist = persist.StateWriter(
                state_file, self._saved_state, 'snapshot',
                min_interval=persist.SNAPSHOT_INTERVAL)
        self._snapshot = Snapshot(restored)
        self._iface_ids = IfaceIdIndex()
        # Fed the snapshot's states before each change: no uuid ->
        # iface-id record of its own.
        self._iface_ids.apply(self._snapshot.copy(), {})
        # Serialises snapshot changes with their publication, so a replaying
        # subscriber sees a consistent cut.
        self._lock = threading.Lock()
        self._sync_done = threading.Condition(self._lock)
        self._synced = False
        self.syncs = 0
        self._sync_began = time.monotonic()
        self.last_sync_duration: Optional[float] = None
        # With a state file, the replica is kept beside it: a clustered
        # server or a relay then sends only the diff after a restart.
        self._monitor = Monitor(settings, self, None if state_file is None
                                else state_file + '.replica')
        # Set by stop(): ends start_async()'s attempts.
        self._stopping = threading.Event()

    @classmethod
    def from_conf(cls, conf, bus: Optional[EventBus] = None,
                  state_file: Optional[str] = None,
                  owner_id: Optional[str] = None) -> 'Agent':
        """Build an agent from an oslo.config object with our options.

        A thin delegation to :func:`df_ovsdb_agent.conf.agent_args`, which
        reads them; the configuration module never imports this one.
        """
        # Imported here so that embedding the agent without oslo.config
        # options does not load the option declarations and plugin loader.
        from df_ovsdb_agent import conf as conf_lib
        return cls(bus=bus, state_file=state_file, owner_id=owner_id,
                   **conf_lib.agent_args(conf))

    @property
    def host(self) -> str:
        """The host id: configured, else Open vSwitch's ``system-id``
        (the OVN chassis name) when it is usable as one, else the
        hostname.
        """
        system_id = self.chassis.system_id
        if system_id is not None and not HOST_ID.match(system_id):
            system_id = None  # would break store keys; warned in on_system
        return self._configured_host or system_id or socket.gethostname()

    # -- library API -------------------------------------------------------

    def subscribe(self, callback: Callback,
                  kinds: Optional[Iterable[Kind]] = None,
                  actions: Optional[Iterable[Action]] = None,
                  name: Optional[str] = None,
                  replay: bool = False,
                  bridges: Optional[Iterable[str]] = None) -> Subscription:
        """Subscribe on the bus; with ``replay`` first get the current state.

        Without ``replay`` the subscriber hears of changes from now on.
        Replayed interfaces arrive as ``online`` events before any later
        change, followed by a ``sync finished`` marker when the agent is in
        sync, so a late subscriber needs no separate initial read.
        """
        # Under the lock: no change is published between the cut and the
        # subscription (the current state may have been restored from disk).
        with self._lock:
            return self.bus.subscribe(
                callback, kinds, actions, name, bridges,
                current=self._snapshot.copy(), replay=replay,
                synced=self._synced)

    def unsubscribe(self, subscription: Subscription) -> None:
        self.bus.unsubscribe(subscription)

    def start(self) -> None:
        """Connect and publish the first sync; raises ``AgentError``."""
        if self._persist is not None:
            self._persist.start()
        try:
            self._monitor.start()
        except BaseException:
            self._stop_persist(None)
            raise

    def start_async(self, on_error: Optional[ErrorCallback] = None,
                    backoff: tuple = START_BACKOFF) -> threading.Thread:
        """Start in the background and return at once (the thread).

        Like the daemon, it waits for OVSDB for as long as it takes: an
        ``OvsdbUnreachable`` is logged and retried with jittered delays
        of ``backoff`` (first, cap) seconds, until it succeeds or
        :meth:`stop` is called.  Any other error (bad configuration, not
        an Open vSwitch schema) ends the attempts and is handed to
        ``on_error`` (default: logged).  Use :meth:`wait_synced` or the
        ``sync finished`` marker to learn when the first sync is in.
        """
        def attempts() -> None:
            delays = Backoff.decorrelated_jitter(backoff[1],
                                                 initial=backoff[0])
            while not self._stopping.is_set():
                try:
                    self.start()
                except OvsdbUnreachable as exc:
                    delay = delays.next()
                    LOG.warning('%s; retrying in %.1fs', exc, delay)
                    self._stopping.wait(delay)
                    continue
                except BaseException as exc:
                    if on_error is None:
                        LOG.error('Agent failed to start: %s', exc)
                    else:
                        on_error(exc)
                    return
                if self._stopping.is_set():
                    # stop() ran while start() was connecting.
                    self._monitor.stop()
                return

        thread = threading.Thread(target=attempts, daemon=True,
                                  name='df-ovsdb-start')
        thread.start()
        return thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop monitoring, save the state, let subscribers drain, then
        stop them.
        """
        # One timeout for everything, not one per step.
        left = remaining(timeout)
        # A start_async() attempt in progress stops the monitor itself if
        # it gets it running after this (it is not waited for: start()
        # may sit in its wait for the first sync).
        self._stopping.set()
        self._monitor.stop(left())
        self._stop_persist(left())
        self.bus.close(left())

    def _stop_persist(self, timeout: Optional[float]) -> None:
        if self._persist is not None:
            self._persist.stop(timeout)

    def flush_state(self, timeout: Optional[float] = None) -> bool:
        """Wait until the state published so far is saved (if saved)."""
        return self._persist is None or self._persist.flush(timeout)

    def _saved_state(self) -> dict:
        with self._lock:
            interfaces = self._snapshot.copy()
        return persist.snapshot_body(interfaces, self.host)

    def wait_synced(self, timeout: Optional[float] = None,
                    after: int = 0) -> bool:
        """Wait until the published state matches the database.

        :param after: also wait until more than this many syncs completed;
            pass :attr:`syncs` read before a disruption to wait for the
            resync that follows it.
        """
        with self._sync_done:
            return self._sync_done.wait_for(
                lambda: self._synced and self.syncs > after, timeout)

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def connected(self) -> bool:
        return self._monitor.connected

    def interfaces(self, kind: Optional[Kind] = None) -> list[Interface]:
        """The interfaces currently online (optionally of one kind)."""
        with self._lock:
            return [i for i in self._snapshot
                    if kind is None or i.kind == kind]

    def datapath_id(self, bridge: Optional[str]) -> Optional[int]:
        """The OpenFlow datapath id of ``bridge`` (an event's
        ``interface.bridge``), as ovs-vswitchd wrote it in
        ``Bridge.datapath_id``; None while unknown.
        """
        if bridge is None:
            return None
        return self._monitor.datapath_ids.get(bridge)

    def monitor_alive(self) -> bool:
        """Whether the monitor's loop is running (for watchdogs)."""
        return self._monitor.alive()

    @property
    def monitor(self) -> Monitor:
        return self._monitor

    # -- Sink: called from the monitor's thread, in order -----------------

    def on_sync_started(self) -> None:
        with self._lock:
            self._synced = False
            self._sync_began = time.monotonic()
            self.bus.publish(SYNC_STARTED)
        LOG.info('OVSDB (re)sync started')

    def on_batch(self, rows: Mapping[str, Optional[RowValues]]) -> None:
        batch = self._classified(rows.items())
        with self._lock:
            previous = self._previous(batch)
            changed = self._snapshot.commit(batch)
            if changed:
                # Before publishing: a subscriber that sees the event can
                # count on the warning and the metric being there.
                self._check_conflicts(changed, previous)
                self.bus.publish_states(changed)
        if changed and self._persist is not None:
            self._persist.mark()

    def _classified(self, rows: Iterable[tuple[str, Optional[RowValues]]]
                    ) -> Batch:
        """uuid -> the Interface each row describes (None: not online),
        with the ephemeral attributes an ovsdb-server restart emptied.
        """
        # Read outside the lock: only this thread changes the snapshot.
        policy = self.policy
        batch: Batch = {}
        if not len(self._snapshot):
            # The first sync: nothing to keep from before.
            for uuid, row in rows:
                batch[uuid] = classify(row, policy) if row is not None \
                    else None
            return batch
        get = self._snapshot.get
        for uuid, row in rows:
            new = classify(row, policy) if row is not None else None
            if new is not None:
                old = get(uuid)
                if old is not None:
                    new = keep_ephemeral(old, new)
            batch[uuid] = new
        return batch

    def _online(self, rows: Iterable[RowValues]) -> dict[str, Interface]:
        """uuid -> the online Interface of each row that describes one,
        with the ephemeral attributes an ovsdb-server restart emptied.
        """
        # Read outside the lock: only this thread changes the snapshot.
        if not len(self._snapshot):
            # The first sync: nothing to keep from before, one loop.
            return online(rows, self.policy)
        current: dict[str, Interface] = {}
        policy = self.policy
        get = self._snapshot.get
        for row in rows:
            new = classify(row, policy)
            if new is not None:
                old = get(new.uuid)
                current[new.uuid] = (new if old is None else
                                     keep_ephemeral(old, new))
        return current

    @property
    def iface_id_conflicts(self) -> int:
        """iface-ids that more than one online VM interface carries."""
        return self._iface_ids.conflicts

    def _previous(self, uuids: Iterable[str]) -> dict[str, Interface]:
        """The snapshot's online states of ``uuids`` (before a commit)."""
        if not len(self._snapshot):
            return {}
        get = self._snapshot.get
        previous = {}
        for uuid in uuids:
            old = get(uuid)
            if old is not None:
                previous[uuid] = old
        return previous

    def _check_conflicts(self, changed: Batch,
                         previous: Mapping[str, Interface]) -> None:
        for vms in self._iface_ids.apply(changed, previous):
            LOG.warning('Interfaces %s carry the same iface-id %s',
                        ' and '.join(safe(vm.name) for vm in vms),
                        safe(vms[0].iface_id))

    def on_system(self, external_ids: Mapping[str, str]) -> None:
        """The ``Open_vSwitch`` row's external_ids (at every sync and on
        change).
        """
        chassis = Chassis(external_ids.get('system-id') or None,
                          external_ids.get('hostname') or None)
        if chassis == self.chassis:
            return
        if self.chassis != Chassis():
            LOG.warning('Open vSwitch system-id/hostname changed from '
                        '%s/%s to %s/%s', safe(self.chassis.system_id),
                        safe(self.chassis.hostname), safe(chassis.system_id),
                        safe(chassis.hostname))
        else:
            LOG.info('Open vSwitch system-id %s, hostname %s',
                     safe(chassis.system_id), safe(chassis.hostname))
        self.chassis = chassis
        if chassis.system_id is not None and \
                not HOST_ID.match(chassis.system_id):
            LOG.warning('Open vSwitch system-id %s is not usable as a host '
                        'id (letters, digits, ".", "_", "-" only); using %s',
                        safe(chassis.system_id), self.host)

    def on_synced(self, rows: Iterable[RowValues]) -> None:
        current = self._online(rows)
        with self._lock:
            # The whole snapshot: adopt() also takes what is gone.
            previous = self._snapshot.copy() if len(self._snapshot) else {}
            changed = self._snapshot.adopt(current)
            self._check_conflicts(changed, previous)
            self.bus.publish_states(changed, Sync.FINISHED)
            self.last_sync_duration = time.monotonic() - self._sync_began
            self._synced = True
            self.syncs += 1
            self._sync_done.notify_all()
        if self._persist is not None:
            self._persist.mark()
        LOG.info('OVSDB sync finished in %.3fs: %d interfaces online, '
                 '%d changed', self.last_sync_duration, len(current),
                 len(changed))
