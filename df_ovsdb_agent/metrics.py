"""Prometheus metrics and a health check, on an opt-in local listener.

Nothing is sampled in the background: a custom collector reads the agent's
and the bus's state when Prometheus scrapes, so the numbers are never
staler than the scrape.  Only event counts need a subscriber.

``GET /metrics``  the Prometheus text format.
``GET /healthz``  200 when connected to OVSDB and synced, else 503; the
                  one-line body says which, then names any failing
                  publisher, app or subscriber.

Wiring (the daemon does this when ``[metrics] enabled``)::

    server = MetricsServer(agent, conf.metrics.host, conf.metrics.port)
    server.start()
    ...
    server.stop()
"""

import http.server
import logging
import socket
import threading
import time
from typing import Iterator, Optional, Sequence

from oslo_config import cfg
from prometheus_client import core
from prometheus_client import exposition
from prometheus_client import registry

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.exceptions import ConfigError

LOG = logging.getLogger(__name__)

DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 9464
PREFIX = 'df_ovsdb_agent'

METRICS_OPTS = [
    cfg.BoolOpt(
        'enabled', default=False,
        help='Serve Prometheus metrics on /metrics and a health check on '
             '/healthz.'),
    cfg.IPOpt(
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
        family = core.CounterMetricFamily(
            '%s_events' % PREFIX, 'Interface events delivered, by kind '
            'and action.', labels=['kind', 'action'])
        for (kind, action), count in sorted(self.counter.snapshot().items()):
            family.add_metric([kind.value, action.value], count)
        yield family

    def _interfaces(self) -> Iterator:
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
        yield _gauge('iface_id_conflicts', 'iface-ids that more than one '
                     'online VM interface carries.',
                     self.agent.iface_id_conflicts)

    def _subscribers(self) -> Iterator:
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


def _gauge(name: str, doc: str, value: float):
    return core.GaugeMetricFamily('%s_%s' % (PREFIX, name), doc,
                                  value=value)


def _counter(name: str, doc: str, value: float):
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
        refusal = getattr(agent.monitor, 'peer_refusal', None)
        if refusal:
            reason += ': %s' % refusal
    elif not agent.synced:
        status, reason = 503, 'connected, (re)sync in progress'
    else:
        status, reason = 200, 'ok'
    return status, '; '.join([reason] + problems(agent, plugins))


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


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = 'df-ovsdb-agent'
    # A client that opens a connection and says nothing must not pin a
    # thread forever.
    timeout = 10
    server: '_HttpServer'

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        path = self.path.split('?', 1)[0]
        if path == '/metrics':
            self._send(200, exposition.generate_latest(self.server.registry),
                       exposition.CONTENT_TYPE_LATEST)
        elif path == '/healthz':
            status, reason = health(self.server.agent,
                                    self.server.plugins)
            self._send(status, (reason + '\n').encode(),
                       'text/plain; charset=utf-8')
        else:
            self._send(404, b'not found; try /metrics or /healthz\n',
                       'text/plain; charset=utf-8')

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        # Scrapes every few seconds would flood the agent's log.
        LOG.debug('metrics %s %s', self.address_string(), fmt % args)


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, agent, registry, plugins=()) -> None:
        if ':' in address[0]:
            self.address_family = socket.AF_INET6
        self.agent = agent
        self.plugins = plugins
        self.registry = registry
        super().__init__(address, _Handler)


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
        self.counter = EventCounter()
        self.registry = registry.CollectorRegistry(auto_describe=False)
        self.registry.register(AgentCollector(agent, self.counter,
                                              plugins))
        self._subscription = None
        self._httpd: Optional[_HttpServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        if self._httpd is not None:
            return self._httpd.server_address[1]
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
            self._httpd = _HttpServer((self.host, self._port), self.agent,
                                      self.registry, self.plugins)
        except (OSError, OverflowError) as exc:
            raise ConfigError('cannot serve metrics on %s:%s: %s'
                              % (self.host, self._port,
                                 getattr(exc, 'strerror', None) or exc)
                              ) from None
        self._subscription = self.agent.subscribe(self.counter,
                                                  name='metrics')
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={'poll_interval': 0.5},
                                        daemon=True, name='df-ovsdb-metrics')
        self._thread.start()
        LOG.info('Serving metrics on %s/metrics and health on %s/healthz',
                 self.url, self.url)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and unsubscribe; safe to call twice."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._subscription is not None:
            self.agent.unsubscribe(self._subscription)
            self._subscription = None
