"""Cluster-wide interface state, as the publishers leave it in a store.

A *record* is an online interface's JSON form plus its ``host``; stores keep
one per host and interface name, and one *liveness record* per live host.
Consumers turn store changes back into :class:`ClusterEvent` (interfaces),
:class:`ClusterHost` (a host ``up``, ``synced``, ``down``) and
:class:`ClusterSync` (around a (re)read) with the keyed-state rules of
:mod:`df_ovsdb_agent.state`; :class:`Holds` keeps a host's last view while
it may come back (after a store reset, a lease blip).  Semantics:
doc/source/publishers.rst, "Reading the cluster's state".
"""

import dataclasses
import enum
import itertools
import logging
import operator
from typing import Any, Hashable, Iterator, Mapping, Optional

from df_ovsdb_agent.cluster import schema

from df_ovsdb_agent.cluster.stores import record_identity
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent import logsafe
from df_ovsdb_agent.state import diff
from df_ovsdb_agent.state import KeyedState
from df_ovsdb_agent.state import transition

LOG = logging.getLogger(__name__)

OFFLINE = Action.OFFLINE
ONLINE = Action.ONLINE
UPDATED = Action.UPDATED

Record = dict  # Interface.to_dict() plus "host"

Key = tuple[str, str]  # (host, interface name)


def incarnation(alive: dict) -> Hashable:
    """What makes a liveness record the same agent process: another pid or
    start time under one host id is a restart.
    """
    return (alive.get('owner'), alive.get('pid'), alive.get('started'))


class HostState(str, enum.Enum):
    """What a consumer is told about a host as a whole."""

    UP = 'up'
    SYNCED = 'synced'
    DOWN = 'down'


def host_transition(old: Optional[dict],
                    new: Optional[dict]) -> list[HostState]:
    """Host markers that take a viewer who knows liveness record ``old``
    to ``new`` (None: no record, the host is down).
    """
    markers = []
    for action, record in transition(old, new, incarnation):
        if action is Action.OFFLINE:
            # A restart (new incarnation) is "up" again, not "down": the
            # host's interfaces stay where they are.
            if new is None:
                markers.append(HostState.DOWN)
        elif action is Action.ONLINE:
            markers.append(HostState.UP)
            if record.get('synced'):
                markers.append(HostState.SYNCED)
        elif record.get('synced') and not (old or {}).get('synced'):
            markers.append(HostState.SYNCED)
    return markers


@dataclasses.dataclass(frozen=True)
class ClusterEvent:
    """An interface of ``host`` went online, offline or changed.

    ``record`` holds the interface's attributes (its last known ones for
    ``offline``); ``position`` is the store's position of the change when
    it has one (a Redis stream ID), to resume from.
    """

    action: Action
    host: str
    record: Record
    position: Optional[str] = None

    @property
    def name(self) -> str:
        return self.record['name']

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the agent's event keys plus ``host`` (and ``id``)."""
        data = dict(self.record, host=self.host, action=self.action.value)
        if self.position is not None:
            data['id'] = self.position
        return data

    def __str__(self) -> str:
        return '%s %s %s %s ofport=%s' % (
            self.host, self.record.get('kind'), self.action.value, self.name,
            self.record.get('ofport'))


_new = object.__new__
_first = operator.itemgetter(0)
_repeat = itertools.repeat


def cluster_event(action: Action, host: str, record: Record,
                  position: Optional[str] = None) -> ClusterEvent:
    """``ClusterEvent(action, host, record, position)``, about three times
    cheaper: the readers make one per interface event.

    A frozen dataclass's ``__init__`` stores each field through
    ``object.__setattr__``; this one fills the new instance's ``__dict__``
    directly (the same fields, in the same order) before anyone can see
    it.  tests/unit/test_cluster_view.py checks they agree.
    """
    this = _new(ClusterEvent)
    fields = this.__dict__
    fields['action'] = action
    fields['host'] = host
    fields['record'] = record
    fields['position'] = position
    return this


@dataclasses.dataclass(frozen=True)
class ClusterHost:
    """Host ``host`` came up, is synced or went down.

    ``record`` is the host's liveness record (its last known one for
    ``down``).
    """

    host: str
    state: HostState
    record: Optional[dict] = dataclasses.field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {'host': self.host, 'state': self.state.value}

    def __str__(self) -> str:
        return 'host %s %s' % (self.host, self.state.value)


@dataclasses.dataclass(frozen=True)
class ClusterSync:
    """Start or end of a (re)read of the store (see the module docstring)."""

    sync: Sync
    host: Optional[str] = None
    reset: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {'sync': self.sync.value}
        if self.host is not None:
            data['host'] = self.host
        if self.reset:
            data['reset'] = True
        return data

    def __str__(self) -> str:
        return 'sync %s%s%s' % (self.sync.value,
                                ' host=%s' % self.host if self.host else '',
                                ' (reset)' if self.reset else '')


class ClusterView:
    """What a consumer has been told: (host, name) -> record, and host ->
    liveness record.

    Turns store changes and fresh full reads into consistent events: never
    ``offline`` for something not online, never two ``online`` in a row,
    nothing for a record rewritten unchanged.  Not thread-safe; its reader
    owns it.
    """

    def __init__(self) -> None:
        # (host, name) -> record.  A plain dict: update() applies
        # KeyedState's rules inlined (it runs per event; see
        # df_ovsdb_agent.state), replace_quietly() uses state.diff.
        self._interfaces: dict[Key, Record] = {}
        self._hosts: KeyedState[str, dict] = KeyedState(incarnation)
        # host -> its keys, so that one host's read costs its own size,
        # not the whole cluster's.
        self._names: dict[str, set[Key]] = {}

    def __len__(self) -> int:
        return len(self._interfaces)

    def records(self, host: Optional[str] = None) -> list[Record]:
        """The online records, sorted by host and name."""
        return [r for (h, _), r in sorted(self._interfaces.items())
                if host is None or h == host]

    def hosts(self) -> dict[str, dict]:
        """host -> liveness record of the hosts known to be up."""
        return self._hosts.copy()

    def alive(self, host: str) -> Optional[dict]:
        """``host``'s liveness record if it is known to be up, else None."""
        return self._hosts.get(host)

    def names(self, host: str) -> list[Key]:
        """Keys of ``host``'s online interfaces."""
        return sorted(self._names.get(host, ()))

    def host_records(self, host: str) -> dict[Key, Record]:
        """(host, name) -> record of ``host``'s online interfaces (costs
        that host's size, not the cluster's).
        """
        found = {}
        for key in self._names.get(host, ()):
            record = self._interfaces.get(key)
            if record is not None:
                found[key] = record
        return found

    def update(self, batch: Mapping[Key, Optional[Record]],
               position: Optional[str] = None) -> list[ClusterEvent]:
        """Adopt one batch of changes ((host, name) -> record, None: gone),
        offline first.
        """
        values = self._interfaces
        names = self._names
        event = cluster_event
        gone: list[ClusterEvent] = []
        updated: list[ClusterEvent] = []
        came: list[ClusterEvent] = []
        # state.transition() per key and state.ordered(), inlined: offline
        # first, then updated, then online, each in batch order.
        for key, new in batch.items():
            old = values.get(key)
            if new is None:
                if old is not None:
                    del values[key]
                    gone.append(event(OFFLINE, key[0], old, position))
                    keys = names[key[0]]
                    keys.discard(key)
                    if not keys:
                        del names[key[0]]
                continue
            if old is None:
                came.append(event(ONLINE, key[0], new, position))
                host_keys = names.get(key[0])
                if host_keys is None:
                    host_keys = names[key[0]] = set()
                host_keys.add(key)
            elif old != new:
                if record_identity(old) == record_identity(new):
                    updated.append(event(UPDATED, key[0], new, position))
                else:
                    gone.append(event(OFFLINE, key[0], old, position))
                    came.append(event(ONLINE, key[0], new, position))
            values[key] = new
        return gone + updated + came

    def apply(self, host: str, name: str, record: Optional[Record],
              position: Optional[str] = None) -> list[ClusterEvent]:
        """Adopt one interface's new record (None: gone)."""
        return self.update({(host, name): record}, position)

    def replace(self, state: Mapping[Key, Record],
                host: Optional[str] = None,
                reset: bool = False) -> Iterator:
        """Adopt a full read of the store, bracketed by sync markers.

        :param state: (host, name) -> record, for ``host`` only if given.
        :param reset: forget the current view first (it is unreliable).
        """
        yield ClusterSync(Sync.STARTED, host, reset)
        if reset:
            self.forget(host)
        yield from self.replace_quietly(state, host)
        yield ClusterSync(Sync.FINISHED, host, reset)

    def replace_quietly(self, state: Mapping[Key, Record],
                        host: Optional[str] = None) -> list[ClusterEvent]:
        """:meth:`replace` without the sync markers."""
        if host is not None and host not in self._names:
            events = self._adopt(state, host)
            if events is not None:
                return events
        fresh = dict(sorted(state.items()))
        if host is None:
            changes = diff(self._interfaces, fresh, record_identity)
            self._interfaces = fresh
            self._names = {}
            for key in fresh:
                self._names.setdefault(key[0], set()).add(key)
            return [cluster_event(c.action, c.key[0], c.value)
                    for c in changes]
        batch: dict[Key, Optional[Record]] = {
            key: None for key in self.names(host) if key not in fresh}
        batch.update(fresh)
        return self.update(batch)

    def _adopt(self, state: Mapping[Key, Record],
               host: str) -> Optional[list[ClusterEvent]]:
        """:meth:`replace_quietly` of ``host``, of which the view holds
        nothing (a host coming up), when every key of ``state`` is
        ``host``'s and every record is one: an ``online`` for
        each, in key order, as :meth:`update` would give; None (nothing
        changed) if not so.  A cold start's loads: a few C-level passes
        instead of update()'s checks per key.
        """
        keys = sorted(state)
        if not keys or set(map(_first, keys)) != {host}:
            return None
        records = list(map(state.__getitem__, keys))
        if None in records:
            return None
        # No key of ``host`` is in the view: every method that changes
        # it keeps _names the index of _interfaces.
        self._interfaces.update(zip(keys, records))
        self._names[host] = set(keys)
        return list(map(cluster_event, _repeat(ONLINE), _repeat(host),
                        records))

    def set_host(self, host: str,
                 alive: Optional[dict]) -> list[ClusterHost]:
        """Adopt a host's liveness record (None: gone); its markers."""
        old = self._hosts.get(host)
        self._hosts.update({host: alive})
        return [ClusterHost(host, state, alive or old)
                for state in host_transition(old, alive)]

    def replace_hosts(self, hosts: Mapping[str, dict]) -> list[ClusterHost]:
        """Adopt every host's liveness record at once (a full read)."""
        known = self._hosts.copy()
        markers = []
        for host in sorted(set(known) | set(hosts)):
            markers.extend(self.set_host(host, hosts.get(host)))
        return markers

    def forget(self, host: Optional[str] = None) -> None:
        """Drop what the view knows of ``host`` (of everything if None)."""
        if host is None:
            self._interfaces.clear()
            self._names.clear()
            return
        self.update({key: None for key in self.names(host)})


#: ``down_grace`` by default: this fraction of the TTL the host's last
#: liveness record announced (30 s with the publishers' default TTL of
#: 60 s): long enough for a publisher that lost its lease to claim the
#: host again (it retries within ``max_backoff``, 10 s), short enough that
#: a dead host is reported at most TTL x 1.5 after its last refresh.
DOWN_GRACE_TTL_FRACTION = 0.5


class DownHolds:
    """Hosts held because their liveness record vanished (``down_grace``),
    counted: how many were held, how many came back synced within it.
    """

    def __init__(self, down_grace: Optional[float] = None) -> None:
        """:param down_grace: seconds to hold such a host; None: half the
            TTL its last liveness record announced
            (:data:`DOWN_GRACE_TTL_FRACTION`); 0: never hold it.
        """
        self.down_grace = (None if down_grace is None
                           else max(0.0, down_grace))
        self.held = 0
        self.ridden = 0
        self._hosts: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether a host whose liveness record vanished is held at all."""
        return self.down_grace != 0

    def grace(self, alive: Optional[dict], default: float) -> float:
        """Seconds to hold a host whose last liveness record was ``alive``
        (``default``: its TTL when the record gives none).
        """
        if self.down_grace is not None:
            return self.down_grace
        return schema.grace(alive, default) * DOWN_GRACE_TTL_FRACTION

    def start(self, host: str, grace: float) -> None:
        """``host`` is now held for ``grace`` seconds."""
        self.held += 1
        self._hosts.add(host)
        LOG.info('Liveness record of host %s is gone; keeping its view for '
                 '%.1fs in case it comes back', logsafe.safe(host), grace)

    def end(self, host: str, synced: bool) -> None:
        """``host``'s hold ended (it came back synced, or its grace
        passed); a no-op for a host not held for being down.
        """
        if host in self._hosts:
            self._hosts.discard(host)
            self.ridden += synced

    def drop(self, host: str) -> None:
        """Forget ``host`` without counting it (it went down for good)."""
        self._hosts.discard(host)


class Holds:
    """Hosts whose last view is kept until they re-synced or their grace
    passed (see the module docstring).  Pure bookkeeping; the reader owns
    it.
    """

    def __init__(self, default_grace: float) -> None:
        """:param default_grace: seconds, for a host whose liveness record
            gives no ``ttl``.
        """
        self.default_grace = default_grace
        self._deadlines: dict[str, float] = {}

    def __contains__(self, host: object) -> bool:
        return host in self._deadlines

    def __len__(self) -> int:
        return len(self._deadlines)

    def hosts(self) -> list[str]:
        return sorted(self._deadlines)

    def hold(self, host: str, alive: Optional[dict], now: float,
             grace: Optional[float] = None) -> bool:
        """Hold ``host`` (last liveness record ``alive``) from ``now`` for
        ``grace`` seconds (default: the record's ``ttl``); whether it was
        not held already (a held host keeps its deadline).
        """
        if host in self._deadlines:
            return False
        if grace is None:
            grace = schema.grace(alive, self.default_grace)
        self._deadlines[host] = now + grace
        return True

    def release(self, host: str) -> None:
        self._deadlines.pop(host, None)

    def due(self, now: float) -> list[str]:
        """The held hosts whose grace has passed at ``now``."""
        return sorted(h for h, t in self._deadlines.items() if t <= now)

    def next_deadline(self) -> Optional[float]:
        return min(self._deadlines.values(), default=None)
