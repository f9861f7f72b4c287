"""The fleet benchmark's consumer: the real cluster reader in its own
process, recording everything it yields with a monotonic timestamp.

etcd: :func:`df_ovsdb_agent.cluster.etcd.watch_interfaces`; Redis:
:class:`df_ovsdb_agent.cluster.redis.RedisStreamReader`.  Only their
public iterator API is used.  Output, in ``--out``: batches written every
50 ms (:data:`FRAME` header, then a ``marshal`` of the batch's lines,
each with the time its item was yielded); :class:`Frames` reads them back
as dicts:

- ``{"t", "e": "i", "a", "h", "n", "r"}`` an interface event (action,
  host, name, record);
- ``{"t", "e": "h", "h", "s"}`` a host marker (up, synced, down);
- ``{"t", "e": "s", "s", "h", "reset"}`` a sync marker;
- ``{"t", "e": "d", "held", "ridden"}`` the reader's down holds so far
  (hosts whose liveness record vanished and that it held for
  ``down_grace``, its default: half their TTL; those that came back in
  time), whenever they change: a blip ridden out yields no event.

Why not JSON lines (as before session 14): encoding a line per event took
~7-10 us, a third of this process's CPU in a cold start, in a thread that
shares the GIL with the reader it measures; ``marshal`` takes ~1 us.
SIGTERM ends the iteration.
"""

import argparse
import collections
import json
import logging
import marshal
import os
import signal
import struct
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


def line_of(t: float, item) -> tuple:
    """The line of an item yielded at ``t``, as a tuple (see
    :func:`as_dict`).
    """
    if type(item) is ClusterEvent:
        record = item.record
        return ('i', t, _ACTIONS[item.action], item.host, record['name'],
                record)
    if isinstance(item, ClusterEvent):
        return ('i', t, item.action.value, item.host, item.name,
                item.record)
    if isinstance(item, ClusterHost):
        return ('h', t, item.host, item.state.value)
    if isinstance(item, ClusterSync):
        return ('s', t, item.sync.value, item.host, item.reset)
    return ('?', t, str(item))


def as_dict(line: tuple) -> dict:
    """A line as the dict the module docstring describes."""
    kind, t = line[0], line[1]
    if kind == 'i':
        return {'t': t, 'e': 'i', 'a': line[2], 'h': line[3], 'n': line[4],
                'r': line[5]}
    if kind == 'h':
        return {'t': t, 'e': 'h', 'h': line[2], 's': line[3]}
    if kind == 's':
        return {'t': t, 'e': 's', 's': line[2], 'h': line[3],
                'reset': line[4]}
    if kind == 'x':  # written as it is (Output.write)
        return line[2]
    return {'t': t, 'e': '?', 'x': line[2]}


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


#: A batch's header: the bytes of its payload (a ``marshal`` of its list
#: of lines) and how many of them are interface events, so that a reader
#: can count events without decoding.
FRAME = struct.Struct('<II')


def encode_frame(lines: list) -> bytes:
    """One batch of lines (tuples, see :func:`line_of`)."""
    payload = marshal.dumps(lines)
    events = sum(1 for line in lines if line[0] == 'i')
    return FRAME.pack(len(payload), events) + payload


class Appended:
    """What another process appends to a file: each read returns the
    bytes not returned yet, after what the last read left incomplete.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._partial = b''

    def _new(self) -> bytes:
        """The incomplete rest of the last read and the new bytes; the
        caller hands back what it cannot use yet (:meth:`_keep`).
        """
        try:
            with open(self.path, 'rb') as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self._partial
        self._offset += len(data)
        return self._partial + data

    def _keep(self, rest: bytes) -> None:
        self._partial = rest


class Frames(Appended):
    """The batches another process appends to a file, as they come."""

    def read_raw(self) -> list:
        """New complete batches: (interface events, payload) each."""
        data = self._new()
        batches = []
        at = 0
        while len(data) - at >= FRAME.size:
            size, events = FRAME.unpack_from(data, at)
            if len(data) - at - FRAME.size < size:
                break
            at += FRAME.size
            batches.append((events, data[at:at + size]))
            at += size
        self._keep(data[at:])
        return batches

    @staticmethod
    def decode(batches: list) -> list:
        """The lines of ``batches`` (from :meth:`read_raw`), as dicts."""
        return [as_dict(line) for _, payload in batches
                for line in marshal.loads(payload)]

    def read(self) -> list:
        """New lines, as dicts."""
        return self.decode(self.read_raw())


class Output:
    """Lines, encoded and written by a timer thread in batches (see
    :func:`encode_frame`), so the reader only appends (time, item) per
    event and never waits on disk.
    """

    def __init__(self, path: str) -> None:
        self._file = open(path, 'ab')
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
                lines.append(('x', item['t'], item) if t is None
                             else line_of(t, item))
            if lines:
                self._file.write(encode_frame(lines))
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
