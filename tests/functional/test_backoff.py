"""A server that breaks every session right after its sync is backed off.

The reconnect backoff starts over only when a connection stayed healthy
for a while after its sync (``HEALTHY_AFTER_SYNC``), not whenever a sync
completed: else a peer that sends a rejected message right after each
sync gets a full reconnect (and dump) every ~0.1 s.

The peer is a :class:`HostileServer` speaking just enough OVSDB
(the real Open_vSwitch schema, an empty dump) to complete a sync, then a
malformed ``update3``.
"""

import json
import socket
import time

from df_ovsdb_agent.ovsdb import monitor as monitor_lib
from df_ovsdb_agent.testing.fake_ovsdb import HostileServer
from df_ovsdb_agent.testing.sandbox import SCHEMA
from df_ovsdb_agent.testing.sandbox import wait_for

with open(SCHEMA) as _f:
    VSWITCH_SCHEMA = json.load(_f)


class _Stream:
    """JSON-RPC messages from one client socket, several per read kept."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buf = ''
        self.decoder = json.JSONDecoder()

    def next(self):
        while True:
            text = self.buf.lstrip()
            if text:
                try:
                    msg, end = self.decoder.raw_decode(text)
                    self.buf = text[end:]
                    return msg
                except ValueError:
                    pass
            data = self.conn.recv(1 << 16)
            if not data:
                return None
            self.buf = text + data.decode()


def _reply(conn, msg, result=None, error=None):
    conn.sendall(json.dumps({'id': msg['id'], 'result': result,
                             'error': error}).encode())


def sync_then_break(conn: socket.socket) -> None:
    """Serve one sync with an empty dump, then a malformed update3."""
    conn.settimeout(10)
    stream = _Stream(conn)
    while True:
        msg = stream.next()
        if msg is None:
            return
        method = msg.get('method')
        if method == 'get_schema':
            _reply(conn, msg, VSWITCH_SCHEMA)
        elif method == 'monitor_cond_since':
            _reply(conn, msg, [False, 'txn-1', {}])
            # Rejected by the agent: the session ends, right after a
            # completed sync.
            conn.sendall(json.dumps({'id': None, 'method': 'update3',
                                     'params': [msg['params'][1]]}).encode())
        elif method == 'echo':
            _reply(conn, msg, msg.get('params'))
        elif msg.get('id') is not None:
            # set_db_change_aware; _Server: an older server without it.
            _reply(conn, msg, error='unknown database')


def _connections_during(server, seconds):
    """Accepts counted over a window: the measurement is a rate, so the
    window is a duration, not a wait for something that will happen.
    """
    before = server.connections
    time.sleep(seconds)
    return server.connections - before


def test_sync_then_break_does_not_reset_the_backoff(make_agent):
    server = HostileServer(sync_then_break)
    try:
        agent = make_agent(server.remote, probe_interval=0)
        agent.start()
        began = time.monotonic()
        # Each session does complete its sync before it breaks.
        wait_for(lambda: agent.monitor.syncs >= 3, 10,
                 'syncs on reconnects')
        # The first 3 s of an outage are tried fast (most outages are
        # restarts); after that at most one attempt per max_backoff / 2
        # (the delay is jittered down by up to half).
        time.sleep(max(0.0, began + 3.5 - time.monotonic()))
        window = 4.0
        during = _connections_during(server, window)
        max_backoff = agent.settings.max_backoff / 1000.0
        bound = int(window / (max_backoff / 2)) + 1
        assert during <= bound, (during, bound)
        assert monitor_lib.HEALTHY_AFTER_SYNC >= 3 * max_backoff
        print('\nsync-then-break peer: %d reconnects in %.0f s after the '
              'first 3.5 s (bound %d); %d in all' % (
                  during, window, bound, server.connections))
    finally:
        server.stop()
