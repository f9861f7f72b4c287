"""In-process event bus with per-subscriber ordered, coalescing delivery.

Each subscriber gets its own worker thread, so a slow or failing subscriber
holds up nobody else, and :meth:`EventBus.publish` never blocks on one.

Nothing is dropped and memory stays bounded: a subscriber's backlog holds at
most one entry per interface (its latest state) plus two sync markers.  When
a subscriber falls behind, successive changes of one interface collapse into
the net change *relative to what that subscriber was last told*, computed by
the same :class:`~df_ovsdb_agent.state.KeyedState` the agent's snapshot
uses (offline first within each batch taken).  So a
subscriber may skip intermediate states it never saw, but never misses a
final state, never sees ``offline`` for something it was not told was
online, and never sees two ``online`` without an ``offline`` between them.
"""

import collections
import logging
import threading
import time
from typing import Callable, Iterable, Mapping, Optional

from df_ovsdb_agent.deadline import remaining
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Event
from df_ovsdb_agent.events import identity
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.snapshot import to_events
from df_ovsdb_agent.state import KeyedState

LOG = logging.getLogger(__name__)

Callback = Callable[[Event], None]

# Backlog entries a worker takes per wake-up.
BATCH = 256

_STARTED = ('sync', Sync.STARTED)
_FINISHED = ('sync', Sync.FINISHED)


class Subscription:
    """One subscriber's backlog and worker; returned by ``subscribe``."""

    def __init__(self, callback: Callback, kinds: Optional[frozenset],
                 actions: Optional[frozenset], name: str,
                 bridges: Optional[frozenset] = None) -> None:
        self.callback = callback
        self.kinds = kinds
        self.actions = actions
        self.bridges = bridges
        self.name = name
        self.errors = 0
        # monotonic time of the last exception of the callback, if any.
        self.last_error: Optional[float] = None
        self.delivered = 0
        # key (uuid, or a sync marker tuple) -> latest value, in arrival
        # order of each key's most recent change.
        self._pending: collections.OrderedDict = collections.OrderedDict()
        # uuid -> Interface this subscriber was last told is online.
        self._known: KeyedState[str, Interface] = KeyedState(identity)
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='df-ovsdb-bus-%s' % name)

    @property
    def backlog(self) -> int:
        """Entries waiting for delivery (bounded, see module docstring)."""
        return len(self._pending)

    def _start(self) -> None:
        self._thread.start()

    def assume(self, state: Mapping[str, Interface]) -> None:
        """Treat ``state`` (uuid -> Interface) as already told: later
        changes are reported relative to it.
        """
        with self._cond:
            self._known = KeyedState(identity)
            self._known.update({uuid: value for uuid, value in state.items()
                                if self.bridges is None or
                                value.bridge in self.bridges})

    def offer(self, event: Event) -> None:
        """Queue ``event`` for this subscriber only (used for replays)."""
        self.offer_many((event,))

    def offer_many(self, events: Iterable[Event]) -> None:
        """Queue ``events`` in order, taking the lock and waking once."""
        with self._cond:
            if self._closed:
                return
            for event in events:
                if isinstance(event, InterfaceEvent):
                    self._offer_state(event)
                else:
                    self._offer_sync(event.sync)
            self._cond.notify()

    def _offer_state(self, event: InterfaceEvent) -> None:
        latest = None if event.action is Action.OFFLINE else event.interface
        self._pending[event.uuid] = latest
        self._pending.move_to_end(event.uuid)

    def _offer_sync(self, sync: Sync) -> None:
        # Overlapping resyncs merge into one started...finished window so a
        # stuck subscriber holds at most one of each marker.
        if sync is Sync.STARTED:
            if _FINISHED in self._pending:
                del self._pending[_FINISHED]
            elif _STARTED not in self._pending:
                self._pending[_STARTED] = SyncEvent(Sync.STARTED)
        else:
            self._pending[_FINISHED] = SyncEvent(Sync.FINISHED)

    def _next_events(self) -> Optional[list]:
        """Wait for backlog entries and turn up to a batch into events.

        Taking a batch per wake-up keeps lock traffic with the publisher
        low during a sync; the batch is small enough that coalescing still
        works for a subscriber that lags.  None once closed.
        """
        with self._cond:
            self._busy = False
            self._cond.notify_all()
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            self._busy = True
            events: list = []
            batch: dict = {}
            for _ in range(min(BATCH, len(self._pending))):
                key, value = self._pending.popitem(last=False)
                if isinstance(value, SyncEvent):
                    events.extend(self._told(batch))
                    batch = {}
                    events.append(value)
                else:
                    batch[key] = value
            events.extend(self._told(batch))
            return events

    def _told(self, batch: dict) -> list:
        """Events that tell this subscriber ``batch`` (uuid -> state)."""
        if self.bridges is not None:
            # Outside the chosen bridges an interface is not online for
            # this subscriber: moving out is offline, moving in online.
            batch = {uuid: value if value is None or
                     value.bridge in self.bridges else None
                     for uuid, value in batch.items()}
        return [e for e in to_events(self._known.update(batch))
                if self._wants(e)]

    def _wants(self, event: InterfaceEvent) -> bool:
        return ((self.kinds is None or event.kind in self.kinds) and
                (self.actions is None or event.action in self.actions))

    def _run(self) -> None:
        while True:
            events = self._next_events()
            if events is None:
                return
            for event in events:
                self._deliver(event)

    def _deliver(self, event: Event) -> None:
        try:
            self.callback(event)
        except Exception:
            self.errors += 1
            self.last_error = time.monotonic()
            LOG.exception('Subscriber %s failed on event "%s"; it keeps '
                          'receiving events', self.name, event)
        self.delivered += 1

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything offered so far has been delivered."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or not (self._pending or self._busy),
                timeout)

    def _close(self, timeout: Optional[float]) -> None:
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


class EventBus:
    """Fan events out to subscribers; thread-safe, eventlet-compatible."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def subscribe(self, callback: Callback,
                  kinds: Optional[Iterable[Kind]] = None,
                  actions: Optional[Iterable[Action]] = None,
                  name: Optional[str] = None,
                  bridges: Optional[Iterable[str]] = None, *,
                  current: Optional[Mapping[str, Interface]] = None,
                  replay: bool = False,
                  synced: bool = False) -> Subscription:
        """Deliver future events to ``callback`` from a dedicated thread.

        :param kinds: only interface events of these kinds (default: all).
        :param actions: only these actions (default: all).
        :param bridges: only interfaces on these bridges (default: all);
            an interface that moves to another bridge goes ``offline``.
        :param current: the publisher's state now (uuid -> Interface):
            later events are told relative to it, or, with ``replay``, it
            is delivered first as ``online`` events (then ``sync finished``
            when ``synced``).  The caller keeps it from changing meanwhile.

        Sync markers are delivered to every subscriber.
        """
        label = name if name else str(getattr(callback, '__qualname__',
                                              repr(callback)))
        sub = Subscription(
            callback,
            frozenset(Kind(k) for k in kinds) if kinds is not None else None,
            (frozenset(Action(a) for a in actions)
             if actions is not None else None),
            label, frozenset(bridges) if bridges is not None else None)
        if current is not None and not replay:
            sub.assume(current)
        elif current is not None:
            events: list = [InterfaceEvent(Action.ONLINE, interface)
                            for interface in current.values()]
            if synced:
                events.append(SyncEvent(Sync.FINISHED))
            sub.offer_many(events)
        sub._start()
        with self._lock:
            self._subscriptions = self._subscriptions + [sub]
        return sub

    def unsubscribe(self, subscription: Subscription,
                    timeout: Optional[float] = 5.0) -> None:
        """Stop delivering to a subscriber; its backlog is discarded."""
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions
                                   if s is not subscription]
        subscription._close(timeout)

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every subscriber; never blocks on them."""
        self.publish_many([event])

    def publish_many(self, events: list) -> None:
        """Queue ``events`` in order for every subscriber (one wake-up)."""
        self.published += len(events)
        # Copy-on-write list: publishing needs no lock against subscribe.
        for sub in self._subscriptions:
            sub.offer_many(events)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Wait until every subscriber has caught up (or ``timeout``, for
        all of them together).
        """
        left = remaining(timeout)
        for sub in self.subscriptions:
            if not sub.wait_idle(left()):
                return False
        return True

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Give subscribers ``timeout`` seconds in all to drain, then stop
        them (a subscriber still busy then is left to finish alone).
        """
        left = remaining(timeout)
        self.wait_idle(left())
        for sub in self.subscriptions:
            self.unsubscribe(sub, left())
