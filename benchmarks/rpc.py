"""A minimal blocking OVSDB JSON-RPC client on the stdlib's C JSON codec.

The harness writes thousands of rows per transaction and must not share
python-ovs (whose parser is one of the things measured), so it speaks the
protocol itself: one request at a time, echo probes answered while waiting.
"""

import codecs
import json
import socket
import time
from typing import Any, Optional

DATABASE = 'Open_vSwitch'


class RpcError(RuntimeError):
    """ovsdb-server answered with an error, or the connection broke."""


def _connect(remote: str, timeout: float) -> socket.socket:
    kind, _, rest = remote.partition(':')
    if kind == 'tcp':
        host, _, port = rest.rpartition(':')
        return socket.create_connection((host, int(port)), timeout)
    if kind == 'unix':
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout)
        sock.connect(rest)
        return sock
    raise ValueError('unsupported remote %r' % remote)


class Client:
    """One JSON-RPC session to ovsdb-server."""

    def __init__(self, remote: str, timeout: float = 120.0) -> None:
        self.remote = remote
        self.sock = _connect(remote, timeout)
        self._decoder = json.JSONDecoder()
        self._buf = ''
        self._utf8 = codecs.getincrementaldecoder('utf-8')()
        self._next_id = 0
        self.bytes_received = 0
        self._timeout = timeout
        self._last_used = time.monotonic()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> 'Client':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, method: str, params: list) -> int:
        """Send a request without waiting; returns its id."""
        self._next_id += 1
        msg = {'method': method, 'params': params, 'id': self._next_id}
        self.sock.sendall(json.dumps(msg, separators=(',', ':')).encode())
        return self._next_id

    def wait(self, request_id: int) -> Any:
        """Read messages until the reply to ``request_id``; answer echoes."""
        while True:
            msg = self._recv_message()
            if msg.get('method') == 'echo':
                self.sock.sendall(json.dumps(
                    {'result': msg['params'], 'id': msg['id']}).encode())
                continue
            if msg.get('id') != request_id:
                continue
            if msg.get('error'):
                raise RpcError('%s' % (msg['error'],))
            return msg['result']

    def call(self, method: str, params: list) -> Any:
        # ovsdb-server drops a session that leaves its echo probe
        # unanswered (5 s + 5 s), and this client only answers while it
        # waits for a reply: after a long pause, start a fresh session.
        if time.monotonic() - self._last_used > 4.0:
            self.sock.close()
            self.sock = _connect(self.remote, self._timeout)
            self._buf = ''
        try:
            return self.wait(self.send(method, params))
        finally:
            self._last_used = time.monotonic()

    def transact(self, ops: list, database: str = DATABASE) -> list:
        """Run one transaction; raise on any failed operation."""
        result = self.call('transact', [database] + ops)
        for i, res in enumerate(result):
            if isinstance(res, dict) and 'error' in res:
                raise RpcError('operation %d failed: %s' % (i, res))
        return result

    def _recv_message(self) -> dict:
        while True:
            msg = self._try_decode()
            if msg is not None:
                return msg
            data = self.sock.recv(1 << 20)
            if not data:
                raise RpcError('connection to %s closed' % self.remote)
            self.bytes_received += len(data)
            self._buf += self._utf8.decode(data)

    def _try_decode(self) -> Optional[dict]:
        # ovsdb-server frames nothing: messages are concatenated objects.
        # Only try when the buffer could end a message, to stay linear.
        buf = self._buf.lstrip()
        if not buf.endswith('}'):
            self._buf = buf
            return None
        try:
            msg, end = self._decoder.raw_decode(buf)
        except ValueError:
            self._buf = buf
            return None
        self._buf = buf[end:]
        return msg


def wait_connectable(remote: str, timeout: float) -> Client:
    """Connect, retrying until ``timeout`` (server just (re)started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client = Client(remote)
            client.call('list_dbs', [])
            return client
        except (OSError, RpcError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
