"""Where the state lives in etcd and Redis, and how to connect to them.

The one place that defines the key layout, shared by the publishers that
write it and the consumers that read it:

- etcd: ``<prefix>/<host>/interfaces/<name>`` -> JSON record, every key of
  a host attached to that host's lease.
- Redis: ``<key_prefix>:<host>:interfaces`` (hash name -> JSON record),
  ``<key_prefix>:<host>:events`` (stream, one ``event`` field holding the
  JSON event), ``<key_prefix>:hosts`` (set of host names).
"""

import dataclasses
import json
import logging
import re
import threading
import urllib.parse
from typing import Any, Callable, Iterator, Optional

from df_ovsdb_agent.exceptions import ConfigError

LOG = logging.getLogger(__name__)

ETCD_PREFIX = '/df-ovsdb-agent'
REDIS_PREFIX = 'df-ovsdb-agent'
INTERFACES = '/interfaces/'


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


def redact(url: str) -> str:
    """``url`` without any password it embeds, for logs and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit('@', 1)[1]
    user = parts.username or ''
    return urllib.parse.urlunsplit(
        parts._replace(netloc='%s:***@%s' % (user, netloc)))


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


def dumps(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(',', ':'))


# -- etcd ------------------------------------------------------------------

def etcd_host_prefix(prefix: str, host: str) -> str:
    return '%s/%s%s' % (prefix.rstrip('/'), host, INTERFACES)


def etcd_key(prefix: str, host: str, name: str) -> str:
    return etcd_host_prefix(prefix, host) + name


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
    tls = {}
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


def redis_state_key(key_prefix: str, host: str) -> str:
    return '%s:%s:interfaces' % (key_prefix, host)


def redis_stream_key(key_prefix: str, host: str) -> str:
    return '%s:%s:events' % (key_prefix, host)


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


def redis_client(options: StoreOptions, extra_timeout: float = 0.0):
    """A ``redis-py`` client that never retries by itself.

    The publishers and readers own retrying (with their own backoff and a
    full reconcile), so a dead server fails a call at once.

    :param extra_timeout: added to the socket timeout, for blocking reads.
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
    try:
        return redis.Redis.from_url(
            options.url, socket_timeout=options.timeout + extra_timeout,
            socket_connect_timeout=options.timeout,
            retry=Retry(NoBackoff(), 0), decode_responses=True, **kwargs)
    except ValueError as exc:
        raise ConfigError('bad redis url %r: %s'
                          % (redact(options.url), exc)) from None


INITIAL_BACKOFF = 0.1


class Backoff:
    """Capped exponential delays: 0.1, 0.2, 0.4 ... ``maximum`` seconds."""

    def __init__(self, maximum: float,
                 initial: float = INITIAL_BACKOFF) -> None:
        self.initial = min(initial, maximum)
        self.maximum = maximum
        self._next = self.initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def reconnecting(stopped: threading.Event, target: str, max_backoff: float,
                 connect: Callable[[], Any],
                 follow: Callable[[Any], Iterator],
                 close: Callable[[Any], None]) -> Iterator:
    """Yield what ``follow(client)`` yields, reconnecting until ``stopped``.

    Any failure is logged with the store's redacted ``target`` and retried
    after a capped exponential delay, which resets once something came
    through again.
    """
    backoff = Backoff(max_backoff)
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
