"""Cost of the persisted snapshot ([agent] state_dir) at 10k interfaces.

    .venv/bin/python -m benchmarks.persist_cost [--sizes 1000 10000 100000]

Times one durable write of the whole snapshot (serialise, write, fsync,
rename, fsync the directory) and the load at start-up, with interfaces
shaped like a hypervisor's (VM ports with iface-id and attached-mac).
Printed as medians of --repeat runs; nothing here is a test assertion.
"""

import argparse
import os
import statistics
import tempfile
import time
import uuid

from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent import persist


def interfaces(count: int) -> dict[str, Interface]:
    result = {}
    for i in range(count):
        u = str(uuid.uuid4())
        result[u] = Interface(Kind.VM, 'tap%05d' % i, u, i + 1,
                              iface_id=str(uuid.uuid4()),
                              attached_mac='fa:16:3e:%02x:%02x:%02x' % (
                                  i >> 16 & 255, i >> 8 & 255, i & 255))
    return result


def measure(count: int, repeat: int, directory: str) -> dict:
    state = interfaces(count)
    path = os.path.join(directory, 'snapshot-%d.json' % count)
    writer = persist.StateWriter(path, lambda: persist.snapshot_body(
        state, 'hv1'))
    writes, loads = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        writer._written = None  # force a write of an unchanged state
        writer.write_now()
        writes.append(time.perf_counter() - began)
        began = time.perf_counter()
        loaded = persist.load_snapshot(path, 'hv1')
        loads.append(time.perf_counter() - began)
        assert loaded == state
    return {'interfaces': count, 'bytes': os.path.getsize(path),
            'write_s': statistics.median(writes),
            'load_s': statistics.median(loads)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[1000, 10000, 100000])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--dir', help='where to write (default: a '
                        'temporary directory, on the disk of /var/tmp)')
    args = parser.parse_args()
    directory = args.dir or tempfile.mkdtemp(dir='/var/tmp')
    print('%10s %12s %10s %10s' % (
        'interfaces', 'bytes', 'write s', 'load s'))
    for size in args.sizes:
        row = measure(size, args.repeat, directory)
        print('%10d %12d %10.4f %10.4f' % (
            row['interfaces'], row['bytes'], row['write_s'], row['load_s']))


if __name__ == '__main__':
    main()
