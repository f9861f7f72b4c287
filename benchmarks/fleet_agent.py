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

With ``inline=True`` the bus is an :class:`InlineBus`: the events reach the
publisher's callback in the publishing thread instead of from a thread of
their own.  A real agent has one bus thread per subscriber on its own
machine; thousands of simulated hosts in one process would multiply them
(a thread per host, all runnable at once in a cold start) for no part of
the publisher: its callback only records the desired state and never
blocks, and it sees the same events in the same order.
"""

import logging
import threading
import time
from typing import Callable, Iterable, Mapping, Optional, Union

from df_ovsdb_agent.bus import Callback
from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.bus import Subscription
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.events import SYNC_STARTED
from df_ovsdb_agent.snapshot import Snapshot

LOG = logging.getLogger(__name__)

#: Called with (monotonic time, the interface events) of every commit.
Recorder = Callable[[float, list], None]


class InlineSubscription:
    """A subscriber called in the publishing thread (see the module
    docstring); the part of :class:`~df_ovsdb_agent.bus.Subscription`
    publishers use.
    """

    def __init__(self, callback: Callback, kinds: Optional[frozenset],
                 actions: Optional[frozenset], name: str) -> None:
        self.callback = callback
        self.kinds = kinds
        self.actions = actions
        self.name = name
        self.errors = 0
        self.delivered = 0
        self.closed = False

    @property
    def backlog(self) -> int:
        return 0

    def offer_many(self, events) -> None:
        for event in events:
            if self.closed:
                return
            if isinstance(event, InterfaceEvent) and (
                    (self.kinds is not None and
                     event.kind not in self.kinds) or
                    (self.actions is not None and
                     event.action not in self.actions)):
                continue
            try:
                self.callback(event)
                self.delivered += 1
            except Exception:
                self.errors += 1
                LOG.exception('Subscriber %s failed', self.name)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Always idle: delivery is done when ``publish`` returns."""
        return True


class InlineBus:
    """The :class:`~df_ovsdb_agent.bus.EventBus` surface publishers and
    the synthetic agent use, delivering in the publishing thread.
    """

    def __init__(self) -> None:
        self._subscriptions: list[InlineSubscription] = []
        self.published = 0

    def subscribe(self, callback: Callback,
                  kinds: Optional[Iterable[Kind]] = None,
                  actions: Optional[Iterable[Action]] = None,
                  name: Optional[str] = None, *,
                  current: Optional[Mapping[str, Interface]] = None,
                  replay: bool = False,
                  synced: bool = False) -> InlineSubscription:
        """As :meth:`EventBus.subscribe` (no ``bridges``)."""
        sub = InlineSubscription(
            callback,
            frozenset(Kind(k) for k in kinds) if kinds is not None else None,
            (frozenset(Action(a) for a in actions)
             if actions is not None else None),
            name or repr(callback))
        if current is not None and replay:
            events: list = [InterfaceEvent(Action.ONLINE, interface)
                            for interface in current.values()]
            if synced:
                events.append(SYNC_FINISHED)
            sub.offer_many(events)
        self._subscriptions = self._subscriptions + [sub]
        return sub

    def unsubscribe(self, subscription: InlineSubscription,
                    timeout: Optional[float] = 5.0) -> None:
        self._subscriptions = [s for s in self._subscriptions
                               if s is not subscription]
        subscription.closed = True

    @property
    def subscriptions(self) -> list:
        return list(self._subscriptions)

    def publish(self, event) -> None:
        self.publish_many([event])

    def publish_many(self, events: list) -> None:
        self.published += len(events)
        for sub in self._subscriptions:
            sub.offer_many(events)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        return True

    def close(self, timeout: Optional[float] = 5.0) -> None:
        for sub in self.subscriptions:
            self.unsubscribe(sub)


class SyntheticAgent:
    """What a publisher sees of an agent, driven by method calls."""

    def __init__(self, host: str, owner_id: Optional[str] = None,
                 restored: Optional[Mapping[str, Interface]] = None,
                 recorder: Optional[Recorder] = None,
                 inline: bool = False) -> None:
        """:param restored: uuid -> Interface the agent starts from, as a
            real agent restores its state file.
        :param recorder: told of every commit's interface events.
        :param inline: deliver events in the publishing thread
            (:class:`InlineBus`) instead of a thread per subscriber.
        """
        self.host = host
        self.owner_id = owner_id
        self.bus: Union[EventBus, InlineBus] = (
            InlineBus() if inline else EventBus())
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
                  replay: bool = False
                  ) -> Union[Subscription, InlineSubscription]:
        """As :meth:`Agent.subscribe`: with ``replay`` the current state as
        ``online`` events, then ``sync finished`` when synced.
        """
        with self._lock:
            return self.bus.subscribe(
                callback, kinds, actions, name,
                current=self._snapshot.copy(), replay=replay,
                synced=self._synced)

    def unsubscribe(self, subscription) -> None:
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
