"""Two online VM interfaces claiming one iface-id.

ovn-controller refuses to bind either of them and warns; the agent warns
too (naming both) and counts them, but its events keep describing what
OVSDB says: a controller decides what a conflict means to it.
"""

from typing import Iterable

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind


class IfaceIdIndex:
    """iface-id -> the online VM interfaces that carry it."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Interface]] = {}
        self._id_of: dict[str, str] = {}

    @property
    def conflicts(self) -> int:
        """How many iface-ids more than one online interface carries."""
        return sum(1 for vms in self._by_id.values() if len(vms) > 1)

    def apply(self, events: Iterable[InterfaceEvent]
              ) -> list[list[Interface]]:
        """Follow ``events``; return the conflicts they started, each as
        the interfaces sharing one iface-id (sorted by name).
        """
        started = {}
        for event in events:
            self._forget(event.uuid)
            interface = event.interface
            if (event.action is Action.OFFLINE or
                    interface.kind is not Kind.VM or not interface.iface_id):
                continue
            vms = self._by_id.setdefault(interface.iface_id, {})
            vms[event.uuid] = interface
            self._id_of[event.uuid] = interface.iface_id
            if len(vms) == 2:
                started[interface.iface_id] = vms
        return [sorted(vms.values(), key=lambda i: i.name)
                for iface_id, vms in started.items() if len(vms) > 1]

    def _forget(self, uuid: str) -> None:
        iface_id = self._id_of.pop(uuid, None)
        if iface_id is not None:
            vms = self._by_id[iface_id]
            del vms[uuid]
            if not vms:
                del self._by_id[iface_id]
