"""What the cluster consumers cost per host: Redis commands per round,
etcd list time.

    .venv/bin/python -m benchmarks.consumer_cost [--hosts 10 100 1000]

Simulated hosts (10 interfaces each, a liveness record, the publishers'
layout) are written straight into one real redis-server and one real etcd
on 127.0.0.1.  For Redis, one :class:`RedisStreamReader` reads them all;
then ``--changes`` single-interface changes on random hosts are made one
at a time, each waited for at the reader, and the commands the reader
sent are counted on the server (``INFO commandstats``, top-level commands
only); the reader's first load of every host is timed, and its CPU per
record reported (``load_cpu_us_per_record``: this process's CPU, whose
main thread only waits meanwhile).  For etcd, one :func:`list_state` of
every host is timed (what a relist costs).  Nothing here is a test
assertion.
"""

import argparse
import json
import random
import tempfile
import threading
import time

from benchmarks.fleet_stores import EtcdServer
from benchmarks.fleet_stores import RedisServer
from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import etcd as cluster_etcd
from df_ovsdb_agent.cluster.redis import RedisStreamReader
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import etcd_b64
from df_ovsdb_agent.cluster.stores import StoreOptions

INTERFACES = 10
ROUND_COMMANDS = ('xread', 'evalsha', 'eval', 'smembers', 'mget')


def record(host: str, name: str, ofport: int) -> dict:
    return {'kind': 'vm', 'name': name, 'uuid': '%s-%s' % (host, name),
            'ofport': ofport, 'iface_id': 'p-' + name, 'attached_mac': None,
            'host': host}


def alive(host: str) -> str:
    return stores.dumps(stores.alive_record(
        host, 'bench', '0', 1, 1.0, True, INTERFACES, 600))


def fill_redis(client, hosts: list[str]) -> None:
    pipe = client.pipeline(transaction=False)
    for host in hosts:
        pipe.set(stores.redis_alive_key(stores.REDIS_PREFIX, host),
                 alive(host), px=600000)
        pipe.hset(stores.redis_state_key(stores.REDIS_PREFIX, host),
                  mapping={'tap%d' % i: stores.dumps(record(host,
                                                            'tap%d' % i, i))
                           for i in range(INTERFACES)})
        pipe.sadd(stores.redis_hosts_key(stores.REDIS_PREFIX), host)
    pipe.execute()


def redis_change(client, host: str, ofport: int) -> None:
    rec = record(host, 'tap0', ofport)
    pipe = client.pipeline(transaction=True)
    pipe.hset(stores.redis_state_key(stores.REDIS_PREFIX, host), 'tap0',
              stores.dumps(rec))
    pipe.xadd(stores.redis_stream_key(stores.REDIS_PREFIX, host),
              {'event': stores.dumps(dict(rec, action='updated'))})
    pipe.execute()


class Collector:
    def __init__(self, reader) -> None:
        self.reader = reader
        self.updates = 0
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for event in self.reader:
            if isinstance(event, ClusterEvent):
                with self.cond:
                    self.updates += 1
                    self.cond.notify_all()

    def wait(self, count: int, timeout: float = 120.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.updates >= count,
                                      timeout):
                raise RuntimeError('reader saw %d of %d events'
                                   % (self.updates, count))


def calls(client) -> dict:
    return {k[len('cmdstat_'):]: v['calls']
            for k, v in client.info('commandstats').items()}


def redis_cost(base: str, count: int, changes: int) -> dict:
    server = RedisServer(base + '/redis-%d' % count)
    server.start()
    try:
        import redis
        client = redis.Redis(host='127.0.0.1', port=server.port,
                             decode_responses=True)
        hosts = ['hv%05d' % i for i in range(count)]
        fill_redis(client, hosts)
        started = time.monotonic()
        cpu = time.process_time()
        reader = RedisStreamReader(StoreOptions(server.url), block=1.0)
        collector = Collector(reader)
        collector.wait(count * INTERFACES)
        loaded = time.monotonic() - started
        # This process's CPU while the reader loaded every host (the
        # main thread only waits): the reader's CPU per record.
        load_cpu = time.process_time() - cpu
        client.config_resetstat()
        rounds = reader.rounds
        rng = random.Random(1)
        lags = []
        for i in range(changes):
            sent = time.monotonic()
            redis_change(client, rng.choice(hosts), 1000 + i)
            collector.wait(count * INTERFACES + i + 1)
            lags.append(time.monotonic() - sent)
        stats = calls(client)
        rounds = reader.rounds - rounds
        reader.stop()
        collector.thread.join(5)
    finally:
        server.stop()
    sent = sum(stats.get(name, 0) for name in ROUND_COMMANDS)
    lags.sort()
    return {'hosts': count, 'load_s': loaded,
            'load_cpu_us_per_record': round(
                1e6 * load_cpu / (count * INTERFACES), 2),
            'rounds': rounds,
            'commands': sent, 'per_round': sent / max(rounds, 1),
            'lag_p50_ms': 1000 * lags[len(lags) // 2],
            'per_host_design': 2 * count + 1}


def etcd_cost(base: str, count: int) -> dict:
    server = EtcdServer(base + '/etcd-%d' % count)
    server.start()
    try:
        client = stores.etcd_client(StoreOptions(server.url, timeout=60))
        ops = []
        for i in range(count):
            host = 'hv%05d' % i
            ops.append((stores.etcd_alive_key(stores.ETCD_PREFIX, host),
                        alive(host)))
            ops.extend((stores.etcd_key(stores.ETCD_PREFIX, host,
                                        'tap%d' % n),
                        stores.dumps(record(host, 'tap%d' % n, n)))
                       for n in range(INTERFACES))
        for start in range(0, len(ops), 100):
            client.transaction({'compare': [], 'failure': [], 'success': [
                {'request_put': {'key': etcd_b64(k), 'value': etcd_b64(v)}}
                for k, v in ops[start:start + 100]]})
        times = []
        for _ in range(3):
            started = time.monotonic()
            listing = cluster_etcd.list_state(client, stores.ETCD_PREFIX)
            times.append(time.monotonic() - started)
        assert len(listing.interfaces) == count * INTERFACES
        client.session.close()
    finally:
        server.stop()
    return {'hosts': count, 'keys': len(ops), 'list_s': sorted(times)[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hosts', type=int, nargs='+',
                        default=[10, 100, 1000])
    parser.add_argument('--changes', type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        for count in args.hosts:
            print(json.dumps(redis_cost(base, count, args.changes)))
            print(json.dumps(etcd_cost(base, count)))


if __name__ == '__main__':
    main()
