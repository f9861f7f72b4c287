"""``df-ovsdb-cluster-events``: tail every host's interfaces from a store.

Reads what the etcd or Redis publisher writes and prints one JSON object a
line: events as ``{"host", "kind", "action", "name", "uuid", "ofport",
...}`` (plus ``"id"``, the stream ID, from Redis), host markers as
``{"host", "state": "up" | "synced" | "down"}``, store (re)reads as
``{"sync": "started"}`` / ``{"sync": "finished"}`` (with ``"host"`` from
Redis, and ``"reset": true`` when the lines in between are the whole state
rather than a difference).  Credentials, TLS files and the prefix come from
the agent's ``[publisher_etcd]`` / ``[publisher_redis]`` groups of the
``--config-file`` s, so one file serves both.
"""

import json
import logging
import signal
import sys
from typing import Optional, TextIO, Union

from oslo_config import cfg

from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import ClusterSync
from df_ovsdb_agent.cluster import etcd as cluster_etcd
from df_ovsdb_agent.cluster import redis as cluster_redis
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cmd import common
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.exceptions import AgentError
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import logsafe
from df_ovsdb_agent.publishers.etcd import EtcdPublisher
from df_ovsdb_agent.publishers.redis import RedisPublisher

PROG = 'df-ovsdb-cluster-events'

CLI_OPTS = (
    cfg.StrOpt('etcd', metavar='URL',
               help='Read from etcd at this URL (http(s)://HOST:PORT).'),
    cfg.StrOpt('redis', metavar='URL',
               help='Read from Redis at this URL (redis://HOST:PORT/DB).'),
    cfg.StrOpt('prefix',
               help='Key prefix; defaults to the publisher\'s [publisher_'
                    'etcd] prefix or [publisher_redis] key_prefix.'),
    cfg.BoolOpt('once', default=False,
                help='Print the interfaces online now, then exit.'),
    cfg.MultiStrOpt('resume', metavar='HOST=ID', default=[],
                    help='Redis only: continue HOST\'s stream after ID (an '
                         '"id" printed earlier) instead of reading its '
                         'state first. Repeatable.'),
    cfg.FloatOpt('progress-interval', default=600.0, min=0.1,
                 metavar='SECONDS',
                 help='etcd only: the server\'s --experimental-watch-'
                      'progress-notify-interval (etcd\'s default: 10 '
                      'minutes).'),
    cfg.FloatOpt('read-timeout', min=0.1, metavar='SECONDS',
                 help='etcd only: a watch that brought nothing, not even a '
                      'progress notification, for this long is dead: '
                      'reconnect and list again. Default: three progress '
                      'intervals.'),
    cfg.FloatOpt('liveness-interval', default=1.0, min=0.1,
                 metavar='SECONDS',
                 help='Redis only: how often the hosts\' liveness records '
                      'are read (how late a dead or new host is noticed).'),
    cfg.FloatOpt('down-grace', default=0.0, min=0.0, max=3600.0,
                 metavar='SECONDS',
                 help='Keep a host whose liveness record vanished (a lost '
                      'lease, an expired record) as it was for this long '
                      'before printing "down" and "offline" for its '
                      'interfaces, in case it comes back; 0: at once. A '
                      'dead host\'s interfaces stay online this much longer.'),
    cfg.BoolOpt('verbose', short='v', default=False,
                help='Log progress to stderr.'),
)


class StoreUnreachable(AgentError):
    """The store did not answer (``--once`` only; tailing retries)."""


def _load_config(argv: Optional[list]) -> cfg.ConfigOpts:
    conf = common.load_config(argv, PROG, CLI_OPTS, log=False)
    # Group options may be registered after parsing; oslo.config reads
    # their values from the files lazily.
    conf.register_opts(EtcdPublisher.CONFIG_OPTS, group='publisher_etcd')
    conf.register_opts(RedisPublisher.CONFIG_OPTS, group='publisher_redis')
    return conf


def _backend(conf: cfg.ConfigOpts) -> tuple[str, stores.StoreOptions, str]:
    """('etcd' or 'redis', connection options, prefix) from the options."""
    if bool(conf.etcd) == bool(conf.redis):
        raise ConfigError('give exactly one of --etcd URL or --redis URL')
    name = 'etcd' if conf.etcd else 'redis'
    group = conf['publisher_' + name]
    try:
        options = stores.StoreOptions.from_group(group)
        prefix = conf.prefix or (group.prefix if name == 'etcd'
                                 else group.key_prefix)
    except (cfg.ConfigFileValueError, ValueError) as exc:
        raise ConfigError('bad value in [publisher_%s]: %s'
                          % (name, exc)) from None
    options = stores.StoreOptions(
        **{**options.__dict__, 'url': conf.etcd or conf.redis})
    return name, options, prefix


def _resume(values: list) -> dict:
    resume = {}
    for value in values:
        host, sep, position = value.partition('=')
        if not (host and sep and position):
            raise ConfigError('bad --resume %r: expected HOST=ID' % value)
        resume[host] = position
    return resume


class JsonLinePrinter:
    """Writes one flushed JSON line per event; False once the pipe closed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event) -> bool:
        try:
            self.out.write(json.dumps(event.to_dict(), sort_keys=True) + '\n')
            self.out.flush()
            return True
        except BrokenPipeError:  # e.g. piped into `head`
            return False


def _once(name: str, options: stores.StoreOptions, prefix: str,
          printer: JsonLinePrinter) -> int:
    try:
        if name == 'etcd':
            records = cluster_etcd.list_interfaces(options, prefix)
        else:
            records = cluster_redis.read_interfaces(options, prefix)
    except ConfigError:
        raise
    except Exception as exc:
        raise StoreUnreachable('%s %s: %s' % (
            name, options.safe_url, stores.describe_error(exc))) from None
    printer(ClusterSync(Sync.STARTED))
    for record in records:
        printer(ClusterEvent(Action.ONLINE, record['host'], record))
    printer(ClusterSync(Sync.FINISHED))
    return 0


def _tail(conf: cfg.ConfigOpts, name: str, options: stores.StoreOptions,
          prefix: str, resume: dict, printer: JsonLinePrinter) -> int:
    source: Union[cluster_etcd.EtcdWatcher, cluster_redis.RedisStreamReader]
    if name == 'etcd':
        if resume:
            raise ConfigError('--resume applies to --redis only')
        source = cluster_etcd.watch_interfaces(
            options, prefix, progress_interval=conf.progress_interval,
            read_timeout=conf.read_timeout, down_grace=conf.down_grace)
    else:
        source = cluster_redis.RedisStreamReader(
            options, prefix, resume=resume,
            liveness_interval=conf.liveness_interval,
            down_grace=conf.down_grace)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: source.stop())
    for event in source:
        if not printer(event):
            source.stop()
    return 0


def _main(argv: Optional[list], out: TextIO) -> int:
    conf = _load_config(argv)
    logging.basicConfig(
        stream=sys.stderr, format='%(asctime)s %(levelname)s %(message)s',
        level=logging.INFO if conf.verbose else logging.WARNING)
    logsafe.install_escape_filter()
    name, options, prefix = _backend(conf)
    resume = _resume(conf.resume)
    printer = JsonLinePrinter(out)
    if conf.once:
        return _once(name, options, prefix, printer)
    return _tail(conf, name, options, prefix, resume, printer)


def main(argv: Optional[list] = None) -> int:
    return common.run(lambda: _main(argv, sys.stdout), PROG)


if __name__ == '__main__':
    sys.exit(main())
