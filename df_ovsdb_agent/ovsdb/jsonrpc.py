"""JSON-RPC over a byte stream: linear-time framing, stdlib parsing.

OVSDB sends JSON objects back to back with no delimiter.  :class:`Framer`
finds where each one ends by scanning only the bytes that arrived since
the last call (string, escape and brace state carried over), enforces a
size limit on the message in progress *before* parsing it, and hands each
complete message to the stdlib's C ``json`` parser.  Long strings are
skipped by a regular expression, so a 16 MiB value costs one C-speed
scan, never a character loop in Python.

:class:`Connection` is the transport: ``tcp:``, ``ssl:`` and ``unix:``
sockets in blocking mode with timeouts, for one reader thread.
"""

from __future__ import annotations

import grp
import json
import logging
import os
import pwd
import re
import select
import socket
import ssl
import stat
import threading
import time
from typing import Any, Callable, Optional, Protocol

from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.ovsdb.gcpause import collector_paused
from df_ovsdb_agent.ovsdb import peer as peer_lib

LOG = logging.getLogger(__name__)

_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
# Complete objects nested this deep are skipped by one regex match: a
# monitor reply's rows (depth 2 under their table) cost no Python step.
_NESTED = 4


def _skip_pattern(levels: int) -> bytes:
    """Bytes that are neither braces nor a quote, complete strings and
    complete objects up to ``levels`` deep, each skipped as a whole.
    """
    inner = _STRING
    for level in range(levels):
        # Atomic, the way Python 3.10 can (lookahead + backreference): an
        # object that does not close (deeper, or not all here yet) fails
        # after one scan, without backtracking into what it matched.
        obj = (rb'\{[^"{}]*(?:(?:%s)[^"{}]*)*\}' % inner)
        inner = _STRING + rb'|(?=(?P<o%d>%s))(?P=o%d)' % (level, obj, level)
    return rb'[^"{}]*(?:(?:%s)[^"{}]*)*' % inner


# Outside strings, within the current object: what _skip_pattern skips.
# It stops at an opening brace it cannot skip, a closing brace (the end
# of the current object) or a quote (a string that has not ended yet).
_OUTSIDE = re.compile(_skip_pattern(_NESTED), re.DOTALL)
# Inside a string: everything up to its closing quote (escapes skipped).
_INSIDE = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_SPACE = re.compile(rb'[ \t\r\n]*')
RECV_SIZE = 1 << 20
# A message still open after this many bytes is big: see Framer.deferred.
DEFER_AFTER = 1 << 16
_DECODER = json.JSONDecoder()
# The C scanner raw_decode wraps: (value, end), StopIteration if none.
_scan_once: Callable[[str, int], tuple[Any, int]] = \
    _DECODER.scan_once  # type: ignore[attr-defined]
_NOT_YET = object()
# A message at least this big is walked (see walk_message) when the
# reader has a row hook: a dump's rows are then staged one by one and
# its whole parse tree never exists.
WALK_AFTER = 1 << 18
_WS = re.compile(r'[ \t\n\r]*')
# A plain object key (no escapes) and its colon; else the C scanner.
_KEY = re.compile(r'[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:[ \t\n\r]*')
_COLON = re.compile(r'[ \t\n\r]*:[ \t\n\r]*')
_NEXT = re.compile(r'[ \t\n\r]*([,}\]])')
# Between two rows of a table: the comma and the next plain key.
_NEXT_ROW = re.compile(r'[ \t\n\r]*,[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:'
                       r'[ \t\n\r]*')
# Between two rows, ovsdb-server's compact ,"<uuid>":{ is taken by string
# comparison before _NEXT_ROW (the tests compare with it off).
_COMPACT_KEYS = True
# Containers down to this depth are walked in Python; deeper values go to
# the C scanner whole.  A monitor reply's or update's table -> rows object
# is at depth 1 or 2.
_WALK_DEPTH = 2


class RowHook(Protocol):
    """Who stages a big message's rows while it is parsed (the replica).

    For each table it returns a function from one row update (parsed)
    to what should stand in the message in its place, and the mapping
    that collects one table's rows, so the consumer can tell which rows
    it staged itself.
    """

    def stager(self, table: str) -> Optional[Callable[[Any], Any]]:
        """The staging function of ``table``; None: parse it as usual."""

    def staged_rows(self) -> dict:
        """A new, empty mapping for one table's staged rows."""

    def run_stager(self, table: str) -> Optional[RunStager]:
        """For ``table``, a function (text, pos, rows) -> end that stages
        into ``rows`` the rows from ``pos`` on that it can take straight
        from the text, and returns the end of the last one (``pos``:
        none); the rows after it are staged one by one (see _run_rows).
        None: every row is staged on its own.
        """


RunStager = Callable[[str, int, dict], int]


class ProtocolError(Exception):
    """The peer sent something that is not a JSON-RPC message."""


class MessageTooBig(ProtocolError):
    """One message grew beyond the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__('sent a message over %d bytes' % limit)
        self.limit = limit


class ConnectionClosed(Exception):
    """The peer closed the connection or the socket failed."""


def _excerpt(data: bytes, size: int = 24) -> str:
    """A short, escaped, bounded rendering of peer bytes for logs."""
    return repr(data[:size])


def walk_message(text: str, hook: RowHook) -> tuple[Any, int]:
    """Parse the JSON object at the start of ``text`` like
    ``json.JSONDecoder.raw_decode``, except that the rows of each table
    ``hook`` stages are staged one by one as they are parsed.

    A monitor reply or update message is ``{table: {uuid: row update}}``
    one or two levels down: the levels above the rows are walked here, and
    each row update is parsed by the C scanner, handed to the table's
    stager and its parse tree dropped.  Peak memory: the text and the
    staged rows, never the whole tree (~6x the text for a dump).

    :returns: (value, end).
    :raises ValueError, IndexError, StopIteration, RecursionError: not
        JSON, or cut short.
    """
    return _walk(text, 0, 0, hook)


def _walk(text: str, pos: int, depth: int, hook: RowHook) -> tuple[Any, int]:
    char = text[pos]
    if depth > _WALK_DEPTH or (char != '{' and char != '['):
        return _scan_once(text, pos)
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    closing = '}' if char == '{' else ']'
    if text[pos] == closing:
        return ({} if char == '{' else []), pos + 1
    items: list = []
    obj: dict = {}
    while True:
        if char == '[':
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            value, pos = _walk(text, pos, depth + 1, hook)
            items.append(value)
        else:
            key, pos = _key(text, pos)
            stage = hook.stager(key) if text[pos] == '{' else None
            if stage is not None:
                run = hook.run_stager(key)
                if run is None:
                    obj[key], pos = _rows(text, pos, stage,
                                          hook.staged_rows())
                else:
                    obj[key], pos = _run_rows(text, pos, stage, run,
                                              hook.staged_rows())
            else:
                obj[key], pos = _walk(text, pos, depth + 1, hook)
        match = _NEXT.match(text, pos)
        if match is None:
            raise ValueError('expected , or %s at %d' % (closing, pos))
        pos = match.end()
        if match.group(1) == closing:
            return (obj if char == '{' else items), pos
        if match.group(1) != ',':
            raise ValueError('unexpected %s at %d' % (match.group(1), pos))


def _key(text: str, pos: int) -> tuple[str, int]:
    """An object key and the position of its value."""
    match = _KEY.match(text, pos)
    if match is not None:
        return match.group(1), match.end()
    key, pos = _scan_once(text, pos)  # escapes in it
    colon = _COLON.match(text, pos)
    if not isinstance(key, str) or colon is None or colon.end() == pos:
        raise ValueError('expected an object key at %d' % pos)
    return key, colon.end()


def _rows(text: str, pos: int, stage: Callable[[Any], Any],
          rows: dict) -> tuple[dict, int]:
    """One table's {uuid: row update}, each row staged once parsed."""
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    if text[pos] == '}':
        return rows, pos + 1
    uuid, pos = _key(text, pos)
    scan_once, next_row = _scan_once, _NEXT_ROW.match
    compact = _COMPACT_KEYS
    while True:
        update, pos = scan_once(text, pos)
        rows[uuid] = stage(update)
        # ovsdb-server's compact form, by comparison and slicing (~0.2 us
        # less per row than the match): ,"<36-character uuid>":{ with no
        # quote or backslash in the key, exactly what the match takes.
        if compact and text[pos + 38:pos + 41] == '":{' and \
                text[pos:pos + 2] == ',"':
            key = text[pos + 2:pos + 38]
            if '"' not in key and '\\' not in key:
                uuid = key
                pos += 40
                continue
        # The common case in one match: a comma and the next plain key.
        match = next_row(text, pos)
        if match is not None:
            uuid, pos = match.group(1), match.end()
            continue
        pos, closed = _after_row(text, pos)
        if closed:
            return rows, pos
        uuid, pos = _key(text, pos)  # a key with escapes


def _after_row(text: str, pos: int) -> tuple[int, bool]:
    """Past the ``,`` or ``}`` after a table's row: (where the next key
    or what follows the table begins, whether the table ended).
    """
    match = _NEXT.match(text, pos)
    if match is None or match.group(1) == ']':
        raise ValueError('expected , or } at %d' % pos)
    return match.end(), match.group(1) == '}'


def _run_rows(text: str, pos: int, stage: Callable[[Any], Any],
              run: RunStager, rows: dict) -> tuple[dict, int]:
    """:func:`_rows` for a table with a run stager: runs of rows it takes
    in one go, each row it does not take staged on its own between them.
    """
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    if text[pos] == '}':
        return rows, pos + 1
    while True:
        end = run(text, pos, rows)
        if end == pos:
            uuid, pos = _key(text, pos)
            update, end = _scan_once(text, pos)
            rows[uuid] = stage(update)
        pos, closed = _after_row(text, end)
        if closed:
            return rows, pos


def _end(pattern: 're.Pattern[bytes]', buf: bytearray, pos: int,
         end: int) -> int:
    # Every pattern here matches the empty string, so match() never fails.
    # Stopping at ``end`` is what the end of the data would do: the
    # scanner's state is the same as at a chunk boundary.
    match = pattern.match(buf, pos, end)
    return match.end() if match is not None else pos


class Framer:
    """Splits a byte stream into parsed JSON objects, in linear time."""

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._buf = bytearray()
        self._start = 0       # where the message in progress begins
        self._pos = 0         # how far it has been scanned
        self._depth = 0       # brace depth outside strings
        self._in_string = False
        self._escape = False  # the last byte scanned was a backslash
        # A big message's bytes are not scanned as they come: the parser
        # finds its end (see _parse_whole).  After one failed try (bytes
        # in _tried) the scanner takes over for the rest of the message.
        self._deferred = False
        self._tried = 0
        #: Stages a big message's rows while it is parsed (walk_message).
        self.row_hook: Optional[RowHook] = None

    @property
    def pending(self) -> int:
        """Bytes of the message in progress (0 between messages)."""
        return len(self._buf) - self._start if self._depth else 0

    @property
    def deferred(self) -> bool:
        """A big message is in progress and bytes ending in ``}`` may end
        it: :meth:`feed` wants to know whether more bytes are waiting.
        """
        return self._deferred

    def feed(self, data: bytes, drained: bool = True) -> list:
        """Add bytes; return the messages they complete, parsed.

        :param drained: no more bytes are waiting to be read right now
            (the peer paused: a big message may have ended).
        :raises MessageTooBig: the message in progress exceeds the limit.
        :raises ProtocolError: the bytes are not a stream of JSON objects.
        """
        self._buf += data
        messages: list = []
        while True:
            if self._feed(messages, drained):
                return messages

    def _feed(self, messages: list, drained: bool) -> bool:
        """One round of :meth:`feed`; False: the scanner stopped at a big
        message's first :data:`DEFER_AFTER` bytes with more in the buffer,
        so that message may be complete already (another round).
        """
        if self._deferred:
            whole = self._parse_whole(drained)
            if whole is _NOT_YET:
                if len(self._buf) - self._start <= self.max_message_size:
                    return True
                # The scanner tells exactly whether the message is too big.
                self._deferred = False
            else:
                messages.append(whole)
        texts = []
        while True:
            end = self._scan()
            if end is None:
                break
            if end - self._start > self.max_message_size:
                raise MessageTooBig(self.max_message_size)
            texts.append(self._decode(end))
            self._start = self._pos = end
            self._tried = 0
        if self._depth and len(self._buf) - self._start > \
                self.max_message_size:
            raise MessageTooBig(self.max_message_size)
        # Drop what is consumed once per call, not per message, and before
        # parsing: a big message's bytes are then freed while its objects
        # are built (peak: the text and the objects, not also the bytes).
        if self._start == len(self._buf):
            # Drained: a fresh buffer gives a big message's memory back.
            self._buf = bytearray()
            self._pos = self._start = 0
        elif self._start:
            del self._buf[:self._start]
            self._pos -= self._start
            self._start = 0
        if self._depth and len(self._buf) >= DEFER_AFTER and \
                not self._tried:
            self._deferred = True
        while texts:
            # Each text is released as soon as it is parsed.
            messages.append(self._parse(texts.pop(0)))
        return not (self._deferred and self._pos < len(self._buf))

    def _decode(self, end: int) -> str:
        # Straight from the buffer: no bytes copy of the message first.
        # surrogatepass, as json.loads does for bytes.
        with memoryview(self._buf) as view:
            try:
                return str(view[self._start:end], 'utf-8', 'surrogatepass')
            except UnicodeDecodeError as exc:
                raise ProtocolError('sent JSON that does not parse (%s)'
                                    % str(exc)[:100]) from None

    def _parse_whole(self, drained: bool) -> Any:
        """The message in progress, parsed, if it is complete; else
        _NOT_YET (and, after a failed try, the scanner takes over).

        Scanning a big message for its end costs as much CPU as parsing
        it: here the parser itself finds the end, tried only when the peer
        paused right after a ``}``, which is how a message ends.
        """
        buf, start = self._buf, self._start
        last = len(buf) - 1
        while last > start and buf[last] in b' \t\r\n':
            last -= 1
        if not drained or buf[last] != 0x7d:  # '}'
            return _NOT_YET
        size = len(buf) - start
        self._tried += size
        try:
            with memoryview(buf) as view:
                text = str(view[start:], 'utf-8', 'surrogatepass')
        except UnicodeDecodeError:
            self._deferred = False  # the scanner says where and why
            return _NOT_YET
        # The bytes are freed while the objects are built, as in feed().
        del buf
        self._buf = bytearray()
        try:
            with collector_paused():
                value, end = self._decode_big(text)
        except (ValueError, IndexError, StopIteration, RecursionError):
            # Not complete yet: the same bytes back, and the scanner finds
            # this message's end (one failed try at most per message: a
            # slow or loaded server pauses mid-message more often).
            self._buf = bytearray(text.encode('utf-8', 'surrogatepass'))
            self._pos -= start
            self._start = 0
            self._deferred = False
            return _NOT_YET
        self._buf = bytearray(text[end:].encode('utf-8', 'surrogatepass'))
        self._start = self._pos = self._depth = self._tried = 0
        self._in_string = self._escape = self._deferred = False
        return value

    def _decode_big(self, text: str) -> tuple[Any, int]:
        """(value, end) of the message at the start of ``text``."""
        hook = self.row_hook
        if hook is not None and len(text) >= WALK_AFTER:
            return walk_message(text, hook)
        return _DECODER.raw_decode(text)

    def _parse(self, text: str) -> Any:
        try:
            with collector_paused():
                if self.row_hook is None or len(text) < WALK_AFTER:
                    return json.loads(text)
                value, end = walk_message(text, self.row_hook)
                if text[end:].strip(' \t\n\r'):
                    raise ValueError('extra data at %d' % end)
                return value
        except (ValueError, IndexError, StopIteration,
                RecursionError) as exc:
            raise ProtocolError('sent JSON that does not parse (%s)'
                                % str(exc)[:100]) from None

    def _scan(self) -> Optional[int]:
        """Advance over new bytes; the end of a complete object or None.

        A message is scanned for :data:`DEFER_AFTER` bytes at most until a
        try of the parser on it failed: a bigger one is deferred (the
        parser finds its end), so a 1 MiB first read of a dump is not
        scanned and then parsed again.
        """
        buf, end = self._buf, len(self._buf)
        pos = self._pos
        if not self._depth:
            pos = _end(_SPACE, buf, pos, end)
            self._start = pos
            if pos == end:
                self._pos = pos
                return None
            if buf[pos] != 0x7b:  # '{'
                raise ProtocolError('sent invalid data, not a JSON-RPC '
                                    'message: %s'
                                    % _excerpt(bytes(buf[pos:pos + 24])))
            # Into the message: _OUTSIDE would skip it whole, past its end.
            self._depth = 1
            pos += 1
        if not self._tried:
            end = min(end, self._start + DEFER_AFTER)
        while pos < end:
            if self._in_string:
                if self._escape:
                    self._escape = False
                    pos += 1
                    continue
                pos = _end(_INSIDE, buf, pos, end)
                if pos == end:
                    break
                if buf[pos] == 0x5c:  # a backslash, last byte so far
                    self._escape = True
                    pos += 1
                    continue
                self._in_string = False
                pos += 1
                continue
            pos = _end(_OUTSIDE, buf, pos, end)
            if pos == end:
                break
            char = buf[pos]
            pos += 1
            if char == 0x22:  # '"': a string that ends in a later chunk
                self._in_string = True
            elif char == 0x7b:
                self._depth += 1
            else:
                self._depth -= 1
                if not self._depth:
                    self._pos = pos
                    return pos
        self._pos = pos
        return None


def _connect_socket(remote: str, timeout: float,
                    ssl_context: Optional[ssl.SSLContext]) -> socket.socket:
    method, _, rest = remote.partition(':')
    if method == 'unix':
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(rest)
        except OSError:
            sock.close()
            raise
        return sock
    host, port = _host_port(rest, 6640)
    # getaddrinfo encodes a str host with the idna codec, whose first use
    # imports encodings.idna and stringprep (~1.5 ms of CPU at the first
    # start); for an ASCII host that codec is the identity, so give bytes.
    # (typeshed says str; socket.create_connection takes bytes too.)
    address: Any = (host.encode('ascii') if host.isascii() else host, port)
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if method == 'ssl':
        if ssl_context is None:
            sock.close()
            raise OSError('ssl: remote without SSL settings')
        try:
            sock = ssl_context.wrap_socket(sock)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
    return sock


def _host_port(rest: str, default: int) -> tuple[str, int]:
    if rest.startswith('['):
        host, _, tail = rest[1:].partition(']')
        port = tail[1:]
    else:
        host, _, port = rest.partition(':')
    return host, int(port) if port else default


class Connection:
    """One JSON-RPC connection, read by a single thread."""

    def __init__(self, remote: str, sock: socket.socket,
                 max_message_size: int) -> None:
        self.remote = remote
        self._sock = sock
        # A TLS socket's decrypted bytes not yet read (select() cannot see
        # them); None for a plain socket.  Asked of the socket rather than
        # by isinstance(sock, ssl.SSLSocket): for tcp: and unix: remotes
        # the daemon then never runs ssl's body (~6 ms, cmd.DEFERRED).
        self._pending: Optional[Callable[[], int]] = getattr(
            sock, 'pending', None)
        self._framer = Framer(max_message_size)
        self._ready: list = []
        self._closed = False
        self.last_received = time.monotonic()
        #: Bytes read from the peer so far (what crossed the wire).
        self.bytes_received = 0

    @property
    def row_hook(self) -> Optional[RowHook]:
        """Who stages the rows of big messages while they are parsed
        (None: parsed whole); see :func:`walk_message`.
        """
        return self._framer.row_hook

    @row_hook.setter
    def row_hook(self, hook: Optional[RowHook]) -> None:
        self._framer.row_hook = hook

    @classmethod
    def open(cls, remote: str, timeout: float, max_message_size: int,
             ssl_context: Optional[ssl.SSLContext] = None,
             trust: Optional[peer_lib.PeerTrust] = None) -> 'Connection':
        """Connect (and complete the TLS handshake) within ``timeout``.

        :param trust: check who runs a local peer before anything is sent
            to it or read from it.
        :raises OSError: the connection could not be made.
        :raises UntrustedPeer: ``trust`` refused the peer.
        """
        denied: Optional[PermissionError] = None
        try:
            sock = _connect_socket(remote, timeout, ssl_context)
        except PermissionError as exc:
            denied = exc
        if denied is not None:
            # Reported outside the except block: there, oslo.log would
            # append the exception to the line.
            _report_denied(remote)
            raise denied
        with _denied_lock:
            _denied.discard(remote)
        if trust is not None:
            try:
                trust.check(remote, sock, time.monotonic() + timeout)
            except BaseException:
                sock.close()
                raise
        return cls(remote, sock, max_message_size)

    def send(self, msg: dict) -> None:
        """Send one message; :raises ConnectionClosed: on failure."""
        data = json.dumps(msg, separators=(',', ':')).encode()
        try:
            self._sock.settimeout(10.0)
            self._sock.sendall(data)
        except OSError as exc:
            raise ConnectionClosed('send failed: %s' % reason(exc)) from None

    def recv(self, timeout: Optional[float]) -> Optional[Any]:
        """The next message, or None if none completed within ``timeout``.

        :raises ConnectionClosed: the peer closed or the socket failed.
        :raises ProtocolError: the peer sent something that is not JSON-RPC.
        """
        if self._ready:
            return self._ready.pop(0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return None
            try:
                data = self._read(wait)
            except ConnectionClosed:
                # The peer may have closed right after a big message: it
                # is complete now or never (the close is raised next).
                if not self._framer.deferred:
                    raise
                self._ready.extend(self._framer.feed(b''))
                if not self._ready:
                    raise
                break
            if data is None:
                return None
            self.last_received = time.monotonic()
            self.bytes_received += len(data)
            # Whether the peer paused matters only where a big message
            # may have ended (a select() call to know).
            drained = not (self._framer.deferred or
                           len(data) >= DEFER_AFTER) or not self._more()
            self._ready.extend(self._framer.feed(data, drained))
        return self._ready.pop(0)

    def _read(self, wait: Optional[float]) -> Optional[bytes]:
        if self._closed:
            raise ConnectionClosed('connection closed')
        try:
            self._sock.settimeout(wait)
            data = self._sock.recv(RECV_SIZE)
        except socket.timeout:
            return None
        except ssl.SSLWantReadError:
            return None
        except OSError as exc:
            raise ConnectionClosed(reason(exc)) from None
        if not data:
            raise ConnectionClosed('connection closed by peer')
        return data

    def _more(self) -> bool:
        """Whether more bytes can be read at once (without waiting)."""
        if self._pending is not None and self._pending():
            return True
        sock = self._sock
        try:
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def interrupt(self) -> None:
        """Wake a blocked :meth:`recv` (from another thread)."""
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass


def reason(exc: Exception) -> str:
    """Why a socket or TLS call failed, in a few words (for log lines)."""
    return (getattr(exc, 'reason', None) or getattr(exc, 'strerror', None)
            or str(exc) or type(exc).__name__)


# Remotes whose "permission denied" was reported since they last worked:
# the first refusal gets an ERROR line, the retries none.
_denied: set = set()
_denied_lock = threading.Lock()


def _report_denied(remote: str) -> None:
    """One ERROR line: denied, as whom, and what the socket allows.

    Retrying cannot help until someone changes a user, a group or a mode,
    so this is said at once, on the first attempt, not as a debug line.
    """
    with _denied_lock:
        if remote in _denied:
            return
        _denied.add(remote)
    method, _, path = remote.partition(':')
    where = (_describe_socket(path) + '; run the agent as the socket\'s '
             'owner, or in its group if the socket is group-writable '
             '(systemd User= or SupplementaryGroups=, see the installation '
             'guide)' if method == 'unix' else 'refused by a local policy')
    LOG.error('OVSDB at %s: permission denied: df-ovsdb-agent runs as %s; '
              '%s', safe(remote), running_as(), where)


def running_as() -> str:
    """``user NAME (uid N, groups A,B)`` of this process."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    gids = [os.getegid()] + [g for g in os.getgroups()
                             if g != os.getegid()]
    return 'user %s (uid %d, groups %s)' % (
        name, uid, ','.join(_group_name(g) for g in gids))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _owner(info: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    return '%s:%s mode %04o' % (user, _group_name(info.st_gid),
                                stat.S_IMODE(info.st_mode))


def _describe_socket(path: str) -> str:
    """Who owns the socket, or the directory that keeps us from it."""
    try:
        return 'the socket is %s' % _owner(os.stat(path))
    except OSError:
        pass
    directory = os.path.dirname(path) or '.'
    try:
        return 'its directory %s is %s' % (safe(directory),
                                           _owner(os.stat(directory)))
    except OSError as exc:
        return 'its directory %s cannot be read (%s)' % (
            safe(directory), exc.strerror or exc)
