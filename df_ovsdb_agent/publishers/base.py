"""The publisher plugin: its options, who it writes as, /healthz and
metrics.

A publisher mirrors the host's online interfaces into a store: a
:class:`StorePublisher` subscribes to the agent with replay and hands every
event to its :class:`~df_ovsdb_agent.publishers.writer.Writer`, which
writes the difference into a :class:`~df_ovsdb_agent.publishers.store.Store`
(the etcd and Redis adapters are the modules beside this one).  The pieces
live in their own modules -- :mod:`.records` (the record, its limits, why
one is set aside), :mod:`.plan` (stored vs desired -> one write),
:mod:`.store`, :mod:`.writer` -- and are re-exported here for plugin
authors.
"""

import abc
import functools
import logging
import os
import time
from typing import Optional
import uuid

from oslo_config import cfg

from df_ovsdb_agent.bus import Subscription
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.plugins import Plugin
from df_ovsdb_agent.publishers.plan import plan
from df_ovsdb_agent.publishers.plan import Write
from df_ovsdb_agent.publishers.records import Aside
from df_ovsdb_agent.publishers.records import check_record
from df_ovsdb_agent.publishers.records import event_of
from df_ovsdb_agent.publishers.records import MAX_RECORD_BYTES
from df_ovsdb_agent.publishers.records import MAX_VALUE_BYTES
from df_ovsdb_agent.publishers.records import parse_stored
from df_ovsdb_agent.publishers.records import printable
from df_ovsdb_agent.publishers.records import record_of
from df_ovsdb_agent.publishers.records import stored_form
from df_ovsdb_agent.publishers.records import UNREADABLE
from df_ovsdb_agent.publishers.store import Instance
from df_ovsdb_agent.publishers.store import NotOwner
from df_ovsdb_agent.publishers.store import Store
from df_ovsdb_agent.publishers.writer import ALIVE_COALESCE
from df_ovsdb_agent.publishers.writer import Writer

# What plugin authors import from here (doc/source/plugins.rst), wherever
# it is defined now: .records, .plan, .store, .writer or this module.
__all__ = [
    'ALIVE_COALESCE', 'Aside', 'check_record', 'CREDENTIAL_OPTS', 'event_of',
    'Instance', 'MAX_RECORD_BYTES', 'MAX_VALUE_BYTES', 'NAMED_IN_HEALTH',
    'NotOwner', 'package_version', 'parse_stored', 'plan', 'printable',
    'PROCESS_OWNER', 'PUBLISHER_OPTS', 'record_of', 'RETRY_OPTS', 'Store',
    'stored_form', 'StorePublisher', 'TLS_OPTS', 'UNREADABLE', 'Write',
    'Writer',
]

LOG = logging.getLogger(__name__)

#: At most this many set-aside records are named in /healthz.
NAMED_IN_HEALTH = 3

#: Owner id of this process when neither the publisher nor the agent has
#: one: shared by all publishers of the process, new at every start.
PROCESS_OWNER = uuid.uuid4().hex

CREDENTIAL_OPTS = [
    cfg.StrOpt('username',
               help='User to authenticate as; unset: no authentication.'),
    cfg.StrOpt('password', secret=True,
               help='Password of that user. Never logged.'),
]

TLS_OPTS = [
    cfg.StrOpt('ca_file', help='CA certificate that signed the server\'s.'),
    cfg.StrOpt('cert_file', help='Client certificate, for mutual TLS.'),
    cfg.StrOpt('key_file', help='Private key of the client certificate.'),
]

RETRY_OPTS = [
    cfg.FloatOpt('timeout', default=5.0, min=0.1,
                 help='Seconds to wait for one request to the store; also '
                      'how long pending writes may flush at shutdown.'),
    cfg.FloatOpt('max_backoff', default=10.0, min=0.1,
                 help='Upper bound, in seconds, of the jittered delay '
                      'between attempts to reach the store, and the '
                      'interval at which a refused publisher checks '
                      'whether the other owner of its host id went away. '
                      'Retries never stop.'),
]

PUBLISHER_OPTS = [
    cfg.FloatOpt('resync_interval', default=300.0, min=0.0,
                 help='Seconds between reconciles that repair any drift '
                      'of the store (keys changed or deleted behind the '
                      'publisher\'s back), jittered by +-10%. 0 disables '
                      'them; a reconcile still follows every (re)connection '
                      'and every OVSDB resync.'),
    cfg.BoolOpt('revoke_on_stop', default=False,
                help='Remove this host\'s keys when the agent stops. By '
                     'default they stay for the liveness TTL, so that a '
                     'restarted agent takes them over and consumers see no '
                     'change; set it for a permanent stop.'),
]


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """The installed df-ovsdb-agent's version (read once per process: the
    code running is the one imported, whatever is installed since).
    """
    from importlib import metadata
    try:
        return metadata.version('df-ovsdb-agent')
    except metadata.PackageNotFoundError:
        return 'unknown'


class StorePublisher(Plugin):
    """A publisher plugin: subscribes with replay and runs a :class:`Writer`.

    Subclasses declare ``CONFIG_OPTS`` (including :data:`PUBLISHER_OPTS`)
    and build their :class:`Store`.
    """

    #: Owner id to claim the host with; None: the agent's ``owner_id``,
    #: else :data:`PROCESS_OWNER`.  Embedders and tests may set it.
    owner_id: Optional[str] = None

    def __init__(self, agent, config, host: str) -> None:
        super().__init__(agent, config, host)
        self.options = StoreOptions.from_group(config)
        self.store = self.make_store()  # validates the options now
        self.writer = Writer(self.store, self.identify, config.max_backoff,
                             config.resync_interval, config.revoke_on_stop)
        self.started = round(time.time(), 6)
        self._sub: Optional[Subscription] = None

    @abc.abstractmethod
    def make_store(self) -> Store:
        """Build the store from ``self.config`` (raise ConfigError)."""

    def identify(self) -> Instance:
        """Who this publisher writes as, resolved at its first write.

        The host id is ``[DEFAULT] host`` when set, else the agent's
        (``Agent.host``: Open vSwitch's ``system-id``, else the hostname),
        which is known once the agent has synced.
        """
        host = self.host
        if not host:
            raise RuntimeError('the agent has no host id')
        owner = (self.owner_id or getattr(self.agent, 'owner_id', None) or
                 PROCESS_OWNER)
        return Instance(host=host, owner=owner, pid=os.getpid(),
                        started=self.started, version=package_version())

    def start(self) -> None:
        LOG.info('Publishing to %s once the agent is in sync',
                 self.store.target)
        self.writer.start()
        self._sub = self.agent.subscribe(
            self.writer.offer, replay=True,
            name='publisher-%s' % type(self).__name__)

    def stop(self) -> None:
        if self._sub is not None:
            self.agent.unsubscribe(self._sub)
        self.writer.stop(self.config.timeout)

    def problem(self) -> Optional[str]:
        """Refused by another owner of the host id, or not connected to
        the store while it has something to write (for ``/healthz``).
        """
        writer = self.writer
        refused_by = writer.refused_by
        if refused_by is not None:
            return 'host id held by another agent (owner %s, pid %s)' % (
                safe(refused_by[0], 64), safe(refused_by[1], 16))
        found = []
        if writer.ready and not writer.connected:
            found.append('not connected to %s' % self.store.target)
        aside = writer.set_aside()
        if aside:
            named = ['%s (%s)' % (printable(name), safe(why.text, 160))
                     for name, why in sorted(aside.items())[:NAMED_IN_HEALTH]]
            if len(aside) > NAMED_IN_HEALTH:
                named.append('%d more' % (len(aside) - NAMED_IN_HEALTH))
            found.append('%d record(s) set aside: %s' % (len(aside),
                                                         ', '.join(named)))
        return '; '.join(found) or None

    def set_aside(self) -> list[tuple[str, str]]:
        """(printable interface name, reason code) of every record not
        published now, sorted (for metrics).
        """
        return sorted((printable(name), why.code)
                      for name, why in self.writer.set_aside().items())

    def wait_flushed(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything delivered so far is in the store."""
        if self._sub is not None and not self._sub.wait_idle(timeout):
            return False
        return self.writer.wait_flushed(timeout)
