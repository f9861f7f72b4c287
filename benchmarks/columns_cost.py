"""What bridge membership and the new attributes cost the initial sync.

    .venv/bin/python -m benchmarks.columns_cost [--size 10000] [--repeats 3]

One ovsdb-server filled like ovs-vswitchd fills it (benchmarks.dataset:
ofport, mac_in_use, statistics, status, external_ids), then the agent's
initial sync (``Agent.start()``: connect, dump, classify, publish) in a
fresh process per run, with the full declaration of
``df_ovsdb_agent/ovsdb/tables.py`` and with the five Interface columns the
agent monitored before (no Bridge, Port or Open_vSwitch tables, no
mac_in_use/link_state/admin_state).  Medians side by side; never a test
assertion.

Besides the wall time it reports the bytes the server sent and the CPU
the agent's process used (all threads): the wall time minus the agent's
CPU is, on an otherwise idle host, mostly ovsdb-server serialising the
dump, which the agent cannot make cheaper.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

from benchmarks import dataset
from df_ovsdb_agent.testing.rpc import wait_connectable
from df_ovsdb_agent.testing import sandbox

CHILD = r'''
import json, resource, sys, time
from df_ovsdb_agent.ovsdb import tables
if sys.argv[2] == 'five':
    tables.TABLES = (tables.Table(tables.INTERFACE, (
        'name', 'type', 'ofport', 'external_ids', 'options')),)
    tables.BY_NAME = {t.name: t for t in tables.TABLES}
if sys.argv[2] == 'no_dpid':
    tables.TABLES = tuple(t._replace(optional=()) if t.name == tables.BRIDGE
                          else t for t in tables.TABLES)
    tables.BY_NAME = {t.name: t for t in tables.TABLES}
from df_ovsdb_agent.agent import Agent
agent = Agent(sys.argv[1])
began, cpu = time.perf_counter(), time.process_time()
agent.start()
took, cpu = time.perf_counter() - began, time.process_time() - cpu
online = len(agent.interfaces())
received = agent.monitor.bytes_received
agent.stop()
print(json.dumps({'seconds': took, 'cpu': cpu, 'bytes': received,
                  'online': online,
                  'rss_mb': resource.getrusage(
                      resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run(remote: str, variant: str) -> dict:
    out = subprocess.run([sys.executable, '-c', CHILD, remote, variant],
                         capture_output=True, text=True, timeout=600,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=10000)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    box = sandbox.OvsSandbox(base_dir=tempfile.mkdtemp(), vswitchd=False)
    box.start()
    try:
        client = wait_connectable(box.remote, 10, timeout=120.0,
                                  reconnect_idle=4.0)
        dataset.create_bridge(client)
        dataset.add_ports(client, ['tap%06d' % i for i in range(args.size)],
                          1)
        results: dict = {'five': [], 'no_dpid': [], 'full': []}
        for _ in range(args.repeats):
            for variant in results:  # interleaved: fair to all
                results[variant].append(run(box.remote, variant))
    finally:
        box.stop()
    print('initial sync of %d interfaces, medians of %d runs:'
          % (args.size, args.repeats))
    medians: dict = {}
    for variant, rows in results.items():
        medians[variant] = {key: statistics.median(r[key] for r in rows)
                            for key in ('seconds', 'cpu', 'bytes',
                                        'rss_mb')}
        print('  %-38s %.3f s wall, %.3f s agent CPU, %.2f MB received '
              '(peak RSS %.0f MB, %d online)' % (
                  {'five': 'five Interface columns (before)',
                   'no_dpid': 'full without Bridge.datapath_id',
                   'full': 'full declaration (bridge, attributes)'}[variant],
                  medians[variant]['seconds'], medians[variant]['cpu'],
                  medians[variant]['bytes'] / 1e6,
                  medians[variant]['rss_mb'], rows[0]['online']))
    five, full = medians['five'], medians['full']
    print('  cost of the added columns and tables: %+.1f%% wall, %+.1f%% '
          'agent CPU, %+.1f%% bytes' % tuple(
              100.0 * (full[key] / five[key] - 1)
              for key in ('seconds', 'cpu', 'bytes')))
    before = medians['no_dpid']
    print('  cost of Bridge.datapath_id: %+.1f%% wall, %+.1f%% agent CPU, '
          '%+d bytes' % (100.0 * (full['seconds'] / before['seconds'] - 1),
                         100.0 * (full['cpu'] / before['cpu'] - 1),
                         full['bytes'] - before['bytes']))


if __name__ == '__main__':
    main()
