"""The agent's record of what it has published: uuid -> online Interface.

python-ovs forgets its rows on reconnect without telling anyone, and an
agent restart forgets everything, so the only reliable source of
``offline`` events after a resync is a diff between what was published
(possibly restored from disk, see :mod:`df_ovsdb_agent.persist`) and what
the fresh dump says.
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

    def apply(self, batch: Mapping[str, Optional[Interface]]
              ) -> list[InterfaceEvent]:
        """Record one transaction and return its events, offline first.

        ``batch`` maps uuid -> new state (None: not online).
        """
        return to_events(self._state.update(batch))

    def replace(self, current: Mapping[str, Interface]
                ) -> list[InterfaceEvent]:
        """Adopt a complete fresh view and return the events to get there."""
        return to_events(self._state.replace(current))
