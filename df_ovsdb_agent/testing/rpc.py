"""A minimal blocking OVSDB JSON-RPC client on the stdlib's C JSON codec.

Deliberately independent of python-ovs and of the agent's own read path,
so the tool that drives the database shares no code with what is tested
or measured: one request at a time, echo probes answered while waiting.
"""

import codecs
import json
import socket
import time
from typing import Any, Optional

DATABASE = 'Open_vSwitch'


class RpcError(RuntimeError):
    """The server answered with an error, did not answer in time, or the
    connection broke.
    """


def _connect(remote: str, timeout: float) -> socket.socket:
    kind, _, rest = remote.partition(':')
    if kind == 'tcp':
        host, _, port = rest.rpartition(':')
        return socket.create_connection((host, int(port)), timeout)
    if kind == 'unix':
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout)
        try:
            sock.connect(rest)
        except OSError:
            sock.close()
            raise
        return sock
    raise ValueError('unsupported remote %r' % remote)


class Client:
    """One JSON-RPC session to ovsdb-server (``tcp:`` or ``unix:``).

    ``timeout`` bounds the connect and each call.  ovsdb-server drops a
    session that leaves its echo probe unanswered (5 s + 5 s) and this
    client only answers while it waits for a reply: with
    ``reconnect_idle`` set, a call after that many idle seconds starts a
    fresh session first (for drivers that pause between bursts).
    """

    def __init__(self, remote: str, timeout: float = 5.0,
                 reconnect_idle: Optional[float] = None) -> None:
        self.remote = remote
        self.timeout = timeout
        self.reconnect_idle = reconnect_idle
        self.sock = _connect(remote, timeout)
        self.bytes_received = 0
        self._decoder = json.JSONDecoder()
        self._buf = ''
        self._utf8 = codecs.getincrementaldecoder('utf-8')()
        self._next_id = 0
        self._last_used = time.monotonic()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> 'Client':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, params: list,
             timeout: Optional[float] = None) -> Any:
        """Send one request and return its result; raise :class:`RpcError`
        on an error answer or when no answer came within ``timeout``.
        """
        if (self.reconnect_idle is not None
                and time.monotonic() - self._last_used > self.reconnect_idle):
            self.sock.close()
            self.sock = _connect(self.remote, self.timeout)
            self._buf = ''
            self._utf8.reset()
        try:
            self._next_id += 1
            msg_id = self._next_id
            self._send({'method': method, 'params': params, 'id': msg_id})
            limit = timeout or self.timeout
            deadline = time.monotonic() + limit
            while True:
                msg = self._recv(deadline, limit)
                if msg.get('method') == 'echo':
                    self._send({'result': msg.get('params'), 'error': None,
                                'id': msg.get('id')})
                elif msg.get('id') == msg_id:
                    if msg.get('error'):
                        raise RpcError('%s failed: %s'
                                       % (method, msg['error']))
                    return msg.get('result')
        finally:
            self._last_used = time.monotonic()

    def transact(self, *ops: dict, db: str = DATABASE,
                 timeout: Optional[float] = None) -> list:
        """Run one transaction; raise :class:`RpcError` if any op failed."""
        result = self.call('transact', [db] + list(ops), timeout)
        for i, res in enumerate(result):
            if isinstance(res, dict) and 'error' in res:
                op = ops[i] if i < len(ops) else None
                raise RpcError('transaction failed: %s (%s) in %s'
                               % (res['error'], res.get('details'), op))
        return result

    def _send(self, msg: dict) -> None:
        self.sock.sendall(json.dumps(msg, separators=(',', ':')).encode())

    def _recv(self, deadline: float, limit: float) -> dict:
        while True:
            msg = self._try_decode()
            if msg is not None:
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RpcError('no answer within %ss' % limit)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                raise RpcError('no answer within %ss' % limit)
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
        if not isinstance(msg, dict):
            raise RpcError('not a JSON-RPC message: %.80r' % (msg,))
        return msg


def wait_connectable(remote: str, within: float, **options: Any) -> Client:
    """Connect, retrying for ``within`` seconds (server just (re)started);
    ``options`` go to :class:`Client`.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            client = Client(remote, **options)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        try:
            client.call('list_dbs', [])
            return client
        except (OSError, RpcError):
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
