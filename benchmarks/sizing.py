"""Memory and CPU of the daemon at 100, 1,000 and 10,000 ports, for sizing.

For each size: a private ovsdb-server on 127.0.0.1 filled as ovs-vswitchd
fills it (one bridge, N VM ports), then ``df-ovsdb-agent`` started on it
as an operator runs it (no apps, no publishers, no metrics).  Reported from
``/proc``: CPU seconds (user + system) until it logs that it is running
(interpreter start, imports and the first sync), its resident memory then
and its peak (VmHWM), and its CPU share while idle for ``--idle`` seconds.

    python -m benchmarks.sizing [--sizes 100,1000,10000] [--idle 10]
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import dataset
from df_ovsdb_agent.testing import sandbox

TICK = os.sysconf('SC_CLK_TCK')
AGENT = os.path.join(os.path.dirname(sys.executable), 'df-ovsdb-agent')


def cpu_seconds(pid: int) -> float:
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def memory_mb(pid: int) -> dict:
    found = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                found[key] = int(value.split()[0]) / 1024
    return found


def measure(size: int, idle: float) -> dict:
    with tempfile.TemporaryDirectory(prefix='df-sizing-') as base:
        box = sandbox.OvsSandbox(base_dir=os.path.join(base, 'ovs'),
                                 vswitchd=False)
        os.makedirs(box.dir)
        box.start()
        try:
            with dataset.connect(box.remote) as client:
                dataset.create_bridge(client)
                dataset.add_ports(client, ['tap%d' % i for i in range(size)],
                                  1)
            conf = os.path.join(base, 'agent.conf')
            with open(conf, 'w') as f:
                f.write('[ovsdb]\nconnection = %s\n[agent]\nstate_dir = %s\n'
                        'event_log_level = DEBUG\n'
                        % (box.remote, os.path.join(base, 'state')))
            return _run_agent(conf, idle, size)
        finally:
            box.stop()


def _run_agent(conf: str, idle: float, size: int) -> dict:
    proc = subprocess.Popen([AGENT, '--config-file', conf],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in
                                     proc.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        while True:
            line = lines.get(timeout=max(0, deadline - time.monotonic()))
            if 'df-ovsdb-agent running' in line:
                break
        start_cpu = cpu_seconds(proc.pid)
        ready = memory_mb(proc.pid)
        time.sleep(idle)  # the idle period being measured, not a wait
        idle_cpu = cpu_seconds(proc.pid) - start_cpu
        after = memory_mb(proc.pid)
        return {'ports': size, 'start_cpu_s': round(start_cpu, 2),
                'rss_ready_mb': round(ready['VmRSS'], 1),
                'rss_idle_mb': round(after['VmRSS'], 1),
                'peak_rss_mb': round(after['VmHWM'], 1),
                'idle_cpu_pct': round(100 * idle_cpu / idle, 2)}
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='100,1000,10000')
    parser.add_argument('--idle', type=float, default=10.0)
    args = parser.parse_args()
    print('load average before: %.2f %.2f %.2f' % os.getloadavg())
    for size in (int(s) for s in args.sizes.split(',')):
        print(json.dumps(measure(size, args.idle)), flush=True)
    print('load average after: %.2f %.2f %.2f' % os.getloadavg())
    return 0


if __name__ == '__main__':
    sys.exit(main())
