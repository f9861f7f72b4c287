"""Follow every host's interfaces in etcd: one list, then a watch from it.

::

    watcher = watch_interfaces(StoreOptions('http://127.0.0.1:2379'))
    for event in watcher:      # ClusterSync / ClusterHost / ClusterEvent
        print(event)           # watcher.stop() from another thread

The list's revision + 1 is where the watch starts, so nothing falls in
between; whenever the watch breaks the watcher lists again and reports
only the difference.  Why each safeguard (progress notifications and
``read_timeout``, ``verify_interval``, holds after a reset or a lease
blip) is there: doc/source/publishers.rst, "Following etcd".
"""

import base64
import binascii
import json
import logging
import socket
import threading
import time
from typing import Iterator, Optional

from df_ovsdb_agent.cluster import ClusterHost
from df_ovsdb_agent.cluster import ClusterSync
from df_ovsdb_agent.cluster import ClusterView
from df_ovsdb_agent.cluster import DownHolds
from df_ovsdb_agent.cluster import Holds
from df_ovsdb_agent.cluster import HostState
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import schema
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import etcd_b64
from df_ovsdb_agent.cluster.stores import etcd_range_end
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent import logsafe

LOG = logging.getLogger(__name__)

#: etcd's default --experimental-watch-progress-notify-interval, seconds.
PROGRESS_INTERVAL = 600.0

#: Seconds a host missing after a new list is held when its liveness
#: record gave no ``ttl`` (the publishers' default lease TTL).
DEFAULT_GRACE = 60.0

#: Keys per range request of a list.
PAGE_SIZE = 5000

#: Seconds between checks that the watch gave every change (see
#: EtcdWatcher._verify).
VERIFY_INTERVAL = 60.0


class WatchStalled(Exception):
    """Nothing, not even a progress notification, came for too long."""


class Listing:
    """One consistent read of the prefix: interfaces, hosts, revision."""

    def __init__(self) -> None:
        self.interfaces: dict[tuple[str, str], Record] = {}
        self.hosts: dict[str, dict] = {}
        #: Every key under the prefix, readable or not.
        self.keys: set[str] = set()
        self.revision = 0
        #: The reply header of the first page: cluster_id, member_id,
        #: raft_term, revision.
        self.header: dict = {}
        #: Keys skipped because they are not records (see skip()).
        self.skipped = 0


def _strict_base64() -> bool:
    """Whether binascii validates base64 itself (Python >= 3.11)."""
    try:
        binascii.a2b_base64(b'', strict_mode=True)  # type: ignore[call-arg]
    except TypeError:
        return False
    return True


_STRICT_BASE64 = _strict_base64()


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise schema.BadRecord('not base64 text')
    if _STRICT_BASE64:
        # One C call per value instead of b64decode's regular expression
        # (validate=True); strict mode accepts a subset of what that
        # accepts, and whatever it refuses is decided below as before.
        try:
            return binascii.a2b_base64(
                value, strict_mode=True)  # type: ignore[call-arg]
        except ValueError:
            pass
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise schema.BadRecord('not base64') from None


def _parse_alive(host: str, value: str) -> dict:
    return schema.parse_alive(_b64(value), host)


def skip(what: str, key: object, reason: object) -> None:
    """One bounded, escaped warning for a record that is skipped."""
    LOG.warning('Skipping %s %s: %s', what,
                logsafe.safe(schema.printable(key), 200),
                logsafe.safe(reason, 200))


class _Batch:
    """Interface and host changes read from etcd, applied together."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        # stores.etcd_parse_key's head, once per batch, not per key.
        self._head = prefix.rstrip('/') + '/'
        self.interfaces: dict[tuple[str, str], Optional[Record]] = {}
        self.hosts: dict[str, Optional[dict]] = {}
        self.skipped = 0

    def add(self, key: str, value: Optional[str]) -> None:
        """Note ``key``'s new value (None: deleted).

        A value that is not a valid record counts as absent: it is
        skipped with one warning, and counted.
        """
        try:
            self._add(key, value)
        except schema.BadRecord as exc:
            self.skipped += 1
            skip('etcd key', key, exc)

    def add_all(self, items: list) -> None:
        """:meth:`add` of each ``(key, value)``, in order; the values of
        interface keys with one JSON parse for all of them where
        :func:`schema.loads_many` allows (one per value costs twice as
        much: a watch response of a host's cold start holds 50 records).
        """
        head = self._head
        start = len(head)
        slots = []
        raws = []
        names = []
        for key, value in items:
            slot = -1
            if value is not None and key.startswith(head):
                host, _, name = key[start:].partition(stores.INTERFACES)
                if host and name and '/' not in host:
                    try:
                        raws.append(_b64(value))
                        names.append((host, name))
                        slot = len(raws) - 1
                    except schema.BadRecord:
                        pass  # add() says why
            slots.append(slot)
        parsed = schema.loads_many(raws) if raws else []
        interfaces = self.interfaces
        check = schema.check_plain_record
        check_name = schema.check_name
        for (key, value), slot in zip(items, slots):
            data = parsed[slot] if slot >= 0 else None
            if data is None:
                self.add(key, value)
                continue
            # _add's checks of an interface key, inlined (per record).
            ikey = names[slot]
            host, name = ikey
            interfaces[ikey] = None
            try:
                check_name(host, 'host')
                check_name(name)
                interfaces[ikey] = check(data, host, name, checked=True)
            except schema.BadRecord as exc:
                self.skipped += 1
                skip('etcd key', key, exc)

    def _add(self, key: str, value: Optional[str]) -> None:
        # stores.etcd_parse_key, inlined (it runs per key).
        host = name = ''
        if key.startswith(self._head):
            host, _, name = key[len(self._head):].partition(
                stores.INTERFACES)
        if host and name:
            parsed = (host, name)
            self.interfaces[parsed] = None
            schema.check_name(host, 'host')
            schema.check_name(name)
            if '/' in host:
                raise schema.BadRecord('host holds a "/"')
            if value is not None:
                self.interfaces[parsed] = schema.parse_record(
                    _b64(value), host, name, checked=True)
            return
        alive_host = stores.etcd_parse_alive_key(self.prefix, key)
        if alive_host is None:
            # Not in the layout: not ours to read (a newer publisher's
            # key, or garbage); a key that is not text is named.
            schema.check_name(key, 'key')
            return
        self.hosts[alive_host] = None
        schema.check_name(alive_host, 'host')
        if value is not None:
            self.hosts[alive_host] = _parse_alive(alive_host, value)


def list_state(client, prefix: str, page_size: int = PAGE_SIZE) -> Listing:
    """Everything under ``prefix``, read page by page at one revision."""
    top = stores.check_prefix(prefix) + '/'
    batch = _Batch(stores.check_prefix(prefix))
    listing = Listing()
    request = {'key': etcd_b64(top), 'range_end': etcd_range_end(top),
               'limit': page_size}
    while True:
        reply = client.post(client.get_url('/kv/range'), json=request)
        if not listing.revision:
            listing.header = dict(reply['header'])
            listing.revision = int(reply['header']['revision'])
            request['revision'] = listing.revision
        kvs = reply.get('kvs', [])
        items: list[tuple[str, str]] = []
        for kv in kvs:
            # Keys are bytes to etcd: not necessarily UTF-8.
            key = schema.decode_key(base64.b64decode(kv['key']))
            listing.keys.add(key)
            items.append((key, kv.get('value', '')))
        batch.add_all(items)
        if not reply.get('more') or not kvs:
            break
        # The next page starts just after the last key of this one.
        request['key'] = base64.b64encode(
            base64.b64decode(kvs[-1]['key']) + b'\0').decode('ascii')
    listing.interfaces = {k: r for k, r in batch.interfaces.items() if r}
    listing.hosts = {h: r for h, r in batch.hosts.items() if r}
    listing.skipped = batch.skipped
    return listing


def list_interfaces(options: StoreOptions,
                    prefix: str = stores.ETCD_PREFIX) -> list[Record]:
    """Every host's online interfaces, sorted by host and name."""
    client = stores.etcd_client(options)
    try:
        state = list_state(client, prefix).interfaces
    finally:
        client.session.close()
    return [state[key] for key in sorted(state)]


def ordered(markers: list[ClusterHost], events: list) -> list:
    """One batch's host markers around its interface events: ``up`` and
    ``down`` first (a host's offlines follow its ``down``), then the
    interface events, then ``synced`` (its records are complete).
    """
    first = [m for m in markers if m.state is not HostState.SYNCED]
    last = [m for m in markers if m.state is HostState.SYNCED]
    return first + events + last


class EtcdWatcher:
    """Iterate to receive :class:`~df_ovsdb_agent.cluster.ClusterSync`,
    :class:`~df_ovsdb_agent.cluster.ClusterHost` and
    :class:`~df_ovsdb_agent.cluster.ClusterEvent` for every host.
    """

    def __init__(self, options: StoreOptions,
                 prefix: str = stores.ETCD_PREFIX,
                 max_backoff: float = 10.0,
                 progress_interval: float = PROGRESS_INTERVAL,
                 read_timeout: Optional[float] = None,
                 page_size: int = PAGE_SIZE,
                 verify_interval: float = VERIFY_INTERVAL,
                 reset_grace: float = DEFAULT_GRACE,
                 down_grace: Optional[float] = None) -> None:
        """:param progress_interval: the etcd server's progress
            notification interval, in seconds.
        :param read_timeout: seconds without any message after which the
            watch counts as dead; default three progress intervals.
        :param verify_interval: at most this often, on a progress
            notification, count the keys under the prefix at its revision
            and list again if the watch did not account for them all.
        :param reset_grace: seconds a host missing after a new list is
            held (see :class:`~df_ovsdb_agent.cluster.Holds`) when its
            liveness record gave no ``ttl``.
        :param down_grace: seconds a host whose liveness record vanished
            stays as it was (no ``down``, no ``offline``) in case it comes
            back (a lost lease re-created); None (default): half the TTL
            its last liveness record announced; 0: report it at once.
        """
        stores.check_etcd(options)
        self.options = options
        self.prefix = stores.check_prefix(prefix)
        self.max_backoff = max_backoff
        self.read_timeout = read_timeout or 3 * progress_interval
        self.page_size = page_size
        self.verify_interval = verify_interval
        self.view = ClusterView()
        # Every key under the prefix, as the list and the watch left them.
        self._keys: set[str] = set()
        self._verified = 0.0
        #: Revision up to which every change has been seen.
        self.revision = 0
        #: Counters, for logs and tests: full lists, progress
        #: notifications, read timeouts, watches canceled by compaction.
        self.lists = 0
        self.progress = 0
        self.stalls = 0
        self.compactions = 0
        self.lost = 0
        self._stopped = threading.Event()
        self._response = None
        #: Hosts whose last view is kept until they re-synced (see
        #: _list_and_follow), with what the store holds of them now.
        self.holds = Holds(reset_grace)
        #: Hosts held because their liveness record vanished (down_grace).
        self.downs = DownHolds(down_grace)
        self._fresh: dict[str, dict[tuple[str, str], Record]] = {}
        self._fresh_alive: dict[str, Optional[dict]] = {}
        self._header: dict = {}
        #: More counters: keys skipped as not records, store resets seen.
        self.skipped = 0
        self.resets = 0

    def __iter__(self) -> Iterator:
        return self.events()

    def stop(self) -> None:
        """End the iteration (callable from any thread)."""
        self._stopped.set()
        _shutdown(self._response)

    def events(self) -> Iterator:
        return stores.reconnecting(
            self._stopped, 'etcd %s' % self.options.safe_url,
            self.max_backoff, lambda: stores.etcd_client(self.options),
            self._list_and_follow, lambda client: client.session.close())

    def _list_and_follow(self, client) -> Iterator:
        started = _server_started(client, self.options.timeout)
        listing = list_state(client, self.prefix, self.page_size)
        listing.header['started'] = started
        self.lists += 1
        self.skipped += listing.skipped
        reset = self.lists > 1 and self._is_reset(listing.header)
        if reset:
            self.resets += 1
            LOG.warning('etcd %s was reset or replaced (%s); keeping the '
                        'last view of each host until it wrote all its '
                        'records again or its liveness expired',
                        self.options.safe_url, self._describe_reset(
                            listing.header))
        self._header = listing.header
        self.revision = listing.revision
        self._keys = listing.keys
        self._verified = time.monotonic()
        yield ClusterSync(Sync.STARTED)
        yield from self._adopt(listing, reset)
        yield ClusterSync(Sync.FINISHED)
        yield from self._expire()
        yield from self._follow(client)

    def _is_reset(self, header: dict) -> bool:
        """Whether the store may not hold the data of the last list:
        another cluster or member, history gone backwards, or another raft
        term (etcd restarted, or a new leader).

        A single etcd restarted on an empty data dir keeps its cluster and
        member ids (they derive from its name and URLs); its revision and
        raft term start again from 1 and 2, and its process start time
        (``started``, from its metrics when it serves them) is new.
        """
        old = self._header
        restarted = (header.get('started') is not None and
                     old.get('started') is not None and
                     header['started'] != old['started'])
        try:
            return (restarted or
                    header.get('cluster_id') != old.get('cluster_id') or
                    header.get('member_id') != old.get('member_id') or
                    int(header['revision']) < self.revision or
                    int(header.get('raft_term', 0)) !=
                    int(old.get('raft_term', 0)))
        except (KeyError, TypeError, ValueError):
            return True

    def _describe_reset(self, header: dict) -> str:
        return 'revision %s after %s, raft term %s after %s' % (
            logsafe.safe(header.get('revision'), 32), self.revision,
            logsafe.safe(header.get('raft_term'), 32),
            logsafe.safe(self._header.get('raft_term'), 32))

    def _adopt(self, listing: Listing, reset: bool) -> Iterator:
        """Report the difference between the view and a new list.

        After a ``reset``, a host the view knows that the list has without
        a ``synced`` liveness record (its publisher has not written it
        again yet) is held: its last view stays, with no event, until it
        is synced again or its grace passed.
        """
        now = time.monotonic()
        known = self.view.hosts()
        for host in sorted(known) if reset else ():
            alive = listing.hosts.get(host)
            if alive is None or not alive.get('synced'):
                if self.holds.hold(host, known[host], now):
                    LOG.info('Holding the view of host %s until it is '
                             'synced again', logsafe.safe(host))
        for host in sorted(known) if self.downs.enabled else ():
            if host not in listing.hosts:
                self._hold_down(host, known[host], now)
        held = set(self.holds.hosts())
        self._fresh = {host: {} for host in held}
        self._fresh_alive = {host: listing.hosts.get(host) for host in held}
        state = {}
        for key, record in listing.interfaces.items():
            if key[0] in held:
                self._fresh[key[0]][key] = record
            else:
                state[key] = record
        hosts = {h: a for h, a in listing.hosts.items() if h not in held}
        for host in held:
            hosts[host] = known[host]
        if held:
            # One pass over the view (not one per held host: 1,000 held
            # hosts x 50,000 records took a minute).
            state.update(((r['host'], r['name']), r)
                         for r in self.view.records() if r['host'] in held)
        yield from ordered(self.view.replace_hosts(hosts),
                           self.view.replace_quietly(state))
        for host in held:
            alive = self._fresh_alive[host]
            if alive is not None and alive.get('synced'):
                yield from self._release(host)

    def _release(self, host: str) -> list:
        """End ``host``'s hold: report the difference between its last
        view and what the store holds of it now.
        """
        self.holds.release(host)
        fresh = self._fresh.pop(host, {})
        alive = self._fresh_alive.pop(host, None)
        synced = bool(alive and alive.get('synced'))
        self.downs.end(host, synced)
        LOG.info('Host %s %s: reporting the difference', logsafe.safe(host),
                 'is synced again' if synced else 'did not sync in time')
        markers = self.view.set_host(host, alive)
        return ordered(markers, self.view.replace_quietly(fresh, host))

    def _hold_down(self, host: str, alive: dict, now: float) -> bool:
        """Hold ``host``, whose liveness record vanished, for
        ``down_grace``: it may be a lease lost and re-created.
        """
        grace = self.downs.grace(alive, self.holds.default_grace)
        if not self.holds.hold(host, alive, now, grace):
            return False
        self.downs.start(host, grace)
        return True

    def _expire(self) -> Iterator:
        """Release the held hosts whose grace passed."""
        for host in self.holds.due(time.monotonic()):
            yield from self._release(host)

    def _follow(self, client) -> Iterator:
        """Events of the watch from ``revision + 1`` until it ends."""
        top = self.prefix + '/'
        request = {'create_request': {
            'key': etcd_b64(top), 'range_end': etcd_range_end(top),
            'start_revision': self.revision + 1, 'progress_notify': True}}
        timeout = self._read_timeout()
        try:
            response = self._response = client.session.post(
                client.get_url('/watch'), json=request, stream=True,
                timeout=(self.options.timeout, timeout))
            if self._stopped.is_set():  # stop() came before the response
                return
            response.raise_for_status()
            for line in _lines(response.iter_content(None)):
                if not line.strip():
                    continue
                events = self._message(client, json.loads(line))
                if events is None:
                    return
                yield from events
                if self.holds:
                    yield from self._expire()
                if self.holds or timeout != self.read_timeout:
                    # A hold may have begun or ended: wake up for the
                    # next grace even if the watch stays quiet.
                    timeout = self._read_timeout()
                    _set_timeout(response, timeout)
        except Exception as exc:
            if self._stopped.is_set():
                return
            deadline = self.holds.next_deadline()
            if _is_timeout(exc) and deadline is not None and (
                    time.monotonic() >= deadline - 0.1):
                # The stream cannot be resumed: a list follows.
                LOG.info('Grace of a held host passed; listing again')
                return
            if _is_timeout(exc):
                self.stalls += 1
                raise WatchStalled('no message from the watch for %.1fs'
                                   % self.read_timeout) from None
            raise
        LOG.info('etcd %s closed the watch; listing again',
                 self.options.safe_url)

    def _read_timeout(self) -> float:
        """Seconds a read of the watch may wait: ``read_timeout``, or
        until just after the first held host's grace.
        """
        deadline = self.holds.next_deadline()
        if deadline is None:
            return self.read_timeout
        return min(self.read_timeout,
                   max(0.1, deadline - time.monotonic() + 0.05))

    def _message(self, client, message: dict) -> Optional[list]:
        """The events of one watch message; None if the watch ended."""
        if 'error' in message:
            raise RuntimeError('watch failed: %s' % logsafe.safe(
                message['error']))
        result = message['result']
        if result.get('canceled'):
            # Typically compaction past our revision: list again.
            if result.get('compact_revision'):
                self.compactions += 1
            LOG.info('etcd watch canceled (%s); listing again',
                     logsafe.safe(result.get('cancel_reason') or
                                  'compacted at %s' %
                                  result.get('compact_revision')))
            return None
        events = result.get('events', [])
        if not events and not result.get('created'):
            # A progress notification: every change up to the header's
            # revision has been sent.
            self.progress += 1
            self.revision = max(self.revision,
                                int(result['header']['revision']))
            if not self._verify(client):
                return None
        return self._apply(events) if events else []

    def _verify(self, client) -> bool:
        """Whether the keys under the prefix at ``revision`` are the ones
        the list and the watch gave.

        etcd before 3.4.31 / 3.5.13 lets a slow watcher whose next
        revision was compacted skip the compacted events without telling
        it (etcd-io/etcd#17529); the progress notifications that follow
        still claim it is up to date.  A count of the keys at the
        notification's revision catches the keys it never heard of
        deleting (or creating).
        """
        now = time.monotonic()
        if now - self._verified < self.verify_interval:
            return True
        self._verified = now
        top = self.prefix + '/'
        try:
            reply = client.post(client.get_url('/kv/range'), json={
                'key': etcd_b64(top), 'range_end': etcd_range_end(top),
                'revision': self.revision, 'count_only': True})
        except Exception as exc:
            if 'compacted' not in stores.describe_error(exc):
                raise
            # History was compacted past a revision the watch claims to
            # be at: it cannot be checked, and may be missing events.
            self.lost += 1
            LOG.warning('etcd %s compacted past the watch\'s revision %d; '
                        'listing again', self.options.safe_url,
                        self.revision)
            return False
        count = int(reply.get('count', 0))
        if count == len(self._keys):
            return True
        self.lost += 1
        LOG.warning('etcd %s holds %d keys under %s at revision %d, the '
                    'watch accounted for %d: it lost events; listing again',
                    self.options.safe_url, count, logsafe.safe(top),
                    self.revision, len(self._keys))
        return False

    def _apply(self, events: list) -> list:
        batch = _Batch(self.prefix)
        items: list[tuple[str, Optional[str]]] = []
        add = items.append
        keys = self._keys
        a2b = binascii.a2b_base64
        revision = self.revision
        try:
            for event in events:
                kv = event['kv']
                mod_revision = int(kv['mod_revision'])
                if mod_revision > revision:
                    revision = mod_revision
                # PUT events carry no "type"; only DELETE ones do.
                value = (None if event.get('type') == 'DELETE'
                         else kv.get('value', ''))
                # schema.decode_key, inlined: a2b_base64 gives bytes.
                key = a2b(kv['key']).decode('utf-8', 'surrogateescape')
                if value is None:
                    keys.discard(key)
                else:
                    keys.add(key)
                add((key, value))
        finally:
            self.revision = revision
        batch.add_all(items)
        self.skipped += batch.skipped
        now = time.monotonic()
        for host, alive in batch.hosts.items() if self.downs.enabled else ():
            known = self.view.alive(host)
            if alive is None and known is not None and (
                    host not in self.holds) and self._hold_down(
                        host, known, now):
                # What the store holds of it before this batch; the
                # batch's deletes of its keys (same lease) apply below.
                self._fresh[host] = self.view.host_records(host)
                self._fresh_alive[host] = None
        interfaces: dict[tuple[str, str], Optional[Record]]
        if not self.holds:
            # No host held (nearly always): the batch as it is, without
            # a hold lookup per key.
            interfaces = batch.interfaces
        else:
            interfaces = {}
            for ikey, record in batch.interfaces.items():
                if ikey[0] in self.holds:
                    # Held: what the store holds now, adopted on release.
                    held = self._fresh.setdefault(ikey[0], {})
                    if record is None:
                        held.pop(ikey, None)
                    else:
                        held[ikey] = record
                else:
                    interfaces[ikey] = record
        markers = []
        release = []
        for host, alive in batch.hosts.items():
            if host in self.holds:
                self._fresh_alive[host] = alive
                if alive is not None and alive.get('synced'):
                    release.append(host)
            else:
                markers.extend(self.view.set_host(host, alive))
        out = ordered(markers, self.view.update(interfaces))
        for host in release:
            out.extend(self._release(host))
        return out


def _server_started(client, timeout: float) -> Optional[float]:
    """The etcd process's start time, from its ``/metrics``; None if it
    does not tell (metrics elsewhere, or refused): then restarts are
    noticed by the reply headers only.
    """
    try:
        reply = client.session.get(client.base_url + '/metrics',
                                   timeout=timeout)
        if reply.status_code != 200:
            return None
        for line in reply.text.splitlines():
            if line.startswith('process_start_time_seconds '):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError) as exc:  # requests' too
        LOG.debug('No start time from etcd: %s', stores.describe_error(exc))
    return None


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of a stream of chunks, in linear time.

    (requests' ``iter_lines`` re-splits everything pending on every 512-byte
    chunk: quadratic in the length of a line, and one watch message -- a
    lease expiry deleting a thousand keys -- is one long line.)
    """
    pending = bytearray()
    for chunk in chunks:
        start = len(pending)
        pending += chunk
        end = pending.find(b'\n', start)
        while end >= 0:
            yield bytes(pending[:end])
            del pending[:end + 1]
            end = pending.find(b'\n')
    if pending:
        yield bytes(pending)


def _is_timeout(exc: Optional[BaseException]) -> bool:
    """Whether a streamed read failed on its read timeout (requests wraps
    urllib3's ReadTimeoutError in a ConnectionError).
    """
    for _ in range(10):  # bounded: exception chains can be cyclic
        if exc is None:
            return False
        if isinstance(exc, (socket.timeout, TimeoutError)) or (
                type(exc).__name__ in ('ReadTimeoutError', 'ReadTimeout')):
            return True
        nested = exc.args[0] if exc.args else None
        exc = nested if isinstance(nested, BaseException) else (
            exc.__context__)
    return False


def _set_timeout(response, seconds: float) -> None:
    """Change the read timeout of a streamed response's socket."""
    try:
        response.raw.connection.sock.settimeout(seconds)
    except (AttributeError, OSError):
        pass


def _shutdown(response) -> None:
    """Unblock a thread reading a streamed response."""
    if response is None:
        return
    try:
        response.raw.connection.sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass
    response.close()


def watch_interfaces(options: StoreOptions,
                     prefix: str = stores.ETCD_PREFIX,
                     max_backoff: float = 10.0,
                     **kwargs) -> EtcdWatcher:
    """Watch cluster-wide interface state: initial list, then changes.

    ``kwargs`` go to :class:`EtcdWatcher`.
    """
    return EtcdWatcher(options, prefix, max_backoff, **kwargs)
