"""The etcd v3 store: one key per interface, on the host's leases (etcd3gw).

Every write is a transaction guarded by "the liveness key is on my lease"
(always a lease this process granted itself), so an agent that lost the
host id -- even to a newer process of its owner that adopted its other
leases -- never writes or deletes the host's keys.  Key layout:
:mod:`df_ovsdb_agent.cluster.stores`; leases, adoption and limits:
doc/source/publishers.rst.
A (re)connection costs one range, a lease grant when needed and one
transaction (claim, reconcile, then the ``synced`` liveness record); the
first one of a writer that knows of no key of its host skips the range:
its transaction holds only if the host has no key, and brings the range
back when it has one (:meth:`EtcdStore.first_write`).  The client's API
path and HTTP environment are resolved once per process, not per request
or per publisher (:func:`settle_environment`).
"""

import base64
import collections
import logging
import threading
import time
from typing import Any, Optional

from oslo_config import cfg

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import etcd_b64
from df_ovsdb_agent.cluster.stores import etcd_range_end
from df_ovsdb_agent import logsafe
from df_ovsdb_agent.publishers import base
from df_ovsdb_agent.publishers import plan
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.publishers import store

LOG = logging.getLogger(__name__)

# etcd's default --max-txn-ops.
MAX_TXN_OPS = 128

# Bytes of keys and values (base64) per transaction: below etcd's default
# --max-request-bytes (1.5 MiB) and its gateway's 2 MiB, so that many
# good records together are never refused for their size.
MAX_TXN_BYTES = 1 << 20

# What etcd says when a request is too large for it (HTTP 400 and 429).
TOO_LARGE = ('request is too large', 'message larger than max')

# Base URL -> the API path etcd3gw found there ('/v3/'): found once per
# process, not by one more request (GET /version) at every connection of
# every publisher; forgotten when a request to that URL fails, so that a
# server replaced by another version is asked again.
_API_PATHS: dict[str, str] = {}
# (base URL, the session's own CA setting) -> what requests found in the
# environment for it (see settle_environment), forgotten with the API
# path.  The session's setting is part of the key: the result merges it,
# and two publishers of one process may trust different CAs.
_ENVIRONMENTS: dict[tuple, tuple] = {}
# Base URL -> set when the one request finding its API path is answered
# (or failed): the publishers of a process that start together (a cold
# start) wait for it instead of each sending its own.
_FINDING: dict[str, threading.Event] = {}
_FINDING_LOCK = threading.Lock()


class LeaseLost(Exception):
    """etcd no longer knows one of our leases: its keys are gone."""


class KeepaliveFailed(Exception):
    """etcd answered a keepalive with an error: retry it."""


class EtcdStore(store.Store):
    """One host's keys under a prefix, on that host's leases."""

    writes_alive = True
    writes_first = True

    def __init__(self, options: stores.StoreOptions, prefix: str,
                 lease_ttl: int) -> None:
        super().__init__()
        stores.check_etcd(options)
        self.options = options
        self.prefix = stores.check_prefix(prefix)
        self.ttl = lease_ttl
        # Refresh three times per TTL: one lost refresh costs nothing.
        self.tick_interval = lease_ttl / 3.0
        #: Our leases; the first carries the liveness key.
        self.leases: list[int] = []
        # name -> lease of the interface keys on our leases.
        self._lease_of: dict[str, int] = {}
        self._granted_ttl = lease_ttl
        self.host_root = ''
        self.host_prefix = ''
        self.alive_key = ''
        self._client: Any = None
        # Base URL and API path of the client's requests, once connected.
        self._base: Optional[str] = None
        self._api: Optional[str] = None
        # A claim made by the next write: the liveness record to put, the
        # compare on the liveness key as the host's range showed it (None:
        # not read yet), the predecessor's leases adopted when it succeeds.
        self._claim: Optional[dict] = None
        self._claim_compare: Optional[dict] = None
        self._adopt: list[int] = []
        #: Leases etcd no longer knew when we came back (their keys were
        #: gone): how often a lease was lost.
        self.lost = 0
        # lease -> when it runs out without a keepalive (monotonic; from
        # when the last grant or keepalive that etcd answered was sent).
        self._deadlines: dict[int, float] = {}

    @property
    def lease_id(self) -> Optional[int]:
        """The lease of the liveness key (and of the first 999 others)."""
        return self.leases[0] if self.leases else None

    @property
    def target(self) -> str:
        return 'etcd %s' % self.options.safe_url

    def bind(self, instance: store.Instance) -> None:
        super().bind(instance)
        self.host_prefix = stores.etcd_host_prefix(self.prefix,
                                                   instance.host)
        self.alive_key = stores.etcd_alive_key(self.prefix, instance.host)
        # Both of the above, and nothing of another host.
        self.host_root = self.alive_key[:-len(stores.ALIVE)]

    # -- connection and leases ------------------------------------------

    def connect(self) -> None:
        self._claim = self._claim_compare = None
        self._adopt = []
        self._client = stores.etcd_client(self.options)
        # etcd3gw finds the API path with a request: kept per base URL.
        self._base = self._client.base_url
        settle_environment(self._client.session, self._base)
        self._api = _API_PATHS.get(self._base)
        live = [lease for lease in self.leases if self._keepalive(lease) > 0]
        if len(live) < len(self.leases):
            self.lost += len(self.leases) - len(live)
            LOG.warning('etcd lease(s) of host %s were lost; their keys are '
                        'rewritten on other leases', self.host)
        self.leases = live
        self._lease_of = {name: lease for name, lease
                          in self._lease_of.items() if lease in live}

    def _post(self, path: str, body: dict) -> dict:
        client = self._client
        base = self._base
        if base is None:
            base = self._base = client.base_url
        self.sent = time.monotonic()
        try:
            if self._api is None:
                self._api = self._api_path()
            return client.post(base + self._api + path.lstrip('/'),
                               json=body)
        except Exception:
            _API_PATHS.pop(base, None)
            for key in [k for k in _ENVIRONMENTS if k[0] == base]:
                _ENVIRONMENTS.pop(key, None)
            raise

    def _api_path(self) -> str:
        """The API path at our base URL: known to the process, else found
        by one request (etcd3gw's ``GET /version``) while the other
        publishers of the process wait up to the timeout for its answer.
        """
        base = self._base
        assert base is not None
        with _FINDING_LOCK:
            api = _API_PATHS.get(base)
            finding = _FINDING.get(base)
            mine = api is None and finding is None
            if mine:
                finding = _FINDING[base] = threading.Event()
        if api is not None:
            return api
        assert finding is not None
        if not mine:
            finding.wait(self.options.timeout)
            api = _API_PATHS.get(base)
            if api is not None:
                return api
            # That request failed or is slow: ask ourselves.
        try:
            api = _API_PATHS[base] = self._client.api_path
            return api
        finally:
            if mine:
                with _FINDING_LOCK:
                    _FINDING.pop(base, None)
                finding.set()

    @property
    def expires(self) -> Optional[float]:
        deadlines = [self._deadlines[lease] for lease in self.leases
                     if lease in self._deadlines]
        return min(deadlines) if deadlines else None

    def _post_within(self, lease: int, path: str, body: dict) -> dict:
        """:meth:`_post` with the timeout measured against the time
        ``lease`` has left (:meth:`refresh_timeout`): a slow etcd gets
        time to answer, a dead connection none to waste.
        """
        deadline = self._deadlines.get(lease)
        timeout = self._client.timeout
        if deadline is not None:
            self._client.timeout = self.refresh_timeout(
                self.options.timeout, deadline - time.monotonic())
        try:
            return self._post(path, body)
        finally:
            self._client.timeout = timeout

    def _keepalive(self, lease: int) -> int:
        sent = time.monotonic()
        reply = self._post_within(lease, '/lease/keepalive', {'ID': lease})
        result = reply.get('result')
        if not isinstance(result, dict):
            # The gateway streams an error ("etcdserver: request timed
            # out", "too many requests") as a 200 reply: the keepalive
            # failed, the lease is not known to be lost.
            raise KeepaliveFailed('keepalive of lease %x failed: %s' % (
                lease, logsafe.safe(reply.get('error'), 200)))
        # A lease etcd does not know comes back without a TTL.
        ttl = int(result.get('TTL', -1))
        if ttl > 0:
            self._deadlines[lease] = sent + ttl
        else:
            self._deadlines.pop(lease, None)
        return ttl

    def _grant(self) -> int:
        sent = time.monotonic()
        reply = self._post('/lease/grant', {'TTL': self.ttl, 'ID': 0})
        lease = int(reply['ID'])
        # What etcd granted (it may raise a TTL below its minimum).
        self._granted_ttl = int(reply.get('TTL', self.ttl))
        self._deadlines[lease] = sent + self._granted_ttl
        self.leases.append(lease)
        LOG.info('Granted etcd lease %x (TTL %ss) for host %s', lease,
                 self.ttl, self.host)
        return lease

    def tick(self, alive: dict) -> bool:
        for lease in self.leases:
            if self._keepalive(lease) <= 0:
                raise LeaseLost('lease %x expired' % lease)
        return False

    # -- ownership -------------------------------------------------------

    def claim(self, alive: dict) -> None:
        # Made by the next write (see the module doc): read_state reads
        # the liveness key with the host's other keys.
        self._claim = alive
        self._claim_compare = None
        self._adopt = []

    def _check_claim(self, kv: Optional[dict], kvs: list) -> None:
        """Decide the pending claim from the liveness key's ``kv`` (None:
        absent): NotOwner, or the compare that makes it atomic, and the
        predecessor's leases to adopt (among those of ``kvs``).
        """
        key = etcd_b64(self.alive_key)
        predecessor = False
        if kv is None:
            compare = {'target': 'CREATE', 'key': key, 'create_revision': 0,
                       'result': 'EQUAL'}
        else:
            current = _parse_alive(kv.get('value', ''))
            if current is None:
                current = {'owner': '<unreadable liveness record>'}
            if not self.me.may_take_over(current):
                raise store.NotOwner(self.host, current)
            compare = {'target': 'MOD', 'key': key,
                       'mod_revision': kv['mod_revision'], 'result': 'EQUAL'}
            predecessor = not self.me.is_self(current)
        if not self.leases:
            # Always a lease of our own for the liveness record: the guard
            # of every write tells this process from the one before it.
            self._grant()
        self._adopt = self._predecessor_leases(kvs) if predecessor else []
        self._claim_compare = compare

    def _predecessor_leases(self, kvs: list) -> list[int]:
        """The live leases, granted with our TTL, holding the interface
        keys (``kvs``) of an earlier process of our owner (refreshed here
        so that none expires before our first tick).  Its liveness record
        moves onto our own lease with the claim.
        """
        found = {int(kv.get('lease', 0)) for kv in kvs}
        found.discard(0)
        found.difference_update(self.leases)
        # A lease granted with another TTL is not adopted: its keys move
        # onto ours, so that lease_ttl means what the configuration says.
        return sorted(lease for lease in found
                      if self._keepalive(lease) == self._granted_ttl)

    def _claim_txn(self, ops: list) -> None:
        """Claim the host with ``ops`` (which put the liveness record on
        our lease) in one transaction; NotOwner if another holds it.
        """
        if self._claim_compare is None:
            self._check_claim(self._get(self.alive_key), [])
        assert self._claim_compare is not None
        failure = [{'request_range': {'key': etcd_b64(self.alive_key)}}]
        reply = self._txn([self._claim_compare], ops, failure)
        if not reply.get('succeeded'):
            kvs = (reply.get('responses') or [{}])[0].get(
                'response_range', {}).get('kvs') or []
            current = kvs and (_parse_alive(kvs[0].get('value', '')) or
                               {'owner': '<unreadable liveness record>'})
            if current and not self.me.may_take_over(current):
                raise store.NotOwner(self.host, current)
            # Changed between our read and our write: decide again.
            raise RuntimeError('liveness key %s changed while claiming it'
                               % self.alive_key)
        self._claimed()

    def _claimed(self) -> None:
        """The claim's transaction succeeded: adopt what it decided to."""
        self._claim = self._claim_compare = None
        adopted = [lease for lease in self._adopt if lease not in self.leases]
        self._adopt = []
        self.leases.extend(adopted)
        for lease in set(self._deadlines) - set(self.leases):
            del self._deadlines[lease]  # looked at, not adopted
        if adopted:
            LOG.info('Adopted etcd lease(s) %s of the previous process of '
                     'host %s: its keys stay as they are',
                     ', '.join('%x' % lease for lease in adopted), self.host)

    def _guard(self) -> list:
        """The compare every write carries: the host is still ours."""
        return [{'target': 'LEASE', 'key': etcd_b64(self.alive_key),
                 'lease': self.leases[0], 'result': 'EQUAL'}]

    def _guarded(self, ops: list) -> None:
        failure = [{'request_range': {'key': etcd_b64(self.alive_key)}}]
        reply = self._txn(self._guard(), ops, failure)
        if reply.get('succeeded'):
            return
        kvs = (reply.get('responses') or [{}])[0].get(
            'response_range', {}).get('kvs') or []
        current = None
        if kvs:
            current = _parse_alive(kvs[0].get('value', '')) \
                or {'owner': '<unreadable liveness record>'}
            if self.me.is_self(current):
                # Our record on a lease that is no longer ours.
                current = None
        raise store.NotOwner(self.host, current)

    def put_alive(self, alive: dict) -> None:
        if self._claim is not None:
            if not self.leases:
                self._grant()
            self._claim_txn([self._put(self.alive_key, alive,
                                       self.leases[0])])
            return
        self._guarded([self._put(self.alive_key, alive, self.leases[0])])

    # -- state -----------------------------------------------------------

    def read_state(self) -> store.State:
        # One range for the liveness key and the interface keys.
        root = self.host_root
        reply = self._post('/kv/range', {'key': etcd_b64(root),
                                         'range_end': etcd_range_end(root)})
        return self._state_of(reply.get('kvs') or [])

    def _state_of(self, kvs: list) -> store.State:
        """The state of :meth:`read_state` from the host's ``kvs`` (the
        range over :attr:`host_root`, from a range request or a failed
        :meth:`first_write`): the pending claim decided, the leases of our
        keys learnt.
        """
        state = {}
        rewrite = set()
        self._lease_of = {}
        top = self.host_prefix
        alive_kv = None
        found = []
        for kv in kvs:
            # Surrogate escapes keep a key that is not UTF-8 exact, so
            # that it can be deleted.
            key = base64.b64decode(kv['key']).decode(
                'utf-8', 'surrogateescape')
            if key == self.alive_key:
                alive_kv = kv
            elif key.startswith(top):
                found.append((key[len(top):], kv))
        if self._claim is not None:
            self._check_claim(alive_kv, [kv for _, kv in found])
        ours = set(self.leases) | set(self._adopt)
        for name, kv in found:
            lease = int(kv.get('lease', 0))
            record, bad = records.stored_form(
                base64.b64decode(kv.get('value', '')))
            if bad:
                # Garbage, or an older version's event form: rewritten
                # (or deleted), never a reason to stop.
                rewrite.add(name)
            if lease in ours:
                self._lease_of[name] = lease
            else:
                # An earlier run's lease (or none): move it onto ours.
                rewrite.add(name)
            state[name] = record
        return state, frozenset(rewrite)

    def first_write(self, write: plan.Write) -> Optional[store.State]:
        """The claim and ``write`` in one transaction that succeeds only
        if no key of the host exists (see :meth:`store.Store.first_write`;
        a cold host then costs a lease grant and this one transaction);
        its failure branch returns the host's keys, read as by
        :meth:`read_state`.  A write that is not all puts, needs more than
        one transaction or is refused for its content reads instead (as
        without this shortcut), and writes nothing.
        """
        if (self._claim is None or write.alive is None or
                len(write.state) >= MAX_TXN_OPS or
                any(record is None for record in write.state.values())):
            return self.read_state()
        # Every key is written anew, on our leases, or nothing is.
        self._lease_of = {}
        granted = not self.leases
        if granted:
            self._grant()
        try:
            return self._write_first(write)
        except store.NotOwner:
            if granted:
                # A lease that holds nothing: let it expire rather than
                # keep it alive (a keepalive per retry) while refused.
                for lease in self.leases:
                    self._deadlines.pop(lease, None)
                self.leases = []
            raise

    def _write_first(self, write: plan.Write) -> Optional[store.State]:
        chunks = self._with_alive(self._ops(write), write.alive)
        if len(chunks) > 1:  # too many bytes for one transaction
            return self.read_state()
        root = self.host_root
        host_range = {'key': etcd_b64(root),
                      'range_end': etcd_range_end(root)}
        # CREATE == 0 over a range holds iff no key is in it: etcd
        # compares an empty range as one absent key.
        compare = dict(host_range, target='CREATE', create_revision=0,
                       result='EQUAL')
        try:
            # Timed against our fresh lease (a quarter of its TTL), not
            # the plain timeout: nothing is at risk while etcd works
            # through a cold start's backlog, and a timeout would only add
            # a retry to it (one more transaction for etcd to apply).
            reply = self._post_within(self.leases[0], '/kv/txn', {
                'compare': [compare], 'success': chunks[0],
                'failure': [{'request_range': host_range}]})
        except Exception as exc:
            self._lease_of = {}
            if not self.refuses(exc):
                raise
            # Nothing written: the usual path sets the culprit aside.
            return self.read_state()
        if reply.get('succeeded'):
            self._claimed()
            return None
        kvs = ((reply.get('responses') or [{}])[0].get(
            'response_range') or {}).get('kvs') or []
        return self._state_of(kvs)

    def apply(self, write: plan.Write) -> None:
        known = set(self._lease_of)
        if not self.leases:
            self._grant()
        ops = self._ops(write)
        try:
            for i, chunk in enumerate(self._with_alive(ops, write.alive)):
                if i == 0 and self._claim is not None:
                    self._claim_txn(chunk)
                else:
                    self._guarded(chunk)
        except Exception:
            # Keys of a refused or failed write are not on the lease they
            # were given (a reconcile re-learns the leases anyway).
            for name in set(self._lease_of) - known:
                del self._lease_of[name]
            raise
        for name, record in write.state.items():
            if record is None:
                self._lease_of.pop(name, None)

    def _ops(self, write: plan.Write) -> list:
        """The operations of ``write``'s data, by name; a new key goes on
        a lease with room (granted if none has).
        """
        ops = []
        counts = collections.Counter(self._lease_of.values())
        counts[self.leases[0]] += 1  # the liveness key
        for name, record in sorted(write.state.items()):
            key = _key_b64(self.host_prefix + name)
            if record is None:
                ops.append({'request_delete_range': {'key': key}})
                continue
            lease = self._lease_for(name, counts)
            put: dict[str, Any] = {'key': key, 'lease': lease,
                                   'value': etcd_b64(stores.dumps(record))}
            ops.append({'request_put': put})
        return ops

    def _with_alive(self, ops: list, alive: Optional[dict]) -> list[list]:
        """``ops`` in transactions, the liveness record ``alive`` last.

        A pending claim puts a liveness record in the first transaction:
        ``alive`` if everything fits in one, else the claim's own (one
        transaction names a key once).
        """
        lease = self.leases[0]
        claim = None
        if self._claim is not None:
            claim = self._put(self.alive_key, self._claim, lease)
        if alive is None:
            return _chunks(([claim] if claim else []) + ops)
        tail = [self._put(self.alive_key, alive, lease)]
        chunks = _chunks(ops + tail)
        if len(chunks) > 1 and claim is not None:
            chunks = _chunks([claim] + ops + tail)
        return chunks

    def _lease_for(self, name: str, counts: collections.Counter) -> int:
        """The lease for ``name``'s key: where it is, else one with room."""
        lease = self._lease_of.get(name)
        if lease is None:
            lease = next((lease for lease in self.leases
                          if counts[lease] < stores.KEYS_PER_LEASE), None)
            if lease is None:
                lease = self._grant()
            counts[lease] += 1
            self._lease_of[name] = lease
        return lease

    def revoke(self) -> None:
        # Only while the host is ours (raises NotOwner otherwise): a newer
        # process of our owner may have adopted our leases, and revoking
        # them would delete its keys.
        self._guarded([
            {'request_delete_range': {
                'key': etcd_b64(self.host_prefix),
                'range_end': etcd_range_end(self.host_prefix)}},
            {'request_delete_range': {'key': etcd_b64(self.alive_key)}}])
        for lease in self.leases:
            self._post('/lease/revoke', {'ID': lease})
        self.leases = []
        self._lease_of = {}
        self._deadlines = {}

    # -- plumbing --------------------------------------------------------

    def _get(self, key: str) -> Optional[dict]:
        reply = self._post('/kv/range', {'key': etcd_b64(key)})
        kvs = reply.get('kvs') or []
        return kvs[0] if kvs else None

    def _put(self, key: str, record: dict, lease: int) -> dict:
        return {'request_put': {'key': etcd_b64(key), 'lease': lease,
                                'value': etcd_b64(stores.dumps(record))}}

    def refuses(self, exc: Exception) -> bool:
        import etcd3gw.exceptions

        if super().refuses(exc):
            return True
        # Only etcd's own verdict on the request's size: a full database
        # ("database space exceeded") or a lost leader is no reason to
        # set a record aside.
        return (type(exc) is etcd3gw.exceptions.Etcd3Exception and
                any(text in str(getattr(exc, 'detail_text', '') or '')
                    for text in TOO_LARGE))

    def _txn(self, compare: list, success: list,
             failure: Optional[list] = None) -> dict:
        return self._post('/kv/txn', {'compare': compare,
                                      'success': success,
                                      'failure': failure or []})

    def close(self) -> None:
        if self._client is not None:
            self._client.session.close()
            self._client = None


def settle_environment(session: Any, url: str) -> None:
    """Resolve once what ``requests`` reads from the environment for
    ``url`` at every request (proxies, the CA bundle, ``~/.netrc``
    credentials), then stop it from reading it again.

    Every request of a session that trusts the environment looks for two
    netrc files and scans the proxy variables.  All of a store's requests
    go to one base URL, so the answer is the same each time; it is kept
    per process like the API path, and forgotten with it.
    """
    if not session.trust_env:
        return
    key = (url, repr(session.verify))
    found = _ENVIRONMENTS.get(key)
    if found is None:
        import requests.utils

        settings = session.merge_environment_settings(url, {}, None, None,
                                                      None)
        # netrc credentials: what prepare_request adds to each request.
        found = _ENVIRONMENTS[key] = (settings['proxies'],
                                      settings['verify'],
                                      requests.utils.get_netrc_auth(url))
    proxies, verify, netrc = found
    session.proxies = dict(proxies)
    session.verify = verify
    if session.auth is None:
        session.auth = netrc
    session.trust_env = False


def _key_b64(key: str) -> str:
    """Like :func:`etcd_b64`, but a key read back with surrogate escapes
    (not UTF-8) is its original bytes again.
    """
    return base64.b64encode(key.encode('utf-8', 'surrogateescape')).decode(
        'ascii')


def _chunks(ops: list) -> list[list]:
    """``ops`` cut into transactions of at most :data:`MAX_TXN_OPS`
    operations and about :data:`MAX_TXN_BYTES`.
    """
    chunks: list[list] = []
    size = 0
    for op in ops:
        body = next(iter(op.values()))
        weight = len(body['key']) + len(body.get('value', '')) + 64
        if not chunks or len(chunks[-1]) >= MAX_TXN_OPS or (
                size + weight > MAX_TXN_BYTES and chunks[-1]):
            chunks.append([])
            size = 0
        chunks[-1].append(op)
        size += weight
    return chunks


def _parse_alive(value: str) -> Optional[dict]:
    """A liveness record from etcd's base64 value; None for garbage (too
    large, or nested too deep to parse), never an exception.
    """
    if len(value) > records.MAX_RECORD_BYTES * 2:
        return None
    try:
        return stores.parse_alive(_unb64(value))
    except RecursionError:
        return None


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode('utf-8', 'replace')


class EtcdPublisher(base.StorePublisher):
    """Keep this host's online interfaces in etcd, on leases."""

    REQUIRES = ('etcd3gw',)
    EXTRA = 'etcd'
    CONFIG_OPTS = [
        cfg.StrOpt('url', default='http://127.0.0.1:2379',
                   help='etcd client URL: http://HOST:PORT or '
                        'https://HOST:PORT (then see ca_file).'),
        cfg.StrOpt('prefix', default=stores.ETCD_PREFIX,
                   help='Key prefix; a host\'s interfaces live under '
                        '<prefix>/<host>/interfaces/<name>, its liveness '
                        'record at <prefix>/<host>/alive.'),
        cfg.IntOpt('lease_ttl', default=60, min=2,
                   help='Seconds after which a dead agent\'s keys expire '
                        'and consumers see its host go down; also the grace '
                        'period in which a restarted agent takes its keys '
                        'over without any change. Each lease is refreshed '
                        'every third of that.'),
    ] + (base.PUBLISHER_OPTS + base.CREDENTIAL_OPTS + base.TLS_OPTS +
         base.RETRY_OPTS)

    def make_store(self) -> EtcdStore:
        return EtcdStore(self.options, self.config.prefix,
                         self.config.lease_ttl)
