"""One real etcd and one real redis-server on 127.0.0.1, and their figures.

Each server runs as a foreground child in its own temporary directory on
free ports and is stopped by PID (as ``tests/functional/stores.py`` does).
:meth:`Server.restart` keeps or wipes the data: etcd restarts on the same
data dir (or an emptied one); redis-server runs without persistence and is
shut down with ``SHUTDOWN SAVE`` (an RDB file, loaded at the next start)
or ``SHUTDOWN NOSAVE`` and its files removed.

The figures (:meth:`Server.counters`, :func:`proc_usage`,
:meth:`Server.connections`) come from the servers themselves: etcd's
``/metrics``, Redis ``INFO``, and ``/proc`` of the server's PID.
"""

import os
import shutil
import subprocess

import requests

from df_ovsdb_agent.testing import sandbox
from df_ovsdb_agent.testing.sandbox import free_port
from df_ovsdb_agent.testing.sandbox import LOOPBACK

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
                  'smembers', 'multi', 'exec', 'sadd')


class ServerError(RuntimeError):
    """A store did not start or stop as expected."""


class Server(sandbox.ChildServer):
    """A store server, with what the benchmark reads of it."""

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)

    def restart(self, keep: bool) -> None:
        raise NotImplementedError

    def connections(self) -> int:
        """Established client connections to the server's port."""
        out = subprocess.run(
            ['ss', '-Htn', 'state', 'established',
             '( sport = :%d )' % self.port], capture_output=True,
            text=True, check=True).stdout
        return sum(1 for line in out.splitlines() if line.strip())

    def counters(self) -> dict:
        raise NotImplementedError


class EtcdServer(Server):
    """A single-member etcd cluster with the default limits."""

    name = 'etcd'

    def __init__(self, base_dir: str) -> None:
        super().__init__(base_dir)
        self.port = free_port()
        self.peer_port = free_port()
        while self.peer_port == self.port:  # both were free a moment ago
            self.peer_port = free_port()
        self.data_dir = os.path.join(self.dir, 'data')

    @property
    def url(self) -> str:
        return 'http://%s:%d' % (LOOPBACK, self.port)

    def command(self) -> list:
        peer = 'http://%s:%d' % (LOOPBACK, self.peer_port)
        return ['etcd', '--name', 'fleet', '--data-dir', self.data_dir,
                '--listen-client-urls', self.url,
                '--advertise-client-urls', self.url,
                '--listen-peer-urls', peer,
                '--initial-advertise-peer-urls', peer,
                '--initial-cluster', 'fleet=%s' % peer,
                '--initial-cluster-state', 'new']

    def ready(self) -> bool:
        reply = requests.post(self.url + '/v3/maintenance/status', json={},
                              timeout=2)
        return reply.ok

    def restart(self, keep: bool) -> None:
        self.stop()
        if not keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.start()

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


class RedisServer(Server):
    """redis-server without periodic persistence (see the module doc)."""

    name = 'redis'

    def __init__(self, base_dir: str) -> None:
        super().__init__(base_dir)
        self.port = free_port()

    @property
    def url(self) -> str:
        return 'redis://%s:%d/0' % (LOOPBACK, self.port)

    def command(self) -> list:
        return ['redis-server', '--port', str(self.port), '--bind',
                LOOPBACK, '--dir', self.dir, '--save', '', '--appendonly',
                'no', '--logfile', '', '--maxclients', '20000']

    def client(self):
        import redis
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=30,
                           decode_responses=True)

    def ready(self) -> bool:
        with self.client() as client:
            return client.ping()

    def restart(self, keep: bool) -> None:
        import redis
        with self.client() as client:
            try:
                client.shutdown(save=keep, nosave=not keep)
            except redis.ConnectionError:
                pass  # the server closes the connection as it exits
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise ServerError('redis-server did not shut down') from None
        if not keep:
            for name in os.listdir(self.dir):
                if name.endswith(('.rdb', '.aof')):
                    os.unlink(os.path.join(self.dir, name))
        self.start()

    def info(self, section: str) -> dict:
        with self.client() as client:
            return client.info(section)

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
    """CPU seconds (user+system), RSS and peak RSS (bytes) of ``pid``."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = hwm = 0
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1]) * 1024
            elif line.startswith('VmHWM:'):
                hwm = int(line.split()[1]) * 1024
    return {'cpu': cpu, 'rss': rss, 'hwm': hwm}


def make_server(store: str, base_dir: str) -> Server:
    return {'etcd': EtcdServer, 'redis': RedisServer}[store](
        os.path.join(base_dir, store))
