"""The fleet consumer's CPU per event, alone: a fleet's cold start written
straight into a real store while the benchmark's consumer process
(``benchmarks.fleet_consumer``, the real cluster readers) follows it.

    nice -n 19 .venv/bin/python -m benchmarks.consumer_drain \
        [--stores etcd,redis] [--hosts 1000] [--interfaces 50] \
        [--profile /tmp/prof] [--workdir /dev/shm] [--idle SECONDS]

The consumer starts on an empty store; then each host's records are
written in the publishers' layout, as a cold start leaves them (etcd: one
transaction per host with its liveness record and every interface key;
Redis: the liveness record, the state hash, the stream entries of a full
sync and the registration entry), from this process, while the consumer
runs.  Reported: the consumer's CPU seconds (``/proc``) from the first
write until it has written the last interface event, per event, and the
wall time of that drain, and each host's lag (from its write to its last
interface event at the consumer: p50, p99, max); with ``--idle``, its CPU
over that many seconds after the drain, with nothing changing (a
percentage of one core).  With ``--profile`` the consumer runs under
cProfile (slower; the profile goes to ``PATH.STORE``).  Nothing here is a
test assertion.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import fleet_consumer
from benchmarks.fleet_stores import EtcdServer
from benchmarks.fleet_stores import RedisServer
from benchmarks.fleet_worker import vm_port
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import etcd_b64
from df_ovsdb_agent.cluster.stores import StoreOptions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf('SC_CLK_TCK')
#: Redis: hosts written per transaction.
BATCH = 10


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of process ``pid``."""
    with open('/proc/%d/stat' % pid) as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def host_records(host: str, interfaces: int,
                 rng: random.Random) -> dict[str, str]:
    return {'tap%d' % i: stores.dumps(dict(
        vm_port('tap%d' % i, i + 1, rng).to_dict(), host=host))
        for i in range(interfaces)}


def alive(host: str, interfaces: int) -> str:
    return stores.dumps(stores.alive_record(
        host, 'drain-' + host, '0', 1, 1.0, True, interfaces, 600))


def fill_etcd(url: str, hosts: list, interfaces: int,
              written: dict) -> None:
    client = stores.etcd_client(StoreOptions(url, timeout=60))
    rng = random.Random(1)
    prefix = stores.ETCD_PREFIX
    for host in hosts:
        ops = [{'request_put': {
            'key': etcd_b64(stores.etcd_key(prefix, host, name)),
            'value': etcd_b64(value)}}
            for name, value in host_records(host, interfaces, rng).items()]
        ops.append({'request_put': {
            'key': etcd_b64(stores.etcd_alive_key(prefix, host)),
            'value': etcd_b64(alive(host, interfaces))}})
        client.post(client.get_url('/kv/txn'), json={'success': ops})
        written[host] = time.monotonic()
    client.session.close()


def fill_redis(url: str, hosts: list, interfaces: int,
               written: dict) -> None:
    import redis
    client = redis.Redis.from_url(url)
    rng = random.Random(1)
    prefix = stores.REDIS_PREFIX
    pipe = client.pipeline(transaction=True)
    for index, host in enumerate(hosts):
        records = host_records(host, interfaces, rng)
        stream = stores.redis_stream_key(prefix, host)
        pipe.xadd(stream, {'event': stores.dumps({'sync': 'started'})})
        pipe.hset(stores.redis_state_key(prefix, host), mapping=records)
        for value in records.values():
            pipe.xadd(stream, {'event': value[:-1] + ',"action":"online"}'})
        pipe.xadd(stream, {'event': stores.dumps({'sync': 'finished'})})
        pipe.set(stores.redis_alive_key(prefix, host),
                 alive(host, interfaces), px=600000)
        pipe.sadd(stores.redis_hosts_key(prefix), host)
        # As a publisher's claim registers the host (see
        # publishers/redis.py): readers are woken by it.
        pipe.xadd(stores.redis_registrations_key(prefix), {'host': host},
                  maxlen=stores.REDIS_REGISTRATIONS_MAXLEN, approximate=True)
        if index % BATCH == BATCH - 1:
            pipe.execute()
            now = time.monotonic()
            written.update(
                (h, now) for h in hosts[index + 1 - BATCH:index + 1])
    pipe.execute()
    now = time.monotonic()
    written.update((h, now) for h in hosts if h not in written)
    client.close()


def count_events(frames: fleet_consumer.Frames,
                 last_of: dict) -> tuple[int, float]:
    """New interface events of the consumer's output: (count, time of the
    last one); ``last_of``: host -> time of its last one.
    """
    count, last = 0, 0.0
    for line in frames.read():
        if line['e'] == 'i':
            count += 1
            last = last_of[line['h']] = line['t']
    return count, last


def lags(written: dict, last_of: dict) -> dict:
    """p50/p99/max of each host's lag: from its write's acknowledgement
    to its last interface event at the consumer, in milliseconds.
    """
    values = sorted(1000.0 * (last_of[h] - t) for h, t in written.items()
                    if h in last_of)
    if not values:
        return {}
    return {'p50': round(values[len(values) // 2]),
            'p99': round(values[int(len(values) * 0.99)]),
            'max': round(values[-1])}


def run(store: str, args, base: str) -> dict:
    server = (EtcdServer if store == 'etcd' else RedisServer)(
        os.path.join(base, store))
    server.start()
    out = os.path.join(base, store + '.out')
    command = [sys.executable]
    if args.profile:
        command += ['-m', 'cProfile', '-o', '%s.%s' % (args.profile, store)]
    command += ['-m', 'benchmarks.fleet_consumer', '--store', store,
                '--url', server.url, '--out', out]
    consumer = subprocess.Popen(command, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        # Ready: its first read of the (empty) store is done.
        while not (os.path.exists(out) and os.path.getsize(out)) and (
                store == 'etcd'):
            if time.monotonic() > deadline:
                raise RuntimeError('consumer not ready')
            time.sleep(0.05)
        time.sleep(1.5)  # Redis: connected and through its first check
        hosts = ['hv%05d' % i for i in range(args.hosts)]
        want = args.hosts * args.interfaces
        cpu0 = cpu_seconds(consumer.pid)
        started = time.monotonic()
        fill = fill_etcd if store == 'etcd' else fill_redis
        written: dict = {}
        last_of: dict = {}
        filler = threading.Thread(target=fill, args=(
            server.url, hosts, args.interfaces, written))
        filler.start()
        seen, last = 0, started
        frames = fleet_consumer.Frames(out)
        while seen < want:
            if time.monotonic() - started > args.timeout:
                raise RuntimeError('%d of %d events after %ss'
                                   % (seen, want, args.timeout))
            count, t = count_events(frames, last_of)
            seen += count
            last = t or last
            time.sleep(0.05)
        user, system = (b - a for a, b in zip(
            cpu0, cpu_seconds(consumer.pid)))
        cpu = user + system
        filler.join()
        filled = time.monotonic() - started
        idle = 0.0
        if args.idle:
            # Nothing changes now: what following the fleet costs.
            before = sum(cpu_seconds(consumer.pid))
            time.sleep(args.idle)
            idle = sum(cpu_seconds(consumer.pid)) - before
    finally:
        consumer.send_signal(signal.SIGTERM)
        try:
            consumer.wait(60)
        except subprocess.TimeoutExpired:
            consumer.kill()
        server.stop()
    counters = {}
    if os.path.exists(out + '.loads.json'):
        # The Redis reader's own counters (see fleet_consumer.write_loads):
        # rounds and commands do not depend on the machine's load.
        with open(out + '.loads.json') as loads:
            counters = {k: v for k, v in json.load(loads).items()
                        if k != 'loads'}
    return {**counters, 'store': store, 'events': seen,
            'consumer_cpu_s': round(cpu, 3),
            'user_s': round(user, 2), 'system_s': round(system, 2),
            'us_per_event': round(1e6 * cpu / seen, 1),
            'drain_s': round(last - started, 2),
            'fill_s': round(filled, 2),
            'host_lag_ms': lags(written, last_of),
            'idle_cpu_pct': round(100.0 * idle / args.idle, 1)
            if args.idle else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stores', default='etcd,redis')
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--interfaces', type=int, default=50)
    parser.add_argument('--profile')
    parser.add_argument('--workdir', default=None)
    parser.add_argument('--timeout', type=float, default=300)
    parser.add_argument('--idle', type=float, default=0.0,
                        help='then measure the consumer\'s CPU over this '
                        'many seconds with nothing changing')
    args = parser.parse_args(argv)
    print('load before: %s' % ' '.join(
        '%.2f' % x for x in os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory(prefix='drain-', dir=args.workdir) as d:
        for store in args.stores.split(','):
            print(json.dumps(run(store, args, d)), flush=True)
    print('load after: %s' % ' '.join(
        '%.2f' % x for x in os.getloadavg()), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
