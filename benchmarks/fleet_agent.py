"""A synthetic agent: the public surface of Agent, fed by the benchmark.

Publishers see the same API as :class:`df_ovsdb_agent.agent.Agent` gives
them (``bus``, ``subscribe``/``unsubscribe`` with ``replay``,
``interfaces()``, ``synced``, ``syncs``, ``host``, ``owner_id``), with
the same semantics, but the state comes from :meth:`SyntheticAgent.sync`
and :meth:`SyntheticAgent.batch` instead of OVSDB.  The state goes through
the real :class:`~df_ovsdb_agent.snapshot.Snapshot` and
:class:`~df_ovsdb_agent.bus.EventBus`, so a publisher gets exactly the
events a real agent would publish for the same OVSDB changes.

Every change is stamped (``CLOCK_MONOTONIC``, system-wide) at the moment
it is published, which is what the fleet benchmark measures consumer lag
from.
"""

import threading
import time
from typing import Callable, Iterable, Mapping, Optional

from df_ovsdb_agent.bus import Callback
from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.bus import Subscription
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.events import SYNC_STARTED
from df_ovsdb_agent.snapshot import Snapshot

#: Called with (monotonic time, the interface events) of every commit.
Recorder = Callable[[float, list], None]


class SyntheticAgent:
    """What a publisher sees of an agent, driven by method calls."""

    def __init__(self, host: str, owner_id: Optional[str] = None,
                 restored: Optional[Mapping[str, Interface]] = None,
                 recorder: Optional[Recorder] = None) -> None:
        """:param restored: uuid -> Interface the agent starts from, as a
            real agent restores its state file.
        :param recorder: told of every commit's interface events.
        """
        self.host = host
        self.owner_id = owner_id
        self.bus = EventBus()
        self._snapshot = Snapshot(restored)
        self._recorder = recorder
        # As in Agent: serialises snapshot changes with their publication,
        # so a replaying subscriber sees a consistent cut.
        self._lock = threading.Lock()
        self._synced = False
        self.syncs = 0

    # -- the Agent surface publishers use ---------------------------------

    def subscribe(self, callback: Callback,
                  kinds: Optional[Iterable[Kind]] = None,
                  actions: Optional[Iterable[Action]] = None,
                  name: Optional[str] = None,
                  replay: bool = False) -> Subscription:
        """As :meth:`Agent.subscribe`: with ``replay`` the current state as
        ``online`` events, then ``sync finished`` when synced.
        """
        with self._lock:
            return self.bus.subscribe(
                callback, kinds, actions, name,
                current=self._snapshot.copy(), replay=replay,
                synced=self._synced)

    def unsubscribe(self, subscription: Subscription) -> None:
        self.bus.unsubscribe(subscription)

    @property
    def synced(self) -> bool:
        return self._synced

    def interfaces(self, kind: Optional[Kind] = None) -> list[Interface]:
        with self._lock:
            return [i for i in self._snapshot
                    if kind is None or i.kind == kind]

    def state(self) -> dict[str, Interface]:
        """uuid -> Interface currently online (a copy)."""
        with self._lock:
            return self._snapshot.copy()

    # -- driving it ---------------------------------------------------------

    def sync(self, full_state: Mapping[str, Interface]) -> list:
        """A complete (re)sync with OVSDB: ``sync started``, the diff from
        the current state, ``sync finished``.  Returns the diff's events.
        """
        with self._lock:
            self._synced = False
            self.bus.publish(SYNC_STARTED)
        with self._lock:
            events = self._snapshot.replace(dict(full_state))
            self._record(events)
            self.bus.publish_many(events + [SYNC_FINISHED])
            self._synced = True
            self.syncs += 1
        return events

    def batch(self, rows: Mapping[str, Optional[Interface]]) -> list:
        """One committed OVSDB transaction: uuid -> Interface (None: gone
        or not an interface any more).  Returns its events.
        """
        with self._lock:
            events = self._snapshot.apply(rows)
            if events:
                self._record(events)
                self.bus.publish_many(events)
        return events

    def stop(self, timeout: float = 5.0) -> None:
        """As :meth:`Agent.stop`: let subscribers drain, then stop them."""
        self.bus.close(timeout)

    def _record(self, events: list) -> None:
        if self._recorder is not None and events:
            self._recorder(time.monotonic(), events)
