"""The cluster readers' own CPU per interface event, without a store.

    nice -n 19 .venv/bin/python -m benchmarks.reader_cpu \
        [--hosts 1000] [--interfaces 50] [--repeats 7]

What ``benchmarks.consumer_drain`` measures end to end, less the
transport: a cold start's records (the publishers' layout, as
``consumer_drain`` writes them) given to the readers' own code in this
process.  etcd: one watch message per host (its interface keys and
liveness record, base64 as the JSON gateway sends them) through
``EtcdWatcher._message`` (``json.loads``, key parsing, validation, view,
events); Redis: each host's state hash, already decoded as redis-py
returns it, through the reader's ``_records`` and
``ClusterView.replace_quietly``; output: the fleet consumer's record of
those events (``benchmarks.fleet_consumer.follow``: one line per event,
encoded in batches and written to a file in ``/dev/shm``; JSON lines
before session 14, ``marshal`` batches since).  Reported: the minimum
over the repeats of CPU seconds (``time.process_time``) per item yielded
(etcd's include each host's ``up`` and ``synced``), which a shared
machine disturbs less than the end-to-end figure.  Nothing here is a test
assertion.
"""

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import time
from typing import Callable

from benchmarks.consumer_drain import alive
from benchmarks.consumer_drain import host_records
from benchmarks import fleet_consumer
from df_ovsdb_agent.cluster import etcd as cluster_etcd
from df_ovsdb_agent.cluster import redis as cluster_redis
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions


def _b64(text: str) -> str:
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def watch_messages(records: dict) -> list[bytes]:
    """One etcd watch message per host, as the gateway sends them."""
    prefix = stores.ETCD_PREFIX
    revision = 1
    messages = []
    for host, values in records.items():
        events = []
        for name, value in values.items():
            revision += 1
            events.append({'kv': {
                'key': _b64(stores.etcd_key(prefix, host, name)),
                'value': _b64(value), 'mod_revision': str(revision),
                'create_revision': str(revision), 'version': '1',
                'lease': '7'}})
        events.append({'kv': {
            'key': _b64(stores.etcd_alive_key(prefix, host)),
            'value': _b64(alive(host, len(values))),
            'mod_revision': str(revision)}})
        messages.append(json.dumps({'result': {
            'header': {'revision': str(revision)},
            'events': events}}).encode('ascii'))
    return messages


def etcd_once(messages: list[bytes]) -> tuple[float, list]:
    watcher = cluster_etcd.watch_interfaces(
        StoreOptions('http://127.0.0.1:1'))
    started = time.process_time()
    events = []
    for message in messages:
        events.extend(watcher._message(None, json.loads(message)))
    return time.process_time() - started, events


def redis_once(records: dict) -> tuple[float, list]:
    reader = cluster_redis.RedisStreamReader(
        StoreOptions('redis://127.0.0.1:1'))
    hashes = {host: dict(values) for host, values in records.items()}
    started = time.process_time()
    events = []
    for host, values in hashes.items():
        state = cluster_redis._records(host, values, reader._warned)[0]
        events.extend(reader.view.replace_quietly(state, host))
    return time.process_time() - started, events


def output_once(events: list, workdir: str) -> tuple[float, list]:
    with tempfile.TemporaryDirectory(prefix='reader-cpu-',
                                     dir=workdir) as base:
        out = fleet_consumer.Output(os.path.join(base, 'out.bin'))
        started = time.process_time()
        fleet_consumer.follow(iter(events), out)
        out.close()
        return time.process_time() - started, events


def best(run: Callable[[], tuple[float, list]],
         repeats: int) -> tuple[float, int]:
    """The least CPU seconds of ``repeats`` runs, and the events made."""
    results = [run() for _ in range(repeats)]
    return min(r[0] for r in results), len(results[0][1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--interfaces', type=int, default=50)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--workdir', default='/dev/shm')
    args = parser.parse_args(argv)
    rng = random.Random(1)
    records = {'hv%05d' % i: host_records('hv%05d' % i, args.interfaces,
                                          rng)
               for i in range(args.hosts)}
    messages = watch_messages(records)
    events = redis_once(records)[1]
    print('load before: %s' % ' '.join(
        '%.2f' % x for x in os.getloadavg()), flush=True)
    for name, run in (('etcd', lambda: etcd_once(messages)),
                      ('redis', lambda: redis_once(records)),
                      ('output', lambda: output_once(events, args.workdir))):
        cpu, count = best(run, args.repeats)
        print(json.dumps({'what': name, 'events': count,
                          'us_per_event': round(1e6 * cpu / count, 2)}),
              flush=True)
    print('load after: %s' % ' '.join(
        '%.2f' % x for x in os.getloadavg()), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
