"""Prometheus metrics and a health check, on an opt-in local listener.

Nothing is sampled in the background: a custom collector reads the agent's
and the bus's state when Prometheus scrapes, so the numbers are never
staler than the scrape.  Only event counts need a subscriber.

``GET /metrics``  the Prometheus text format.
``GET /healthz``  200 when connected to OVSDB and synced, else 503; the
                  one-line body says which (and why the last server was
                  refused, if it was), then names any failing publisher,
                  app or subscriber.

Wiring (the daemon does this when ``[metrics] enabled``)::

    server = MetricsServer(agent, conf.metrics.host, conf.metrics.port)
    server.start()
    ...
    server.stop()
"""

import logging
import selectors
import socket
import threading
import time
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

from oslo_config import cfg
from oslo_config import types

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import logsafe
from df_ovsdb_agent.logsafe import safe

LOG = logging.getLogger(__name__)

DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 9464
PREFIX = 'df_ovsdb_agent'

# Addresses oslo.config's IPAddress type (netaddr) accepts, known here
# without netaddr (a unit test asks the real type about each).
KNOWN_ADDRESSES = frozenset((DEFAULT_HOST, '0.0.0.0', '::1', '::'))


class IPAddress(types.IPAddress):
    """oslo.config's IP address type, without netaddr for the addresses
    of :data:`KNOWN_ADDRESSES`.

    netaddr's body (and importlib.resources, pathlib, tempfile with it)
    ran when this module was imported, to check the default: 46 M of the
    daemon's 471 M instructions to its first OVSDB connection (-10%,
    callgrind).  Any other value is checked by netaddr as before.
    """

    def __call__(self, value) -> str:
        if isinstance(value, str) and value in KNOWN_ADDRESSES:
            return value
        return super().__call__(value)


def _ip_opt(name: str, **kwargs) -> cfg.IPOpt:
    """``cfg.IPOpt(name, **kwargs)`` with :class:`IPAddress` as its type.

    Still an IPOpt (the configuration reference names its type by the
    option's class): made by Opt's constructor, as IPOpt's own does with
    the plain type.
    """
    opt = cfg.IPOpt.__new__(cfg.IPOpt)
    cfg.Opt.__init__(opt, name, type=IPAddress(), **kwargs)
    return opt


METRICS_OPTS = [
    cfg.BoolOpt(
        'enabled', default=False,
        help='Serve Prometheus metrics on /metrics and a health check on '
             '/healthz.'),
    _ip_opt(
        'host', default=DEFAULT_HOST,
        help='Address to listen on for /metrics and /healthz. Keep it on '
             'loopback unless a firewall protects the port.'),
    cfg.PortOpt(
        'port', default=DEFAULT_PORT,
        help='TCP port for /metrics and /healthz (0 picks a free one).'),
]


def list_opts():
    """For oslo-config-generator."""
    return [('metrics', METRICS_OPTS)]


class EventCounter:
    """Bus subscriber counting delivered interface events by kind/action."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {(k, a): 0 for k in Kind for a in Action}

    def __call__(self, event) -> None:
        if isinstance(event, InterfaceEvent):
            with self._lock:
                self.counts[(event.kind, event.action)] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.counts)


class AgentCollector:
    """Reads an :class:`~df_ovsdb_agent.agent.Agent` at scrape time.

    A prometheus-client custom collector: the registry calls
    :meth:`collect` on every scrape.
    """

    def __init__(self, agent, counter: EventCounter,
                 plugins: Sequence = ()) -> None:
        self.agent = agent
        self.counter = counter
        self.plugins = plugins

    def collect(self) -> Iterator:
        yield from self._connection()
        yield from self._events()
        yield from self._interfaces()
        yield from self._subscribers()

    def _connection(self) -> Iterator:
        agent = self.agent
        monitor = agent.monitor
        yield _gauge('connected', 'Whether the OVSDB session is up (1/0).',
                     int(bool(agent.connected)))
        yield _gauge('synced', 'Whether the published state matches the '
                     'database (1/0).', int(bool(agent.synced)))
        yield _counter('reconnects', 'OVSDB connections made after the '
                       'first one.', max(0, monitor.connections - 1))
        yield _counter('refused_servers', 'OVSDB servers left because '
                       'their _Server database said their data may be stale '
                       '(not connected to their cluster or source, or '
                       'behind the index already seen).',
                       getattr(monitor, 'refused_servers', 0))
        yield _counter('forced_resyncs', 'Fresh syncs forced by an error '
                       'between the socket and the subscribers (bad input '
                       'or an exception).', monitor.forced_resyncs)
        yield _counter('resyncs', 'Completed syncs after the first one.',
                       max(0, agent.syncs - 1))
        duration = agent.last_sync_duration
        yield _gauge('last_sync_duration_seconds', 'How long the last '
                     '(re)sync took, from its start to its publication.',
                     duration if duration is not None else float('nan'))

    def _events(self) -> Iterator:
        from prometheus_client import core
        family = core.CounterMetricFamily(
            '%s_events' % PREFIX, 'Interface events delivered, by kind '
            'and action.', labels=['kind', 'action'])
        for (kind, action), count in sorted(self.counter.snapshot().items()):
            family.add_metric([kind.value, action.value], count)
        yield family

    def _interfaces(self) -> Iterator:
        from prometheus_client import core
        online = {kind: 0 for kind in Kind}
        for interface in self.agent.interfaces():
            online[interface.kind] += 1
        family = core.GaugeMetricFamily(
            '%s_interfaces_online' % PREFIX, 'Interfaces online now, by '
            'kind.', labels=['kind'])
        for kind, count in online.items():
            family.add_metric([kind.value], count)
        yield family
        healthy = core.GaugeMetricFamily(
            '%s_plugin_healthy' % PREFIX, '1 while an app or publisher '
            'works, 0 while it reports a problem (see /healthz).',
            labels=['plugin'])
        for plugin in self.plugins:
            healthy.add_metric([plugin_name(plugin)],
                               0 if plugin.problem() else 1)
        yield healthy
        yield from _set_aside(self.plugins)
        yield _gauge('iface_id_conflicts', 'iface-ids that more than one '
                     'online VM interface carries.',
                     self.agent.iface_id_conflicts)

    def _subscribers(self) -> Iterator:
        from prometheus_client import core
        backlog = core.GaugeMetricFamily(
            '%s_subscriber_backlog' % PREFIX, 'Entries waiting for a '
            'subscriber (at most one per interface plus two).',
            labels=['subscriber'])
        errors = core.CounterMetricFamily(
            '%s_subscriber_errors' % PREFIX, 'Exceptions raised by a '
            'subscriber callback.', labels=['subscriber'])
        for sub in self.agent.bus.subscriptions:
            backlog.add_metric([sub.name], sub.backlog)
            errors.add_metric([sub.name], sub.errors)
        yield backlog
        yield errors


# At most this many set-aside records are named, per publisher.
NAMED_SET_ASIDE = 10


def _set_aside(plugins: Sequence) -> Iterator:
    """Records publishers hold back (``set_aside()``: a list of (printable
    interface name, reason code)).
    """
    from prometheus_client import core
    count = core.GaugeMetricFamily(
        '%s_publisher_records_set_aside' % PREFIX, 'Records a publisher '
        'does not write because they are over its limits or the store '
        'refused them (see /healthz).', labels=['plugin'])
    named = core.GaugeMetricFamily(
        '%s_publisher_record_set_aside' % PREFIX, '1 per record set aside '
        '(at most %d named per publisher), by interface name and reason.'
        % NAMED_SET_ASIDE, labels=['plugin', 'name', 'reason'])
    for plugin in plugins:
        set_aside = getattr(plugin, 'set_aside', None)
        if set_aside is None:
            continue
        aside = set_aside()
        count.add_metric([plugin_name(plugin)], len(aside))
        for name, code in aside[:NAMED_SET_ASIDE]:
            named.add_metric([plugin_name(plugin), name, code], 1)
    yield count
    yield named


def _gauge(name: str, doc: str, value: float):
    from prometheus_client import core
    return core.GaugeMetricFamily('%s_%s' % (PREFIX, name), doc,
                                  value=value)


def _counter(name: str, doc: str, value: float):
    from prometheus_client import core
    return core.CounterMetricFamily('%s_%s' % (PREFIX, name), doc,
                                    value=value)


# A subscriber whose callback raised within this many seconds is failing.
FAILING_WINDOW = 60.0


def health(agent, plugins: Sequence = ()) -> tuple[int, str]:
    """(HTTP status, one-line reason) for ``/healthz``.

    The status says whether the agent is connected to OVSDB and synced;
    failing subscribers and plugins are named in the body, after it, but
    do not change the status (the agent's own view is still right).
    """
    if not agent.connected:
        status, reason = 503, 'not connected to OVSDB'
    elif not agent.synced:
        status, reason = 503, 'connected, (re)sync in progress'
    else:
        status, reason = 200, 'ok'
    refused = getattr(getattr(agent, 'monitor', None), 'refused', None)
    if status != 200 and refused:
        # Who was refused, and why the agent holds its last state
        # instead of a server's data.
        reason += refused
    # Problems may quote a store or a peer: one line, escaped, bounded.
    return status, logsafe.one_line('; '.join([reason] +
                                              problems(agent, plugins)))


def problems(agent, plugins: Sequence = ()) -> list[str]:
    """One short line per failing plugin or subscriber."""
    found = []
    for plugin in plugins:
        problem = plugin.problem()
        if problem:
            found.append('%s: %s' % (plugin_name(plugin), problem))
    now = time.monotonic()
    for sub in agent.bus.subscriptions:
        if sub.last_error is not None and \
                now - sub.last_error < FAILING_WINDOW:
            found.append('subscriber %s: failing (%d errors)'
                         % (sub.name, sub.errors))
    return found


def plugin_name(plugin) -> str:
    return type(plugin).__name__


# The listener's bounds.  It is one thread with a selector, not a thread
# per connection: 200 clients that connect and trickle a byte a second
# used to hold 200 threads for as long as they liked.  Now at most
# MAX_CONNECTIONS are open (a new one closes the oldest), each must have
# sent its request and taken the answer within REQUEST_TIMEOUT seconds,
# and a request head is at most MAX_REQUEST_HEAD bytes.  A real client
# (Prometheus, a probe) is answered in milliseconds meanwhile.
MAX_CONNECTIONS = 64
REQUEST_TIMEOUT = 5.0
MAX_REQUEST_HEAD = 8192
_REASONS = {200: 'OK', 400: 'Bad Request', 404: 'Not Found',
            405: 'Method Not Allowed', 431: 'Request Header Fields Too Large',
            500: 'Internal Server Error', 503: 'Service Unavailable'}
_TEXT = 'text/plain; charset=utf-8'


class _Conn:
    """One client connection: what it sent so far, what is left to send."""

    __slots__ = ('sock', 'peer', 'deadline', 'inbuf', 'outbuf', 'draining')

    def __init__(self, sock: socket.socket, peer: object,
                 deadline: float) -> None:
        self.sock = sock
        self.peer = peer
        self.deadline = deadline
        self.inbuf = b''
        self.outbuf = b''
        # Answered: what the client still sends is read and dropped until
        # it closes, so that closing does not reset the connection (and
        # lose the answer) when a request was cut short.
        self.draining = False


class _Listener:
    """A bounded HTTP/1.x GET server on one thread (see MAX_CONNECTIONS)."""

    def __init__(self, host: str, port: int,
                 respond: Callable[[str], Tuple[int, bytes, str]],
                 max_connections: int = MAX_CONNECTIONS,
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.sock.listen(128)
        except BaseException:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.respond = respond
        self.max_connections = max_connections
        self.request_timeout = request_timeout
        self.evicted = 0
        self.timed_out = 0
        self._conns: Dict[socket.socket, _Conn] = {}  # oldest first
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.sock, selectors.EVENT_READ, 'accept')
        self._selector.register(self._wake_r, selectors.EVENT_READ, 'wake')

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def serve(self) -> None:
        """Serve until :meth:`shutdown`; then close everything."""
        try:
            while not self._stopping:
                wait = 0.5
                if self._conns:
                    oldest = next(iter(self._conns.values()))
                    wait = max(0.0, min(wait, oldest.deadline -
                                        time.monotonic()))
                for key, mask in self._selector.select(wait):
                    if key.data == 'accept':
                        self._accept()
                    elif key.data == 'wake':
                        return
                    elif mask & selectors.EVENT_WRITE:
                        self._write(key.data)
                    else:
                        self._read(key.data)
                self._expire()
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)
            self._selector.close()
            self.sock.close()
            self._wake_r.close()
            self._wake_w.close()

    def shutdown(self) -> None:
        """Make :meth:`serve` return (from another thread)."""
        self._stopping = True
        try:
            self._wake_w.send(b'x')
        except OSError:
            pass

    def _accept(self) -> None:
        for _ in range(self.max_connections):  # a burst, then the others
            try:
                sock, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors
                LOG.debug('metrics: accept failed: %s', exc)
                return
            sock.setblocking(False)
            if len(self._conns) >= self.max_connections:
                # The oldest is the slowest: a scrape takes milliseconds.
                self.evicted += 1
                self._close(next(iter(self._conns.values())))
            conn = _Conn(sock, peer,
                         time.monotonic() + self.request_timeout)
            self._conns[sock] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._conns:
            conn = next(iter(self._conns.values()))
            if conn.deadline > now:
                return
            self.timed_out += 1
            self._close(conn)

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            self._close(conn)
            return
        if conn.draining:
            return
        conn.inbuf += data
        head_end = conn.inbuf.find(b'\r\n\r\n')
        if head_end < 0:
            head_end = conn.inbuf.find(b'\n\n')
        if head_end < 0:
            if len(conn.inbuf) > MAX_REQUEST_HEAD:
                self._answer(conn, 431, b'request head too large\n', _TEXT)
            return
        line = conn.inbuf.split(b'\n', 1)[0].rstrip(b'\r')
        parts = line.decode('latin-1').split()
        if len(parts) != 3 or not parts[2].startswith('HTTP/'):
            self._answer(conn, 400, b'bad request\n', _TEXT)
        elif parts[0] != 'GET':
            self._answer(conn, 405, b'only GET\n', _TEXT)
        else:
            try:
                status, body, ctype = self.respond(parts[1])
            except Exception:
                LOG.exception('metrics: cannot answer %s', safe(parts[1]))
                status, body, ctype = 500, b'internal error\n', _TEXT
            self._answer(conn, status, body, ctype)
        # Scrapes every few seconds would flood the agent's log.
        LOG.debug('metrics %s "%s"', conn.peer, safe(line.decode('latin-1')))

    def _answer(self, conn: _Conn, status: int, body: bytes,
                ctype: str) -> None:
        head = ('HTTP/1.1 %d %s\r\nServer: df-ovsdb-agent\r\n'
                'Content-Type: %s\r\nContent-Length: %d\r\n'
                'Connection: close\r\n\r\n'
                % (status, _REASONS.get(status, ''), ctype, len(body)))
        conn.outbuf = head.encode('latin-1') + body
        self._selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        conn.outbuf = conn.outbuf[sent:]
        if not conn.outbuf:
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._close(conn)
                return
            conn.draining = True
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _close(self, conn: _Conn) -> None:
        if self._conns.pop(conn.sock, None) is None:
            return
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` for one agent from a thread."""

    def __init__(self, agent, host: str = DEFAULT_HOST,
                 port: int = DEFAULT_PORT, plugins: Sequence = ()) -> None:
        """:param plugins: apps and publishers whose problems ``/healthz``
            and the ``plugin_healthy`` metric report.
        """
        self.agent = agent
        self.plugins = plugins
        self.host = host
        self._port = port
        # prometheus-client is imported here, not with the module: the
        # option declarations above are read by every command's start-up,
        # and only a daemon with [metrics] enabled serves metrics.
        from prometheus_client import registry
        self.counter = EventCounter()
        self.registry = registry.CollectorRegistry(auto_describe=False)
        self.registry.register(AgentCollector(agent, self.counter,
                                              plugins))
        self._subscription = None
        self._httpd: Optional[_Listener] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        if self._httpd is not None:
            return self._httpd.port
        return self._port

    @property
    def url(self) -> str:
        host = '[%s]' % self.host if ':' in self.host else self.host
        return 'http://%s:%d' % (host, self.port)

    def start(self) -> None:
        """Subscribe the event counter and start listening.

        :raises ConfigError: the address cannot be bound.
        """
        try:
            self._httpd = _Listener(self.host, self._port, self._respond)
        except (OSError, OverflowError) as exc:
            raise ConfigError('cannot serve metrics on %s:%s: %s'
                              % (self.host, self._port,
                                 getattr(exc, 'strerror', None) or exc)
                              ) from None
        self._subscription = self.agent.subscribe(self.counter,
                                                  name='metrics')
        self._thread = threading.Thread(target=self._httpd.serve,
                                        daemon=True, name='df-ovsdb-metrics')
        self._thread.start()
        LOG.info('Serving metrics on %s/metrics and health on %s/healthz',
                 self.url, self.url)

    def _respond(self, target: str) -> Tuple[int, bytes, str]:
        path = target.split('?', 1)[0]
        if path == '/metrics':
            from prometheus_client import exposition
            return (200, exposition.generate_latest(self.registry),
                    exposition.CONTENT_TYPE_LATEST)
        if path == '/healthz':
            status, reason = health(self.agent, self.plugins)
            return status, (reason + '\n').encode(), _TEXT
        return 404, b'not found; try /metrics or /healthz\n', _TEXT

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and unsubscribe; safe to call twice."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._subscription is not None:
            self.agent.unsubscribe(self._subscription)
            self._subscription = None
