"""The Redis publisher's write script against a real redis-server: the
hash operations and stream events travel packed (lengths, then the bytes
concatenated) and come out exactly, whatever bytes a name holds, in
writes of hundreds of records; packing that does not add up is
refused before anything is written.
"""

import json
import random
import time

import pytest
import redis

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers import plan
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.publishers import redis as redis_publisher
from df_ovsdb_agent.publishers.store import Instance
from df_ovsdb_agent.state import Change
from df_ovsdb_agent.state import KeyedState
from tests.functional.stores import redis_server_fixture  # noqa: F401

pytestmark = [pytest.mark.functional, pytest.mark.timeout(60)]

PREFIX = 'df-ovsdb-agent'
STATE = stores.redis_state_key(PREFIX, 'hv1')
STREAM = stores.redis_stream_key(PREFIX, 'hv1')


def raw_client(server):
    """Bytes in, bytes out: nothing decoded on the way."""
    return redis.Redis(host='127.0.0.1', port=server.port,
                       socket_timeout=5, decode_responses=False)


def bound_store(server):
    store = redis_publisher.RedisStore(stores.StoreOptions(server.url),
                                       PREFIX, 10000, 60)
    store.bind(Instance('hv1', 'o1', 10, time.time(), '1.0'))
    store.connect()
    return store


def alive(store):
    me = store.me
    return stores.alive_record(me.host, me.owner, me.version, me.pid,
                               me.started, True, 0, 60)


def hostile_names(rng):
    """Valid Unicode names built to break a naive packing: separators,
    digits that look like lengths, NUL, newlines, non-ASCII, astral.
    """
    pool = ',:0123456789\x00\n\r "\\\x7féü€\U0001f600abc'
    names = {',', '0', '12', '3,4', '\x00', 'tap\n1', '€' * 15,
             '\U0001f600', 'a' * 300}
    while len(names) < 260:
        names.add(''.join(rng.choices(pool, k=rng.randint(1, 24))))
    return sorted(names)


def record(name, i):
    return {'kind': 'vm', 'name': name, 'uuid': 'u%d' % i, 'ofport': i,
            'iface_id': 'p%d' % i, 'host': 'hv1'}


@pytest.mark.parametrize('seed', range(3))
def test_hostile_names_and_garbage_fields_are_written_exactly(
        redis_server, seed):
    rng = random.Random(seed)
    raw = raw_client(redis_server)
    # Garbage already in the hash: fields that are not UTF-8 (any byte),
    # which the store reads back surrogate-escaped and must delete
    # byte-exact.
    garbage = {bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
               + b'\xff' for _ in range(40)}
    garbage |= {b'\xff', b',\xfe', b'1\x002'}
    raw.hset(STATE, mapping={field: b'{not json' for field in garbage})
    store = bound_store(redis_server)
    try:
        store.claim(alive(store))
        stored, rewrite = store.read_state()
        assert set(rewrite) == set(stored) and len(stored) == len(garbage)
        names = hostile_names(rng)
        batch = {name: record(name, i) for i, name in enumerate(names)}
        write = plan.plan(
            KeyedState(stores.record_identity, stored),
            dict(dict.fromkeys(stored), **batch), resync=True)
        write.alive = alive(store)
        store.apply(write)

        found = raw.hgetall(STATE)
        assert found == {name.encode(): stores.dumps(batch[name]).encode()
                         for name in names}
        events = [json.loads(fields[b'event'])
                  for _, fields in raw.xrange(STREAM)]
        # No event for the garbage; every record online, in plan order.
        assert events[0] == {'sync': 'started', 'host': 'hv1'}
        assert events[-1] == {'sync': 'finished', 'host': 'hv1'}
        assert events[1:-1] == [records.event_of(change)
                                for change in write.changes
                                if change.value is not records.UNREADABLE]
        assert [e['name'] for e in events[1:-1]] == names

        # Deletes and updates mixed: exact again.
        gone = rng.sample(names, 130)
        changed = {name: dict(batch[name], ofport=None)
                   for name in names if name not in gone}
        current = KeyedState(stores.record_identity, batch)
        later = plan.plan(current, dict(dict.fromkeys(gone), **changed))
        store.apply(later)
        assert raw.hgetall(STATE) == {
            name.encode(): stores.dumps(value).encode()
            for name, value in changed.items()}
        tail = [json.loads(fields[b'event'])
                for _, fields in raw.xrange(STREAM)][len(events):]
        assert [(e['action'], e['name']) for e in tail] == (
            [('offline', name) for name in gone] +
            [('updated', name) for name in changed])
    finally:
        store.close()
        raw.close()


@pytest.mark.parametrize('lengths,blob', [
    ('5', b'abc'),             # short
    ('1,1', b'abc'),           # long
    ('1', b'a'),               # adds up, but a name without its value
])
def test_packing_that_does_not_add_up_writes_nothing(redis_server, lengths,
                                                     blob):
    raw = raw_client(redis_server)
    store = bound_store(redis_server)
    try:
        keys = [store.alive_key, store.state_key, store.stream_key,
                store.hosts_key, store.registrations_key]
        script = store._client.register_script(redis_publisher.WRITE)
        me = store._me()
        with pytest.raises(redis.exceptions.ResponseError,
                           match='do not add up|come in pairs'):
            script(keys=keys, args=me + [
                10000, 0, 'hv1', stores.dumps(alive(store)), 60000,
                'claim', lengths, blob, '', b''])
        assert raw.keys(b'*') == []
    finally:
        store.close()
        raw.close()


def test_a_change_event_of_a_record_is_its_json_with_the_action(
        redis_server):
    """An event made from the record's own JSON (no second encoding) is
    what a consumer would get from encoding the event itself.
    """
    raw = raw_client(redis_server)
    store = bound_store(redis_server)
    try:
        store.claim(alive(store))
        value = record('tap"é\x00', 1)
        store.apply(plan.Write([Change(Action.ONLINE, value['name'], value)],
                               {value['name']: value}))
        [(_, fields)] = raw.xrange(STREAM)
        assert fields[b'event'].decode() == stores.dumps(
            dict(value, action='online'))
    finally:
        store.close()
        raw.close()


def test_a_connection_costs_one_round_trip_before_the_read(redis_server):
    """The store's connection speaks RESP2: no ``HELLO`` round trip (which
    redis-py 8 sends for RESP3) before its first command, the read.
    """
    admin = redis_server.client()

    def calls():
        stats = admin.info('commandstats')
        return {name: stats.get('cmdstat_' + name, {}).get('calls', 0)
                for name in ('hello', 'hgetall')}

    try:
        before = calls()
        store = bound_store(redis_server)
        try:
            assert store.read_state() == ({}, frozenset())
        finally:
            store.close()
        after = calls()
        assert after == dict(before, hgetall=before['hgetall'] + 1)
    finally:
        admin.close()
