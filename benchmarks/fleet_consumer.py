"""The fleet benchmark's consumer: the real cluster reader in its own
process, recording everything it yields with a monotonic timestamp.

etcd: :func:`df_ovsdb_agent.cluster.etcd.watch_interfaces`; Redis:
:class:`df_ovsdb_agent.cluster.redis.RedisStreamReader`.  Only their
public iterator API is used.  Output: JSON lines in ``--out``:

- ``{"t", "e": "i", "a", "h", "n", "r"}`` an interface event (action,
  host, name, record);
- ``{"t", "e": "h", "h", "s"}`` a host marker (up, synced, down);
- ``{"t", "e": "s", "s", "h", "reset"}`` a sync marker;
- ``{"t", "e": "d", "held", "ridden"}`` the reader's down holds so far
  (hosts whose liveness record vanished and that it held for
  ``down_grace``, its default: half their TTL; those that came back in
  time), whenever they change: a blip ridden out yields no event.

Lines are encoded, written and flushed in batches every 50 ms (each
with the time its item was yielded); SIGTERM ends the iteration.
"""

import argparse
import collections
import json
import logging
import os
import signal
import sys
import threading
import time

from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import ClusterHost
from df_ovsdb_agent.cluster import ClusterSync
from df_ovsdb_agent.cluster.stores import StoreOptions
from df_ovsdb_agent.events import Action

FLUSH_EVERY = 0.05


def make_reader(store: str, url: str):
    options = StoreOptions(url)
    if store == 'etcd':
        from df_ovsdb_agent.cluster.etcd import watch_interfaces
        return watch_interfaces(options, max_backoff=2.0)
    from df_ovsdb_agent.cluster.redis import RedisStreamReader
    return RedisStreamReader(options, max_backoff=2.0)


#: Action -> its value (an enum's .value is a Python-level property).
_ACTIONS = {action: action.value for action in Action}


def line_of(t: float, item) -> dict:
    if type(item) is ClusterEvent:
        record = item.record
        return {'t': t, 'e': 'i', 'a': _ACTIONS[item.action],
                'h': item.host, 'n': record['name'], 'r': record}
    if isinstance(item, ClusterEvent):
        return {'t': t, 'e': 'i', 'a': item.action.value, 'h': item.host,
                'n': item.name, 'r': item.record}
    if isinstance(item, ClusterHost):
        return {'t': t, 'e': 'h', 'h': item.host, 's': item.state.value}
    if isinstance(item, ClusterSync):
        return {'t': t, 'e': 's', 's': item.sync.value, 'h': item.host,
                'reset': item.reset}
    return {'t': t, 'e': '?', 'x': str(item)}


def holds_line(out: 'Output', reader, last: tuple) -> tuple:
    """Write the reader's down hold counters if they changed since
    ``last``; the counters now.
    """
    downs = getattr(reader, 'downs', None)
    now = (downs.held, downs.ridden) if downs is not None else (0, 0)
    if now != last:
        out.write({'t': time.monotonic(), 'e': 'd', 'held': now[0],
                   'ridden': now[1]})
    return now


#: One encoder for every line (json.dumps builds one per call).
_ENCODER = json.JSONEncoder(separators=(',', ':'), check_circular=False)
#: What starts every line after the first in a list of lines encoded at
#: once: "t" is every line's first key, and outside a string "{" follows
#: a "," only there (a line's values are scalars or a flat record, whose
#: keys are strings; a quote inside a string is escaped).
_NEXT_LINE = ',{"t":'


def encode_lines(lines: list) -> str:
    """JSON lines of ``lines`` (dicts whose first key is ``t``), one
    encoder call for all of them: the consumer's per-event cost.
    """
    if not lines:
        return ''
    text = _ENCODER.encode(lines)
    # count + replace: two C scans, no list of one string per line.
    if text.count(_NEXT_LINE) != len(lines) - 1:
        # A string held the separator after all: one call per line.
        return ''.join(_ENCODER.encode(line) + '\n' for line in lines)
    return text[1:-1].replace(_NEXT_LINE, '\n{"t":') + '\n'


class Output:
    """JSON lines, encoded and written by a timer thread in batches, so
    the reader only appends (time, item) per event and never waits on
    disk.
    """

    def __init__(self, path: str) -> None:
        self._file = open(path, 'a')
        # deque: append and popleft are atomic, no lock per event.
        #: (time, item) per event, or (None, line): appended to by the
        #: reader's thread only (see add()).
        self.pending: collections.deque = collections.deque()
        self._lock = threading.Lock()  # one drain at a time
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._flusher, daemon=True)
        self._thread.start()

    def add(self, t: float, item) -> None:
        """Record ``item``, seen at monotonic time ``t``."""
        self.pending.append((t, item))

    def write(self, data: dict) -> None:
        """Record a line as it is (its first key ``t``)."""
        self.pending.append((None, data))

    def _drain(self) -> None:
        with self._lock:
            pending = self.pending
            lines = []
            for _ in range(len(pending)):
                t, item = pending.popleft()
                lines.append(item if t is None else line_of(t, item))
            self._file.write(encode_lines(lines))
            self._file.flush()

    def _flusher(self) -> None:
        while not self._done.wait(FLUSH_EVERY):
            self._drain()

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self._drain()
        self._file.close()


def follow(reader, out: Output) -> None:
    """Record every item ``reader`` yields with its time, and the
    reader's down hold counters whenever they change (checked after each
    item, and once more at the end).
    """
    downs = (0, 0)
    counters = getattr(reader, 'downs', None)
    try:
        if counters is None:
            for item in reader:
                out.add(time.monotonic(), item)
            return
        # Per event: one append of (time, item) and two integer
        # compares; the counters' line only when they changed.
        add = out.pending.append
        clock = time.monotonic
        held = ridden = 0
        for item in reader:
            add((clock(), item))
            if counters.held != held or counters.ridden != ridden:
                downs = holds_line(out, reader, downs)
                held, ridden = downs
    finally:
        holds_line(out, reader, downs)


def trace_etcd(reader, out: Output) -> None:
    """Timeline of the etcd watch (DF_FLEET_TRACE=1): per chunk read, the
    time blocked on the socket (``"e": "c"``, ``w`` seconds, ``b``
    bytes); per watch message, its header revision, events and the
    seconds the reader spent on it (``"e": "w"``).  Wraps private
    helpers: benchmark instrumentation only.
    """
    from df_ovsdb_agent.cluster import etcd
    lines = etcd._lines
    message = reader._message

    def timed(chunks):
        while True:
            began = time.monotonic()
            chunk = next(chunks, None)
            now = time.monotonic()
            if chunk is None:
                return
            out.write({'t': now, 'e': 'c', 'w': now - began,
                       'b': len(chunk)})
            yield chunk

    def traced(client, data):
        began = time.monotonic()
        events = message(client, data)
        result = data.get('result') or {}
        out.write({'t': began, 'e': 'w', 'd': time.monotonic() - began,
                   'rev': (result.get('header') or {}).get('revision'),
                   'n': len(result.get('events') or ())})
        return events

    etcd._lines = lambda chunks: lines(timed(iter(chunks)))
    reader._message = traced


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--store', choices=('etcd', 'redis'), required=True)
    parser.add_argument('--url', required=True)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='%(asctime)s consumer %(levelname)s '
                               '%(name)s %(message)s')
    reader = make_reader(args.store, args.url)
    if hasattr(reader, 'load_log'):
        reader.load_log = []
    signal.signal(signal.SIGTERM, lambda *_: reader.stop())
    out = Output(args.out)
    if args.store == 'etcd' and os.environ.get('DF_FLEET_TRACE'):
        trace_etcd(reader, out)
    try:
        follow(reader, out)
    finally:
        out.close()
        write_loads(reader, args.out + '.loads.json')
    return 0


def write_loads(reader, path: str) -> None:
    """The Redis reader's record of the hosts it loaded (wall time,
    host, its last stream entry's time in ms, what found it) and its
    counters, for ``--keep`` runs: how long after a host wrote its data
    the reader loaded it, a measure that does not depend on the load.
    """
    if getattr(reader, 'load_log', None) is None:
        return
    with open(path, 'w') as out:
        json.dump({'loads': reader.load_log,
                   'discovered': reader.discovered,
                   'rounds': reader.rounds,
                   'commands': reader.commands}, out)


if __name__ == '__main__':
    sys.exit(main())
