"""OVSDB transactions the functional tests write and the reads that check
them, through the raw JSON-RPC client of :mod:`df_ovsdb_agent.testing.rpc`.
"""

from typing import Callable, Iterable, Optional, Sequence, Union

from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.ovsdb.membership import Membership
from df_ovsdb_agent.testing.rpc import Client as Rpc


def ovs_map(data: dict) -> list:
    return ['map', sorted([k, v] for k, v in data.items())]


def _from_map(value) -> dict:
    return dict(value[1]) if isinstance(value, list) else {}


def _scalar(value):
    if isinstance(value, list):  # ["set", []] or ["uuid", x]
        if value[0] == 'set':
            return value[1][0] if value[1] else None
        return value[1]
    return value


def _uuids(value) -> frozenset:
    """A set-of-uuids datum (one ["uuid", x] or ["set", [...]])."""
    if value[0] == 'uuid':
        return frozenset([value[1]])
    return frozenset(u[1] for u in value[1])


def interface_rows(rpc: Rpc) -> list[RowValues]:
    """Every Interface row, as the classifier's :class:`RowValues`, with
    its bridge found through Bridge.ports and Port.interfaces.
    """
    interfaces, ports, bridges = [
        reply['rows'] for reply in rpc.transact(
            {'op': 'select', 'table': 'Interface', 'where': [],
             'columns': ['_uuid', 'name', 'type', 'ofport', 'external_ids',
                         'options', 'mac_in_use', 'link_state',
                         'admin_state']},
            {'op': 'select', 'table': 'Port', 'where': [],
             'columns': ['_uuid', 'name', 'interfaces']},
            {'op': 'select', 'table': 'Bridge', 'where': [],
             'columns': ['_uuid', 'name', 'ports']}, timeout=30)]
    membership = Membership()
    membership.rebuild(
        {b['_uuid'][1]: {'name': b['name'], 'ports': _uuids(b['ports'])}
         for b in bridges},
        {p['_uuid'][1]: {'name': p['name'],
                         'interfaces': _uuids(p['interfaces'])}
         for p in ports})
    return [RowValues(row['_uuid'][1], row['name'], row['type'],
                      _scalar(row['ofport']), _from_map(row['external_ids']),
                      _from_map(row['options']), _scalar(row['mac_in_use']),
                      _scalar(row['link_state']), _scalar(row['admin_state']),
                      membership.bridge_of(row['_uuid'][1]))
            for row in interfaces]


def db_truth(remote: str, policy: Policy = Policy()) -> dict:
    """uuid -> Interface that should be online, read from the database."""
    with Rpc(remote, timeout=30) as rpc:
        truth = {}
        for row in interface_rows(rpc):
            interface = classify(row, policy)
            if interface is not None:
                truth[row.uuid] = interface
        return truth


def vm_interface(name: str, ofport: Optional[int], uuid_name: str) -> dict:
    row = {'name': name,
           'external_ids': ovs_map({'iface-id': 'id-%s' % name,
                                    'attached-mac': 'fa:16:3e:00:00:01'})}
    if ofport is not None:
        row['ofport'] = ofport
    return {'op': 'insert', 'table': 'Interface', 'row': row,
            'uuid-name': uuid_name}


def add_bridge_ops(bridge: str) -> list:
    """Ops creating ``bridge`` under the root row (GC would drop it)."""
    return [{'op': 'insert', 'table': 'Bridge', 'row': {'name': bridge},
             'uuid-name': 'br'},
            {'op': 'mutate', 'table': 'Open_vSwitch', 'where': [],
             'mutations': [['bridges', 'insert',
                            ['set', [['named-uuid', 'br']]]]]}]


def add_ports_ops(bridge: str, names: Iterable[str],
                  ofports: Callable[[int], Optional[int]]) -> list:
    """Ops adding one VM port per name to ``bridge``, in one transaction."""
    ops, ports = [], []
    for i, name in enumerate(names):
        ops.append(vm_interface(name, ofports(i), 'i%d' % i))
        ops.append({'op': 'insert', 'table': 'Port',
                    'row': {'name': name,
                            'interfaces': ['named-uuid', 'i%d' % i]},
                    'uuid-name': 'p%d' % i})
        ports.append(['named-uuid', 'p%d' % i])
    ops.append({'op': 'mutate', 'table': 'Bridge',
                'where': [['name', '==', bridge]],
                'mutations': [['ports', 'insert', ['set', ports]]]})
    return ops


def delete_ports_ops(bridge: str, port_uuids: Iterable[str]) -> list:
    """Ops unlinking ports from ``bridge``; OVSDB GC drops the rows."""
    return [{'op': 'mutate', 'table': 'Bridge',
             'where': [['name', '==', bridge]],
             'mutations': [['ports', 'delete',
                            ['set', [['uuid', u] for u in port_uuids]]]]}]


def set_ofport_op(name: str, ofport: Optional[int]) -> dict:
    return {'op': 'update', 'table': 'Interface',
            'where': [['name', '==', name]],
            'row': {'ofport': ofport if ofport is not None else ['set', []]}}


def port_uuids(rpc: Rpc, bridge: str) -> dict:
    """name -> Port uuid for the ports of ``bridge``."""
    res = rpc.transact(
        {'op': 'select', 'table': 'Bridge', 'where': [['name', '==', bridge]],
         'columns': ['ports']},
        {'op': 'select', 'table': 'Port', 'where': [],
         'columns': ['_uuid', 'name']}, timeout=30)
    ports = res[0]['rows'][0]['ports']
    on_bridge = {p[1] for p in (ports[1] if ports[0] == 'set' else [ports])}
    return {row['name']: row['_uuid'][1] for row in res[1]['rows']
            if row['_uuid'][1] in on_bridge}


def populate(remote: str, ports: Union[int, Sequence[str]],
             bridge: str = 'br-int') -> None:
    """Create ``bridge`` with VM ports ``ports`` (names, or a count of
    ``tap0``...) numbered ofport 1, 2, ... in one transaction.
    """
    names = (['tap%d' % i for i in range(ports)] if isinstance(ports, int)
             else list(ports))
    with Rpc(remote, timeout=30) as rpc:
        rpc.transact(*add_bridge_ops(bridge))
        if names:
            rpc.transact(*add_ports_ops(bridge, names, lambda i: i + 1),
                         timeout=30)
