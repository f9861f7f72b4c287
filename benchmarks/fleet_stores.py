"""One real etcd and one real redis-server on 127.0.0.1, and their figures.

The servers are :mod:`df_ovsdb_agent.testing.stores`'s (foreground
children on free ports, stopped by PID; ``restart(keep)`` keeps or wipes
the data), with the default limits except Redis ``maxclients``.

The figures (:meth:`Server.counters`, :func:`proc_usage`,
:meth:`Server.connections`) come from the servers themselves: etcd's
``/metrics``, Redis ``INFO``, and ``/proc`` of the server's PID.
"""

import os
import subprocess
from typing import Union

import requests

from df_ovsdb_agent.testing import stores

CLK_TCK = os.sysconf('SC_CLK_TCK')

#: etcd /metrics counters the benchmark reads (name -> short name).
ETCD_COUNTERS = {
    'etcd_mvcc_put_total': 'puts',
    'etcd_mvcc_delete_total': 'deletes',
    'etcd_mvcc_txn_total': 'txns',
    'etcd_mvcc_range_total': 'ranges',
    'etcd_debugging_lease_renewed_total': 'keepalives',
    'etcd_debugging_lease_granted_total': 'leases_granted',
    'etcd_server_proposals_committed_total': 'proposals',
    # Where etcd's write latency goes: WAL fsyncs and backend commits.
    'etcd_disk_wal_fsync_duration_seconds_sum': 'fsync_seconds',
    'etcd_disk_wal_fsync_duration_seconds_count': 'fsyncs',
    'etcd_disk_backend_commit_duration_seconds_sum': 'commit_seconds',
    'etcd_disk_backend_commit_duration_seconds_count': 'commits',
}

#: Redis commands the benchmark reports (INFO commandstats).  The
#: publishers' scripts call SET (liveness), HSET/HDEL (state) and XADD
#: (events); Redis counts commands called from scripts too.
REDIS_COMMANDS = ('evalsha', 'set', 'hset', 'hdel', 'xadd', 'xread',
                  'xinfo|stream', 'xrange', 'xrevrange', 'hgetall',
                  'smembers', 'multi', 'exec', 'sadd', 'script|load', 'eval')


class EtcdServer(stores.EtcdServer):
    """A single-member etcd cluster with the default limits."""

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)

    def connections(self) -> int:
        """Established client connections to the server's port."""
        out = subprocess.run(
            ['ss', '-Htn', 'state', 'established',
             '( sport = :%d )' % self.port], capture_output=True,
            text=True, check=True).stdout
        return sum(1 for line in out.splitlines() if line.strip())

    def metrics(self) -> dict:
        """Every un-labelled and labelled sample of /metrics, summed per
        metric name.
        """
        text = requests.get(self.url + '/metrics', timeout=10).text
        totals: dict = {}
        for line in text.splitlines():
            if not line or line.startswith('#'):
                continue
            name = line.split('{', 1)[0].split(' ', 1)[0]
            try:
                totals[name] = totals.get(name, 0.0) + float(
                    line.rsplit(' ', 1)[1])
            except ValueError:
                continue
        return totals

    def counters(self) -> dict:
        metrics = self.metrics()
        found = {short: metrics.get(name, 0.0)
                 for name, short in ETCD_COUNTERS.items()}
        found['db_bytes'] = metrics.get('etcd_mvcc_db_total_size_in_bytes',
                                        0.0)
        return found


class RedisServer(stores.RedisServer):
    """redis-server for thousands of simulated hosts' connections."""

    def __init__(self, base_dir: str) -> None:
        super().__init__(base_dir, extra_args=('--maxclients', '20000'),
                         client_timeout=30.0)

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)

    def counters(self) -> dict:
        stats = self.info('commandstats')
        calls = {name[len('cmdstat_'):]: value['calls']
                 for name, value in stats.items()}
        found = {name: float(calls.get(name, 0))
                 for name in REDIS_COMMANDS}
        found['commands'] = float(sum(calls.values()))
        memory = self.info('memory')
        found['used_memory'] = float(memory['used_memory'])
        return found

    def connections(self) -> int:
        return int(self.info('clients')['connected_clients'])


def proc_usage(pid: int) -> dict:
    """CPU seconds (user+system), RSS and peak RSS (bytes), OS threads
    and context switches so far (voluntary + not: a GIL convoy shows as
    hundreds of thousands per second) of ``pid``.
    """
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = hwm = threads = switches = 0
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1]) * 1024
            elif line.startswith('VmHWM:'):
                hwm = int(line.split()[1]) * 1024
            elif line.startswith('Threads:'):
                threads = int(line.split()[1])
            elif line.startswith(('voluntary_ctxt_switches:',
                                  'nonvoluntary_ctxt_switches:')):
                switches += int(line.split()[1])
    return {'cpu': cpu, 'rss': rss, 'hwm': hwm, 'threads': threads,
            'switches': switches}


def make_server(store: str,
                base_dir: str) -> Union[EtcdServer, RedisServer]:
    kinds: dict = {'etcd': EtcdServer, 'redis': RedisServer}
    return kinds[store](os.path.join(base_dir, store))
