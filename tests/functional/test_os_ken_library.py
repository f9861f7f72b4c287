"""Library changes an embedding controller (os-ken) needs, against a real
ovsdb-server and ovs-vswitchd: a non-blocking start that waits for OVSDB,
the datapath id of a bridge, and ``updated`` events that say what changed.
"""

import signal

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.exceptions import SchemaError
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.testing import sandbox
from tests.recorder import Recorder

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]


def _dpid(ovs, bridge):
    return int(ovs.vsctl('get', 'Bridge', bridge,
                         'datapath_id').strip().strip('"'), 16)


def test_start_async_returns_at_once_and_waits_for_ovsdb(tmp_path):
    box = sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=False)
    agent = Agent(settings=OvsdbSettings(connection=box.remote,
                                         timeout=0.5))
    rec = Recorder()
    agent.subscribe(rec)
    try:
        thread = agent.start_async(backoff=(0.05, 0.2))
        assert thread.is_alive() and not agent.synced
        assert not agent.wait_synced(0.3)  # nobody answers yet
        box.start()
        box.vsctl('add-br', 'br-int')
        box.vsctl('set', 'Interface', 'br-int', 'ofport=65534')
        assert agent.wait_synced(30)
        rec.wait_event(name='br-int', action='online')
        thread.join(10)
        assert not thread.is_alive()
    finally:
        agent.stop(5)
        box.stop()


def test_stop_ends_start_async_attempts(tmp_path):
    agent = Agent(settings=OvsdbSettings(
        connection='tcp:127.0.0.1:%d' % sandbox.free_port(), timeout=0.2))
    thread = agent.start_async(backoff=(0.05, 0.1))
    agent.stop(5)
    thread.join(10)
    assert not thread.is_alive() and not agent.connected


def test_start_async_hands_other_errors_to_on_error(tmp_path):
    schema = tmp_path / 'other.ovsschema'
    schema.write_text('{"name": "Other", "version": "1.0.0", "tables": '
                      '{"T": {"columns": {"c": {"type": "string"}}}}}')
    box = sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=False,
                             schema=str(schema))
    box.start()
    errors = []
    agent = Agent(box.remote)
    try:
        agent.start_async(on_error=errors.append,
                          backoff=(0.05, 0.1)).join(30)
        assert len(errors) == 1 and isinstance(errors[0], SchemaError)
    finally:
        agent.stop(5)
        box.stop()


def test_datapath_id_of_each_bridge_survives_a_vswitchd_restart(
        ovs, make_agent):
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl('add-br', 'br-ex')
    agent = make_agent(ovs.remote)
    agent.start()
    want = {name: _dpid(ovs, name) for name in ('br-int', 'br-ex')}
    assert len(set(want.values())) == 2
    sandbox.wait_for(lambda: agent.datapath_id('br-int') is not None, 10,
                     'datapath id')
    assert {n: agent.datapath_id(n) for n in want} == want
    assert agent.datapath_id('nope') is None
    assert agent.datapath_id(None) is None
    ovs.stop_vswitchd(signal.SIGKILL)
    ovs.start_vswitchd()
    ovs.vsctl('add-br', 'br-new')
    sandbox.wait_for(lambda: agent.datapath_id('br-new') is not None, 10,
                     'datapath id of br-new')
    assert {n: agent.datapath_id(n) for n in want} == want


def test_updated_events_say_what_changed(ovs, make_agent):
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface', 'tap1',
              'external_ids:iface-id=p1',
              'external_ids:attached-mac=fa:16:3e:00:00:01')
    agent = make_agent(ovs.remote)
    rec = Recorder()
    agent.subscribe(rec, kinds=['vm'], actions=['updated'])
    agent.start()
    ovs.vsctl('set', 'Interface', 'tap1',
              'external_ids:attached-mac=fa:16:3e:00:00:02')
    rec.wait_event(attached_mac='fa:16:3e:00:00:02')
    [event] = [e for e in rec.interface_events()
               if e.interface.attached_mac == 'fa:16:3e:00:00:02']
    assert event.changed == {'attached_mac'}
    # vswitchd moves the port to the OpenFlow port asked for (re-creating
    # the dummy device, which may get another MAC with it).
    ovs.vsctl('set', 'Interface', 'tap1', 'ofport_request=77')
    rec.wait_event(ofport=77)
    [event] = [e for e in rec.interface_events()
               if e.ofport == 77 and 'ofport' in e.changed]
    assert event.changed <= {'ofport', 'mac_in_use', 'link_state',
                             'admin_state'}
