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
import threading
import time
from typing import Iterable, Mapping, Optional

from df_ovsdb_agent.bus import Callback
from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.bus import Subscription
from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.events import SYNC_STARTED
from df_ovsdb_agent.ovsdb.monitor import Monitor
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.snapshot import Snapshot

LOG = logging.getLogger(__name__)


class Agent:
    """Watches the local OVSDB and publishes interface events on a bus."""

    def __init__(self, connection: Optional[str] = None, *,
                 settings: Optional[OvsdbSettings] = None,
                 policy: Optional[Policy] = None,
                 bus: Optional[EventBus] = None) -> None:
        """Build an agent from a remote string or full :class:`OvsdbSettings`.

        :param connection: e.g. ``tcp:127.0.0.1:6640``; overrides
            ``settings.connection`` when both are given.
        """
        settings = settings or OvsdbSettings()
        if connection is not None:
            settings = dataclasses.replace(settings, connection=connection)
        self.settings = settings
        self.policy = policy or Policy()
        self.bus = bus or EventBus()
        self._snapshot = Snapshot()
        # Serialises snapshot changes with their publication, so a replaying
        # subscriber sees a consistent cut.
        self._lock = threading.Lock()
        self._sync_done = threading.Condition(self._lock)
        self._synced = False
        self.syncs = 0
        self._sync_began = time.monotonic()
        self.last_sync_duration: Optional[float] = None
        self._monitor = Monitor(settings, self)

    @classmethod
    def from_conf(cls, conf, bus: Optional[EventBus] = None) -> 'Agent':
        """Build an agent from an oslo.config object with our options."""
        from df_ovsdb_agent import conf as conf_lib
        return cls(settings=conf_lib.ovsdb_settings(conf),
                   policy=conf_lib.policy(conf), bus=bus)

    # -- library API -------------------------------------------------------

    def subscribe(self, callback: Callback,
                  kinds: Optional[Iterable[Kind]] = None,
                  actions: Optional[Iterable[Action]] = None,
                  name: Optional[str] = None,
                  replay: bool = False) -> Subscription:
        """Subscribe on the bus; with ``replay`` first get the current state.

        Replayed interfaces arrive as ``online`` events before any later
        change, followed by a ``sync finished`` marker when the agent is in
        sync, so a late subscriber needs no separate initial read.
        """
        with self._lock:
            sub = self.bus.subscribe(callback, kinds, actions, name)
            if replay:
                events: list = [InterfaceEvent(Action.ONLINE, interface)
                                for interface in self._snapshot]
                if self._synced:
                    events.append(SYNC_FINISHED)
                sub.offer_many(events)
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        self.bus.unsubscribe(subscription)

    def start(self) -> None:
        """Connect and publish the first sync; raises ``AgentError``."""
        self._monitor.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop monitoring, let subscribers drain, then stop them."""
        self._monitor.stop(timeout)
        self.bus.close(timeout)

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

    @property
    def monitor(self) -> Monitor:
        return self._monitor

    # -- Sink: called from the IDL thread ----------------------------------

    def on_sync_started(self) -> None:
        with self._lock:
            self._synced = False
            self._sync_began = time.monotonic()
            self.bus.publish(SYNC_STARTED)
        LOG.info('OVSDB (re)sync started')

    def on_batch(self, rows: Mapping[str, Optional[RowValues]]) -> None:
        batch = {uuid: classify(row, self.policy) if row is not None
                 else None for uuid, row in rows.items()}
        with self._lock:
            events = self._snapshot.apply(batch)
            if events:
                self.bus.publish_many(events)

    def on_synced(self, rows: Iterable[RowValues]) -> None:
        current = {}
        for row in rows:
            interface = classify(row, self.policy)
            if interface is not None:
                current[row.uuid] = interface
        with self._lock:
            events = self._snapshot.replace(current)
            self.bus.publish_many(events + [SYNC_FINISHED])
            self.last_sync_duration = time.monotonic() - self._sync_began
            self._synced = True
            self.syncs += 1
            self._sync_done.notify_all()
        LOG.info('OVSDB sync finished in %.3fs: %d interfaces online, '
                 '%d events', self.last_sync_duration, len(current),
                 len(events))
