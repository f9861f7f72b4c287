"""Fault-injection helpers: churn, hostile peers and an auditor for event
streams; the ovsdb-server processes and the raw OVSDB client of
:mod:`df_ovsdb_agent.testing` under the names the tests use.

Everything here talks to real processes on 127.0.0.1 (or unix sockets in
a temp dir) and stops what it started by PID.  Nothing here imitates
ovsdb-server: :class:`HostileServer` is a deliberately broken peer.
"""

import itertools
import json
import random
import socket
import threading
import time
from typing import Callable, Iterable, Optional

from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.ovsdb.membership import Membership
from df_ovsdb_agent.testing.ovsdb_server import create_cluster  # noqa: F401
from df_ovsdb_agent.testing.ovsdb_server import create_db  # noqa: F401
from df_ovsdb_agent.testing.ovsdb_server import join_cluster  # noqa: F401
from df_ovsdb_agent.testing.ovsdb_server import OvsdbProcess  # noqa: F401
from df_ovsdb_agent.testing.ovsdb_server import wait_serving  # noqa: F401
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.rpc import RpcError
from df_ovsdb_agent.testing import sandbox

SCHEMA = sandbox.SCHEMA
LOOPBACK = sandbox.LOOPBACK
free_port = sandbox.free_port
stop_process = sandbox.stop_process
wait_for = sandbox.wait_for


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


# -- churn --------------------------------------------------------------------

class Churn:
    """Adds, deletes and re-numbers VM ports on one bridge.

    In a thread (:meth:`start`) it survives server faults: a failed
    transaction's outcome is unknown, so the client reconnects and re-reads
    the bridge before going on.  Only transactions the server confirmed
    count as changes.  :meth:`apply` makes a fixed number of changes
    synchronously, e.g. to a database file while its server is down.
    """

    def __init__(self, remote: str, bridge: str = 'br-churn',
                 target: int = 300, seed: int = 0,
                 prefix: str = 'c', rate: Optional[float] = None) -> None:
        self.remote = remote
        self.rate = rate  # transactions per second in the thread, or None
        self.bridge = bridge
        self.target = target
        self.rand = random.Random(seed)
        self.prefix = prefix
        self.changes = 0
        self.transactions = 0
        self.failed = 0
        self.ports: dict[str, str] = {}
        self._names = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='churn')
        self._rpc: Optional[Rpc] = None

    def setup(self) -> None:
        with Rpc(self.remote) as rpc:
            rpc.transact(*add_bridge_ops(self.bridge))

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), 'churn thread did not stop'
        if self._rpc is not None:
            self._rpc.close()

    def wait_changes(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` more changes were committed."""
        goal = self.changes + count
        deadline = time.monotonic() + timeout
        while self.changes < goal:
            assert time.monotonic() < deadline, 'churn made no progress'
            self._stop.wait(0.02)

    def apply(self, remote: str, count: int) -> int:
        """Make about ``count`` changes through ``remote``; return how many."""
        before = self.changes
        with Rpc(remote, timeout=10) as rpc:
            self.ports = port_uuids(rpc, self.bridge)
            while self.changes - before < count:
                self._step(rpc)
        return self.changes - before

    def _run(self) -> None:
        pace = time.monotonic()
        while not self._stop.is_set():
            if self.rate:
                # A steady load, like a busy hypervisor, not a flood.
                pace = max(pace + 1.0 / self.rate, time.monotonic() - 1)
                if self._stop.wait(pace - time.monotonic()):
                    return
            try:
                if self._rpc is None:
                    self._rpc = Rpc(self.remote, timeout=1.0)
                    self.ports = port_uuids(self._rpc, self.bridge)
                self._step(self._rpc)
            except (OSError, RpcError):
                self.failed += 1
                if self._rpc is not None:
                    self._rpc.close()
                    self._rpc = None
                # The server is down or stopped; retry soon, not in a loop.
                self._stop.wait(0.05)

    def _step(self, rpc: Rpc) -> None:
        roll = self.rand.random()
        grow = len(self.ports) < self.target
        if not self.ports or roll < (0.45 if grow else 0.3):
            self._add(rpc, self.rand.randint(1, 5))
        elif roll < 0.6:
            self._delete(rpc, self.rand.randint(1, 5))
        else:
            self._renumber(rpc, self.rand.randint(1, 5))

    def _ofport(self) -> Optional[int]:
        # Mostly usable ofports; some failed (-1) or unset, which must
        # read as offline.
        roll = self.rand.random()
        if roll < 0.1:
            return -1
        if roll < 0.15:
            return None
        return self.rand.randint(1, 60000)

    def _add(self, rpc: Rpc, count: int) -> None:
        names = ['%s%d' % (self.prefix, next(self._names))
                 for _ in range(count)]
        ofports = [self._ofport() for _ in names]
        result = rpc.transact(*add_ports_ops(self.bridge, names,
                                             lambda i: ofports[i]))
        for i, name in enumerate(names):
            self.ports[name] = result[2 * i + 1]['uuid'][1]
        self._committed(count)

    def _delete(self, rpc: Rpc, count: int) -> None:
        names = self.rand.sample(sorted(self.ports),
                                 min(count, len(self.ports)))
        rpc.transact(*delete_ports_ops(self.bridge,
                                       [self.ports[n] for n in names]))
        for name in names:
            del self.ports[name]
        self._committed(len(names))

    def _renumber(self, rpc: Rpc, count: int) -> None:
        names = self.rand.sample(sorted(self.ports),
                                 min(count, len(self.ports)))
        rpc.transact(*[set_ofport_op(n, self._ofport()) for n in names])
        self._committed(len(names))

    def _committed(self, count: int) -> None:
        self.transactions += 1
        self.changes += count


# -- auditing what subscribers saw ------------------------------------------

class Audit:
    """Per-interface consistency of one event stream, counted not asserted.

    ``duplicates``: ``online`` for something already online.
    ``orphans``: ``offline``/``updated`` for something not online.
    """

    def __init__(self, events: Iterable) -> None:
        self.events = 0
        self.duplicates = 0
        self.orphans = 0
        self.by_action = {a: 0 for a in Action}
        self.online: dict = {}
        for event in events:
            self.add(event)

    def add(self, event) -> None:
        """Fold one more event (sync markers are ignored)."""
        if not isinstance(event, InterfaceEvent):
            return
        self.events += 1
        self.by_action[event.action] += 1
        known = event.uuid in self.online
        if event.action is Action.ONLINE:
            self.duplicates += known
            self.online[event.uuid] = event.interface
        elif event.action is Action.OFFLINE:
            self.orphans += not known
            self.online.pop(event.uuid, None)
        else:
            self.orphans += not known
            self.online[event.uuid] = event.interface

    def misses(self, truth: dict) -> list:
        """Interfaces whose final state differs from ``truth``."""
        return mismatches(self.online, truth)


def mismatches(seen: dict, truth: dict) -> list:
    """(uuid, seen, expected) for every interface that differs."""
    return [(uuid, seen.get(uuid), truth.get(uuid))
            for uuid in set(seen) | set(truth)
            if seen.get(uuid) != truth.get(uuid)]


def agent_state(agent) -> dict:
    return {i.uuid: i for i in agent.interfaces()}


# -- hostile peers ------------------------------------------------------------

class HostileServer:
    """A TCP listener on 127.0.0.1 (or a unix socket at ``unix_path``)
    that answers with ``behaviour(conn)``.

    ``behaviour`` gets each accepted socket (already reading what the client
    sent is up to it); ``connections`` counts accepts so a test can wait
    for the client to come back after being refused.
    """

    def __init__(self, behaviour: Callable[[socket.socket], None],
                 port: Optional[int] = None,
                 unix_path: Optional[str] = None) -> None:
        self.behaviour = behaviour
        self.unix_path = unix_path
        if unix_path is not None:
            self.listener = socket.socket(socket.AF_UNIX)
            self.listener.bind(unix_path)
            self.port = 0
        else:
            self.listener = socket.socket()
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,
                                     1)
            self.listener.bind((LOOPBACK, port or 0))
            self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        self.connections = 0
        self._cond = threading.Condition()
        self._conns: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name='hostile-server')
        self._thread.start()

    @property
    def remote(self) -> str:
        if self.unix_path is not None:
            return 'unix:%s' % self.unix_path
        return 'tcp:%s:%d' % (LOOPBACK, self.port)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._cond:
                if self._closed:
                    conn.close()
                    return
                self.connections += 1
                self._conns.append(conn)
                self._cond.notify_all()
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn)
        except OSError:
            pass

    def wait_connections(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.connections >= count,
                                       timeout)

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            conns = list(self._conns)
        # shutdown() wakes a blocked accept(); close() alone may not.
        for sock in [self.listener] + conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._thread.join(5)


def read_request(conn: socket.socket, timeout: float = 5.0) -> Optional[dict]:
    """Read one JSON-RPC message from a client; None if it went away."""
    decoder = json.JSONDecoder()
    buf = ''
    conn.settimeout(timeout)
    while True:
        text = buf.lstrip()
        if text:
            try:
                return decoder.raw_decode(text)[0]
            except ValueError:
                pass
        try:
            data = conn.recv(65536)
        except (socket.timeout, OSError):
            return None
        if not data:
            return None
        buf = text + data.decode(errors='replace')


def server_row(database: str = 'Open_vSwitch') -> dict:
    """update2 ``initial`` of a standalone ``database``'s ``_Server`` row,
    as a real ovsdb-server answers the agent's freshness monitor.
    """
    return {'Database': {'11111111-1111-4111-8111-000000000098': {
        'initial': {'name': database, 'model': 'standalone',
                    'connected': True, 'index': ['set', []],
                    'cid': ['set', []]}}}}
