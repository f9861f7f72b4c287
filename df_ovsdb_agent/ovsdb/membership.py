"""Which bridge holds each interface: ``Bridge.ports`` -> ``Port.interfaces``.

Kept incrementally from the replica, so a transaction that adds one port
costs work proportional to the rows it touched, not to the whole switch;
:meth:`Membership.update` says which interfaces may have moved, so the
monitor reports them with the transaction that moved them.
"""

from itertools import chain
from itertools import repeat
import re
from typing import Any, Iterable, Iterator, Mapping, Optional

BRIDGE = 'Bridge'
PORT = 'Port'

EMPTY: frozenset = frozenset()
_ONE = {1}

# Bridge.datapath_id as ovs-vswitchd writes it: 16 hex digits.
DATAPATH_ID = re.compile(r'^[0-9a-fA-F]{16}$')


def parse_datapath_id(value: Any) -> Optional[int]:
    """The OpenFlow datapath id a ``Bridge.datapath_id`` value names, or
    None (unset yet, or not 16 hex digits: the value is not trusted).
    """
    if isinstance(value, str) and DATAPATH_ID.match(value):
        return int(value, 16)
    return None


class Membership:
    """interface uuid -> port uuid -> bridge uuid -> bridge name."""

    def __init__(self) -> None:
        self._bridge_name: dict[str, str] = {}
        self._bridge_ports: dict[str, frozenset] = {}
        self._port_bridge: dict[str, str] = {}
        self._port_ifaces: dict[str, frozenset] = {}
        self._iface_port: dict[str, str] = {}
        self._bridge_dpid: dict[str, Optional[int]] = {}
        # bridge name -> datapath id; replaced, never changed in place, so
        # other threads may read it without a lock.
        self.datapath_ids: Mapping[str, int] = {}

    def bridge_of(self, iface: str) -> Optional[str]:
        """The name of the bridge holding interface ``iface``, or None."""
        port = self._iface_port.get(iface)
        bridge = self._port_bridge.get(port) if port is not None else None
        return self._bridge_name.get(bridge) if bridge is not None else None

    def bridges_of(self, ifaces: Iterable[str]) -> Iterator[Optional[str]]:
        """:meth:`bridge_of` of each interface, in order, by C-level
        iteration (a sync asks for every interface at once).
        """
        # get(None) is None: no key is None.
        ports: Iterator[Any] = map(self._iface_port.get, ifaces)
        bridges: Iterator[Any] = map(self._port_bridge.get, ports)
        return map(self._bridge_name.get, bridges)

    def rebuild(self, bridges: Mapping[str, Mapping],
                ports: Mapping[str, Mapping]) -> None:
        """Start over from complete Bridge and Port tables (a sync)."""
        self.rebuild_from(bridges, {uuid: row['interfaces']
                                    for uuid, row in ports.items()})

    def rebuild_from(self, bridges: Mapping[str, Mapping],
                     port_interfaces: Mapping[str, Iterable[str]]) -> None:
        """:meth:`rebuild` from the Bridge rows and the Port table's
        ``interfaces`` column alone (port uuid -> interface uuids): a sync
        of thousands of ports then costs one loop over their interfaces.
        """
        for index in (self._bridge_name, self._bridge_ports,
                      self._port_bridge, self._port_ifaces,
                      self._iface_port, self._bridge_dpid):
            index.clear()
        # The Bridge rows adopted as update() would adopt them, without
        # collecting the interfaces that moved (a rebuild reports every
        # interface anyway): that took one Python step per port.
        port_bridge = self._port_bridge
        for uuid, row in bridges.items():
            ports = frozenset(row['ports'])
            self._bridge_ports[uuid] = ports
            self._bridge_name[uuid] = row['name']
            self._bridge_dpid[uuid] = parse_datapath_id(
                row.get('datapath_id'))
            # A port listed by two bridges: the later one wins, as in
            # update().
            port_bridge.update(dict.fromkeys(ports, uuid))
        # Always, with no bridge too: a resync after every bridge was
        # deleted must not keep the old datapath ids.
        self._index_datapath_ids()
        port_ifaces, iface_port = self._port_ifaces, self._iface_port
        port_ifaces.update(zip(port_interfaces,
                               map(frozenset, port_interfaces.values())))
        # iface -> port for every pair, in one C-level pass (a port listed
        # later wins, as the loop over the ports would have it).
        sets = port_ifaces.values()
        if set(map(len, sets)) == _ONE:
            # Every port holds one interface (a VM port): the ports are
            # the second column as they are, no repeat() per port.
            iface_port.update(zip(chain.from_iterable(sets), port_ifaces))
            return
        iface_port.update(zip(chain.from_iterable(sets), chain.from_iterable(
            map(repeat, port_ifaces, map(len, sets)))))

    def update(self, bridges: Mapping[str, Mapping],
               ports: Mapping[str, Mapping],
               touched_bridges: Iterable[str] = (),
               touched_ports: Iterable[str] = ()) -> set[str]:
        """Follow changed Bridge and Port rows (absent from the tables:
        deleted); return the interfaces whose bridge may have changed.
        """
        moved_ports: set[str] = set()
        touched_bridges = list(touched_bridges)
        for uuid in touched_bridges:
            moved_ports |= self._bridge(uuid, bridges.get(uuid))
        if touched_bridges:
            self._index_datapath_ids()
        moved: set[str] = set()
        for uuid in touched_ports:
            moved |= self._port(uuid, ports.get(uuid))
        for port in moved_ports:
            moved |= self._port_ifaces.get(port, EMPTY)
        return moved

    def _bridge(self, uuid: str, row: Optional[Mapping]) -> set[str]:
        """Adopt one Bridge row; the ports whose bridge may have changed."""
        old = self._bridge_ports.get(uuid, EMPTY)
        new = frozenset(row['ports']) if row is not None else EMPTY
        name = row['name'] if row is not None else None
        renamed = self._bridge_name.get(uuid) != name
        if row is None:
            self._bridge_ports.pop(uuid, None)
            self._bridge_name.pop(uuid, None)
            self._bridge_dpid.pop(uuid, None)
        else:
            self._bridge_ports[uuid] = new
            self._bridge_name[uuid] = row['name']
            self._bridge_dpid[uuid] = parse_datapath_id(
                row.get('datapath_id'))
        for port in old - new:
            if self._port_bridge.get(port) == uuid:
                del self._port_bridge[port]
        for port in new - old:
            self._port_bridge[port] = uuid
        return set(old | new) if renamed else set(old ^ new)

    def _index_datapath_ids(self) -> None:
        ids = {self._bridge_name[uuid]: dpid
               for uuid, dpid in self._bridge_dpid.items()
               if dpid is not None and uuid in self._bridge_name}
        if ids != self.datapath_ids:
            self.datapath_ids = ids

    def _port(self, uuid: str, row: Optional[Mapping]) -> set[str]:
        """Adopt one Port row; the interfaces whose port changed."""
        old = self._port_ifaces.get(uuid, EMPTY)
        new = frozenset(row['interfaces']) if row is not None else EMPTY
        if row is None:
            self._port_ifaces.pop(uuid, None)
        else:
            self._port_ifaces[uuid] = new
        for iface in old - new:
            if self._iface_port.get(iface) == uuid:
                del self._iface_port[iface]
        for iface in new - old:
            self._iface_port[iface] = uuid
        return set(old ^ new)
