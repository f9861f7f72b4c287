"""Follow every host's interfaces in etcd: one list, then a watch from it.

::

    watcher = watch_interfaces(StoreOptions('http://127.0.0.1:2379'))
    for event in watcher:          # ClusterSync / ClusterEvent
        print(event)               # watcher.stop() from another thread

The list's header revision is where the watch starts (``revision + 1``),
so nothing falls between them.  When the watch breaks (etcd restarted,
history compacted) the watcher lists again and reports only the difference
from what it already reported, between sync markers; a lease that expires
shows up as ``offline`` events.

etcd3gw's own watch hides the end of the stream and the cancel message, so
the stream is read here, through the etcd3gw client's session.
"""

import base64
import json
import logging
import socket
import threading
from typing import Iterator, Optional

from df_ovsdb_agent.cluster import ClusterView
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import StoreOptions

LOG = logging.getLogger(__name__)



def _b64(text: str) -> str:
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def _range_end(prefix: str) -> str:
    """The end of the key range that holds exactly the keys of ``prefix``."""
    raw = bytearray(prefix.encode('utf-8'))
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode('ascii')


def _parse_record(host: str, name: str, value: str) -> Optional[Record]:
    try:
        record = json.loads(base64.b64decode(value))
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    record.pop('action', None)  # the consumer's view decides the action
    record.update(host=host, name=name)
    return record


def list_state(client, prefix: str) -> tuple[dict, int]:
    """(host, name) -> record under ``prefix``, and the revision read at."""
    top = stores.check_prefix(prefix) + '/'
    reply = client.post(client.get_url('/kv/range'),
                        json={'key': _b64(top), 'range_end': _range_end(top)})
    state = {}
    for kv in reply.get('kvs', []):
        key = base64.b64decode(kv['key']).decode('utf-8')
        parsed = stores.etcd_parse_key(prefix, key)
        record = parsed and _parse_record(*parsed, kv.get('value', ''))
        if record:
            state[parsed] = record
    return state, int(reply['header']['revision'])


def list_interfaces(options: StoreOptions,
                    prefix: str = stores.ETCD_PREFIX) -> list[Record]:
    """Every host's online interfaces, sorted by host and name."""
    client = stores.etcd_client(options)
    try:
        state, _ = list_state(client, prefix)
    finally:
        client.session.close()
    return [state[key] for key in sorted(state)]


class EtcdWatcher:
    """Iterate to receive :class:`~df_ovsdb_agent.cluster.ClusterSync` and
    :class:`~df_ovsdb_agent.cluster.ClusterEvent` for every host."""

    def __init__(self, options: StoreOptions,
                 prefix: str = stores.ETCD_PREFIX,
                 max_backoff: float = 10.0) -> None:
        stores.check_etcd(options)
        self.options = options
        self.prefix = stores.check_prefix(prefix)
        self.max_backoff = max_backoff
        self.view = ClusterView()
        #: Revision of the last change seen.
        self.revision = 0
        self._stopped = threading.Event()
        self._response = None

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
        state, self.revision = list_state(client, self.prefix)
        yield from self.view.replace(state)
        yield from self._follow(client)

    def _follow(self, client) -> Iterator:
        """Events of the watch from ``revision + 1`` until it ends."""
        top = self.prefix + '/'
        request = {'create_request': {
            'key': _b64(top), 'range_end': _range_end(top),
            'start_revision': self.revision + 1}}
        self._response = client.session.post(
            client.get_url('/watch'), json=request, stream=True,
            timeout=(self.options.timeout, None))
        if self._stopped.is_set():  # stop() came before the response
            return
        self._response.raise_for_status()
        for line in self._response.iter_lines():
            if not line.strip():
                continue
            message = json.loads(line)
            if 'error' in message:
                raise RuntimeError('watch failed: %s' % message['error'])
            result = message['result']
            if result.get('canceled'):
                # Typically compaction past our revision: list again.
                LOG.info('etcd watch canceled (%s); listing again',
                         result.get('cancel_reason') or
                         'compacted at %s' % result.get('compact_revision'))
                return
            for event in result.get('events', []):
                yield from self._apply(event)
        LOG.info('etcd %s closed the watch; listing again',
                 self.options.safe_url)

    def _apply(self, event: dict) -> Iterator:
        kv = event['kv']
        self.revision = int(kv['mod_revision'])
        key = base64.b64decode(kv['key']).decode('utf-8')
        parsed = stores.etcd_parse_key(self.prefix, key)
        if parsed is None:
            return
        record = None
        # PUT events carry no "type"; only DELETE ones do.
        if event.get('type') != 'DELETE':
            record = _parse_record(*parsed, kv.get('value', ''))
            if record is None:
                LOG.warning('Ignoring unreadable value of %s', key)
                return
        yield from self.view.apply(parsed[0], parsed[1], record)


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
                     max_backoff: float = 10.0) -> EtcdWatcher:
    """Watch cluster-wide interface state: initial list, then changes."""
    return EtcdWatcher(options, prefix, max_backoff)
