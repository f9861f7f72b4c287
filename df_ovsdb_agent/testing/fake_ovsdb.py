"""Fake OVSDB peers: a listener that hands each connection to a behaviour,
the message readers such behaviours use, and :class:`FakeOvsdb`, the one
fake ovsdb-server of the tests and benchmarks.

A fake peer is for what a real ovsdb-server will not do: serve a forged,
hostile or oversized dump, or break the protocol on purpose.  Everything
listens on 127.0.0.1 (or a unix socket) and is stopped by the caller.
"""

import json
import socket
import threading
from typing import Any, Callable, Iterator, Optional, Union

from df_ovsdb_agent.testing.sandbox import LOOPBACK
from df_ovsdb_agent.testing.sandbox import SCHEMA

#: The transaction id a fake peer's ``monitor_cond_since`` reply carries.
TXN = '00000000-0000-0000-0000-000000000001'


class HostileServer:
    """A TCP listener on 127.0.0.1 (or a unix socket at ``unix_path``)
    that answers with ``behaviour(conn)``.

    ``behaviour`` gets each accepted socket (already reading what the client
    sent is up to it); ``connections`` counts accepts so a test can wait
    for the client to come back after being refused.
    """

    def __init__(self, behaviour: Callable[[socket.socket], None],
                 port: Optional[int] = None,
                 unix_path: Optional[str] = None) -> None:
        self.behaviour = behaviour
        self.unix_path = unix_path
        if unix_path is not None:
            self.listener = socket.socket(socket.AF_UNIX)
            self.listener.bind(unix_path)
            self.port = 0
        else:
            self.listener = socket.socket()
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,
                                     1)
            self.listener.bind((LOOPBACK, port or 0))
            self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        self.connections = 0
        self._cond = threading.Condition()
        self._conns: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name='hostile-server')
        self._thread.start()

    @property
    def remote(self) -> str:
        if self.unix_path is not None:
            return 'unix:%s' % self.unix_path
        return 'tcp:%s:%d' % (LOOPBACK, self.port)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._cond:
                if self._closed:
                    conn.close()
                    return
                self.connections += 1
                self._conns.append(conn)
                self._cond.notify_all()
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn)
        except OSError:
            pass

    def wait_connections(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.connections >= count,
                                       timeout)

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            conns = list(self._conns)
        # shutdown() wakes a blocked accept(); close() alone may not.
        for sock in [self.listener] + conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._thread.join(5)


def read_request(conn: socket.socket, timeout: float = 5.0) -> Optional[dict]:
    """Read one JSON-RPC message from a client; None if it went away."""
    decoder = json.JSONDecoder()
    buf = ''
    conn.settimeout(timeout)
    while True:
        text = buf.lstrip()
        if text:
            try:
                return decoder.raw_decode(text)[0]
            except ValueError:
                pass
        try:
            data = conn.recv(65536)
        except (socket.timeout, OSError):
            return None
        if not data:
            return None
        buf = text + data.decode(errors='replace')


def server_row(database: str = 'Open_vSwitch') -> dict:
    """update2 ``initial`` of a standalone ``database``'s ``_Server`` row,
    as a real ovsdb-server answers the agent's freshness monitor.
    """
    return {'Database': {'11111111-1111-4111-8111-000000000098': {
        'initial': {'name': database, 'model': 'standalone',
                    'connected': True, 'index': ['set', []],
                    'cid': ['set', []]}}}}


def requests(conn: socket.socket) -> Iterator[dict]:
    """Every message the client sends, in order, until it goes away.

    (Not :func:`read_request`, which drops whatever follows the first
    message in a read: the agent sends ``set_db_change_aware`` and the
    monitor request back to back.)
    """
    decoder = json.JSONDecoder()
    buf = ''
    while True:
        text = buf.lstrip()
        try:
            msg, end = decoder.raw_decode(text)
        except ValueError:
            data = conn.recv(65536)
            if not data:
                return
            buf = text + data.decode(errors='replace')
            continue
        buf = text[end:]
        if isinstance(msg, dict):
            yield msg


class FakeOvsdb:
    """Just enough of ovsdb-server for the agent's read path.

    ``get_schema`` of Open_vSwitch gets the real schema (or
    ``schema_error``), of any other database "unknown database"; the
    ``_Server`` ``monitor_cond`` gets :func:`server_row` (a standalone
    database: nothing for the freshness check to refuse);
    ``monitor_cond_since`` gets ``[false, TXN, updates]`` and a plain
    ``monitor_cond``/``monitor`` gets ``updates``; ``echo`` is echoed and any
    other request gets an empty result.

    ``updates`` is the update2 ``initial`` dump: a dict, or its JSON text
    as bytes (a benchmark's junk of many MiB is not worth a Python object).
    """

    def __init__(self, updates: Union[dict, bytes, None] = None,
                 schema_error: Any = None, txn: str = TXN,
                 timeout: Optional[float] = None,
                 port: Optional[int] = None,
                 unix_path: Optional[str] = None) -> None:
        with open(SCHEMA, 'rb') as f:
            self.schema = f.read()
        self.updates = (updates if isinstance(updates, bytes)
                        else json.dumps(updates or {}).encode())
        self.schema_error = schema_error
        self.txn = txn
        self.timeout = timeout
        self.server = HostileServer(self._serve, port=port,
                                    unix_path=unix_path)

    @property
    def remote(self) -> str:
        return self.server.remote

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> 'FakeOvsdb':
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(self.timeout)
        with conn:
            for msg in requests(conn):
                reply = self.answer(msg)
                if reply is not None:
                    conn.sendall(reply)

    def answer(self, msg: dict) -> Optional[bytes]:
        """The reply to one request, or None for a notification."""
        method, ident = msg.get('method'), msg.get('id')
        if ident is None:
            return None
        params = msg.get('params') or [None]
        result, error = b'{}', None
        if method == 'get_schema':
            if self.schema_error is not None:
                error = self.schema_error
            elif params[0] != 'Open_vSwitch':
                error = {'error': 'unknown database'}
            else:
                result = self.schema
        elif method == 'monitor_cond_since':
            result = b'[false,%s,%s]' % (json.dumps(self.txn).encode(),
                                         self.updates)
        elif method == 'monitor_cond' and params[0] == '_Server':
            result = json.dumps(server_row()).encode()
        elif method in ('monitor_cond', 'monitor'):
            result = self.updates
        elif method == 'echo':
            result = json.dumps(msg.get('params')).encode()
        # json.dumps writes a lone surrogate as "\udcff": ASCII throughout.
        if error is not None:
            return b'{"id":%s,"result":null,"error":%s}' % (
                json.dumps(ident).encode(), json.dumps(error).encode())
        return b'{"id":%s,"error":null,"result":%s}' % (
            json.dumps(ident).encode(), result)
