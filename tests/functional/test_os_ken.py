"""df-ovsdb-controller with the L2 example app against a real ovsdb-server
and ovs-vswitchd (dummy datapath): br-int's flows follow the VM ports.

The controller runs as a child process (``df-ovsdb-controller``), br-int
speaks OpenFlow 1.3 to it on a free 127.0.0.1 port, and every check reads
the switch's flows with ``ovs-ofctl dump-flows``.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from df_ovsdb_agent.testing import sandbox
from tests.functional import osken
from tests.functional.osken import expected
from tests.functional.osken import mac
from tests.functional.osken import ofport
from tests.functional.osken import wait_flows

pytestmark = [pytest.mark.functional, pytest.mark.timeout(180)]


@pytest.fixture
def br_int(ovs):
    """(ovs, OpenFlow port) with br-int pointed at that port."""
    port = sandbox.free_port()
    osken.setup_br_int(ovs, port)
    return ovs, port


@pytest.fixture
def controllers():
    started = []

    def start(conf, *apps, env=None):
        proc = osken.start_controller(conf, *apps, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def _stop(proc):
    assert proc.stop(signal.SIGTERM) == 0
    proc.wait_line('df-ovsdb-controller stopped')
    assert not any('Traceback' in line for line in proc.lines)


def _plug(ovs, *ports):
    ovs.vsctl(*osken.plug_args(ports))


def test_flows_follow_plug_change_and_unplug(br_int, controllers, tmp_path):
    ovs, port = br_int
    ctl = controllers(osken.write_conf(tmp_path, ovs, port))
    _plug(ovs, ('tap1', mac(1)), ('tap2', mac(2)))
    # Neither a port on another bridge nor one without a MAC gets flows.
    ovs.vsctl('add-br', 'br-ex')
    ovs.vsctl(*osken.plug_args([('ext1', mac(9))], bridge='br-ex'))
    ovs.vsctl('add-port', 'br-int', 'nomac', '--', 'set', 'Interface',
              'nomac', 'external_ids:iface-id=nomac')
    p1, p2 = ofport(ovs, 'tap1'), ofport(ovs, 'tap2')
    wait_flows(ovs, expected({p1: mac(1), p2: mac(2)}))
    # SIGHUP reloads the log settings, as the daemon's; it runs on.
    ctl.proc.send_signal(signal.SIGHUP)
    ctl.wait_line('Caught SIGHUP, reloading log settings')
    # Another MAC: the old flows go, the new ones come.
    ovs.vsctl('set', 'Interface', 'tap1',
              'external_ids:attached-mac=%s' % mac(11))
    wait_flows(ovs, expected({p1: mac(11), p2: mac(2)}))
    # Another ofport.
    ovs.vsctl('set', 'Interface', 'tap2', 'ofport_request=42')
    assert ofport(ovs, 'tap2') == 42
    wait_flows(ovs, expected({p1: mac(11), 42: mac(2)}))
    ovs.vsctl('del-port', 'tap1')
    wait_flows(ovs, expected({42: mac(2)}))
    ovs.vsctl('del-port', 'tap2')
    wait_flows(ovs, set())
    _stop(ctl)


def test_200_ports_in_one_transaction(br_int, controllers, tmp_path):
    ovs, port = br_int
    ctl = controllers(osken.write_conf(tmp_path, ovs, port))
    ctl.wait_line('sync finished')
    names = [('vm%d' % i, mac(i)) for i in range(200)]
    _plug(ovs, *names)
    want = expected({ofport(ovs, name): address for name, address in names})
    assert len(want) == 400
    wait_flows(ovs, want, timeout=60)
    ovs.vsctl(*[a for name, _ in names[:100]
                for a in ('--', 'del-port', name)][1:])
    wait_flows(ovs, expected({ofport(ovs, name): address
                              for name, address in names[100:]}), timeout=60)
    _stop(ctl)


def test_vswitchd_kill9_and_restart_reinstalls_every_flow(
        br_int, controllers, tmp_path):
    ovs, port = br_int
    ctl = controllers(osken.write_conf(tmp_path, ovs, port))
    names = [('vm%d' % i, mac(i)) for i in range(20)]
    _plug(ovs, *names)
    wait_flows(ovs, expected({ofport(ovs, n): m for n, m in names}))
    ctl.wait_line('br-int connected')
    ctl.lines.clear()
    ovs.stop_vswitchd(signal.SIGKILL)
    ovs.start_vswitchd()
    mgmt = os.path.join(ovs.dir, 'br-int.mgmt')
    sandbox.wait_for(lambda: sandbox.unix_listening(mgmt), 30, mgmt)
    # The restarted switch has no flow at all (the foreign one is gone
    # too: put it back as its owner would).
    osken.ofctl(ovs, 'add-flow', 'cookie=%#x,table=5,priority=7,'
                'dl_dst=02:00:00:00:00:99,actions=drop' % osken.FOREIGN)
    wait_flows(ovs, expected({ofport(ovs, n): m for n, m in names}))
    ctl.wait_line('br-int connected')   # the new switch: all re-installed
    _stop(ctl)


def test_controller_restart_removes_flows_of_ports_unplugged_meanwhile(
        br_int, controllers, tmp_path):
    ovs, port = br_int
    conf = osken.write_conf(tmp_path, ovs, port)
    ctl = controllers(conf)
    _plug(ovs, ('tap1', mac(1)), ('tap2', mac(2)))
    p1, p2 = ofport(ovs, 'tap1'), ofport(ovs, 'tap2')
    wait_flows(ovs, expected({p1: mac(1), p2: mac(2)}))
    _stop(ctl)
    ovs.vsctl('del-port', 'tap1')
    # The switch keeps the flows while no controller runs (secure mode).
    assert osken.flows(ovs) == expected({p1: mac(1), p2: mac(2)})
    ctl = controllers(conf)
    wait_flows(ovs, expected({p2: mac(2)}))
    _stop(ctl)


def test_an_app_of_our_own_observes_the_typed_events(br_int, controllers,
                                                     tmp_path):
    ovs, port = br_int
    record = tmp_path / 'events.jsonl'
    ctl = controllers(osken.write_conf(tmp_path, ovs, port),
                      'tests.functional.os_ken_recorder',
                      env=dict(os.environ, DF_OSKEN_RECORD=str(record)))
    dpid = int(ovs.vsctl('get', 'Bridge', 'br-int',
                         'datapath_id').strip().strip('"'), 16)

    def records():
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines()]

    def wait(predicate, what):
        sandbox.wait_for(lambda: predicate(records()), 30, what)
        return records()

    wait(lambda r: any(x['event'] == 'reply' for x in r), 'the first sync')
    _plug(ovs, ('tap1', mac(1)))
    wait(lambda r: any(x.get('name') == 'tap1' for x in r), 'tap1 online')
    ovs.vsctl('set', 'Interface', 'tap1',
              'external_ids:attached-mac=%s' % mac(5))
    wait(lambda r: any(x['event'] == 'EventInterfaceUpdated' and
                       'attached_mac' in x['changed'] for x in r),
         'the update')
    ovs.vsctl('del-port', 'tap1')
    got = wait(lambda r: any(x['event'] == 'EventInterfaceOffline'
                             for x in r), 'tap1 offline')
    kinds = [x['event'] for x in got if x.get('name') in (None, 'tap1')
             and x['event'] != 'reply']
    assert kinds[:2] == ['EventSyncStarted', 'EventSyncFinished']
    tap1 = [x for x in got if x.get('name') == 'tap1']
    assert tap1[0]['event'] == 'EventInterfaceOnline'
    assert tap1[-1]['event'] == 'EventInterfaceOffline'
    assert {x['event'] for x in tap1[1:-1]} == {'EventInterfaceUpdated'}
    assert all(x['datapath_id'] == dpid for x in tap1)
    reply = next(x for x in got if x['event'] == 'reply')
    assert reply['synced'] is True and reply['names'] == []
    assert reply['datapath_ids'] == {'br-int': dpid}
    _stop(ctl)


def test_sigterm_while_waiting_for_ovsdb_exits_0(controllers, tmp_path):
    class Nowhere:
        remote = 'tcp:127.0.0.1:%d' % sandbox.free_port()

    ctl = controllers(osken.write_conf(tmp_path, Nowhere,
                                       sandbox.free_port()))
    ctl.wait_line('retrying in')
    _stop(ctl)


def test_bad_input_gives_one_line_and_a_non_zero_exit(br_int, tmp_path):
    ovs, port = br_int
    conf = osken.write_conf(tmp_path, ovs, port,
                            extra='[ovsdb]\nconnection = bogus:1')
    for args, needle in (
            ([], 'no os-ken app module given'),
            (['no.such.module'], 'cannot load os-ken app'),
            (['json'], 'json is not an os-ken app module')):
        ctl = osken.start_controller(conf, *args) if args else \
            osken.Proc([osken.script('df-ovsdb-controller'),
                        '--config-file', conf])
        assert ctl.proc.wait(60) != 0
        ctl.wait_line(needle)
        assert not any('Traceback' in line for line in ctl.lines)


def test_eventlet_hub(br_int, controllers, tmp_path):
    """Under os-ken's eventlet hub (the controller monkey-patches
    everything first) flows follow ports and SIGTERM still exits 0.
    """
    ovs, port = br_int
    ctl = controllers(osken.write_conf(tmp_path, ovs, port),
                      env=dict(os.environ, OSKEN_HUB_TYPE='eventlet'))
    _plug(ovs, ('tap1', mac(1)), ('tap2', mac(2)))
    p1, p2 = ofport(ovs, 'tap1'), ofport(ovs, 'tap2')
    wait_flows(ovs, expected({p1: mac(1), p2: mac(2)}))
    ovs.vsctl('del-port', 'tap1')
    wait_flows(ovs, expected({p2: mac(2)}))
    _stop(ctl)


EMBED = """
import os
os.environ['OSKEN_HUB_TYPE'] = 'eventlet'
from os_ken.lib import hub
hub.patch(thread=False)     # what ryu-manager used to do
from os_ken.base import app_manager
from df_ovsdb_agent.exceptions import AgentError
manager = app_manager.AppManager.get_instance()
manager.load_apps(['df_ovsdb_agent.os_ken.app'])
try:
    manager.instantiate_apps(**manager.create_contexts())
except AgentError as exc:
    print('refused: %s' % exc)
    raise SystemExit(3)
"""


def test_eventlet_hub_half_patched_is_refused_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, '-c', EMBED], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    [line] = out.stdout.splitlines()
    assert 'eventlet.monkey_patch()' in line
    assert 'not patched: thread' in line
