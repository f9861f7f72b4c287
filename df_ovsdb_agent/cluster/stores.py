"""Where the state lives in etcd and Redis, and how to connect to them.

The one place that defines the key layout, shared by the publishers that
write it and the consumers that read it:

- etcd: ``<prefix>/<host>/interfaces/<name>`` -> JSON state record (no
  ``action``: stores hold state only), and ``<prefix>/<host>/alive`` -> the
  host's liveness record; every key of a host on that host's lease(s), at
  most :data:`KEYS_PER_LEASE` keys per lease.
- Redis: ``<key_prefix>:<host>:interfaces`` (hash name -> JSON state
  record), ``<key_prefix>:<host>:events`` (stream, one ``event`` field
  holding the JSON event, with ``action``, or a sync marker),
  ``<key_prefix>:hosts`` (set of host names), ``<key_prefix>:<host>:alive``
  (the liveness record, set with a TTL) and ``<key_prefix>:registrations``
  (stream, one ``host`` field per claim of a host id: a hint only).

A *liveness record* (:func:`alive_record`) is
``{"host", "owner", "version", "pid", "started", "synced", "interfaces",
"ttl"}``: it exists while the host's publisher is alive, and ``owner`` says
which agent installation holds the host id.
"""

import base64
import dataclasses
import functools
import json
import logging
import re
import threading
import urllib.parse
from typing import Any, Callable, Iterator, Optional

from df_ovsdb_agent.backoff import Backoff
from df_ovsdb_agent.exceptions import ConfigError

LOG = logging.getLogger(__name__)

ETCD_PREFIX = '/df-ovsdb-agent'
REDIS_PREFIX = 'df-ovsdb-agent'
INTERFACES = '/interfaces/'
ALIVE = 'alive'

#: At most this many keys on one etcd lease, as Cilium bounds them: a
#: lease's expiry deletes its keys in one raft entry, which must stay small.
KEYS_PER_LEASE = 1000


@dataclasses.dataclass(frozen=True)
class StoreOptions:
    """How to reach a store; the password never appears in a repr."""

    url: str
    username: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    timeout: float = 5.0

    @classmethod
    def from_group(cls, group) -> 'StoreOptions':
        """From a publisher's option group (``[publisher_etcd]``...)."""
        return cls(url=group.url, username=group.username,
                   password=group.password, ca_file=group.ca_file,
                   cert_file=group.cert_file, key_file=group.key_file,
                   timeout=group.timeout)

    @property
    def safe_url(self) -> str:
        return redact(self.url)


# A query parameter (``?password=x``, ``&token=y``) and the names that
# say its value is a secret.
_PARAM = re.compile(r'([?&;])([^=&;#?]*)=([^&;#]*)')
_SECRET_NAME = re.compile(
    r'pass|pwd|^pw$|secret|token|auth|cred|(^|[_-])key$|apikey', re.I)


def redact(url: str) -> str:
    """``url`` without any password it embeds, for logs and messages.

    Masks the password of the user-info (``redis://user:***@host``, even
    when it holds an unescaped ``@``, ``/`` or ``?``: everything up to the
    last ``@`` goes) and the value of every query parameter whose name
    says secret (``password``, ``pw``, ``token``, ``secret``, ``auth``...).
    Never raises, whatever the text.
    """
    def mask(found: 're.Match[str]') -> str:
        name = urllib.parse.unquote(found.group(2))
        if _SECRET_NAME.search(name):
            return '%s%s=***' % (found.group(1), found.group(2))
        return found.group(0)

    text = _PARAM.sub(mask, url)
    scheme = text.find('://')
    at = text.rfind('@')
    if 0 <= scheme < at:
        colon = text.find(':', scheme + 3, at)
        if colon >= 0:
            text = text[:colon + 1] + '***' + text[at:]
    return text


def describe_error(exc: Exception) -> str:
    """One short line about a store error (their texts hold no secrets)."""
    detail = getattr(exc, 'detail_text', None)  # etcd3gw: the reply body
    text = ' '.join(str(detail or exc).split())
    try:
        text = json.loads(text)['message']
    except (ValueError, KeyError, TypeError):
        pass
    # requests nests the useful part ("[Errno 111] Connection refused")
    # three exceptions deep.
    found = re.search(r'\[Errno -?\d+\] [^"\')]+', text)
    if found:
        text = found.group(0)
    return '%s: %s' % (type(exc).__name__, text[:300] or '-')


#: json.dumps with non-default arguments builds a JSONEncoder per call
#: (about 3 of the ~6 us of a record): one, built once, gives the same text
#: through its public ``encode``.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(',', ':'))


def dumps(data: dict) -> str:
    """``json.dumps(data, sort_keys=True, separators=(',', ':'))``."""
    return _ENCODER.encode(data)


def record_identity(record: dict) -> tuple:
    """What makes a stored record the same interface across changes:
    (uuid, kind), as :func:`df_ovsdb_agent.events.identity` for events.

    Use with :func:`df_ovsdb_agent.state.transition` or
    :class:`df_ovsdb_agent.state.KeyedState` on records.
    """
    return (record.get('uuid'), record.get('kind'))


def alive_record(host: str, owner: str, version: str, pid: int,
                 started: float, synced: bool, interfaces: int,
                 ttl: int) -> dict:
    """The liveness record of a host's publisher (see the module doc)."""
    return {'host': host, 'owner': owner, 'version': version, 'pid': pid,
            'started': started, 'synced': synced, 'interfaces': interfaces,
            'ttl': ttl}


def parse_alive(value) -> Optional[dict]:
    """A liveness record from its stored JSON; None if unreadable."""
    try:
        record = json.loads(value)
    except (TypeError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(
            record.get('owner'), str):
        return None
    return record


# -- etcd ------------------------------------------------------------------

def etcd_b64(text: str) -> str:
    """etcd's JSON gateway takes keys and values base64-encoded."""
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def etcd_range_end(prefix: str) -> str:
    """The end of the key range holding exactly the keys of ``prefix``,
    base64-encoded.
    """
    raw = bytearray(prefix.encode('utf-8'))
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode('ascii')


def etcd_host_prefix(prefix: str, host: str) -> str:
    return '%s/%s%s' % (prefix.rstrip('/'), host, INTERFACES)


def etcd_key(prefix: str, host: str, name: str) -> str:
    return etcd_host_prefix(prefix, host) + name


def etcd_alive_key(prefix: str, host: str) -> str:
    """``<prefix>/<host>/alive``: the host's liveness record."""
    return '%s/%s/%s' % (prefix.rstrip('/'), host, ALIVE)


def etcd_parse_alive_key(prefix: str, key: str) -> Optional[str]:
    """The host of a liveness key under ``prefix``, else None."""
    head = prefix.rstrip('/') + '/'
    tail = '/' + ALIVE
    if not key.startswith(head) or not key.endswith(tail):
        return None
    host = key[len(head):-len(tail)]
    return host if host and '/' not in host else None


def etcd_parse_key(prefix: str, key: str) -> Optional[tuple[str, str]]:
    """(host, name) of an interface key under ``prefix``, else None."""
    head = prefix.rstrip('/') + '/'
    if not key.startswith(head) or INTERFACES not in key[len(head):]:
        return None
    host, name = key[len(head):].split(INTERFACES, 1)
    return (host, name) if host and name else None


def check_prefix(prefix: str) -> str:
    if not prefix.startswith('/') or prefix.rstrip('/') == '':
        raise ConfigError('etcd prefix %r must start with "/" and not be '
                          'the root' % prefix)
    return prefix.rstrip('/')


def parse_etcd_url(url: str) -> tuple[str, str, int]:
    """``http(s)://host:port`` -> (protocol, host, port); ConfigError else."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or 2379
    except ValueError:
        port = None
    if (parts.scheme not in ('http', 'https') or not parts.hostname or
            port is None or parts.path not in ('', '/') or parts.password):
        raise ConfigError('bad etcd url %r: expected http(s)://HOST:PORT '
                          '(credentials go in username/password)'
                          % redact(url))
    return parts.scheme, parts.hostname, port


def check_etcd(options: StoreOptions) -> tuple[str, str, int]:
    """Validate the etcd options; (protocol, host, port) of the URL."""
    protocol, host, port = parse_etcd_url(options.url)
    tls_files = options.ca_file or options.cert_file or options.key_file
    if tls_files and protocol != 'https':
        raise ConfigError('TLS files are set but the etcd url %r is not '
                          'https://' % redact(options.url))
    if bool(options.cert_file) != bool(options.key_file):
        raise ConfigError('cert_file and key_file go together')
    return protocol, host, port


def etcd_client(options: StoreOptions):
    """An ``etcd3gw`` client, authenticated when a username is set.

    etcd3gw has no authentication of its own: the token from
    ``/auth/authenticate`` rides on its session.  Tokens expire, so callers
    make a new client whenever a request fails.
    """
    import etcd3gw

    protocol, host, port = check_etcd(options)
    tls: dict[str, Any] = {}
    if protocol == 'https':
        tls = {'ca_cert': options.ca_file, 'cert_cert': options.cert_file,
               'cert_key': options.key_file}
    client = etcd3gw.Etcd3Client(host=host, port=port, protocol=protocol,
                                 timeout=options.timeout, **tls)
    if options.ca_file:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a
        # session's CA (psf/requests#3829); the configured CA must win.
        client.session.trust_env = False
    if options.username:
        reply = client.post(client.get_url('/auth/authenticate'),
                            json={'name': options.username,
                                  'password': options.password or ''})
        client.session.headers['Authorization'] = reply['token']
    return client


# -- Redis -----------------------------------------------------------------

def redis_hosts_key(key_prefix: str) -> str:
    return '%s:hosts' % key_prefix


#: Entries kept (about: ``MAXLEN ~``) in the registrations stream.
REDIS_REGISTRATIONS_MAXLEN = 1000


def redis_registrations_key(key_prefix: str) -> str:
    """``<key_prefix>:registrations``: a stream with one entry (field
    ``host``) per claim of a host id, written with the ``SADD`` to the
    hosts set; a hint for readers, which it wakes up.  It ends in none of
    a host's key suffixes, so no host name can collide with it.
    """
    return '%s:registrations' % key_prefix


def redis_state_key(key_prefix: str, host: str) -> str:
    return '%s:%s:interfaces' % (key_prefix, host)


def redis_stream_key(key_prefix: str, host: str) -> str:
    return '%s:%s:events' % (key_prefix, host)


def redis_alive_key(key_prefix: str, host: str) -> str:
    """``<key_prefix>:<host>:alive``: the liveness record, with a TTL."""
    return '%s:%s:%s' % (key_prefix, host, ALIVE)


def check_redis(options: StoreOptions) -> bool:
    """Validate the Redis options; whether TLS files are set."""
    url = options.url
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ('redis', 'rediss', 'unix'):
        raise ConfigError('bad redis url %r: expected redis://, rediss:// '
                          'or unix://' % redact(url))
    tls_files = bool(options.ca_file or options.cert_file or
                     options.key_file)
    if tls_files and scheme != 'rediss':
        raise ConfigError('TLS files are set but the redis url %r is not '
                          'rediss://' % redact(url))
    if bool(options.cert_file) != bool(options.key_file):
        raise ConfigError('cert_file and key_file go together')
    return tls_files


def redis_client(options: StoreOptions, extra_timeout: float = 0.0,
                 encoding_errors: str = 'strict', resp2: bool = False):
    """A ``redis-py`` client that never retries by itself.

    The publishers and readers own retrying (with their own backoff and a
    full reconcile), so a dead server fails a call at once.

    :param extra_timeout: added to the socket timeout, for blocking reads.
    :param encoding_errors: how replies that are not UTF-8 are decoded
        (readers: ``surrogateescape``, so that one bad key or value cannot
        fail a whole reply).
    :param resp2: speak RESP2, as redis-py < 8 does by default: redis-py
        8 opens every connection with a ``HELLO 3`` round trip (without
        credentials; with them it is the AUTH), for replies a caller that
        reads only lists, strings and hashes does not need.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    tls_files = check_redis(options)
    kwargs = {}
    if tls_files:
        kwargs = {'ssl_ca_certs': options.ca_file,
                  'ssl_certfile': options.cert_file,
                  'ssl_keyfile': options.key_file}
    if options.username:
        kwargs['username'] = options.username
    if options.password:
        kwargs['password'] = options.password
    kwargs.update(_no_optional_handshake())
    if resp2:
        kwargs.update(_resp2())
    try:
        return redis.Redis.from_url(
            options.url, socket_timeout=options.timeout + extra_timeout,
            socket_connect_timeout=options.timeout,
            retry=Retry(NoBackoff(), 0), decode_responses=True,
            encoding_errors=encoding_errors, **kwargs)
    except ValueError as exc:
        raise ConfigError('bad redis url %r: %s'
                          % (redact(options.url), exc)) from None


@functools.lru_cache(maxsize=None)
def _no_optional_handshake() -> dict[str, Any]:
    """redis-py arguments that leave out the optional part of its
    handshake: one round trip after connecting, before the first command
    (a fleet reconnecting at once pays it on every host), for nothing used
    here.

    redis-py >= 5.0 tells the server its name and version (``CLIENT
    SETINFO``; ``driver_info=None`` turns it off where it exists, as
    redis-py 7.1 deprecates ``lib_name``/``lib_version``, else those two
    set to None); redis-py >= 6.4 on RESP3 also asks for maintenance
    notifications (``CLIENT MAINT_NOTIFICATIONS``, a managed-cloud
    feature), turned off too.  Older versions send neither and take none
    of these arguments.
    """
    params = _connection_params()
    found: dict[str, Any] = {}
    if 'driver_info' in params:
        found['driver_info'] = None
    elif 'lib_name' in params:
        found.update(lib_name=None, lib_version=None)
    if 'maint_notifications_config' in params:
        from redis.maint_notifications import MaintNotificationsConfig
        found['maint_notifications_config'] = MaintNotificationsConfig(
            enabled=False)
    return found


@functools.lru_cache(maxsize=None)
def _resp2() -> dict[str, Any]:
    """The redis-py argument for RESP2 where it has one (>= 5.0; older
    versions speak only RESP2).
    """
    return {'protocol': 2} if 'protocol' in _connection_params() else {}


@functools.lru_cache(maxsize=None)
def _connection_params() -> frozenset:
    """The parameters this redis-py's connections take."""
    import inspect

    import redis.connection

    connection = getattr(redis.connection, 'AbstractConnection',
                         redis.connection.Connection)
    return frozenset(inspect.signature(connection.__init__).parameters)


def reconnecting(stopped: threading.Event, target: str, max_backoff: float,
                 connect: Callable[[], Any],
                 follow: Callable[[Any], Iterator],
                 close: Callable[[Any], None]) -> Iterator:
    """Yield what ``follow(client)`` yields, reconnecting until ``stopped``.

    Any failure is logged with the store's redacted ``target`` and retried
    after a capped, jittered exponential delay (:class:`Backoff`), which
    resets once something came through again.
    """
    backoff = Backoff.decorrelated_jitter(max_backoff)
    while not stopped.is_set():
        client = None
        try:
            client = connect()
            for item in follow(client):
                backoff.reset()
                yield item
        except Exception as exc:
            if stopped.is_set():
                break
            delay = backoff.next()
            LOG.warning('%s: %s; retrying in %.1fs', target,
                        describe_error(exc), delay)
            stopped.wait(delay)
        finally:
            if client is not None:
                close(client)
