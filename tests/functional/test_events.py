"""Each kind goes online, updated and offline against a real Open vSwitch."""

import pytest

from tests.recorder import Recorder
from tests.recorder import replay_state


@pytest.fixture
def watched(ovs, make_agent):
    """A running agent on the sandbox with br-int present, and a recorder."""
    ovs.vsctl('add-br', 'br-int')
    agent = make_agent(ovs.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_for(lambda evs: rec.summary(evs) ==
                 [('bridge', 'online', 'br-int')])
    rec.clear()
    return ovs, agent, rec


def test_initial_sync_is_bracketed_by_markers(ovs, make_agent):
    ovs.vsctl('add-br', 'br-int')
    agent = make_agent(ovs.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    events = rec.wait_count(3)
    assert [str(e) for e in (events[0], events[2])] == [
        'sync started', 'sync finished']
    assert rec.summary() == [('bridge', 'online', 'br-int')]
    assert events[1].ofport == 65534
    assert agent.synced and agent.connected


def test_vm_port_lifecycle(watched):
    ovs, agent, rec = watched
    ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface', 'tap1',
              'external_ids:iface-id=port-1',
              'external_ids:attached-mac=fa:16:3e:00:00:01')
    rec.wait_event(kind='vm', action='online', name='tap1')
    online = rec.interface_events()[0]
    assert online.interface.iface_id == 'port-1'
    assert online.interface.attached_mac == 'fa:16:3e:00:00:01'
    assert online.ofport > 0

    ovs.vsctl('set', 'Interface', 'tap1', 'external_ids:iface-id=port-2')
    rec.wait_event(kind='vm', action='updated', iface_id='port-2')

    ovs.vsctl('del-port', 'tap1')
    rec.wait_event(kind='vm', action='offline', name='tap1')
    assert rec.summary() == [('vm', 'online', 'tap1'),
                             ('vm', 'updated', 'tap1'),
                             ('vm', 'offline', 'tap1')]


def test_tunnel_lifecycle(watched):
    ovs, agent, rec = watched
    ovs.vsctl('add-port', 'br-int', 'vx1', '--', 'set', 'Interface', 'vx1',
              'type=vxlan', 'options:remote_ip=192.0.2.10',
              'options:local_ip=192.0.2.1')
    rec.wait_event(kind='tunnel', action='online', tunnel_type='vxlan',
                   remote_ip='192.0.2.10', local_ip='192.0.2.1')
    ovs.vsctl('set', 'Interface', 'vx1', 'options:remote_ip=192.0.2.11')
    rec.wait_event(kind='tunnel', action='updated', remote_ip='192.0.2.11')
    ovs.vsctl('del-port', 'vx1')
    rec.wait_event(kind='tunnel', action='offline', name='vx1')
    assert [a for _, a, _ in rec.summary()] == [
        'online', 'updated', 'offline']


def test_patch_pair_and_bridges(watched):
    ovs, agent, rec = watched
    ovs.vsctl('add-br', 'br-tun', '--',
              'add-port', 'br-int', 'patch-tun', '--', 'set', 'Interface',
              'patch-tun', 'type=patch', 'options:peer=patch-int', '--',
              'add-port', 'br-tun', 'patch-int', '--', 'set', 'Interface',
              'patch-int', 'type=patch', 'options:peer=patch-tun')
    rec.wait_for(lambda evs: len(rec.summary(evs)) == 3)
    assert sorted(rec.summary()) == [('bridge', 'online', 'br-tun'),
                                     ('patch', 'online', 'patch-int'),
                                     ('patch', 'online', 'patch-tun')]
    peers = {e.name: e.interface.peer for e in rec.interface_events()
             if e.kind.value == 'patch'}
    assert peers == {'patch-int': 'patch-tun', 'patch-tun': 'patch-int'}
    ovs.vsctl('del-br', 'br-tun')
    rec.wait_for(lambda evs: len(rec.summary(evs)) == 5)
    assert sorted(rec.summary()[3:]) == [('bridge', 'offline', 'br-tun'),
                                         ('patch', 'offline', 'patch-int')]
    assert {i.name for i in agent.interfaces()} == {'br-int', 'patch-tun'}


def test_irrelevant_changes_give_no_event(watched):
    ovs, agent, rec = watched
    ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface', 'tap1',
              'external_ids:iface-id=port-1')
    rec.wait_event(kind='vm', action='online')
    # Columns the agent does not monitor, and keys it does not read.
    ovs.vsctl('set', 'Interface', 'tap1', 'mtu_request=1400',
              'external_ids:owner=nova', 'other_config:foo=bar')
    ovs.vsctl('set', 'Interface', 'br-int', 'external_ids:x=y')
    # A change that does matter, as a fence: events are delivered in
    # order, so anything the previous changes caused would be here first.
    ovs.vsctl('add-br', 'br-ex')
    rec.wait_event(kind='bridge', action='online', name='br-ex')
    assert rec.summary() == [('vm', 'online', 'tap1'),
                             ('bridge', 'online', 'br-ex')]


def test_unclassified_ports_and_kind_change(ovsdb, make_agent):
    """Without vswitchd the test sets ofport itself, including -1."""
    ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                'ofport=65534')
    agent = make_agent(ovsdb.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_event(kind='bridge', action='online')
    ovsdb.vsctl('add-port', 'br-int', 'eth1', '--', 'set', 'Interface',
                'eth1', 'ofport=3')                    # plain port: nothing
    ovsdb.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface',
                'tap1', 'external_ids:iface-id=p1')    # no ofport yet
    ovsdb.vsctl('set', 'Interface', 'tap1', 'ofport=4')       # online
    rec.wait_event(kind='vm', action='online', name='tap1', ofport=4)
    ovsdb.vsctl('set', 'Interface', 'tap1', 'ofport=-1')      # OVS failed
    rec.wait_event(kind='vm', action='offline', name='tap1')
    ovsdb.vsctl('set', 'Interface', 'tap1', 'ofport=5')
    rec.wait_event(kind='vm', action='online', name='tap1', ofport=5)
    # The same row turns into a patch port: offline as vm, online as patch.
    ovsdb.vsctl('set', 'Interface', 'tap1', 'type=patch',
                'options:peer=x')
    rec.wait_event(kind='patch', action='online', name='tap1')
    ovsdb.vsctl('remove', 'Interface', 'tap1', 'external_ids', 'iface-id')
    ovsdb.vsctl('add-br', 'br-ex', '--', 'set', 'Interface', 'br-ex',
                'ofport=65534')
    rec.wait_event(kind='bridge', action='online', name='br-ex')
    assert rec.summary() == [
        ('bridge', 'online', 'br-int'),
        ('vm', 'online', 'tap1'), ('vm', 'offline', 'tap1'),
        ('vm', 'online', 'tap1'),
        ('vm', 'offline', 'tap1'), ('patch', 'online', 'tap1'),
        ('bridge', 'online', 'br-ex')]
    assert replay_state(rec.events) == {i.uuid: i for i in
                                        agent.interfaces()}


def test_replay_gives_a_late_subscriber_the_current_state(watched):
    ovs, agent, rec = watched
    ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface', 'tap1',
              'external_ids:iface-id=port-1')
    rec.wait_event(kind='vm', action='online')
    late = Recorder()
    agent.subscribe(late, replay=True)
    # The replay ends with "sync finished": the agent is in sync.
    late.wait_sync('finished')
    assert sorted(late.summary()) == [('bridge', 'online', 'br-int'),
                                      ('vm', 'online', 'tap1')]
    ovs.vsctl('del-port', 'tap1')
    late.wait_event(kind='vm', action='offline')


def test_unix_remote(ovs, make_agent):
    ovs.vsctl('add-br', 'br-int')
    agent = make_agent(ovs.unix_remote)
    agent.start()
    assert [i.name for i in agent.interfaces()] == ['br-int']
