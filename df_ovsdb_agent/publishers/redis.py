"""Publish the host's interfaces to Redis: a state hash and an event stream.

- ``<key_prefix>:<host>:interfaces`` -- hash, interface name -> JSON record;
- ``<key_prefix>:<host>:events`` -- stream of the changes made to that hash,
  one ``event`` field of JSON per entry, trimmed to ``stream_maxlen``;
- ``<key_prefix>:hosts`` -- set of the hosts that publish.

Hash and stream change in one MULTI/EXEC, so a reader that takes the hash
and the stream's last ID in one transaction can follow the stream from
there without gap or overlap.  A reconcile appends only the net changes,
between ``{"sync": "started"}`` and ``{"sync": "finished"}`` entries.
Read them with :mod:`df_ovsdb_agent.cluster.redis` or
``df-ovsdb-cluster-events --redis``.
"""

import json
import logging

from oslo_config import cfg

from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers import base

LOG = logging.getLogger(__name__)

UNREADABLE = {'__unreadable__': True}


class RedisStore(base.Store):
    """One host's hash and stream."""

    def __init__(self, options: stores.StoreOptions, key_prefix: str,
                 host: str, stream_maxlen: int) -> None:
        stores.check_redis(options)
        self.options = options
        self.host = host
        self.state_key = stores.redis_state_key(key_prefix, host)
        self.stream_key = stores.redis_stream_key(key_prefix, host)
        self.hosts_key = stores.redis_hosts_key(key_prefix)
        self.stream_maxlen = stream_maxlen
        self._client = None

    @property
    def target(self) -> str:
        return 'redis %s' % self.options.safe_url

    def connect(self) -> None:
        self._client = stores.redis_client(self.options)
        self._client.sadd(self.hosts_key, self.host)

    def read_state(self) -> dict[str, Record]:
        state = {}
        for name, value in self._client.hgetall(self.state_key).items():
            try:
                state[name] = json.loads(value)
            except ValueError:
                state[name] = UNREADABLE  # rewritten or removed
        return state

    def apply(self, changes: list[base.Change], resync: bool) -> None:
        pipe = self._client.pipeline(transaction=True)
        if resync:
            self._append(pipe, {'sync': 'started', 'host': self.host})
        for change in changes:
            if change.action is Action.OFFLINE:
                pipe.hdel(self.state_key, change.name)
            else:
                pipe.hset(self.state_key, change.name,
                          stores.dumps(change.record))
            self._append(pipe, change.event())
        if resync:
            self._append(pipe, {'sync': 'finished', 'host': self.host})
            pipe.sadd(self.hosts_key, self.host)
        pipe.execute()

    def _append(self, pipe, event: dict) -> None:
        pipe.xadd(self.stream_key, {'event': stores.dumps(event)},
                  maxlen=self.stream_maxlen, approximate=False)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class RedisPublisher(base.StorePublisher):
    """Keep this host's interfaces in a Redis hash, changes in a stream."""

    CONFIG_OPTS = [
        cfg.StrOpt('url', default='redis://127.0.0.1:6379/0',
                   help='redis://HOST:PORT/DB, rediss://... for TLS, or '
                        'unix://PATH?db=N.'),
        cfg.StrOpt('key_prefix', default=stores.REDIS_PREFIX,
                   help='Prefix of every key: <prefix>:<host>:interfaces, '
                        '<prefix>:<host>:events, <prefix>:hosts.'),
        cfg.IntOpt('stream_maxlen', default=10000, min=1,
                   help='Entries kept in each host\'s event stream; a '
                        'reader that falls further behind re-reads the '
                        'state hash.'),
    ] + base.CREDENTIAL_OPTS + base.TLS_OPTS + base.RETRY_OPTS

    def make_store(self) -> RedisStore:
        return RedisStore(self.options, self.config.key_prefix, self.host,
                          self.config.stream_maxlen)
