"""The agent's own record of what it has published.

python-ovs forgets its rows on reconnect without telling anyone, so the
only reliable source of ``offline`` events after a resync is a diff between
what was published and what the fresh dump says.
"""

from typing import Iterator, Mapping, Optional

from df_ovsdb_agent.classifier import transition
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent


def diff(old: Mapping[str, Interface],
         new: Mapping[str, Interface]) -> list[InterfaceEvent]:
    """Events that turn the ``old`` view (uuid -> Interface) into ``new``.

    Offline events come first so that a consumer never sees a name or an
    ofport used twice at once.
    """
    events = []
    for uuid, interface in old.items():
        if uuid not in new:
            events.extend(transition(interface, None))
    for uuid, interface in new.items():
        events.extend(transition(old.get(uuid), interface))
    return events


class Snapshot:
    """Last published state, uuid -> online :class:`Interface`.

    Not thread-safe by itself; the agent serialises access.
    """

    def __init__(self) -> None:
        self._online: dict[str, Interface] = {}

    def __len__(self) -> int:
        return len(self._online)

    def __iter__(self) -> Iterator[Interface]:
        return iter(self._online.values())

    def get(self, uuid: str) -> Optional[Interface]:
        return self._online.get(uuid)

    def apply(self, uuid: str,
              new: Optional[Interface]) -> list[InterfaceEvent]:
        """Record one interface's new state and return the events for it."""
        events = transition(self._online.get(uuid), new)
        if new is None:
            self._online.pop(uuid, None)
        else:
            self._online[uuid] = new
        return events

    def replace(self, current: Mapping[str, Interface]) -> list[InterfaceEvent]:
        """Adopt a complete fresh view and return the events to get there."""
        events = diff(self._online, current)
        self._online = dict(current)
        return events
