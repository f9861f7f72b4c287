"""Helpers for the os-ken tests: br-int under a ``df-ovsdb-controller``
child, and its flows as ``ovs-ofctl`` dumps them.
"""

import os
import re
import subprocess

from df_ovsdb_agent.os_ken import l2
from df_ovsdb_agent.testing import sandbox
from tests.functional.procs import Proc
from tests.functional.procs import script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
COOKIE = l2.L2_OPTS[1].default
FOREIGN = 0x99
FLOW = re.compile(r'cookie=(0x[0-9a-f]+),.*table=(\d+),.*priority=\d+,?'
                  r'(\S*) actions=(\S+)')


def setup_br_int(ovs, port):
    """br-int speaking OpenFlow 1.3 to a controller on ``port``; secure
    fail mode, so the switch keeps its flows while the controller is away.
    """
    ovs.vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int',
              'protocols=OpenFlow13', 'fail_mode=secure')
    ovs.vsctl('set-controller', 'br-int', 'tcp:127.0.0.1:%d' % port)
    # A flow of someone else, which the L2 app must never touch.
    ofctl(ovs, 'add-flow', 'cookie=%#x,table=5,priority=7,'
          'dl_dst=02:00:00:00:00:99,actions=drop' % FOREIGN)


def ofctl(ovs, *args):
    out = subprocess.run(
        ['ovs-ofctl', '-O', 'OpenFlow13', args[0],
         'unix:%s/br-int.mgmt' % ovs.dir] + list(args[1:]),
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def flows(ovs, cookie=COOKIE):
    """{(table, match, actions)} of the flows with ``cookie``."""
    found = set()
    for line in ofctl(ovs, 'dump-flows').splitlines():
        m = FLOW.search(line)
        if m and int(m.group(1), 16) == cookie:
            found.add((int(m.group(2)), m.group(3), m.group(4)))
    return found


def expected(ports):
    """The L2 app's flows for {ofport: mac}."""
    want = set()
    for ofport, mac in ports.items():
        want.add((0, 'in_port=%d,dl_src=%s' % (ofport, mac), 'goto_table:1'))
        want.add((1, 'dl_dst=%s' % mac, 'output:%d' % ofport))
    return want


def foreign():
    return {(5, 'dl_dst=02:00:00:00:00:99', 'drop')}


def wait_flows(ovs, want, timeout=30):
    """Wait until the app's flows are exactly ``want`` (and the foreign
    flow is still there).
    """
    last = []

    def done():
        last[:] = [flows(ovs), flows(ovs, FOREIGN)]
        return last[0] == want and last[1] == foreign()

    try:
        sandbox.wait_for(done, timeout, 'flows', interval=0.02)
    except sandbox.SandboxError:
        raise AssertionError('flows: missing %s, extra %s, foreign %s' % (
            sorted(want - last[0])[:6], sorted(last[0] - want)[:6],
            last[1]))


def ofport(ovs, name):
    return int(ovs.vsctl('get', 'Interface', name, 'ofport'))


def mac(i):
    return 'fa:16:3e:%02x:%02x:%02x' % (i >> 16 & 255, i >> 8 & 255, i & 255)


def plug_args(names_macs, bridge='br-int'):
    """ovs-vsctl arguments that plug VM ports in one transaction."""
    args = []
    for name, address in names_macs:
        args += ['--', 'add-port', bridge, name, '--', 'set', 'Interface',
                 name, 'external_ids:iface-id=%s' % name,
                 'external_ids:attached-mac=%s' % address]
    return args[1:]


def write_conf(tmp_path, ovs, port, extra=''):
    path = tmp_path / 'controller.conf'
    path.write_text('[DEFAULT]\nofp_listen_host = 127.0.0.1\n'
                    'ofp_tcp_listen_port = %d\n%s\n[ovsdb]\n'
                    'connection = %s\ntimeout = 2\n[agent]\n'
                    'shutdown_timeout = 5\n' % (port, extra, ovs.remote))
    return str(path)


def start_controller(conf, *apps, env=None):
    """``df-ovsdb-controller --config-file conf apps...`` as a child."""
    env = dict(env or os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return Proc([script('df-ovsdb-controller'), '--config-file', conf] +
                list(apps or ['df_ovsdb_agent.os_ken.l2']), env=env)
