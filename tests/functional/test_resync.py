"""ovsdb-server killed (kill -9, SIGTERM) or frozen and restarted: exactly
the right events, no storm."""

import signal

import pytest

from tests.recorder import Recorder
from tests.recorder import replay_state


def _port(name, ofport, iface_id=None):
    args = ['add-port', 'br-int', name, '--', 'set', 'Interface', name,
            'ofport=%d' % ofport]
    if iface_id:
        args.append('external_ids:iface-id=%s' % iface_id)
    return args


@pytest.mark.parametrize('how', ['SIGKILL', 'SIGTERM'])
def test_kill_restart_with_changes_while_down(ovsdb, make_agent, how):
    ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                'ofport=65534')
    for i in range(1, 21):
        ovsdb.vsctl(*_port('tap%d' % i, i, 'vm-%d' % i))
    agent = make_agent(ovsdb.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_for(lambda evs: len(rec.summary(evs)) == 21)
    rec.clear()

    syncs = agent.syncs
    ovsdb.kill_ovsdb(getattr(signal, how))
    ovsdb.offline_vsctl('del-port', 'tap1', '--', 'del-port', 'tap2')
    ovsdb.offline_vsctl('set', 'Interface', 'tap3', 'ofport=-1')
    ovsdb.offline_vsctl('set', 'Interface', 'tap4',
                        'external_ids:iface-id=vm-4-new')
    ovsdb.offline_vsctl('set', 'Interface', 'tap5', 'mtu_request=1300')
    ovsdb.offline_vsctl(*_port('tap100', 100, 'vm-100'))
    ovsdb.start_ovsdb()
    assert agent.wait_synced(15, after=syncs)

    events = rec.wait_sync('finished')
    assert str(events[0]) == 'sync started'
    assert sorted(rec.summary()) == [
        ('vm', 'offline', 'tap1'), ('vm', 'offline', 'tap2'),
        ('vm', 'offline', 'tap3'), ('vm', 'online', 'tap100'),
        ('vm', 'updated', 'tap4')]
    truth = {'br-int'} | {'tap%d' % i for i in range(4, 21)} | {'tap100'}
    assert {i.name for i in agent.interfaces()} == truth

    # Monitoring resumed: the next change is seen as a plain event.
    ovsdb.vsctl('del-port', 'tap20')
    rec.wait_event(action='offline', name='tap20')


def test_restart_without_changes_emits_nothing(ovs, make_agent):
    ovs.vsctl('add-br', 'br-int')
    for i in range(10):
        ovs.vsctl('add-port', 'br-int', 'tap%d' % i, '--', 'set',
                  'Interface', 'tap%d' % i, 'external_ids:iface-id=p%d' % i)
    agent = make_agent(ovs.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_for(lambda evs: len(rec.summary(evs)) == 11)
    for restart in range(1, 4):
        syncs = agent.syncs
        ovs.restart_ovsdb()
        assert agent.wait_synced(15, after=syncs)
        # Let the subscriber see this resync's end before the next one
        # starts: a lagging subscriber would (by design) see overlapping
        # resyncs merged into one started...finished window.
        rec.wait_for(lambda evs: [str(e) for e in evs].count(
            'sync finished') == restart + 1)
    ovs.vsctl('add-br', 'br-ex')          # fence: ordered after the resyncs
    rec.wait_event(name='br-ex', action='online')
    assert len(rec.summary()) == 12, rec.summary()
    markers = [str(e) for e in rec.events if str(e).startswith('sync')]
    assert markers == ['sync started', 'sync finished'] * 4
    assert replay_state(rec.events) == {i.uuid: i for i in
                                        agent.interfaces()}


def test_hung_server_is_detected_by_probes(ovsdb, make_agent):
    ovsdb.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                'ofport=65534')
    agent = make_agent(ovsdb.unix_remote, probe_interval=1000)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_sync('finished')
    rec.clear()
    connections = agent.monitor.connections
    ovsdb.signal_ovsdb(signal.SIGSTOP)
    # Probe after 1 s of silence, disconnect after 1 s more, reconnect
    # (a stopped server's listening socket still accepts): a resync begins.
    rec.wait_sync('started', timeout=10)
    assert not agent.synced
    ovsdb.signal_ovsdb(signal.SIGCONT)
    assert agent.wait_synced(15, after=1)
    assert agent.monitor.connections > connections
    rec.wait_sync('finished')
    assert rec.summary() == []
