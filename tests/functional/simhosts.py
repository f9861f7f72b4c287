"""Simulated hosts: a publisher's records written straight into a store.

The layout is the one of :mod:`df_ovsdb_agent.cluster.stores`, written with
the stores' own clients, so consumer tests can create, change, kill and
revive hundreds of hosts without running an agent per host.
"""

import threading

from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import ClusterHost
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import etcd_b64

ETCD_PREFIX = stores.ETCD_PREFIX
REDIS_PREFIX = stores.REDIS_PREFIX


def record(host, name, ofport=1, uuid=None, **extra):
    """A VM interface's state record, as Interface.to_dict() + host."""
    data = {'kind': 'vm', 'name': name, 'uuid': uuid or '%s-%s-u' % (
        host, name), 'ofport': ofport, 'iface_id': 'p-' + name,
            'attached_mac': None, 'host': host}
    data.update(extra)
    return data


def alive(host, synced=True, pid=1, interfaces=0, ttl=30):
    return stores.alive_record(host, 'test-owner', '0.test', pid,
                               1700000000.0 + pid, synced, interfaces, ttl)


class EtcdHost:
    """One host's keys in etcd, on its own lease."""

    def __init__(self, server, host, ttl=600, prefix=ETCD_PREFIX):
        self.server = server
        self.host = host
        self.ttl = ttl
        self.prefix = prefix
        self.records = {}
        self.lease = None

    def _client(self):
        return self.server.client()

    def grant(self):
        self.lease = self._client().lease(self.ttl)

    def put(self, *records):
        """Write interface records in one transaction."""
        if self.lease is None:
            self.grant()
        ops = []
        for rec in records:
            self.records[rec['name']] = rec
            key = stores.etcd_key(self.prefix, self.host, rec['name'])
            ops.append({'request_put': {
                'key': etcd_b64(key), 'value': etcd_b64(stores.dumps(rec)),
                'lease': self.lease.id}})
        self._client().transaction({'compare': [], 'success': ops,
                                    'failure': []})

    def delete(self, *names):
        ops = []
        for name in names:
            self.records.pop(name)
            ops.append({'request_delete_range': {'key': etcd_b64(
                stores.etcd_key(self.prefix, self.host, name))}})
        self._client().transaction({'compare': [], 'success': ops,
                                    'failure': []})

    def set_alive(self, **kwargs):
        if self.lease is None:
            self.grant()
        kwargs.setdefault('interfaces', len(self.records))
        self._client().put(stores.etcd_alive_key(self.prefix, self.host),
                           stores.dumps(alive(self.host, ttl=self.ttl,
                                              **kwargs)),
                           lease=self.lease)

    def rewrite(self, **alive_kwargs):
        """Write every record and the alive key again on a new lease, as a
        publisher does after its lease was lost.
        """
        self.grant()
        # Claim first (not synced), then the records, then "synced".
        self.set_alive(**dict(alive_kwargs, synced=False))
        self.put(*self.records.values())
        self.set_alive(**alive_kwargs)

    def revoke(self):
        """The host dies: its lease goes, and every key with it."""
        self.lease.revoke()
        self.lease = None
        self.records.clear()


class RedisHost:
    """One host's hash, stream and liveness key in Redis."""

    def __init__(self, client, host, ttl=600, prefix=REDIS_PREFIX,
                 maxlen=10000):
        self.client = client
        self.host = host
        self.ttl = ttl
        self.maxlen = maxlen
        self.prefix = prefix
        self.records = {}
        self.state_key = stores.redis_state_key(prefix, host)
        self.stream_key = stores.redis_stream_key(prefix, host)
        self.alive_key = stores.redis_alive_key(prefix, host)

    def _pipe(self):
        return self.client.pipeline(transaction=True)

    def change(self, puts=(), deletes=(), sync=False, pipe=None):
        """Change records and append their events, in one MULTI/EXEC."""
        own = pipe is None
        pipe = self._pipe() if own else pipe
        if sync:
            self._append(pipe, {'sync': 'started', 'host': self.host})
        for name in deletes:
            old = self.records.pop(name)
            pipe.hdel(self.state_key, name)
            self._append(pipe, dict(old, action='offline'))
        for rec in puts:
            old = self.records.get(rec['name'])
            self.records[rec['name']] = rec
            pipe.hset(self.state_key, rec['name'], stores.dumps(rec))
            action = 'online' if old is None else (
                'updated' if old['uuid'] == rec['uuid'] else None)
            if action is None:
                self._append(pipe, dict(old, action='offline'))
                action = 'online'
            self._append(pipe, dict(rec, action=action))
        if sync:
            self._append(pipe, {'sync': 'finished', 'host': self.host})
        pipe.sadd(stores.redis_hosts_key(self.prefix), self.host)
        if own:
            pipe.execute()

    def _append(self, pipe, event):
        pipe.xadd(self.stream_key, {'event': stores.dumps(event)},
                  maxlen=self.maxlen, approximate=False)

    def rewrite(self, **alive_kwargs):
        """Write everything again into an emptied Redis, as a publisher
        reconciles: liveness record (not synced), the state as a resync, then
        the liveness record again.
        """
        records = list(self.records.values())
        self.records.clear()
        # Claim first (not synced), then the state, then "synced".
        self.set_alive(**dict(alive_kwargs, synced=False))
        self.change(puts=records, sync=True)
        self.set_alive(**alive_kwargs)

    def set_alive(self, ttl_ms=None, pipe=None, **kwargs):
        kwargs.setdefault('interfaces', len(self.records))
        (pipe or self.client).set(
            self.alive_key, stores.dumps(alive(self.host, ttl=self.ttl,
                                               **kwargs)),
            px=ttl_ms or self.ttl * 1000)


def redis_command_calls(client):
    """command name -> calls, from INFO commandstats."""
    stats = client.info('commandstats')
    return {name[len('cmdstat_'):]: value['calls']
            for name, value in stats.items()}


def etcd_metric(server, name):
    """The value of one etcd metric (the sum over its label sets)."""
    import requests
    text = requests.get(server.url + '/metrics', timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in ' {':
            total += float(line.rsplit(' ', 1)[1])
    return total


class Tail:
    """Runs a watcher in a thread; ``pause()`` blocks it before it hands
    over its next event, so it stops reading the watch.
    """

    def __init__(self, watcher):
        self.watcher = watcher
        self.events = []
        self.state = {}  # the events replayed so far
        self.errors = []
        self._cond = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for event in self.watcher:
            self._open.wait()
            with self._cond:
                self.events.append(event)
                try:
                    step(self.state, event)
                except AssertionError as exc:
                    self.errors.append(str(exc))
                self._cond.notify_all()

    def pause(self):
        self._open.clear()

    def resume(self):
        self._open.set()

    def wait(self, predicate, timeout=20.0, what='the consumer'):
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.events), timeout)
            assert ok, 'timed out waiting for %s (%s); events:\n%s' % (
                what, self.counters(),
                '\n'.join(map(str, self.events[-40:])))
            return len(self.events)

    def counters(self):
        names = ('lists', 'progress', 'stalls', 'compactions', 'revision',
                 'rounds', 'commands')
        return ' '.join('%s=%s' % (n, getattr(self.watcher, n))
                        for n in names if hasattr(self.watcher, n))

    def since(self, mark):
        with self._cond:
            return list(self.events[mark:])

    def stop(self):
        self.watcher.stop()
        self._open.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def step(state, event):
    """Apply one event to (host, name) -> record; fail if inconsistent."""
    if not isinstance(event, ClusterEvent):
        return
    key = (event.host, event.name)
    if event.action.value == 'online':
        assert key not in state, 'online twice: %s' % event
        state[key] = event.record
    else:
        assert key in state, '%s of an absent interface' % event
        if event.action.value == 'offline':
            del state[key]
        else:
            state[key] = event.record


def truth(*hosts):
    return {(h.host, name): rec for h in hosts
            for name, rec in h.records.items()}


def changes(events):
    return sorted((e.host, e.action.value, e.name) for e in events
                  if isinstance(e, ClusterEvent))


def markers(events):
    return [str(e) for e in events if isinstance(e, ClusterHost)]


def converged(tail, *hosts):
    """Predicate: the events so far replay to the hosts' state."""
    want = truth(*hosts)

    def check(events):
        assert not tail.errors, tail.errors
        return tail.state == want
    check.want = want
    return check
