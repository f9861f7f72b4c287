"""Interface semantics controllers need, against a real ovs-vswitchd.

Bridge membership, VM ports limited to chosen bridges, link/admin state
and MAC in use, the chassis identity, duplicate iface-ids, and no event for
what a controller does not care about.
"""

import json
import logging
import os
import socket
import subprocess
import urllib.request

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent import metrics
from df_ovsdb_agent.testing import sandbox
from tests.functional.procs import script
from tests.helpers import vsctl_vm
from tests.recorder import Recorder


def appctl(ovs, *args):
    return subprocess.run(
        ['ovs-appctl', '-t', os.path.join(ovs.dir, 'ovs-vswitchd.ctl')] +
        list(args), check=True, capture_output=True, text=True).stdout


def vm(ovs, bridge, name, iface_id):
    ovs.vsctl(*vsctl_vm(name, iface_id, bridge=bridge,
                        mac='fa:16:3e:00:00:01'))


def watch(ovs, **policy):
    agent = Agent(ovs.remote, policy=Policy(**policy))
    rec = Recorder()
    agent.subscribe(rec, name='rec')
    agent.start()
    return agent, rec


def test_events_carry_the_bridge_and_vm_bridges_limits_vm_ports(ovs):
    ovs.vsctl('add-br', 'br-int', '--', 'add-br', 'br-ex')
    vm(ovs, 'br-int', 'tap-int', 'p-int')
    vm(ovs, 'br-ex', 'tap-ex', 'p-ex')
    anywhere, rec_any = watch(ovs)
    only_int, rec_int = watch(ovs, vm_bridges=frozenset(['br-int']))
    try:
        for rec in (rec_any, rec_int):
            rec.wait_sync('finished')
        bridges = {e.name: e.interface.bridge
                   for e in rec_any.interface_events()}
        assert bridges == {'br-int': 'br-int', 'br-ex': 'br-ex',
                           'tap-int': 'br-int', 'tap-ex': 'br-ex'}
        assert sorted(rec_int.summary()) == [
            ('bridge', 'online', 'br-ex'), ('bridge', 'online', 'br-int'),
            ('vm', 'online', 'tap-int')]
        # A VM port plugged into br-ex later is still not a VM there.
        vm(ovs, 'br-ex', 'tap-ex2', 'p-ex2')
        vm(ovs, 'br-int', 'tap-int2', 'p-int2')
        rec_any.wait_event(name='tap-int2', action='online')
        rec_int.wait_event(name='tap-int2', action='online')
        assert 'tap-ex2' in [e.name for e in rec_any.interface_events()]
        assert 'tap-ex2' not in [e.name for e in rec_int.interface_events()]
    finally:
        anywhere.stop()
        only_int.stop()


def test_moving_an_interface_between_bridges_is_updated(ovs):
    ovs.vsctl('add-br', 'br-int', '--', 'add-br', 'br-ex')
    vm(ovs, 'br-int', 'tap1', 'p1')
    agent, rec = watch(ovs)
    only_int, rec_int = watch(ovs, vm_bridges=frozenset(['br-int']))
    filtered = Recorder()
    agent.subscribe(filtered, bridges=['br-int'], replay=True)
    try:
        rec.wait_sync('finished')
        filtered.wait_event(name='tap1', action='online')
        port = ovs.vsctl('get', 'Port', 'tap1', '_uuid').strip()
        # The same Port and Interface rows move, in one transaction.
        ovs.vsctl('remove', 'Bridge', 'br-int', 'ports', port, '--',
                  'add', 'Bridge', 'br-ex', 'ports', port)
        events = rec.wait_event(name='tap1', action='updated',
                                bridge='br-ex')
        # The same interface, updated: never offline and online again.
        assert [e.action.value for e in events
                if getattr(e, 'name', None) == 'tap1'][0] == 'online'
        assert 'offline' not in [e.action.value for e in events
                                 if getattr(e, 'name', None) == 'tap1']
        # A subscriber of br-int only, and an agent counting VM ports on
        # br-int only, see it leave.
        filtered.wait_event(name='tap1', action='offline')
        rec_int.wait_event(name='tap1', action='offline')
    finally:
        agent.stop()
        only_int.stop()


def test_link_admin_state_and_mac_in_use(ovs):
    ovs.vsctl('add-br', 'br-int')
    agent, rec = watch(ovs)
    try:
        vm(ovs, 'br-int', 'tap1', 'p1')
        # vswitchd fills mac_in_use and the states once it runs the port.
        rec.wait_for(lambda evs: any(
            getattr(e, 'name', None) == 'tap1' and
            e.interface.mac_in_use and e.interface.link_state == 'up' and
            e.interface.admin_state == 'up' for e in evs))
        appctl(ovs, 'netdev-dummy/set-admin-state', 'tap1', 'down')
        rec.wait_event(name='tap1', action='updated', admin_state='down',
                       link_state='down')
        appctl(ovs, 'netdev-dummy/set-admin-state', 'tap1', 'up')
        rec.wait_event(name='tap1', action='updated', admin_state='up',
                       link_state='up')
        online = [i for i in agent.interfaces() if i.name == 'tap1'][0]
        assert online.mac_in_use and online.mac_in_use.count(':') == 5
    finally:
        agent.stop()


def test_other_external_ids_keys_give_no_event(ovs):
    ovs.vsctl('add-br', 'br-int')
    vm(ovs, 'br-int', 'tap1', 'p1')
    agent, rec = watch(ovs)
    try:
        rec.wait_sync('finished')
        rec.wait_for(lambda evs: any(
            getattr(e, 'name', None) == 'tap1' and e.interface.mac_in_use
            for e in evs))
        before = len(rec.events)
        ovs.vsctl('set', 'Interface', 'tap1',
                  'external_ids:ovn-installed=true')
        ovs.vsctl('set', 'Interface', 'tap1',
                  'external_ids:ovn-installed-ts=12345')
        # A change that does give an event, after them: the marker.
        vm(ovs, 'br-int', 'tap2', 'p2')
        rec.wait_event(name='tap2', action='online')
        after = [e for e in rec.events[before:]
                 if getattr(e, 'name', None) == 'tap1']
        assert after == []
    finally:
        agent.stop()


def test_chassis_identity_set_changed_absent(ovs, caplog):
    caplog.set_level(logging.INFO, logger='df_ovsdb_agent.agent')
    ovs.vsctl('add-br', 'br-int')
    agent, rec = watch(ovs)
    try:
        rec.wait_sync('finished')
        assert agent.chassis.system_id is None
        ovs.vsctl('set', 'Open_vSwitch', '.',
                  'external_ids:system-id=chassis-1',
                  'external_ids:hostname=hv1.example')
        sandbox.wait_for(lambda: agent.chassis.system_id == 'chassis-1', 10,
                         'the system-id')
        assert agent.host == 'chassis-1'
        assert agent.chassis.hostname == 'hv1.example'
        ovs.vsctl('set', 'Open_vSwitch', '.',
                  'external_ids:system-id=chassis-2')
        sandbox.wait_for(lambda: agent.chassis.system_id == 'chassis-2', 10,
                         'the new system-id')
        changed = [r.getMessage() for r in caplog.records
                   if 'system-id/hostname changed' in r.getMessage()]
        assert changed == ['Open vSwitch system-id/hostname changed from '
                           'chassis-1/hv1.example to chassis-2/hv1.example']
    finally:
        agent.stop()
    out = subprocess.run([script('df-ovsdb-events'), '--connection',
                          ovs.remote, '--once'], capture_output=True,
                         text=True, timeout=60)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    # A fresh process learns the chassis with its first dump.
    assert lines[0] == {'sync': 'started', 'chassis': None}
    assert lines[-1] == {'sync': 'finished', 'chassis': 'chassis-2'}


def test_chassis_removed_falls_back_to_the_hostname(ovs):
    ovs.vsctl('set', 'Open_vSwitch', '.', 'external_ids:system-id=c-9')
    agent, rec = watch(ovs)
    try:
        rec.wait_sync('finished')
        assert agent.host == 'c-9'
        ovs.vsctl('remove', 'Open_vSwitch', '.', 'external_ids', 'system-id')
        sandbox.wait_for(lambda: agent.chassis.system_id is None, 10,
                         'the system-id to go')
        assert agent.host == socket.gethostname()
        assert Agent(ovs.remote, host='configured').host == 'configured'
        # A system-id that would break store keys is not a host id.
        ovs.vsctl('set', 'Open_vSwitch', '.',
                  'external_ids:system-id="a/b:c"')
        sandbox.wait_for(lambda: agent.chassis.system_id == 'a/b:c', 10,
                         'the odd system-id')
        assert agent.host == socket.gethostname()
    finally:
        agent.stop()


def test_duplicate_iface_id_warns_naming_both(ovs, caplog):
    caplog.set_level(logging.WARNING, logger='df_ovsdb_agent.agent')
    ovs.vsctl('add-br', 'br-int')
    vm(ovs, 'br-int', 'tap1', 'same-port')
    agent, rec = watch(ovs)
    try:
        rec.wait_sync('finished')
        assert agent.iface_id_conflicts == 0
        vm(ovs, 'br-int', 'tap2', 'same-port')
        rec.wait_event(name='tap2', action='online')
        warnings = [r.getMessage() for r in caplog.records
                    if 'carry the same iface-id' in r.getMessage()]
        assert warnings == ['Interfaces tap1 and tap2 carry the same '
                            'iface-id same-port']
        assert agent.iface_id_conflicts == 1
        server = metrics.MetricsServer(agent, '127.0.0.1', 0)
        server.start()
        try:
            with urllib.request.urlopen(server.url + '/metrics') as reply:
                text = reply.read().decode()
        finally:
            server.stop()
        assert 'df_ovsdb_agent_iface_id_conflicts 1.0' in text
        # Events still describe what OVSDB says: both are online.
        assert sorted(i.name for i in agent.interfaces()
                      if i.kind == 'vm') == ['tap1', 'tap2']
        ovs.vsctl('del-port', 'tap2')
        rec.wait_event(name='tap2', action='offline')
        assert agent.iface_id_conflicts == 0
    finally:
        agent.stop()
