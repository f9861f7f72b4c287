"""Follow every host's interfaces in Redis: state hash, then its stream.

::

    reader = RedisStreamReader(StoreOptions('redis://127.0.0.1:6379/0'))
    for event in reader:           # ClusterSync / ClusterEvent
        save(event.position)       # a stream ID, to resume from later

For each host the reader takes the state hash and the stream's last ID in
one transaction, reports the state (between sync markers for that host),
then follows the stream from that ID.  Given ``resume={host: id}`` it
follows from ``id`` instead, without re-reporting the state.

Every read checks, in the same transaction, that the stream still holds
the reader's position: if the stream was trimmed past it (``stream_maxlen``)
or lost (Redis restarted without persistence), the reader re-reads the hash
and reports the difference -- with ``reset`` when it did not know the
host's state (a resumed reader), since then only the full state helps.
"""

import json
import logging
import re
import threading
from typing import Iterable, Iterator, Optional

from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import ClusterSync
from df_ovsdb_agent.cluster import ClusterView
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.exceptions import ConfigError

LOG = logging.getLogger(__name__)

START = '0-0'
STREAM_ID = re.compile(r'^\d+-\d+$')


def _decode(value: str) -> Optional[dict]:
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_state(client, key_prefix: str, host: str) -> tuple[dict, str]:
    """(host, name) -> record of ``host``, and its stream's last ID, read
    in one transaction."""
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(stores.redis_state_key(key_prefix, host))
    pipe.xrevrange(stores.redis_stream_key(key_prefix, host), count=1)
    values, last = pipe.execute()
    state = {}
    for name, value in values.items():
        record = _decode(value)
        if record is not None:
            state[(host, name)] = dict(record, host=host, name=name)
    return state, (last[0][0] if last else START)


def read_interfaces(options: StoreOptions,
                    key_prefix: str = stores.REDIS_PREFIX) -> list[Record]:
    """Every host's online interfaces, sorted by host and name."""
    client = stores.redis_client(options)
    try:
        state = {}
        for host in client.smembers(stores.redis_hosts_key(key_prefix)):
            state.update(read_state(client, key_prefix, host)[0])
    finally:
        client.close()
    return [state[key] for key in sorted(state)]


class RedisStreamReader:
    """Iterate to receive :class:`~df_ovsdb_agent.cluster.ClusterSync` and
    :class:`~df_ovsdb_agent.cluster.ClusterEvent` for every host."""

    def __init__(self, options: StoreOptions,
                 key_prefix: str = stores.REDIS_PREFIX,
                 hosts: Optional[Iterable[str]] = None,
                 resume: Optional[dict[str, str]] = None,
                 block: float = 1.0, count: int = 1000,
                 max_backoff: float = 10.0) -> None:
        """:param hosts: only these hosts (default: all, found as they come).
        :param resume: host -> stream ID to continue after.
        :param block: seconds one blocking read waits; bounds how late a
            new host or a :meth:`stop` is noticed.
        """
        stores.check_redis(options)
        self.options = options
        self.key_prefix = key_prefix
        self.hosts = sorted(hosts) if hosts is not None else None
        self.resume = dict(resume or {})
        for host, position in self.resume.items():
            if not STREAM_ID.match(position):
                raise ConfigError('bad stream ID %r for host %s: expected '
                                  'MILLISECONDS-SEQUENCE' % (position, host))
        self.block = block
        self.count = count
        self.max_backoff = max_backoff
        self.view = ClusterView()
        #: host -> ID of the last stream entry reported.
        self.positions: dict[str, str] = {}
        # Hosts whose whole state the view holds (not so after a resume).
        self._complete: set[str] = set()
        self._resumed: set[str] = set()
        self._stopped = threading.Event()

    def __iter__(self) -> Iterator:
        return self.events()

    def stop(self) -> None:
        """End the iteration within ``block`` seconds (any thread)."""
        self._stopped.set()

    def events(self) -> Iterator:
        return stores.reconnecting(
            self._stopped, 'redis %s' % self.options.safe_url,
            self.max_backoff,
            lambda: stores.redis_client(self.options,
                                        extra_timeout=self.block),
            self._rounds, lambda client: client.close())

    def _rounds(self, client) -> Iterator:
        while not self._stopped.is_set():
            hosts = self._current_hosts(client)
            for host in hosts:
                if host not in self.positions:
                    yield from self._adopt(client, host)
            gaps, entries = self._read(client, hosts)
            for host in gaps:
                LOG.info('Stream of host %s no longer holds %s; re-reading '
                         'its state', host, self.positions[host])
                yield from self._load(client, host)
            for host, items in entries:
                for position, fields in items:
                    yield from self._entry(host, position, fields)
            if not gaps and not entries:
                self._wait(client, hosts)

    def _current_hosts(self, client) -> list[str]:
        if self.hosts is not None:
            return self.hosts
        return sorted(client.smembers(stores.redis_hosts_key(
            self.key_prefix)))

    def _adopt(self, client, host: str) -> Iterator:
        if host in self.resume:
            self.positions[host] = self.resume.pop(host)
            self._resumed.add(host)
            return
        yield from self._load(client, host)

    def _load(self, client, host: str) -> Iterator:
        state, self.positions[host] = read_state(client, self.key_prefix,
                                                 host)
        # A resumed host's earlier state is known to the consumer only, so
        # a diff against our partial view would be wrong: send it whole.
        reset = host not in self._complete and host in self._resumed
        self._complete.add(host)
        yield from self.view.replace(state, host=host, reset=reset)

    def _read(self, client, hosts: list[str]) -> tuple[list, list]:
        """Check positions and read new entries, in one transaction."""
        if not hosts:
            return [], []
        keys = {stores.redis_stream_key(self.key_prefix, h): h
                for h in hosts}
        pipe = client.pipeline(transaction=True)
        for key, host in keys.items():
            pipe.xinfo_stream(key)
            pipe.xrange(key, self.positions[host], self.positions[host],
                        count=1)
        pipe.xread({k: self.positions[h] for k, h in keys.items()},
                   count=self.count)
        replies = pipe.execute(raise_on_error=False)
        if isinstance(replies[-1], Exception):
            raise replies[-1]
        gaps = []
        for index, (key, host) in enumerate(keys.items()):
            info, found = replies[2 * index], replies[2 * index + 1]
            if self._lost(self.positions[host], info, found):
                gaps.append(host)
        entries = [(keys[key], items) for key, items in replies[-1] or []
                   if keys[key] not in gaps]
        return gaps, entries

    @staticmethod
    def _lost(position: str, info, found) -> bool:
        """Whether entries after ``position`` may be gone."""
        if isinstance(info, Exception):  # no stream (yet, or any more)
            return position != START
        if position == START:
            return info.get('max-deleted-entry-id', START) != START
        # Trimming removes the oldest entries first: while our last entry
        # is there, every later one is too.
        return not found

    def _entry(self, host: str, position: str, fields: dict) -> Iterator:
        self.positions[host] = position
        data = _decode(fields.get('event'))
        if data is None:
            LOG.warning('Ignoring unreadable entry %s of host %s',
                        position, host)
            return
        if 'sync' in data:
            yield ClusterSync(Sync(data['sync']), host)
            return
        action = Action(data.pop('action'))
        record = dict(data, host=host)
        name = record['name']
        if host in self._complete:
            yield from self.view.apply(
                host, name, None if action is Action.OFFLINE else record,
                position)
        else:
            # Resumed: the view does not know this host's earlier state,
            # so trust the publisher, whose stream is consistent.
            self.view.apply(host, name, None)
            if action is not Action.OFFLINE:
                self.view.apply(host, name, record)
            yield ClusterEvent(action, host, record, position)

    def _wait(self, client, hosts: list[str]) -> None:
        """Block until some stream has new entries, or ``block`` passes."""
        if not hosts:
            self._stopped.wait(self.block)
            return
        client.xread({stores.redis_stream_key(self.key_prefix, h):
                      self.positions[h] for h in hosts},
                     count=1, block=max(1, int(self.block * 1000)))
