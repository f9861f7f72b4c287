"""Rows as ovs-vswitchd fills them, written with raw JSON-RPC transactions.

ovs-vsctl needs ~0.9 s per call at 10k rows and big batches trip the
server's 5 s inactivity probe, so everything here is one ``transact`` per
few thousand ports.  ofport, mac_in_use, statistics and status are written
directly, the way vswitchd would have written them, so runs do not depend
on (or pay for) a vswitchd assigning ports.
"""

import dataclasses
import json
import subprocess
import uuid as uuid_lib
from typing import Iterable, Optional

from df_ovsdb_agent.testing.rpc import Client

BRIDGE = 'br-int'
CHUNK = 5000
# Seconds one bulk transaction may take (10k+ rows on a loaded machine).
BULK_TIMEOUT = 120.0

STAT_KEYS = ('collisions', 'rx_bytes', 'rx_crc_err', 'rx_dropped',
             'rx_errors', 'rx_frame_err', 'rx_over_err', 'rx_packets',
             'tx_bytes', 'tx_dropped', 'tx_errors', 'tx_packets')


@dataclasses.dataclass
class Port:
    """One port the harness created: names and row uuids."""

    name: str
    iface_uuid: str
    port_uuid: str
    index: int


def _map(pairs: Iterable) -> list:
    return ['map', [[k, v] for k, v in sorted(pairs)]]


def mac(index: int, prefix: str = 'fa:16:3e') -> str:
    return '%s:%02x:%02x:%02x' % (prefix, (index >> 16) & 255,
                                  (index >> 8) & 255, index & 255)


def statistics(index: int, generation: int) -> list:
    base = index * 7 + generation * 1013
    return _map((key, base + n * 11) for n, key in enumerate(STAT_KEYS))


def status(generation: int = 0) -> list:
    return _map([('driver_name', 'tun'), ('driver_version', '1.6'),
                 ('firmware_version', ''), ('bus_info', 'tap'),
                 ('link_resets_seen', str(generation))])


def external_ids(index: int, attached_mac: Optional[str] = None) -> list:
    return _map([
        ('attached-mac', attached_mac or mac(index)),
        ('iface-id', str(uuid_lib.UUID(int=(1 << 64) + index))),
        ('iface-status', 'active'),
        ('vm-uuid', str(uuid_lib.UUID(int=(2 << 64) + index // 4)))])


def interface_row(name: str, index: int, ofport: int) -> dict:
    """A VM tap Interface row after vswitchd has added it."""
    return {'name': name, 'type': '', 'ofport': ofport,
            'mac_in_use': mac(index, 'fe:16:3e'),
            'admin_state': 'up', 'link_state': 'up',
            'link_speed': 10000000000, 'duplex': 'full', 'mtu': 1450,
            'ifindex': 100 + index, 'link_resets': 1,
            'external_ids': external_ids(index),
            'statistics': statistics(index, 0), 'status': status()}


def add_ports_ops(names: list[str], first_index: int,
                  bridge: str = BRIDGE) -> list:
    """Operations inserting one Port+Interface per name into ``bridge``."""
    ops, refs = [], []
    for n, name in enumerate(names):
        index = first_index + n
        ops.append({'op': 'insert', 'table': 'Interface',
                    'uuid-name': 'i%d' % n,
                    'row': interface_row(name, index, 10 + index)})
        ops.append({'op': 'insert', 'table': 'Port', 'uuid-name': 'p%d' % n,
                    'row': {'name': name,
                            'interfaces': ['named-uuid', 'i%d' % n]}})
        refs.append(['named-uuid', 'p%d' % n])
    ops.append({'op': 'mutate', 'table': 'Bridge',
                'where': [['name', '==', bridge]],
                'mutations': [['ports', 'insert', ['set', refs]]]})
    return ops


def ports_from_result(names: list[str], first_index: int,
                      result: list) -> list[Port]:
    return [Port(name, result[2 * n]['uuid'][1],
                 result[2 * n + 1]['uuid'][1], first_index + n)
            for n, name in enumerate(names)]


def delete_ports_ops(ports: list[Port], bridge: str = BRIDGE) -> list:
    """Detach ports from the bridge; ovsdb garbage-collects the rows."""
    refs = [['uuid', p.port_uuid] for p in ports]
    return [{'op': 'mutate', 'table': 'Bridge',
             'where': [['name', '==', bridge]],
             'mutations': [['ports', 'delete', ['set', refs]]]}]


def set_mac_ops(ports: list[Port], generation: int) -> list:
    """Change attached-mac: a relevant change every contender reports."""
    return [{'op': 'update', 'table': 'Interface',
             'where': [['_uuid', '==', ['uuid', p.iface_uuid]]],
             'row': {'external_ids': external_ids(
                 p.index, mac(p.index + generation * 7919, 'fa:17:3e'))}}
            for p in ports]


def churn_ops(ports: list[Port], generation: int) -> list:
    """Rewrite statistics and status of every row, as vswitchd does."""
    return [{'op': 'update', 'table': 'Interface',
             'where': [['_uuid', '==', ['uuid', p.iface_uuid]]],
             'row': {'statistics': statistics(p.index, generation),
                     'status': status(generation)}}
            for p in ports]


def connect(remote: str) -> Client:
    """A session for the harness's bulk writes: a call may take long, and
    pauses between bursts outlast the server's echo probe.
    """
    return Client(remote, timeout=BULK_TIMEOUT, reconnect_idle=4.0)


def create_bridge(client: Client, bridge: str = BRIDGE) -> None:
    client.transact(
        {'op': 'insert', 'table': 'Interface', 'uuid-name': 'bi',
         'row': {'name': bridge, 'type': 'internal', 'ofport': 65534,
                 'admin_state': 'up', 'link_state': 'up',
                 'mac_in_use': mac(0, 'aa:00:00'),
                 'statistics': statistics(0, 0), 'status': status()}},
        {'op': 'insert', 'table': 'Port', 'uuid-name': 'bp',
         'row': {'name': bridge, 'interfaces': ['named-uuid', 'bi']}},
        {'op': 'insert', 'table': 'Bridge', 'uuid-name': 'bb',
         'row': {'name': bridge, 'ports': ['named-uuid', 'bp'],
                 'datapath_id': '0000aa0000000001'}},
        {'op': 'mutate', 'table': 'Open_vSwitch', 'where': [],
         'mutations': [['bridges', 'insert', ['named-uuid', 'bb']]]})


def add_ports(client: Client, names: list[str], first_index: int,
              chunk_size: int = CHUNK) -> list[Port]:
    """Add ports in transactions of ``chunk_size``; returns what was made."""
    ports = []
    for start in range(0, len(names), chunk_size):
        chunk = names[start:start + chunk_size]
        result = client.transact(*add_ports_ops(chunk, first_index + start))
        ports += ports_from_result(chunk, first_index + start, result)
    return ports


def delete_ports(client: Client, ports: list[Port],
                 chunk_size: int = CHUNK) -> None:
    for start in range(0, len(ports), chunk_size):
        client.transact(*delete_ports_ops(ports[start:start + chunk_size]))


def churn(client: Client, ports: list[Port], generation: int) -> None:
    for start in range(0, len(ports), CHUNK):
        client.transact(*churn_ops(ports[start:start + CHUNK], generation))


def offline_transact(db: str, ops: list) -> list:
    """Apply ``ops`` to a database file while ovsdb-server is down."""
    proc = subprocess.run(['ovsdb-tool', 'transact', db,
                           json.dumps(['Open_vSwitch'] + ops)],
                          check=True, capture_output=True, text=True)
    result = json.loads(proc.stdout)
    for res in result:
        if isinstance(res, dict) and 'error' in res:
            raise RuntimeError('offline transaction failed: %s' % res)
    return result


class Population:
    """The rows of one benchmark database and how to name new ones."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.ports: list[Port] = []
        self._next = 1
        create_bridge(client)

    @property
    def online(self) -> int:
        """Interfaces the agent reports online: every port plus br-int."""
        return len(self.ports) + 1

    @property
    def rows(self) -> int:
        """Rows in the Interface table."""
        return len(self.ports) + 1

    def names(self, prefix: str, count: int) -> list[str]:
        return ['%s%06d' % (prefix, self._next + n) for n in range(count)]

    def add(self, prefix: str, count: int,
            chunk_size: int = CHUNK) -> list[Port]:
        """Add ``count`` ports, ``chunk_size`` per transaction."""
        names = self.names(prefix, count)
        ports = add_ports(self.client, names, self._next, chunk_size)
        self._next += count
        self.ports += ports
        return ports

    def remove(self, ports: list[Port], chunk_size: int = CHUNK) -> None:
        delete_ports(self.client, ports, chunk_size)
        gone = {p.port_uuid for p in ports}
        self.ports = [p for p in self.ports if p.port_uuid not in gone]

    def offline_changes(self, db: str, prefix: str, added: int,
                        removed: list[Port], modified: list[Port],
                        generation: int) -> list[Port]:
        """Make changes straight in the database file (server down)."""
        names = self.names(prefix, added)
        ops = (add_ports_ops(names, self._next) + delete_ports_ops(removed)
               + set_mac_ops(modified, generation))
        result = offline_transact(db, ops)
        new = ports_from_result(names, self._next, result)
        self._next += added
        gone = {p.port_uuid for p in removed}
        self.ports = [p for p in self.ports if p.port_uuid not in gone] + new
        return new
