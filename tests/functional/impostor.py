"""A local impostor of ovsdb-server, run as its own process (e.g. as
``nobody`` under ``setpriv``): it answers the agent's requests with a real
Open_vSwitch schema and a forged dump -- one VM port ``tap-victim`` with
``iface-id`` :data:`FORGED_IFACE_ID` and the ``system-id``
:data:`FORGED_CHASSIS` -- to show what believing it would mean.

Usage: ``python -m tests.functional.impostor tcp:127.0.0.1:PORT`` (or
``unix:PATH``); prints ``listening`` once it accepts connections and serves
until killed.
"""

import json
import signal
import sys
import threading
from typing import Iterator

from tests.functional import faults

FORGED_IFACE_ID = 'victim-port'
FORGED_CHASSIS = 'victim-chassis'
_U = '11111111-1111-4111-8111-%012d'


def forged_dump() -> dict:
    """update2 ``initial`` rows: one bridge, one port, one VM interface."""
    system, bridge, port, iface = (_U % i for i in range(1, 5))
    return {
        'Open_vSwitch': {system: {'initial': {'external_ids': faults.ovs_map(
            {'system-id': FORGED_CHASSIS})}}},
        'Bridge': {bridge: {'initial': {'name': 'br-int',
                                        'ports': ['uuid', port]}}},
        'Port': {port: {'initial': {'interfaces': ['uuid', iface]}}},
        'Interface': {iface: {'initial': {
            'name': 'tap-victim', 'type': '', 'ofport': 7,
            'external_ids': faults.ovs_map(
                {'iface-id': FORGED_IFACE_ID,
                 'attached-mac': 'fa:16:3e:00:00:66'}),
            'options': ['map', []]}}},
    }


def requests(conn) -> Iterator[dict]:
    """Every message the client sends, in order.

    (Not :func:`faults.read_request`, which drops whatever follows the
    first message in a read: the agent sends ``set_db_change_aware`` and
    the monitor request back to back.)
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


def behaviour(conn) -> None:
    with open(faults.SCHEMA) as f:
        schema = json.load(f)
    for msg in requests(conn):
        method, ident = msg.get('method'), msg.get('id')
        if method == 'echo':
            reply = {'id': ident, 'result': msg.get('params'), 'error': None}
        elif method == 'get_schema':
            reply = {'id': ident, 'result': schema, 'error': None}
        elif method == 'monitor_cond_since':
            reply = {'id': ident, 'error': None, 'result': [
                False, _U % 99, forged_dump()]}
        elif method == 'monitor_cond' and msg.get('params', [None])[0] == \
                '_Server':
            # A real server's _Server row: a standalone database, which
            # the agent's freshness check has nothing to refuse in.
            reply = {'id': ident, 'error': None, 'result': faults.server_row()}
        elif ident is not None:
            reply = {'id': ident, 'result': {}, 'error': None}
        else:
            continue
        conn.sendall(json.dumps(reply).encode())


def main(remote: str) -> None:
    method, _, rest = remote.partition(':')
    if method == 'unix':
        server = faults.HostileServer(behaviour, unix_path=rest)
    else:
        server = faults.HostileServer(behaviour, int(rest.rpartition(':')[2]))
    print('listening', flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == '__main__':
    main(sys.argv[1])
