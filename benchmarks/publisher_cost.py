"""What a publisher's writer costs per record, in CPU: each piece of a
host's cold-start write, then whole writes into a real redis-server.

    .venv/bin/python -m benchmarks.publisher_cost [--rounds 5] [--hosts 200]

Pieces (pure Python, no server): building a record from an interface
(``record_of``), checking it (``check_record``), its JSON
(``stores.dumps``), the plan of a host's records against an empty store
(``plan``), the online events' JSON (``event_text``) and the writer's
bookkeeping of one offered event (``Writer.offer``, before the first
sync).  Then, against a redis-server this script starts on a free
loopback port: ``RedisStore.apply`` of one host's records (its script
call included), and a whole cold host -- a writer started, its agent's
events offered, until it has flushed (connection, read, records, write),
CPU of every thread of this process.  Each figure is the median over
``--rounds`` of CPU time (``time.process_time``) divided by the records
or hosts.  Only public APIs: run it on two checkouts, alternately, to
compare them.  Nothing here is a test assertion.
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid as uuidlib

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.publishers import plan
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.publishers.redis import RedisStore
from df_ovsdb_agent.publishers import store
from df_ovsdb_agent.publishers.writer import Writer
from df_ovsdb_agent.state import KeyedState
from df_ovsdb_agent.testing.stores import RedisServer


def interfaces(count: int, seed: int = 1) -> list[Interface]:
    """``count`` VM interfaces as the fleet benchmark makes them."""
    rng = uuidlib.UUID
    out = []
    for i in range(count):
        uuid = str(rng(int=(seed << 64) + i, version=4))
        out.append(Interface(Kind.VM, 'tap%05d' % i, uuid, i + 1,
                             bridge='br-int', iface_id=uuid,
                             attached_mac='fa:16:3e:00:%02x:%02x' % (
                                 i >> 8, i & 255)))
    return out


def cpu(run, repeat: int, per: int, rounds: int) -> float:
    """Median microseconds of CPU per item of ``run()`` (``per`` items,
    ``repeat`` calls per round).
    """
    figures = []
    for _ in range(rounds):
        began = time.process_time()
        for _ in range(repeat):
            run()
        figures.append((time.process_time() - began) / repeat / per * 1e6)
    return statistics.median(figures)


def pieces(count: int, rounds: int, repeat: int) -> dict:
    host = 'host00001'
    ifaces = interfaces(count)
    recs = {i.name: records.record_of(i, host) for i in ifaces}
    write = plan.plan(KeyedState(stores.record_identity), recs)
    texts = {id(r): stores.dumps(r) for r in recs.values()}
    events = [InterfaceEvent(Action.ONLINE, i) for i in ifaces]

    def offer():
        writer = Writer(store=None, identify=None, max_backoff=1.0)
        for event in events:
            writer.offer(event)

    return {
        'record_of': cpu(lambda: [records.record_of(i, host)
                                  for i in ifaces], repeat, count, rounds),
        'check_record': cpu(lambda: [records.check_record(r)
                                     for r in recs.values()],
                            repeat, count, rounds),
        'dumps': cpu(lambda: [stores.dumps(r) for r in recs.values()],
                     repeat, count, rounds),
        'plan': cpu(lambda: plan.plan(KeyedState(stores.record_identity),
                                      recs), repeat, count, rounds),
        'event_text': cpu(lambda: [records.event_text(
            c, texts.get(id(c.value))) for c in write.changes],
            repeat, count, rounds),
        'offer': cpu(offer, repeat, count, rounds),
    }


def with_redis(count: int, rounds: int, hosts: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(tmp)
        server.start()
        try:
            return _with_redis(server.url, count, rounds, hosts)
        finally:
            server.stop()


def _with_redis(url: str, count: int, rounds: int, hosts: int) -> dict:
    options = stores.StoreOptions(url=url)
    ifaces = interfaces(count)
    me = store.Instance('bench-apply', 'bench', 1, time.time(), '1')
    redis_store = RedisStore(options, 'bench', 10000, 60)
    redis_store.bind(me)
    redis_store.connect()
    redis_store.claim(stores.alive_record(me.host, me.owner, me.version,
                                          me.pid, me.started, True, count,
                                          60))
    recs = {i.name: records.record_of(i, me.host) for i in ifaces}
    write = plan.plan(KeyedState(stores.record_identity), recs, resync=True)
    redis_store.apply(write)
    apply_us = cpu(lambda: redis_store.apply(write), 50, count, rounds)
    redis_store.close()

    events = [InterfaceEvent(Action.ONLINE, i) for i in ifaces]
    serial = iter(range(10 ** 9))

    def cold_host():
        started = time.time()
        instance = store.Instance('bench-%d' % next(serial), 'bench', 1,
                                  started, '1')
        writer = Writer(RedisStore(options, 'bench', 10000, 60),
                        lambda: instance, max_backoff=1.0)
        writer.start()
        for event in events:
            writer.offer(event)
        writer.offer(SYNC_FINISHED)
        if not writer.wait_flushed(30):
            raise RuntimeError('a writer did not flush in 30 s')
        writer.stop(5)

    host_us = cpu(cold_host, hosts, count, rounds)
    return {'apply': apply_us, 'cold host': host_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--interfaces', type=int, default=50,
                        help='records per host (default 50)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeat', type=int, default=200,
                        help='hosts per round of each piece')
    parser.add_argument('--hosts', type=int, default=100,
                        help='cold hosts per round against Redis')
    parser.add_argument('--no-redis', action='store_true')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    found = pieces(args.interfaces, args.rounds, args.repeat)
    if not args.no_redis:
        found.update(with_redis(args.interfaces, args.rounds, args.hosts))
    if args.json:
        print(json.dumps(found, sort_keys=True))
        return
    for name, value in found.items():
        print('%-14s %7.2f us CPU per record' % (name, value))


if __name__ == '__main__':
    main()
