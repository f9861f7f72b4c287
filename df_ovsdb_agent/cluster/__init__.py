"""Cluster-wide interface state, as the publishers leave it in a store.

A *record* is the JSON form of an online interface (see
:meth:`df_ovsdb_agent.events.Interface.to_dict`) plus its ``host``.  Stores
keep one record per host and interface name; consumers turn store changes
back into events with the same rules the agent uses:

- :class:`ClusterEvent` -- an interface of some host went online, offline
  or was updated;
- :class:`ClusterSync` -- brackets a (re)read of the store; after
  ``finished`` the consumer's view equals the store's.  With ``reset`` the
  events in between are the *whole* state, not a diff: the consumer could
  not bridge a gap (e.g. a Redis stream trimmed past its position) and must
  forget what it knew of that host (of every host when ``host`` is None).

Backends: :mod:`df_ovsdb_agent.cluster.etcd`,
:mod:`df_ovsdb_agent.cluster.redis`.
"""

import dataclasses
from typing import Any, Iterator, Optional

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Sync

Record = dict  # Interface.to_dict() plus "host"


def record_changes(old: Optional[Record],
                   new: Optional[Record]) -> list[tuple[Action, Record]]:
    """(action, record) pairs that take a viewer who knows ``old`` to ``new``.

    Mirrors :func:`df_ovsdb_agent.classifier.transition`: a name reused by
    another interface (new uuid) or kind is an ``offline`` then ``online``.
    """
    if old is None:
        return [] if new is None else [(Action.ONLINE, new)]
    if new is None:
        return [(Action.OFFLINE, old)]
    identity = ('uuid', 'kind')
    if any(old.get(key) != new.get(key) for key in identity):
        return [(Action.OFFLINE, old), (Action.ONLINE, new)]
    if old != new:
        return [(Action.UPDATED, new)]
    return []


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
    """What a consumer has been told: (host, name) -> record.

    Turns store changes and fresh full reads into consistent events: never
    ``offline`` for something not online, never two ``online`` in a row.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], Record] = {}

    def __len__(self) -> int:
        return len(self._known)

    def records(self, host: Optional[str] = None) -> list[Record]:
        return [r for (h, _), r in sorted(self._known.items())
                if host is None or h == host]

    def apply(self, host: str, name: str, record: Optional[Record],
              position: Optional[str] = None) -> list[ClusterEvent]:
        """Adopt one interface's new record (None: gone)."""
        key = (host, name)
        events = [ClusterEvent(action, host, rec, position)
                  for action, rec in record_changes(self._known.get(key),
                                                    record)]
        if record is None:
            self._known.pop(key, None)
        else:
            self._known[key] = record
        return events

    def replace(self, state: dict[tuple[str, str], Record],
                host: Optional[str] = None,
                reset: bool = False) -> Iterator:
        """Adopt a full read of the store, bracketed by sync markers.

        :param state: (host, name) -> record, for ``host`` only if given.
        :param reset: forget the current view first (it is unreliable).
        """
        yield ClusterSync(Sync.STARTED, host, reset)
        if reset:
            self.forget(host)
        mine = [k for k in self._known if host is None or k[0] == host]
        # Offline first, so no name is ever online twice at once.
        for key in mine:
            if key not in state:
                yield from self.apply(key[0], key[1], None)
        for (h, name), record in sorted(state.items()):
            yield from self.apply(h, name, record)
        yield ClusterSync(Sync.FINISHED, host, reset)

    def forget(self, host: Optional[str] = None) -> None:
        for key in [k for k in self._known if host is None or k[0] == host]:
            del self._known[key]
