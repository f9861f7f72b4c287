"""The os-ken L2 example end to end: OVSDB change -> flows on the switch.

    .venv/bin/python -m benchmarks.os_ken_flows [--plugs 200] [--bulk 1000]
                                                [--repeats 3]

A real ovsdb-server and ovs-vswitchd (dummy datapath) on 127.0.0.1, br-int
speaking OpenFlow 1.3 to ``df-ovsdb-controller df_ovsdb_agent.os_ken.l2``
started as a child, as an operator runs it.  Measured:

1. port plugged -> both of its flows on the switch: one raw JSON-RPC
   ``transact`` adds a VM port (its commit is the start), ``ovs-ofctl
   monitor`` reports the switch's flow additions as they happen (the end);
   ``--plugs`` ports one after the other, p50/p99;
2. flows back after a ``kill -9`` and restart of ovs-vswitchd with the
   ``--plugs`` ports (the new switch starts with no flow): from the
   restart, and from vswitchd answering, until every flow is there;
3. ``--bulk`` ports plugged in one transaction -> all their flows present
   (then unplugged, all gone), ``--repeats`` times.

(2) and (3) poll ``ovs-ofctl dump-flows`` every 20 ms (the resolution).
Figures, never a test assertion.
"""

import argparse
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import dataset
from df_ovsdb_agent.os_ken import l2
from df_ovsdb_agent.testing.rpc import wait_connectable
from df_ovsdb_agent.testing import sandbox

COOKIE = l2.L2_OPTS[1].default
BIN = os.path.dirname(sys.executable)
POLL = 0.02
MAC = re.compile(r'dl_(?:src|dst)=([0-9a-f:]{17})')


def plug_ops(names_macs: list) -> list:
    """One transaction adding VM ports (vswitchd assigns the ofports)."""
    ops, refs = [], []
    for n, (name, mac) in enumerate(names_macs):
        ops.append({'op': 'insert', 'table': 'Interface',
                    'uuid-name': 'i%d' % n,
                    'row': {'name': name, 'external_ids': ['map', [
                        ['iface-id', name], ['attached-mac', mac]]]}})
        ops.append({'op': 'insert', 'table': 'Port', 'uuid-name': 'p%d' % n,
                    'row': {'name': name,
                            'interfaces': ['named-uuid', 'i%d' % n]}})
        refs.append(['named-uuid', 'p%d' % n])
    ops.append({'op': 'mutate', 'table': 'Bridge',
                'where': [['name', '==', 'br-int']],
                'mutations': [['ports', 'insert', ['set', refs]]]})
    return ops


class FlowMonitor:
    """``ovs-ofctl monitor br-int watch:``: when each flow of the app's
    cookie was added, by MAC.
    """

    def __init__(self, box: sandbox.OvsSandbox) -> None:
        self.box = box
        self.added: dict = {}    # mac -> [monotonic time of each flow]
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            # Line-buffered: ovs-ofctl's stdio buffers a pipe otherwise;
            # the events come on stderr too.
            ['stdbuf', '-oL', 'ovs-ofctl',
             '--unixctl=%s' % os.path.join(box.dir, 'mon.ctl'),
             'monitor', 'unix:%s' % os.path.join(box.dir, 'br-int.mgmt'),
             'watch:'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic()
            if 'event=ADDED' not in line or \
                    'cookie=%#x' % COOKIE not in line:
                continue
            found = MAC.search(line)
            if found:
                with self.cond:
                    self.added.setdefault(found.group(1), []).append(now)
                    self.cond.notify_all()

    def wait_both(self, mac: str, timeout: float = 30.0) -> float:
        """When the second flow of ``mac`` was added."""
        with self.cond:
            if not self.cond.wait_for(
                    lambda: len(self.added.get(mac, ())) >= 2, timeout):
                raise RuntimeError('no flows for %s (%d flows of the cookie '
                                   'on the switch)' % (mac, count_flows(
                                       self.box)))
            return self.added[mac][1]

    def stop(self) -> None:
        sandbox.stop_process(self.proc, signal.SIGTERM)


def count_flows(box: sandbox.OvsSandbox) -> int:
    out = subprocess.run(
        ['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows',
         'unix:%s' % os.path.join(box.dir, 'br-int.mgmt'),
         'cookie=%#x/-1' % COOKIE], capture_output=True, text=True)
    if out.returncode:
        return -1
    return sum(1 for line in out.stdout.splitlines() if 'cookie=' in line)


def wait_count(box: sandbox.OvsSandbox, want: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        if count_flows(box) == want:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError('%d flows not reached' % want)
        time.sleep(POLL)


def start_controller(box: sandbox.OvsSandbox, port: int):
    conf = os.path.join(box.dir, 'controller.conf')
    with open(conf, 'w') as out:
        out.write('[DEFAULT]\nofp_tcp_listen_port = %d\n'
                  '[ovsdb]\nconnection = %s\n'
                  '[agent]\nevent_log_level = DEBUG\n' % (port, box.remote))
    lines: queue.Queue = queue.Queue()
    proc = subprocess.Popen(
        [os.path.join(BIN, 'df-ovsdb-controller'), '--config-file', conf,
         'df_ovsdb_agent.os_ken.l2'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while 'sync finished' not in lines.get(
            timeout=max(0.1, deadline - time.monotonic())):
        pass
    return proc


def pct(values: list, p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * len(values))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--plugs', type=int, default=200)
    parser.add_argument('--bulk', type=int, default=1000)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix='df-osken-bench-')
    box = sandbox.OvsSandbox(base_dir=base, vswitchd=True)
    box.start()
    controller = monitor = None
    try:
        port = sandbox.free_port()
        box.vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int',
                  'protocols=OpenFlow10,OpenFlow13', 'fail_mode=secure')
        controller = start_controller(box, port)
        # Listening first: vswitchd would otherwise back off (up to 8 s).
        box.vsctl('set-controller', 'br-int', 'tcp:127.0.0.1:%d' % port)
        sandbox.wait_for(lambda: 'true' in box.vsctl(
            'get', 'Controller', '.', 'is_connected'), 30,
            'br-int connected to the controller', interval=0.05)
        monitor = FlowMonitor(box)
        client = wait_connectable(box.remote, 10, timeout=120.0,
                                  reconnect_idle=4.0)
        time.sleep(0.5)   # the monitor's own session is up (no event)
        latencies = []
        for i in range(args.plugs):
            mac = dataset.mac(i + 1)
            began = time.monotonic()
            client.transact(*plug_ops([('vm%d' % i, mac)]))
            latencies.append(monitor.wait_both(mac) - began)
        monitor.stop()
        print('port plugged -> both flows on the switch, %d ports one '
              'after the other: p50 %.1f ms, p99 %.1f ms, max %.1f ms'
              % (args.plugs, 1e3 * pct(latencies, 50),
                 1e3 * pct(latencies, 99), 1e3 * max(latencies)))
        flows = 2 * args.plugs
        for _ in range(args.repeats):
            began = time.monotonic()
            box.stop_vswitchd(signal.SIGKILL)
            box.start_vswitchd()
            ready = time.monotonic()
            done = wait_count(box, flows, 60)
            print('vswitchd kill -9 + restart at %d ports: all %d flows '
                  'back %.2f s after the restart began, %.2f s after '
                  'vswitchd answered' % (args.plugs, flows, done - began,
                                         done - ready))
        # Unplug the latency ports: the bulk starts from an empty switch.
        client.transact({'op': 'update', 'table': 'Bridge',
                         'where': [['name', '==', 'br-int']],
                         'row': {'ports': ['set', []]}})
        wait_count(box, 0, 60)
        for r in range(args.repeats):
            names = [('bulk%d' % i, dataset.mac(100000 + i))
                     for i in range(args.bulk)]
            began = time.monotonic()
            client.transact(*plug_ops(names))
            done = wait_count(box, 2 * args.bulk, 120)
            print('%d ports in one transaction -> all %d flows present: '
                  '%.2f s' % (args.bulk, 2 * args.bulk, done - began))
            began = time.monotonic()
            client.transact({'op': 'update', 'table': 'Bridge',
                             'where': [['name', '==', 'br-int']],
                             'row': {'ports': ['set', []]}})
            done = wait_count(box, 0, 120)
            print('  ... all unplugged in one transaction -> no flow left: '
                  '%.2f s' % (done - began))
        print('load average at the end: %s'
              % ' '.join('%.2f' % x for x in os.getloadavg()))
    finally:
        if monitor is not None:
            monitor.stop()
        if controller is not None:
            sandbox.stop_process(controller, signal.SIGTERM)
        box.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    main()
