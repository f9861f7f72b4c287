"""Follow every host's interfaces in Redis: state hashes, then the streams.

::

    reader = RedisStreamReader(StoreOptions('redis://127.0.0.1:6379/0'))
    for event in reader:     # ClusterSync / ClusterHost / ClusterEvent
        save(event.position) # a stream ID, to resume from later

A host is followed while its liveness record exists: its hash and its
stream's last ID are read in one transaction, then the stream is followed
from there.  A round costs a constant number of commands whatever the
number of hosts.  Details (lost positions, reconnects, holds after a reset
or a lease blip): doc/source/publishers.rst, "Following Redis".
"""

import itertools
import logging
import re
import threading
import time
from typing import Any, cast, Iterable, Iterator, Optional

from df_ovsdb_agent.cluster import cluster_event
from df_ovsdb_agent.cluster import ClusterSync
from df_ovsdb_agent.cluster import ClusterView
from df_ovsdb_agent.cluster import DownHolds
from df_ovsdb_agent.cluster import Holds
from df_ovsdb_agent.cluster import HostState
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import schema
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import logsafe

LOG = logging.getLogger(__name__)

START = '0-0'
STREAM_ID = re.compile(r'^\d+-\d+$')

#: Seconds a host is held after a store reset when its liveness record
#: gave no ``ttl`` (the publishers' default liveness TTL).
DEFAULT_GRACE = 60.0

#: Hosts loaded per transaction.
LOAD_BATCH = 100

#: After a liveness check that found hosts to load (a fleet coming up:
#: more are likely to follow), the hosts set is read again after this
#: many times what that check's MGET took (at least PROBE_MIN seconds),
#: and only hosts new to the reader are checked and loaded: they are
#: noticed sooner than ``liveness_interval`` while the probes, which cost
#: O(hosts), stay a small share of the reader's time.
PROBE_COST_FACTOR = 20
PROBE_MIN = 0.1

#: After a round that read registration entries, the registrations
#: stream is left out of the reads for this many seconds, plus
#: HINT_PER_HOST per host followed: while a fleet comes up, new hosts are
#: taken a batch at a time rather than a few per round, since each round
#: names every followed stream (at 10,000 hosts: 0.25 s between batches).
HINT_INTERVAL = 0.05
HINT_PER_HOST = 0.00002

# KEYS = streams, ARGV = the reader's position in each.  Returns the
# (1-based) indexes of the streams that may have lost entries after that
# position.  Trimming removes the oldest entries first, so while the
# entry at the position is there, every later one is too; a reader that
# has read nothing yet (0-0) lost something if anything was ever removed.
LOST_SCRIPT = """
local lost = {}
for i, key in ipairs(KEYS) do
  local pos = ARGV[i]
  if pos == '0-0' then
    local ok, info = pcall(redis.call, 'XINFO', 'STREAM', key)
    if ok then
      local added, length = 0, 0
      for j = 1, #info, 2 do
        if info[j] == 'entries-added' then added = info[j + 1] end
        if info[j] == 'length' then length = info[j + 1] end
      end
      if added > length then lost[#lost + 1] = i end
    end
  elseif #redis.call('XRANGE', key, pos, pos) == 0 then
    lost[#lost + 1] = i
  end
end
return lost
"""

# KEYS = per host loaded, its stream and its liveness key.  Returns per
# host the stream's last ID (nil: no entry) and the liveness record (nil:
# none): what a load reads besides the hash, in one command for a batch
# of hosts instead of two per host (each cost the reader more than its
# share of the hash's parse).  Run inside the load's MULTI/EXEC.
LOAD_SCRIPT = """
local out = {}
for i = 1, #KEYS, 2 do
  local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
  if last[1] then out[i] = last[1][1] else out[i] = false end
  out[i + 1] = redis.call('GET', KEYS[i + 1])
end
return out
"""

#: Distinct skipped records a reader remembers having warned about.
MAX_WARNED = 10000

#: Loads a reader's ``load_log`` keeps (a benchmark's record).
MAX_LOAD_LOG = 100000


def skip(what: str, where: object, reason: object,
         warned: Optional[set] = None) -> None:
    """One bounded, escaped warning for a record that is skipped; only
    once per record if given the set of those ``warned`` about already (a
    bad liveness record is read again at every liveness check).
    """
    if warned is not None:
        key = (what, str(where)[:512], str(reason))
        if key in warned:
            return
        if len(warned) < MAX_WARNED:
            warned.add(key)
    LOG.warning('Skipping %s %s: %s', what,
                logsafe.safe(schema.printable(where), 200),
                logsafe.safe(reason, 200))


def _records(host: str, values: dict,
             warned: Optional[set] = None) -> tuple[dict, int]:
    """(host, name) -> record of a host's hash, and how many fields were
    skipped as not records.

    The plain values (nearly all) are parsed with one JSON parse for the
    whole hash (:func:`schema.loads_many_text`); each one still gets
    :func:`schema.parse_record`'s outcome.
    """
    state = {}
    skipped = 0
    # In name order (the view sorts them: a sorted list costs it one
    # pass; strings sort faster than its (host, name) keys).
    names = list(values)
    try:
        names.sort()
    except TypeError:  # not all text: each is refused below
        pass
    raws = list(map(values.__getitem__, names))
    # The host once, not once per record (a bad one: each record's own
    # check says so, as before).
    try:
        schema.check_name(host, 'host')
        checked = True
        parsed = schema.loads_many_text(raws)
    except schema.BadRecord:
        checked = False
        parsed = [None] * len(raws)
    if checked and schema.plain_names(names):
        # Usually every record takes the fast path: checked field by
        # field over all of them at once.
        records = schema.check_plain_records(parsed, host, names)
        if records is not None:
            return dict(zip(zip(itertools.repeat(host), names),
                            records)), 0
    check_name = schema.check_name
    parse_record = schema.parse_record
    check_plain = schema.check_plain_record
    for name, value, data in zip(names, raws, parsed):
        try:
            if checked:
                check_name(name)
            if data is not None:
                state[(host, name)] = check_plain(data, host, name, True)
            else:
                state[(host, name)] = parse_record(value, host, name,
                                                   checked)
        except schema.BadRecord as exc:
            skipped += 1
            skip('interface', '%s of host %s' % (
                logsafe.safe(name, 100), logsafe.safe(host, 100)), exc,
                warned)
    return state, skipped


def _alive(host: str, value: Optional[str],
           warned: Optional[set] = None) -> Optional[dict]:
    """A host's liveness record; None if absent or not a record."""
    if value is None:
        return None
    try:
        return schema.parse_alive(value, host)
    except schema.BadRecord as exc:
        skip('liveness record of host', host, exc, warned)
        return None


def _good_host(host: object, warned: Optional[set] = None) -> bool:
    try:
        schema.check_name(host, 'host')
    except schema.BadRecord as exc:
        skip('host', host, exc, warned)
        return False
    return True


def reader_client(options: StoreOptions, extra_timeout: float = 0.0):
    """A Redis client for reading: replies that are not UTF-8 are decoded
    leniently, then refused by :mod:`~df_ovsdb_agent.cluster.schema`.
    """
    return stores.redis_client(options, extra_timeout=extra_timeout,
                               encoding_errors='surrogateescape')


def read_state(client, key_prefix: str, host: str) -> tuple[dict, str]:
    """(host, name) -> record of ``host``, and its stream's last ID, read
    in one transaction.
    """
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(stores.redis_state_key(key_prefix, host))
    pipe.xrevrange(stores.redis_stream_key(key_prefix, host), count=1)
    values, last = pipe.execute()
    return _records(host, values)[0], (last[0][0] if last else START)


def read_interfaces(options: StoreOptions,
                    key_prefix: str = stores.REDIS_PREFIX) -> list[Record]:
    """Every live host's online interfaces, sorted by host and name.

    What is not a record is skipped, with one warning each.
    """
    client = reader_client(options)
    try:
        hosts = sorted(h for h in client.smembers(
            stores.redis_hosts_key(key_prefix)) if _good_host(h))
        alive = client.mget([stores.redis_alive_key(key_prefix, h)
                             for h in hosts]) if hosts else []
        state = {}
        for host, record in zip(hosts, alive):
            if _alive(host, record) is not None:
                state.update(read_state(client, key_prefix, host)[0])
    finally:
        client.close()
    return [state[key] for key in sorted(state)]


class RedisStreamReader:
    """Iterate to receive :class:`~df_ovsdb_agent.cluster.ClusterSync`,
    :class:`~df_ovsdb_agent.cluster.ClusterHost` and
    :class:`~df_ovsdb_agent.cluster.ClusterEvent` for every host.
    """

    def __init__(self, options: StoreOptions,
                 key_prefix: str = stores.REDIS_PREFIX,
                 hosts: Optional[Iterable[str]] = None,
                 resume: Optional[dict[str, str]] = None,
                 block: float = 1.0, count: int = 1000,
                 max_backoff: float = 10.0,
                 liveness_interval: Optional[float] = None,
                 reset_grace: float = DEFAULT_GRACE,
                 down_grace: Optional[float] = None) -> None:
        """:param hosts: only these hosts (default: all, found as they come).
        :param resume: host -> stream ID to continue after.
        :param block: seconds one blocking read waits; bounds how late a
            :meth:`stop` is noticed.
        :param liveness_interval: seconds between reads of the hosts set
            and the liveness records (default ``block``); bounds how late
            a new, dead or returning host is noticed.
        :param reset_grace: seconds a host is held after a store reset
            (see :class:`~df_ovsdb_agent.cluster.Holds`) when its liveness
            record gave no ``ttl``.
        :param down_grace: seconds a host whose liveness record vanished
            stays as it was (no ``down``, no ``offline``; its stream is
            still followed) in case it comes back; None (default): half
            the TTL its last liveness record announced; 0: report it at
            once.
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
        self.liveness_interval = liveness_interval or block
        self.view = ClusterView()
        #: host -> ID of the last stream entry reported, for every host
        #: followed.
        self.positions: dict[str, str] = {}
        #: Counters, for logs, tests and benchmarks.
        self.rounds = 0
        self.commands = 0
        # Hosts whose whole state the view holds (not so after a resume).
        self._complete: set[str] = set()
        self._resumed: set[str] = set()
        self._members: set[str] = set()
        self._next_check = 0.0
        # When to read the hosts set for new hosts only (see PROBE_MIN).
        self._next_probe = float('inf')
        # The registrations stream (None: not read, a fixed host list),
        # as the client sends it, and the reader's position in it.
        self._registrations: Optional[bytes] = None
        if self.hosts is None:
            self._registrations = stores.redis_registrations_key(
                key_prefix).encode('utf-8', 'surrogateescape')
        self._registered = START
        self._next_hint = 0.0
        self._stopped = threading.Event()
        self._lost_script: Any = None
        self._load_script: Any = None
        #: Hosts whose last view is kept after a store reset until they
        #: re-synced or their grace passed.
        self.holds = Holds(reset_grace)
        #: Hosts held because their liveness record vanished (down_grace).
        self.downs = DownHolds(down_grace)
        self._run_id: Optional[str] = None
        self._warned: set = set()
        # host -> (stream key, the same as bytes, liveness key as bytes):
        # every round names every stream and every liveness key, and
        # redis-py passes bytes through without encoding them again.
        self._key_cache: dict[str, tuple[str, bytes, bytes]] = {}
        # host -> (its liveness record as read, as parsed) when the view
        # took it so: an unchanged record is not parsed again.
        self._alive_seen: dict[str, tuple[str, dict]] = {}
        #: More counters: records skipped as not records, resets seen,
        #: connections made.
        self.skipped = 0
        self.connects = 0
        self.resets = 0
        #: Hosts loaded, by what found them: ``connect`` (the first read
        #: after a (re)connection), ``check`` (the liveness check every
        #: ``liveness_interval``), ``probe`` (the hosts set read again
        #: after a check that loaded hosts, see PROBE_MIN), ``lost`` (its
        #: stream lost entries), ``hint`` (an entry of the registrations
        #: stream).
        self.discovered: dict[str, int] = {}
        #: None, or a list the reader appends (wall time, host, time of
        #: the host's last stream entry in ms or None, what found it) to
        #: at each host it loads, at most MAX_LOAD_LOG: for benchmarks.
        self.load_log: Optional[list] = None

    def __iter__(self) -> Iterator:
        return self.events()

    def stop(self) -> None:
        """End the iteration within ``block`` seconds (any thread)."""
        self._stopped.set()

    def events(self) -> Iterator:
        return stores.reconnecting(
            self._stopped, 'redis %s' % self.options.safe_url,
            self.max_backoff,
            lambda: reader_client(self.options, extra_timeout=self.block),
            self._follow, lambda client: client.close())

    # -- keys --------------------------------------------------------------

    def _stream(self, host: str) -> str:
        return stores.redis_stream_key(self.key_prefix, host)

    def _alive(self, host: str) -> str:
        return stores.redis_alive_key(self.key_prefix, host)

    def _keys(self, host: str) -> tuple[str, bytes, bytes]:
        """``host``'s stream key, and its stream and liveness keys as
        the client sends them.
        """
        keys = self._key_cache.get(host)
        if keys is None:
            stream = self._stream(host)
            keys = self._key_cache[host] = (
                stream, stream.encode('utf-8', 'surrogateescape'),
                self._alive(host).encode('utf-8', 'surrogateescape'))
        return keys

    # -- the loop ----------------------------------------------------------

    def _follow(self, client) -> Iterator:
        self.connects += 1
        self._lost_script = client.register_script(LOST_SCRIPT)
        self._load_script = client.register_script(LOAD_SCRIPT)
        yield from self._reconnected(client)
        while not self._stopped.is_set():
            yield from self._round(client)

    def _reconnected(self, client) -> Iterator:
        """Check every position and every host's liveness again: the
        server may have restarted, with or without its data.
        """
        for host, position in self.resume.items():
            self.positions[host] = position
            self._resumed.add(host)
        self.resume.clear()
        self.commands += 1
        run_id = self._server_run_id(client)
        if self._run_id is not None and run_id != self._run_id:
            # Restarted, with or without its data, or another server:
            # until each host is known to be complete again, its last view
            # stays (no down/offline for a store that is being refilled).
            self.resets += 1
            now = time.monotonic()
            known = self.view.hosts()
            for host in sorted(known):
                self.holds.hold(host, known[host], now)
            LOG.warning('redis %s restarted or was replaced (run id %s '
                        'after %s); keeping the last view of each host '
                        'until it is synced again or its liveness expired',
                        self.options.safe_url, logsafe.safe(run_id, 64),
                        logsafe.safe(self._run_id, 64))
        self._run_id = run_id
        lost = self._lost(client, dict(self.positions))
        for host in lost:
            LOG.info('Stream of host %s no longer holds %s; re-reading its '
                     'state', logsafe.safe(host), self.positions[host])
            del self.positions[host]
        pipe = client.pipeline(transaction=False)
        if self._registrations is not None:
            # Before the set: a host registered after this ID is in the
            # set or in the entries read from it.
            pipe.xrevrange(self._registrations, count=1)
            pipe.smembers(stores.redis_hosts_key(self.key_prefix))
        self.commands += len(pipe)
        replies = pipe.execute()
        if self._registrations is not None:
            last, members = replies
            self._registered = START
            if last and STREAM_ID.match(str(last[0][0])):
                self._registered = str(last[0][0])
            self._members = self._good(members)
        else:
            self._members = self._good(self.hosts or ())
        yield from self._check_liveness(client, how='connect')

    def _good(self, hosts: Iterable) -> set[str]:
        """The host names that can be hosts (others skipped, counted)."""
        good = set()
        warned = len(self._warned)
        for host in hosts:
            if host in self._members or _good_host(host, self._warned):
                good.add(host)
        # Counted once each, as warned: the set is read again and again.
        self.skipped += len(self._warned) - warned
        return good

    def _server_run_id(self, client) -> Optional[str]:
        """The server's run id (new at every start); None if not allowed
        (an ACL without INFO): then resets are noticed by lost streams
        only.
        """
        from redis.exceptions import ResponseError
        try:
            run_id = client.info('server').get('run_id')
        except ResponseError as exc:
            LOG.debug('No run id from redis: %s', stores.describe_error(exc))
            return None
        return run_id if isinstance(run_id, str) else None

    def _round(self, client) -> Iterator:
        self.rounds += 1
        now = time.monotonic()
        due = now >= self._next_check
        probe = not due and now >= self._next_probe
        wait = max(0.0, min(self.block, self._next_check - now,
                            self._next_probe - now))
        before = dict(self.positions)
        keys = self._keys
        streams = {keys(h)[1]: p for h, p in before.items()}
        registrations = self._registrations
        if registrations is not None:
            if now >= self._next_hint:
                # New hosts wake this read up (see _hinted).
                streams[registrations] = self._registered
            else:
                wait = min(wait, self._next_hint - now)
                registrations = None
        pipe = client.pipeline(transaction=False)
        if streams:
            pipe.xread(streams, count=self.count,
                       block=max(1, int(wait * 1000)))
        if (due or probe) and self.hosts is None:
            pipe.smembers(stores.redis_hosts_key(self.key_prefix))
        self.commands += len(pipe)
        replies = pipe.execute() if len(pipe) else []
        if not streams:
            self._stopped.wait(wait)
        hints: list = []
        if streams:
            read = replies.pop(0) or []
            if registrations is not None:
                name = registrations.decode('utf-8', 'surrogateescape')
                for index, (key, items) in enumerate(read):
                    if key == name:
                        hints = items
                        del read[index]
                        break
            if read:
                yield from self._entries(client, before, read)
        if hints:
            self._registered = hints[-1][0]
            self._next_hint = time.monotonic() + HINT_INTERVAL + (
                HINT_PER_HOST * len(before))
            if not (due or probe):
                # (A check or probe reads the whole set after them.)
                yield from self._hinted(client, hints)
        if due:
            if self.hosts is None:
                self._members = self._good(replies.pop(0))
            yield from self._check_liveness(client)
        elif probe:
            self._next_probe = float('inf')
            if self.hosts is None:
                self._members = self._good(replies.pop(0))
                new = (self._members - self.positions.keys() -
                       self.view.hosts().keys() - set(self.holds.hosts()))
                if new:
                    yield from self._check_liveness(client, sorted(new),
                                                    'probe')

    def _hinted(self, client, entries: list) -> Iterator:
        """Check and load the hosts that registration ``entries`` name
        and the reader does not follow yet.  Only a hint: a name must be
        a good host name and in the hosts set, and the host alive, as for
        a host found in the set; anything else is skipped with one line.
        """
        names: list[str] = []
        seen: set[str] = set()
        followed = self.positions
        known = self.view.hosts()
        held = self.holds
        warned = len(self._warned)
        for position, fields in entries:
            host = fields.get('host') if isinstance(fields, dict) else None
            if not _good_host(host, self._warned):
                continue
            name = cast(str, host)  # checked just above
            if (name not in followed and name not in known and
                    name not in held and name not in seen):
                seen.add(name)
                names.append(name)
        self.skipped += len(self._warned) - warned
        if not names:
            return
        from redis.exceptions import ResponseError
        # Membership and liveness in one round trip (a new host's load is
        # one more): the liveness records of names not in the set are
        # read but never parsed.
        pipe = client.pipeline(transaction=False)
        pipe.smismember(stores.redis_hosts_key(self.key_prefix), names)
        keys = self._keys
        pipe.mget([keys(h)[2] for h in names])
        self.commands += 2
        try:
            flags, values = pipe.execute()
        except ResponseError as exc:
            # No SMISMEMBER (Redis < 6.2): read the set at the next round.
            LOG.debug('No SMISMEMBER: %s', stores.describe_error(exc))
            self._next_probe = 0.0
            return
        members: list[str] = []
        records = []
        warned = len(self._warned)
        for host, member, value in zip(names, flags, values):
            if member:
                members.append(host)
                records.append(value)
            else:
                skip('registration of host', host, 'not in the hosts set',
                     self._warned)
        self.skipped += len(self._warned) - warned
        if members:
            self._members.update(members)
            yield from self._check_liveness(client, members, 'hint',
                                            records)

    def _entries(self, client, before: dict, streams: list) -> Iterator:
        keys = self._keys
        hosts = {keys(h)[0]: h for h in before}
        read = [(hosts[key], items) for key, items in streams]
        lost = self._lost(client, {h: before[h] for h, _ in read})
        for host, items in read:
            if host in lost:
                LOG.info('Stream of host %s no longer holds %s; re-reading '
                         'its state', logsafe.safe(host), before[host])
                yield from self._load(client, [host], 'lost')
                continue
            for position, fields in items:
                yield from self._entry(host, position, fields)

    def _lost(self, client, positions: dict[str, str]) -> set[str]:
        """The hosts whose stream may have lost entries after their
        position: one script call, whatever their number.
        """
        if not positions:
            return set()
        hosts = list(positions)
        self.commands += 1
        assert self._lost_script is not None  # registered in _follow()
        indexes = self._lost_script(
            keys=[self._stream(h) for h in hosts],
            args=[positions[h] for h in hosts], client=client)
        return {hosts[int(i) - 1] for i in indexes}

    # -- liveness ----------------------------------------------------------

    def _check_liveness(self, client, only: Optional[list[str]] = None,
                        how: str = 'check',
                        read: Optional[list] = None) -> Iterator:
        """Follow the hosts that came up, drop those that went down.

        :param only: check these hosts only (new ones, see PROBE_MIN).
        :param how: what found them (see ``discovered``).
        :param read: the liveness records of ``only``, read already.
        """
        if only is None:
            self._next_check = time.monotonic() + self.liveness_interval
            hosts = sorted(self._members | set(self.view.hosts()) |
                           set(self.positions))
            if len(self._key_cache) > 2 * len(hosts) + 1000:
                # Bounded by the hosts of now, not every name ever seen.
                self._key_cache = {h: self._key_cache[h] for h in hosts
                                   if h in self._key_cache}
            seen, self._alive_seen = self._alive_seen, {}
        else:
            hosts = only
            seen = {}
        if not hosts:
            return
        keys = self._keys
        started = time.monotonic()
        if read is None:
            self.commands += 1
            records = client.mget([keys(h)[2] for h in hosts])
        else:
            records = read
        cost = time.monotonic() - started
        load = []
        parsed: dict[str, tuple] = {}
        due = set(self.holds.due(time.monotonic()))
        alive_of = self.view.alive
        for host, value in zip(hosts, records):
            last = seen.get(host)
            if (last is not None and value == last[0] and
                    alive_of(host) is last[1] and host in self.positions and
                    host not in self.holds):
                # Followed, and its record is the one the view holds
                # (publishers rewrite it unchanged): nothing to say, so
                # spare parsing it (10,000 hosts: a fifth of a core).
                self._alive_seen[host] = last
                continue
            alive = self._parse_alive(host, value)
            if host in self.holds:
                if alive is not None and host in self.positions:
                    # Its stream is intact (the data was kept, or only its
                    # liveness record blinked): follow on.
                    self._release_down(host)
                    self.holds.release(host)
                    yield from self.view.set_host(host, alive)
                elif alive is not None and (alive.get('synced') or
                                            host in due):
                    load.append(host)
                elif host in due:
                    LOG.info('Host %s did not come back within its grace',
                             logsafe.safe(host))
                    yield from self._down(host)
                # else: still held, nothing to say yet.
            elif alive is None:
                if not self._hold_down(host):
                    yield from self._down(host)
            elif host not in self.positions:
                load.append(host)
                parsed[host] = (value, alive)
            else:
                # Followed already (a resumed host too: its stream goes
                # on from the position given): only markers can change.
                yield from self.view.set_host(host, alive)
                self._alive_seen[host] = (value, alive)
        for start in range(0, len(load), LOAD_BATCH):
            yield from self._load(client, load[start:start + LOAD_BATCH],
                                  how, parsed)
        if load and self.hosts is None and how != 'hint':
            # (Hosts that register are found by their entries: no need to
            # read the whole set again for them.)
            self._next_probe = time.monotonic() + max(
                PROBE_MIN, PROBE_COST_FACTOR * cost)

    def _hold_down(self, host: str) -> bool:
        """Hold ``host``, whose liveness record vanished, for
        ``down_grace`` (it may come back); whether it is held.
        """
        known = self.view.alive(host)
        if not self.downs.enabled or known is None:
            return False
        grace = self.downs.grace(known, self.holds.default_grace)
        if not self.holds.hold(host, known, time.monotonic(), grace):
            return False
        self.downs.start(host, grace)
        return True

    def _release_down(self, host: str) -> None:
        self.downs.end(host, True)

    def _down(self, host: str) -> Iterator:
        """The host's liveness record is gone: ``down``, then ``offline``
        for what was reported of it; its stream is no longer read.
        """
        self.positions.pop(host, None)
        self.holds.release(host)
        self.downs.drop(host)
        self._complete.discard(host)
        yield from self.view.set_host(host, None)
        yield from self.view.replace_quietly({}, host)

    def _load(self, client, hosts: list[str], how: str = 'check',
              known: Optional[dict] = None) -> Iterator:
        """Read hosts' state, stream position and liveness in one
        transaction and report each as a whole.

        :param how: what found them (see ``discovered``).
        :param known: host -> (liveness record as read, as parsed) by
            the check that found it: read the same, not parsed again.
        """
        pipe = client.pipeline(transaction=True)
        keys: list[bytes] = []
        for host in hosts:
            pipe.hgetall(stores.redis_state_key(self.key_prefix, host))
            keys += self._keys(host)[1:]
        assert self._load_script is not None  # registered in _follow()
        self._load_script(keys=keys, client=pipe)
        # (And MULTI, EXEC, and the SCRIPT EXISTS the pipeline sends
        # before them.)
        self.commands += len(pipe) + 3
        replies = pipe.execute()
        tails = replies.pop()
        lasts = tails[0::2]
        self._count_loads(hosts, lasts, how)
        known = known or {}
        for host, values, last, value in zip(hosts, replies, lasts,
                                             tails[1::2]):
            seen = known.get(host)
            if seen is not None and seen[0] == value:
                # Parsed by the liveness check that found the host.
                alive: Optional[dict] = seen[1]
            else:
                alive = self._parse_alive(host, value)
            if alive is None:
                if host not in self.holds:
                    yield from self._down(host)
                continue
            if host in self.holds:
                LOG.info('Host %s is back%s; reporting the difference',
                         logsafe.safe(host),
                         '' if alive.get('synced') else ' (not synced)')
                self._release_down(host)
                self.holds.release(host)
            records, skipped = _records(host, values, self._warned)
            self.skipped += skipped
            # A resumed host's earlier state is known to the consumer
            # only, so a diff against our partial view would be wrong:
            # send it whole.
            reset = host not in self._complete and host in self._resumed
            self._complete.add(host)
            markers = self.view.set_host(host, alive)
            # The next liveness check finds this record unchanged and
            # does not parse it again (10,000 hosts coming up: 10,000
            # parses fewer).
            self._alive_seen[host] = (value, alive)
            yield ClusterSync(Sync.STARTED, host, reset)
            yield from (m for m in markers if m.state is HostState.UP)
            if reset:
                self.view.forget(host)
            yield from self.view.replace_quietly(records, host)
            yield from (m for m in markers if m.state is not HostState.UP)
            yield ClusterSync(Sync.FINISHED, host, reset)
            # Only now: its records are handled.
            self.positions[host] = last or START

    def _count_loads(self, hosts: list[str], lasts: list,
                     how: str) -> None:
        self.discovered[how] = self.discovered.get(how, 0) + len(hosts)
        log = self.load_log
        if log is None or len(log) >= MAX_LOAD_LOG:
            return
        now = time.time()
        for host, last in zip(hosts, lasts):
            written = None
            if last and STREAM_ID.match(str(last)):
                written = int(str(last).split('-')[0])
            log.append((now, host, written, how))
        LOG.debug('Loaded %d hosts found by %s', len(hosts), how)

    # -- stream entries ----------------------------------------------------

    def _parse_alive(self, host: str, value: Optional[str]) -> Optional[dict]:
        warned = len(self._warned)
        alive = _alive(host, value, self._warned)
        self.skipped += len(self._warned) - warned
        return alive

    def _entry(self, host: str, position: str, fields: dict) -> Iterator:
        try:
            entry = schema.parse_entry(fields.get('event'), host)
        except schema.BadRecord as exc:
            self.skipped += 1
            skip('stream entry', '%s of host %s' % (
                logsafe.safe(position, 64), logsafe.safe(host, 100)), exc)
            self.positions[host] = position
            return
        if isinstance(entry, Sync):
            yield ClusterSync(entry, host)
            self.positions[host] = position
            return
        action, record = entry
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
            yield cluster_event(action, host, record, position)
        # Only now: the entry is handled.
        self.positions[host] = position
