"""A local impostor of ovsdb-server, run as its own process (e.g. as
``nobody`` under ``setpriv``): it answers the agent's requests with a real
Open_vSwitch schema and a forged dump -- one VM port ``tap-victim`` with
``iface-id`` :data:`FORGED_IFACE_ID` and the ``system-id``
:data:`FORGED_CHASSIS` -- to show what believing it would mean.

Usage: ``python -m tests.functional.impostor tcp:127.0.0.1:PORT`` (or
``unix:PATH``); prints ``listening`` once it accepts connections and serves
until killed.
"""

import signal
import sys
import threading

from df_ovsdb_agent.testing.fake_ovsdb import FakeOvsdb
from tests.functional.ovsdb_ops import ovs_map

FORGED_IFACE_ID = 'victim-port'
FORGED_CHASSIS = 'victim-chassis'
_U = '11111111-1111-4111-8111-%012d'


def forged_dump() -> dict:
    """update2 ``initial`` rows: one bridge, one port, one VM interface."""
    system, bridge, port, iface = (_U % i for i in range(1, 5))
    return {
        'Open_vSwitch': {system: {'initial': {'external_ids': ovs_map(
            {'system-id': FORGED_CHASSIS})}}},
        'Bridge': {bridge: {'initial': {'name': 'br-int',
                                        'ports': ['uuid', port]}}},
        'Port': {port: {'initial': {'interfaces': ['uuid', iface]}}},
        'Interface': {iface: {'initial': {
            'name': 'tap-victim', 'type': '', 'ofport': 7,
            'external_ids': ovs_map(
                {'iface-id': FORGED_IFACE_ID,
                 'attached-mac': 'fa:16:3e:00:00:66'}),
            'options': ['map', []]}}},
    }


def main(remote: str) -> None:
    method, _, rest = remote.partition(':')
    # The real schema, a standalone _Server row (nothing for the agent's
    # freshness check to refuse) and the forged dump.
    if method == 'unix':
        server = FakeOvsdb(forged_dump(), txn=_U % 99, unix_path=rest)
    else:
        server = FakeOvsdb(forged_dump(), txn=_U % 99,
                           port=int(rest.rpartition(':')[2]))
    print('listening', flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == '__main__':
    main(sys.argv[1])
