"""Publish the host's interfaces to etcd v3, on a lease (through etcd3gw).

Keys: ``<prefix>/<host>/interfaces/<name>`` -> JSON of the interface's last
event plus ``host``; deleted when it goes offline.  Every key of the host is
attached to one lease the publisher keeps alive, so when the agent dies its
interfaces expire after ``lease_ttl`` seconds.  Watch them with
:mod:`df_ovsdb_agent.cluster.etcd` or ``df-ovsdb-cluster-events --etcd``.
"""

import base64
import json
import logging
from typing import Optional

from oslo_config import cfg

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers import base

LOG = logging.getLogger(__name__)

# etcd's default --max-txn-ops.
MAX_TXN_OPS = 128

# Marks a stored record that must be rewritten although its content may be
# right: it sits on another lease (an earlier run's, or a lost one).
FOREIGN = '__foreign__'


class LeaseLost(Exception):
    """etcd no longer knows our lease: its keys are gone or going."""


class EtcdStore(base.Store):
    """One host's interface keys under a prefix, all on one lease."""

    def __init__(self, options: stores.StoreOptions, prefix: str, host: str,
                 lease_ttl: int) -> None:
        stores.check_etcd(options)
        self.options = options
        self.prefix = stores.check_prefix(prefix)
        self.host = host
        self.host_prefix = stores.etcd_host_prefix(self.prefix, host)
        self.lease_ttl = lease_ttl
        # Refresh three times per TTL: one lost refresh costs nothing.
        self.tick_interval = lease_ttl / 3.0
        self.lease_id: Optional[int] = None
        self._client = None

    @property
    def target(self) -> str:
        return 'etcd %s' % self.options.safe_url

    def connect(self) -> None:
        self._client = stores.etcd_client(self.options)
        if self.lease_id is not None and self._keepalive() <= 0:
            LOG.warning('etcd lease %x of host %s was lost; its keys are '
                        'rewritten on a new lease', self.lease_id, self.host)
            self.lease_id = None
        if self.lease_id is None:
            reply = self._client.post(self._client.get_url('/lease/grant'),
                                      json={'TTL': self.lease_ttl, 'ID': 0})
            self.lease_id = int(reply['ID'])
            LOG.info('Granted etcd lease %x (TTL %ss) for host %s',
                     self.lease_id, self.lease_ttl, self.host)

    def _keepalive(self) -> int:
        reply = self._client.post(self._client.get_url('/lease/keepalive'),
                                  json={'ID': self.lease_id})
        # A lease etcd does not know comes back without a TTL.
        return int(reply.get('result', {}).get('TTL', -1))

    def tick(self) -> None:
        if self._keepalive() <= 0:
            raise LeaseLost('lease %x expired' % self.lease_id)

    def read_state(self) -> dict[str, Record]:
        state = {}
        for value, meta in self._client.get_prefix(self.host_prefix):
            name = meta['key'].decode('utf-8')[len(self.host_prefix):]
            state[name] = self._parse(value, meta)
        return state

    def _parse(self, value: bytes, meta: dict) -> Record:
        try:
            record = json.loads(value)
            record.pop('action')
        except (ValueError, AttributeError, KeyError):
            return {FOREIGN: 'unreadable'}
        if int(meta.get('lease', 0)) != self.lease_id:
            record[FOREIGN] = meta.get('lease', 'none')
        return record

    def apply(self, changes: list[base.Change], resync: bool) -> None:
        ops = [self._op(change) for change in changes]
        for start in range(0, len(ops), MAX_TXN_OPS):
            batch = ops[start:start + MAX_TXN_OPS]
            self._client.transaction({'compare': [], 'success': batch,
                                      'failure': []})

    def _op(self, change: base.Change) -> dict:
        key = _b64(self.host_prefix + change.name)
        if change.action is Action.OFFLINE:
            return {'request_delete_range': {'key': key}}
        return {'request_put': {'key': key, 'lease': self.lease_id,
                                'value': _b64(stores.dumps(change.event()))}}

    def close(self) -> None:
        if self._client is not None:
            self._client.session.close()
            self._client = None


def _b64(text: str) -> str:
    """etcd's JSON gateway takes keys and values base64-encoded."""
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


class EtcdPublisher(base.StorePublisher):
    """Keep this host's online interfaces in etcd, on a lease."""

    CONFIG_OPTS = [
        cfg.StrOpt('url', default='http://127.0.0.1:2379',
                   help='etcd client URL: http://HOST:PORT or '
                        'https://HOST:PORT (then see ca_file).'),
        cfg.StrOpt('prefix', default=stores.ETCD_PREFIX,
                   help='Key prefix; a host\'s interfaces live under '
                        '<prefix>/<host>/interfaces/<name>.'),
        cfg.IntOpt('lease_ttl', default=30, min=2,
                   help='Seconds after which a dead agent\'s keys expire. '
                        'The lease is refreshed every third of that.'),
    ] + base.CREDENTIAL_OPTS + base.TLS_OPTS + base.RETRY_OPTS

    def make_store(self) -> EtcdStore:
        return EtcdStore(self.options, self.config.prefix, self.host,
                         self.config.lease_ttl)
