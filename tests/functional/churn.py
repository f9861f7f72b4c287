"""Churn: a steady stream of real port changes through the raw OVSDB
client, surviving the server faults the tests inject.
"""

import itertools
import random
import threading
import time
from typing import Optional

from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.rpc import RpcError
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import delete_ports_ops
from tests.functional.ovsdb_ops import port_uuids
from tests.functional.ovsdb_ops import set_ofport_op


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
