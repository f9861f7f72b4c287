"""The agent's record of what it has published: uuid -> online Interface.

A reconnect or an agent restart loses the server's deletes, so ``offline``
after a resync can only come from comparing what was published (possibly
restored from disk, see :mod:`df_ovsdb_agent.persist`) with the fresh dump.
"""

from typing import Iterable, Iterator, Mapping, Optional

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import changed_attributes
from df_ovsdb_agent.events import identity
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.state import Change
from df_ovsdb_agent.state import diff as state_diff
from df_ovsdb_agent.state import KeyedState

# uuid -> new state (None: not online), offline first: what the agent hands
# its bus, which makes each subscriber's events from it.
Batch = dict[str, Optional[Interface]]


def to_events(changes: Iterable[Change]) -> list[InterfaceEvent]:
    """The interface events of ``changes`` of interface states; an
    ``updated`` one says which attributes changed.
    """
    return [InterfaceEvent(change.action, change.value,
                           changed_attributes(change.previous, change.value)
                           if change.action is Action.UPDATED
                           else frozenset())
            for change in changes]


def diff(old: Mapping[str, Interface],
         new: Mapping[str, Interface]) -> list[InterfaceEvent]:
    """Events that turn the ``old`` view (uuid -> Interface) into ``new``.

    Offline first.
    """
    return to_events(state_diff(old, new, identity))


class Snapshot:
    """Last published state, uuid -> online :class:`Interface`.

    Not thread-safe by itself; the agent serialises access.
    """

    def __init__(self, initial: Optional[Mapping[str, Interface]] = None):
        self._state: KeyedState[str, Interface] = KeyedState(identity,
                                                             initial)

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[Interface]:
        return iter(self._state)

    def get(self, uuid: str) -> Optional[Interface]:
        return self._state.get(uuid)

    def copy(self) -> dict[str, Interface]:
        return self._state.copy()

    def commit(self, batch: Mapping[str, Optional[Interface]]) -> Batch:
        """Record one transaction (uuid -> new state, None: not online);
        return the part of it that changed anything, offline first.
        """
        return self._state.commit(batch)

    def adopt(self, current: Mapping[str, Interface]) -> Batch:
        """Adopt a complete fresh view; return the changes to it as a
        batch (uuid -> new state, None: gone), offline first.
        """
        return self._state.adopt(current)

    def apply(self, batch: Mapping[str, Optional[Interface]]
              ) -> list[InterfaceEvent]:
        """:meth:`commit`, returning the events of one viewer who saw
        every change (tests and the synthetic fleet agent use it).
        """
        return to_events(self._state.update(batch))

    def replace(self, current: Mapping[str, Interface]
                ) -> list[InterfaceEvent]:
        """:meth:`adopt`, returning the events to get there."""
        return to_events(self._state.replace(current))
