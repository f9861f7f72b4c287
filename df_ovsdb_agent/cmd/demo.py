"""``df-ovsdb-demo``: watch the agent work, against a real Open vSwitch.

If an OVSDB answers at the configured remote, the demo only watches it (it
never changes an operator's switch).  Otherwise it starts a sandboxed
ovsdb-server and ovs-vswitchd (dummy datapath, 127.0.0.1 only) in a
temporary directory, plugs and unplugs a bridge, a VM port, a tunnel and a
patch pair, restarts ovsdb-server, and shows every event as it arrives.
"""

import logging
import sys
import threading
import time
from typing import Optional, TYPE_CHECKING

from oslo_config import cfg

from df_ovsdb_agent.cmd import common
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent import logsafe
from df_ovsdb_agent.ovsdb import remote as remote_lib

if TYPE_CHECKING:  # pragma: no cover
    from df_ovsdb_agent.agent import Agent

PROG = 'df-ovsdb-demo'

CLI_OPTS = (
    cfg.StrOpt('connection',
               help='OVSDB remote to try first; overrides [ovsdb] '
                    'connection.'),
    cfg.FloatOpt('watch', default=30.0,
                 help='Seconds to watch an existing OVSDB before exiting.'),
)

# (what the demo says, ovs-vsctl arguments)
SCENARIO = [
    ('add the integration bridge', ['add-br', 'br-int']),
    ('plug a VM port', ['add-port', 'br-int', 'tap0c1a2b3d', '--', 'set',
                        'Interface', 'tap0c1a2b3d',
                        'external_ids:iface-id=0c1a2b3d-vm-1',
                        'external_ids:attached-mac=fa:16:3e:12:34:56']),
    ('add a tunnel bridge', ['add-br', 'br-tun']),
    ('add a VXLAN tunnel', ['add-port', 'br-tun', 'vxlan-c0000202', '--',
                            'set', 'Interface', 'vxlan-c0000202',
                            'type=vxlan', 'options:remote_ip=192.0.2.2',
                            'options:local_ip=192.0.2.1']),
    ('add a patch pair', ['add-port', 'br-int', 'patch-tun', '--', 'set',
                          'Interface', 'patch-tun', 'type=patch',
                          'options:peer=patch-int', '--', 'add-port',
                          'br-tun', 'patch-int', '--', 'set', 'Interface',
                          'patch-int', 'type=patch',
                          'options:peer=patch-tun']),
    ('change a column the agent ignores (no event expected)',
     ['set', 'Interface', 'tap0c1a2b3d', 'external_ids:owner=demo']),
    ('move the tunnel to another peer', ['set', 'Interface',
                                         'vxlan-c0000202',
                                         'options:remote_ip=192.0.2.3']),
    ('RESTART', None),
    ('unplug the VM port', ['del-port', 'tap0c1a2b3d']),
    ('remove the patch pair', ['del-port', 'patch-tun', '--', 'del-port',
                               'patch-int']),
    ('remove the tunnel bridge', ['del-br', 'br-tun']),
]


class Printer:
    """Prints events with the time since the last step."""

    def __init__(self) -> None:
        self.mark = time.monotonic()
        self.count = 0
        self.lock = threading.Lock()

    def step(self, text: str) -> None:
        with self.lock:
            print('\n>>> %s' % text, flush=True)
            self.mark = time.monotonic()

    def __call__(self, event) -> None:
        with self.lock:
            self.count += 1
            print('    +%6.1f ms  %s'
                  % ((time.monotonic() - self.mark) * 1000, event),
                  flush=True)


def _existing(remote: str) -> bool:
    """Whether an OVSDB answers at ``remote`` (a comma list: any of it)."""
    # The agent's modules (and python-ovs with them) are imported once the
    # arguments are parsed, so that --help does not wait for them.
    from df_ovsdb_agent.ovsdb import schema as schema_lib
    try:
        schema_lib.fetch_schema(remote_lib.split_remotes(remote),
                                timeout=1.0)
        return True
    except OvsdbUnreachable:
        return False


def _watch(conf, remote: str) -> int:
    printer = Printer()
    agent = _agent(conf, remote, printer)
    printer.step('watching the existing OVSDB at %s for %ss (read-only)'
                 % (remote, conf.watch))
    agent.start()
    time.sleep(conf.watch)  # an interactive demo's run time, not a wait
    agent.stop()
    return 0


def _agent(conf, remote: str, printer: Printer) -> 'Agent':
    from df_ovsdb_agent.agent import Agent
    base = Agent.from_conf(conf)
    agent = Agent(remote, settings=base.settings, policy=base.policy)
    agent.subscribe(printer, name='demo')
    return agent


def _sandbox(conf) -> int:
    from df_ovsdb_agent.testing import sandbox as sandbox_lib
    printer = Printer()
    with sandbox_lib.OvsSandbox() as box:
        print('No OVSDB answered; started a sandbox in %s:\n'
              '  ovsdb-server on %s, ovs-vswitchd with the dummy datapath'
              % (box.dir, box.remote), flush=True)
        agent = _agent(conf, box.remote, printer)
        printer.step('start the agent (initial sync of an empty switch)')
        agent.start()
        for text, args in SCENARIO:
            agent.bus.wait_idle(5)
            if args is None:
                printer.step('kill -9 ovsdb-server and restart it: the agent '
                             'resyncs and reports nothing that did not '
                             'change')
                syncs = agent.syncs
                box.restart_ovsdb()
                agent.wait_synced(15, after=syncs)
                continue
            printer.step('%s: ovs-vsctl %s' % (text, ' '.join(args)))
            box.vsctl(*args)
        agent.bus.wait_idle(5)
        agent.stop()
        print('\n%d events; online now: %s' % (
            printer.count, ', '.join(sorted(i.name for i in
                                            agent.interfaces())) or 'none'))
    return 0


def _main(argv: Optional[list]) -> int:
    conf = common.load_config(argv, PROG, CLI_OPTS, log=False)
    # The agent's own warnings (e.g. the lost connection during the restart
    # step) are part of what the demo shows.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout,
                        format='    [agent log] %(levelname)s %(message)s')
    logsafe.install_escape_filter()
    remote = conf.connection or conf.ovsdb.connection
    if _existing(remote):
        return _watch(conf, remote)
    return _sandbox(conf)


def main(argv: Optional[list] = None) -> int:
    return common.run(lambda: _main(argv), PROG)


if __name__ == '__main__':
    sys.exit(main())
