"""Two online VM interfaces claiming one iface-id.

ovn-controller refuses to bind either of them and warns; the agent warns
too (naming both) and counts them, but its events keep describing what
OVSDB says: a controller decides what a conflict means to it.
"""

from typing import Mapping, Optional

from df_ovsdb_agent.events import Interface
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

    def apply(self, batch: Mapping[str, Optional[Interface]]
              ) -> list[list[Interface]]:
        """Follow ``batch`` (uuid -> online state, None: not online); return
        the conflicts it started, each as the interfaces sharing one
        iface-id (sorted by name).
        """
        started = {}
        by_id, id_of = self._by_id, self._id_of
        for uuid, interface in batch.items():
            if uuid in id_of:
                self._forget(uuid)
            if (interface is None or interface.kind is not Kind.VM or
                    not interface.iface_id):
                continue
            vms = by_id.setdefault(interface.iface_id, {})
            vms[uuid] = interface
            id_of[uuid] = interface.iface_id
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
