"""The L2 example app's pure logic: which flows a port wants, and the flow
mods sent as ports come, change, collide and go (a recording datapath).
"""

import dataclasses

import pytest

pytest.importorskip('os_ken')

from os_ken.ofproto import ofproto_v1_3  # noqa: E402
from os_ken.ofproto import ofproto_v1_3_parser  # noqa: E402

from df_ovsdb_agent.events import Interface  # noqa: E402
from df_ovsdb_agent.events import Kind  # noqa: E402
from df_ovsdb_agent.os_ken import events as ev  # noqa: E402
from df_ovsdb_agent.os_ken import l2  # noqa: E402
from tests.helpers import uuid_vm  # noqa: E402

MAC = 'fa:16:3e:00:00:01'


def vm(uuid='u1', ofport=1, mac=MAC, bridge='br-int', **kw):
    return uuid_vm(uuid, ofport, iface_id=uuid, bridge=bridge, mac=mac,
                   **kw)


@pytest.mark.parametrize('interface,want', [
    (vm(), (1, MAC)),
    (vm(mac=' FA:16:3E:00:00:01 '), (1, MAC)),
    (vm(bridge='br-ex'), None),
    (vm(bridge=None), None),
    (vm(mac=None), None),
    (vm(mac='fa:16:3e:00:00:01,fa:16:3e:00:00:02'), None),
    (vm(mac='01:00:5e:00:00:01'), None),       # multicast
    (vm(mac='fa:16:3e:00:00:01\nx'), None),
    (vm(ofport=None), None),
    (vm(ofport=-1), None),
    (vm(ofport=0), None),
    (vm(ofport=0xffffff01), None),
    (Interface(Kind.BRIDGE, 'br-int', 'b', 65534, bridge='br-int'), None),
])
def test_wanted(interface, want):
    assert l2.wanted(interface, 'br-int') == want


class Datapath:
    """Records the flow mods the app sends."""

    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser

    def __init__(self, dpid=0xab):
        self.id = dpid
        self.sent = []

    def send_msg(self, msg):
        match = dict(msg.match.items())
        self.sent.append(('add' if msg.command == ofproto_v1_3.OFPFC_ADD
                          else 'del', msg.table_id, tuple(sorted(
                              match.items()))))

    def take(self):
        sent, self.sent = self.sent, []
        return sent


def flows(action, ofport, mac):
    return [(action, 0, (('eth_src', mac), ('in_port', ofport))),
            (action, 1, (('eth_dst', mac),))]


@pytest.fixture
def app():
    app = l2.L2App()
    dp = Datapath()
    app._datapaths[dp.id] = dp
    app._bridge_dpid = dp.id
    return app, dp


def online(interface):
    return ev.EventInterfaceOnline(interface, 0xab)


def test_port_lifecycle(app):
    app, dp = app
    app._port_up(online(vm()))
    assert dp.take() == flows('add', 1, MAC)
    # Only mac_in_use changed: the same flows, nothing sent.
    app._port_up(ev.EventInterfaceUpdated(vm(mac_in_use='aa:55'), 0xab,
                                          frozenset({'mac_in_use'})))
    assert dp.take() == []
    app._port_up(ev.EventInterfaceUpdated(vm(ofport=7), 0xab))
    assert dp.take() == flows('del', 1, MAC) + flows('add', 7, MAC)
    app._port_down(ev.EventInterfaceOffline(vm(ofport=7), 0xab))
    assert dp.take() == flows('del', 7, MAC)
    app._port_down(ev.EventInterfaceOffline(vm(ofport=7), 0xab))
    assert dp.take() == []


def test_two_ports_with_one_mac(app):
    app, dp = app
    app._port_up(online(vm('u1', 1)))
    app._port_up(online(vm('u2', 2)))
    assert dp.take() == flows('add', 1, MAC)     # the first only
    app._port_down(ev.EventInterfaceOffline(vm('u1', 1), 0xab))
    assert dp.take() == flows('del', 1, MAC) + flows('add', 2, MAC)


def test_nothing_is_sent_before_the_switch_and_all_on_connect(app):
    app, dp = app
    del app._datapaths[dp.id]
    app._port_up(online(vm('u1', 1)))
    app._port_up(online(vm('u2', 2, mac='fa:16:3e:00:00:02')))
    assert dp.take() == []
    app._reinstall(dp)
    sent = dp.take()
    # First every flow of the cookie goes, then each port's come.
    assert sent[0] == ('del', ofproto_v1_3.OFPTT_ALL, ())
    assert sorted(sent[1:]) == sorted(flows('add', 1, MAC) + flows(
        'add', 2, 'fa:16:3e:00:00:02'))


def test_other_bridges_and_kinds_are_ignored(app):
    app, dp = app
    app._port_up(online(vm(bridge='br-ex')))
    app._port_up(online(dataclasses.replace(vm(), kind=Kind.PATCH)))
    assert dp.take() == []
