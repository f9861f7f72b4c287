"""Two online VM interfaces claiming one iface-id.

ovn-controller refuses to bind either of them and warns; the agent warns
too (naming both) and counts them, but its events keep describing what
OVSDB says: a controller decides what a conflict means to it.
"""

from typing import Mapping, Optional, Union

from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind


class IfaceIdIndex:
    """iface-id -> the online VM interfaces that carry it."""

    def __init__(self) -> None:
        # iface-id -> its interface, or {uuid: interface} while several
        # carry it: no dict per interface in the common case.
        self._by_id: dict[str, Union[Interface, dict[str, Interface]]] = {}
        self._id_of: dict[str, str] = {}

    @property
    def conflicts(self) -> int:
        """How many iface-ids more than one online interface carries."""
        return sum(1 for vms in self._by_id.values() if type(vms) is dict)

    def apply(self, batch: Mapping[str, Optional[Interface]]
              ) -> list[list[Interface]]:
        """Follow ``batch`` (uuid -> online state, None: not online); return
        the conflicts it started, each as the interfaces sharing one
        iface-id (sorted by name).
        """
        started: dict[str, dict[str, Interface]] = {}
        by_id, id_of = self._by_id, self._id_of
        vm = Kind.VM
        # Nothing to forget when nothing is held (a first sync): one
        # lookup per interface less.
        fresh = not id_of
        for uuid, interface in batch.items():
            if not fresh and uuid in id_of:
                self._forget(uuid)
            if interface is None:
                continue
            iface_id = interface.iface_id
            if not iface_id or interface.kind is not vm:
                continue
            id_of[uuid] = iface_id
            held = by_id.setdefault(iface_id, interface)
            if held is interface:
                continue
            if type(held) is dict:
                held[uuid] = interface
            else:
                assert isinstance(held, Interface)
                held = by_id[iface_id] = {held.uuid: held, uuid: interface}
                started[iface_id] = held
        return [sorted(vms.values(), key=lambda i: i.name)
                for vms in started.values() if len(vms) > 1]

    def _forget(self, uuid: str) -> None:
        iface_id = self._id_of.pop(uuid, None)
        if iface_id is None:
            return
        held = self._by_id[iface_id]
        if type(held) is not dict:
            del self._by_id[iface_id]
            return
        del held[uuid]
        if len(held) == 1:
            # One left: back to the plain form.
            (self._by_id[iface_id],) = held.values()
