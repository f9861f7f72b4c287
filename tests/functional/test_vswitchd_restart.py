"""ovs-vswitchd stopped (SIGTERM, kill -9, SIGSTOP) and back, with changes
made while it was down: exactly the events those changes cause, no flap.

vswitchd owns ``ofport`` and the ephemeral columns, not the rows: while it
is down the database still changes (and the agent reports it), a port
plugged meanwhile has no ofport (so it is not online yet) until vswitchd
returns and assigns one.
"""

import signal

import pytest

from df_ovsdb_agent.testing import sandbox
from tests.functional.ovsdb_ops import db_truth
from tests.recorder import Recorder
from tests.recorder import replay_state

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]

NAMES = {'br-int', 'br-tun', 'tap1', 'tap2', 'tap3', 'vx1', 'patch-tun',
         'patch-int'}


def _populate(ovs):
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl('add-br', 'br-tun')
    for i in (1, 2, 3):
        ovs.vsctl('add-port', 'br-int', 'tap%d' % i, '--', 'set',
                  'Interface', 'tap%d' % i, 'external_ids:iface-id=p%d' % i,
                  'external_ids:attached-mac=fa:16:3e:00:00:0%d' % i)
    ovs.vsctl('add-port', 'br-tun', 'vx1', '--', 'set', 'Interface', 'vx1',
              'type=vxlan', 'options:remote_ip=192.0.2.9')
    ovs.vsctl('add-port', 'br-int', 'patch-tun', '--', 'set', 'Interface',
              'patch-tun', 'type=patch', 'options:peer=patch-int')
    ovs.vsctl('add-port', 'br-tun', 'patch-int', '--', 'set', 'Interface',
              'patch-int', 'type=patch', 'options:peer=patch-tun')


@pytest.mark.parametrize('how', ['SIGTERM', 'SIGKILL', 'SIGSTOP'])
def test_vswitchd_down_and_back_with_changes_meanwhile(ovs, make_agent,
                                                       how):
    _populate(ovs)
    agent = make_agent(ovs.remote)
    rec = Recorder()
    agent.subscribe(rec, replay=True)
    agent.start()
    rec.wait_for(lambda evs: {n for _, _, n in rec.summary(evs)} == NAMES)
    before = len(rec.events)

    sig = getattr(signal, how)
    if how == 'SIGSTOP':
        ovs.signal_vswitchd(sig)
    else:
        ovs.stop_vswitchd(sig)
    try:
        # While it is down: plug one port, unplug one, change one.
        ovs.vsctl('add-port', 'br-int', 'tap4', '--', 'set', 'Interface',
                  'tap4', 'external_ids:iface-id=p4', wait=False)
        ovs.vsctl('del-port', 'tap1', wait=False)
        ovs.vsctl('set', 'Interface', 'tap2', 'external_ids:iface-id=p2b',
                  wait=False)
        rec.wait_event(name='tap2', action='updated', iface_id='p2b')
        # The agent has seen every earlier transaction too: tap1 is gone,
        # and tap4 has no ofport yet, so it is not online.
        assert ('vm', 'offline', 'tap1') in rec.summary(rec.events[before:])
        assert 'tap4' not in {i.name for i in agent.interfaces()}
    finally:
        if how == 'SIGSTOP':
            ovs.signal_vswitchd(signal.SIGCONT)
    if how != 'SIGSTOP':
        ovs.start_vswitchd()
    rec.wait_event(name='tap4', action='online')
    sandbox.wait_for(lambda: {i.uuid: i for i in agent.interfaces()} ==
                     db_truth(ovs.remote), 20,
                     "the agent's view to equal the database")

    summary = rec.summary(rec.events[before:])
    assert summary.count(('vm', 'offline', 'tap1')) == 1
    assert summary.count(('vm', 'online', 'tap4')) == 1
    # vswitchd leaving and returning is no event of its own: nothing else
    # went offline or online.  (It may rewrite ephemeral columns such as
    # mac_in_use -- the dummy datapath numbers its MACs anew -- which are
    # `updated`, as OVSDB says.)
    others = [s for s in summary if s[1] != 'updated' and s not in (
        ('vm', 'offline', 'tap1'), ('vm', 'online', 'tap4'))]
    assert others == []
    assert replay_state(rec.events) == {i.uuid: i for i in
                                        agent.interfaces()}
