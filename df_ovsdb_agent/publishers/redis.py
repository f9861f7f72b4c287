"""The Redis store: a state hash, an event stream and a liveness record per
host.

Every write is one Lua script that first checks that the liveness record
is this process's, so hash and stream change together (a reader can follow
the stream from the hash without gap or overlap) and an agent that lost the
host id never touches its keys.  Key layout:
:mod:`df_ovsdb_agent.cluster.stores`; the stream's entries:
doc/source/publishers.rst.
A (re)connection costs two round trips: the read, then one script that
claims the host, writes and sets the liveness record after the data.
"""

import logging
import time
from typing import Any, Optional

from oslo_config import cfg

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers import base
from df_ovsdb_agent.publishers import plan
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.publishers import store
from df_ovsdb_agent.state import Change

LOG = logging.getLogger(__name__)

UNREADABLE = records.UNREADABLE

# Is the liveness record in KEYS[1] ours?  ARGV[1..3] = owner, pid,
# started.  Sets `rec` to the decoded record (nil if unreadable).
_MINE = """
local cur = redis.call('GET', KEYS[1])
local rec = nil
if cur then
  local ok, decoded = pcall(cjson.decode, cur)
  if ok and type(decoded) == 'table' then rec = decoded end
end
local function mine(r)
  return r ~= nil and r.owner == ARGV[1] and r.pid == tonumber(ARGV[2])
    and r.started == tonumber(ARGV[3])
end
"""

# A claim adds the host to the hosts set and, in the same script, one
# entry to the registrations stream: a hint that wakes readers blocked in
# XREAD (the set stays the truth).  KEYS[n] = the stream, ARGV[h] = host.
_REGISTER = """
redis.call('SADD', KEYS[%%d], ARGV[%%d])
redis.call('XADD', KEYS[%%d], 'MAXLEN', '~', '%d', '*', 'host', ARGV[%%d])
""" % stores.REDIS_REGISTRATIONS_MAXLEN

# Claim or refresh the host id: KEYS = alive, hosts, registrations; ARGV =
# owner, pid, started, record, ttl ms, mode ('claim' takes over an older
# process of the same owner; 'refresh' needs the record to be ours), host.
# Returns {0} done, {1, current} held by another, {2} no record.
CLAIM = _MINE + """
if cur then
  local older = rec ~= nil and rec.owner == ARGV[1]
    and type(rec.started) == 'number' and rec.started < tonumber(ARGV[3])
  if not (mine(rec) or (ARGV[6] == 'claim' and older)) then
    return {1, cur}
  end
elseif ARGV[6] ~= 'claim' then
  return {2}
end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
if ARGV[6] == 'claim' then
""" + _REGISTER % (2, 7, 3, 7) + """
end
return {0}
"""

# ARGV[i + 1] cut into the pieces whose byte lengths ARGV[i] lists
# (decimal, comma-separated): a few arguments instead of three per record
# (redis-py handles every argument in Python).  Pieces may hold any byte;
# lengths that do not add up to the whole are an error, before any write.
_UNPACK = """
local function unpack_args(i)
  local lengths, blob = ARGV[i], ARGV[i + 1]
  local pieces, pos = {}, 1
  for size in string.gmatch(lengths, '%d+') do
    local stop = pos + tonumber(size)
    pieces[#pieces + 1] = string.sub(blob, pos, stop - 1)
    pos = stop
  end
  if pos ~= #blob + 1 then error('packed arguments do not add up') end
  return pieces
end
"""

# Guarded write: KEYS = alive, hash, stream, hosts, registrations; ARGV =
# owner, pid, started, maxlen, drop (1: also remove the host), host,
# liveness record to set after the data ('' for none), its ttl ms, mode
# ('claim': take the host over like CLAIM does; else the record must be
# ours), then two packed lists (_UNPACK): the hash operations (name,
# value or '' to delete, name, value...) and the stream events.  Returns
# like CLAIM.
WRITE = _MINE + _UNPACK + """
local claim = ARGV[9] == 'claim'
if cur then
  local older = claim and rec ~= nil and rec.owner == ARGV[1]
    and type(rec.started) == 'number' and rec.started < tonumber(ARGV[3])
  if not (mine(rec) or older) then return {1, cur} end
elseif not claim then
  return {2}
end
local ops = unpack_args(10)
local events = unpack_args(12)
if #ops % 2 ~= 0 then error('hash operations come in pairs') end
for i = 1, #ops, 2 do
  if ops[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ops[i])
  else
    redis.call('HSET', KEYS[2], ops[i], ops[i + 1])
  end
end
for _, event in ipairs(events) do
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], '*', 'event', event)
end
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[1], ARGV[7], 'PX', ARGV[8])
  if claim then
""" + _REGISTER % (4, 6, 5, 6) + """
  end
end
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], ARGV[6])
end
return {0}
"""


class RedisStore(store.Store):
    """One host's hash, stream and liveness record."""

    writes_alive = True

    def __init__(self, options: stores.StoreOptions, key_prefix: str,
                 stream_maxlen: int, liveness_ttl: int) -> None:
        super().__init__()
        stores.check_redis(options)
        self.options = options
        self.key_prefix = key_prefix
        self.hosts_key = stores.redis_hosts_key(key_prefix)
        self.registrations_key = stores.redis_registrations_key(key_prefix)
        self.stream_maxlen = stream_maxlen
        self.ttl = liveness_ttl
        self.tick_interval = liveness_ttl / 3.0
        self.state_key = self.stream_key = self.alive_key = ''
        self._client: Any = None
        self._claim_script: Any = None
        self._write: Any = None
        # The liveness record of a claim made by the next write.
        self._claim: Optional[dict] = None
        self._expires: Optional[float] = None

    @property
    def target(self) -> str:
        return 'redis %s' % self.options.safe_url

    def bind(self, instance: store.Instance) -> None:
        super().bind(instance)
        host = instance.host
        self.state_key = stores.redis_state_key(self.key_prefix, host)
        self.stream_key = stores.redis_stream_key(self.key_prefix, host)
        self.alive_key = stores.redis_alive_key(self.key_prefix, host)

    def connect(self) -> None:
        # Replies that are not UTF-8 come back with surrogate escapes, not
        # as an error: see read_state.
        self._claim = None
        self._client = stores.redis_client(self.options,
                                           encoding_errors='surrogateescape',
                                           resp2=True)
        self._claim_script = self._client.register_script(CLAIM)
        self._write = self._client.register_script(WRITE)

    def _me(self) -> list:
        return [self.me.owner, self.me.pid, repr(self.me.started)]

    def _check(self, reply: list) -> None:
        if reply[0] == 0:
            return
        current = None
        if reply[0] == 1:
            current = _parse_alive(reply[1]) or {
                'owner': '<unreadable liveness record>'}
        raise store.NotOwner(self.host, current)

    @property
    def expires(self) -> Optional[float]:
        return self._expires

    def _set_alive(self, alive: dict, mode: str) -> None:
        sent = self.sent = time.monotonic()
        self._check(self._claim_script(
            keys=[self.alive_key, self.hosts_key, self.registrations_key],
            args=self._me() + [stores.dumps(alive), int(self.ttl * 1000),
                               mode, self.host]))
        self._expires = sent + self.ttl

    def claim(self, alive: dict) -> None:
        # Made by the next write, with its data and liveness record.
        self._claim = alive

    def put_alive(self, alive: dict) -> None:
        if self._claim is not None:
            self._set_alive(alive, 'claim')
            self._claim = None
            return
        self._set_alive(alive, 'refresh')

    def tick(self, alive: dict) -> bool:
        self._set_alive(alive, 'refresh')
        return True

    def read_state(self) -> tuple[dict, frozenset]:
        state = {}
        rewrite = set()
        # Decoded with surrogate escapes (redis-py's NEVER_DECODE is not
        # in every supported redis-py): one field or value that is not
        # UTF-8 must not make the whole read fail (and the publisher retry
        # it for ever), and a field read so stays exact, so that it can be
        # deleted (see _encode).
        self.sent = time.monotonic()
        raw = self._client.hgetall(self.state_key)
        for name, value in raw.items():
            record, bad = records.stored_form(
                value.encode('utf-8', 'surrogateescape'))
            if bad:
                rewrite.add(name)
            state[name] = record
        return state, frozenset(rewrite)

    def refuses(self, exc: Exception) -> bool:
        import redis

        return super().refuses(exc) or isinstance(exc,
                                                  redis.exceptions.DataError)

    def apply(self, write: plan.Write, drop: bool = False) -> None:
        state = write.state
        names = sorted(state)
        # Hash operations: name, value ('' deletes), name, value...
        ops: list = [b''] * (2 * len(names))
        ops[0::2] = [_encode(name) for name in names]
        # id of a record written -> its JSON: an online event is that
        # record plus its action (records.event_text), not serialised
        # twice.  The records live in write.state: their ids are stable.
        texts: dict[int, str] = {}
        values = []
        for name in names:
            record = state[name]
            if record is None:
                values.append('')
            else:
                text = texts[id(record)] = stores.dumps(record)
                values.append(text)
        ops[1::2] = map(str.encode, values)
        # No event is owed for garbage that was in the hash.
        events = [records.event_text(change, texts.get(id(change.value)))
                  for change in write.changes
                  if change.value is not UNREADABLE]
        if write.resync and events:
            events = ([stores.dumps({'sync': 'started', 'host': self.host})]
                      + events +
                      [stores.dumps({'sync': 'finished', 'host': self.host})])
        alive = write.alive if write.alive is not None else self._claim
        sent = self.sent = time.monotonic()
        self._check(self._write(
            keys=[self.alive_key, self.state_key, self.stream_key,
                  self.hosts_key, self.registrations_key],
            args=self._me() + [
                self.stream_maxlen, int(drop), self.host,
                '' if alive is None else stores.dumps(alive),
                int(self.ttl * 1000),
                'claim' if self._claim is not None else 'write'
            ] + _pack(ops) + _pack(list(map(str.encode, events)))))
        self._claim = None
        if drop:
            self._expires = None
        elif alive is not None:
            self._expires = sent + self.ttl

    def revoke(self) -> None:
        stored, _ = self.read_state()
        changes = [Change(Action.OFFLINE, name, record)
                   for name, record in sorted(stored.items())
                   if record is not UNREADABLE]
        self.apply(plan.Write(changes, dict.fromkeys(stored)), drop=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _encode(name: str) -> bytes:
    """A hash field's bytes; a field read back with surrogate escapes (not
    UTF-8) is its original bytes again.
    """
    return name.encode('utf-8', 'surrogateescape')


def _pack(pieces: list) -> list:
    """Byte strings as the two arguments the write script unpacks: their
    lengths (decimal, comma-separated) and their concatenation.
    """
    return [','.join(map(str, map(len, pieces))), b''.join(pieces)]


def _parse_alive(value) -> Optional[dict]:
    """A liveness record, None for garbage, never an exception."""
    if value is None or len(value) > records.MAX_RECORD_BYTES:
        return None
    try:
        return stores.parse_alive(value)
    except RecursionError:
        return None


class RedisPublisher(base.StorePublisher):
    """Keep this host's interfaces in a Redis hash, changes in a stream."""

    REQUIRES = ('redis',)
    EXTRA = 'redis'
    CONFIG_OPTS = [
        cfg.StrOpt('url', default='redis://127.0.0.1:6379/0',
                   help='redis://HOST:PORT/DB, rediss://... for TLS, or '
                        'unix://PATH?db=N.'),
        cfg.StrOpt('key_prefix', default=stores.REDIS_PREFIX,
                   help='Prefix of every key: <prefix>:<host>:interfaces, '
                        '<prefix>:<host>:events, <prefix>:<host>:alive, '
                        '<prefix>:hosts.'),
        cfg.IntOpt('stream_maxlen', default=10000, min=1,
                   help='Entries kept in each host\'s event stream; a '
                        'reader that falls further behind re-reads the '
                        'state hash.'),
        cfg.IntOpt('liveness_ttl', default=60, min=2,
                   help='Seconds the host\'s liveness record lives without '
                        'a refresh (refreshed every third of that): after '
                        'it, consumers take the host for down; also the '
                        'grace period in which a restarted agent of the '
                        'same owner takes the host over.'),
    ] + (base.PUBLISHER_OPTS + base.CREDENTIAL_OPTS + base.TLS_OPTS +
         base.RETRY_OPTS)

    def make_store(self) -> RedisStore:
        return RedisStore(self.options, self.config.key_prefix,
                          self.config.stream_maxlen,
                          self.config.liveness_ttl)
