"""An example os-ken app: keep br-int's flows exact for VM ports.

Two OpenFlow 1.3 flows per online VM port of the integration bridge, under
the app's own cookie: port security in table 0, output in table 1.  Run as
``df-ovsdb-controller --config-file F df_ovsdb_agent.os_ken.l2``; the flows
and when they change: doc/source/os-ken.rst.
"""

import re
from typing import Any, Optional

from os_ken.base import app_manager
from os_ken.controller import handler
from os_ken.controller import ofp_event
from os_ken.ofproto import ofproto_v1_3
from oslo_config import cfg

from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.os_ken import events as ev

L2_OPTS = [
    cfg.StrOpt('integration_bridge', default='br-int',
               help='The bridge whose VM ports the L2 example programs.'),
    cfg.IntOpt('cookie', default=0x4446000000000001, min=1,
               max=0xffffffffffffffff,
               help='OpenFlow cookie of the L2 example\'s flows: it owns '
                    'every flow with this cookie on the integration bridge '
                    '(and removes those it did not install).'),
]
GROUP = 'os_ken_l2'

MAC = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
# OpenFlow 1.3 physical ports are 1..0xffffff00.
MAX_OFPORT = 0xffffff00
PORT_SECURITY_TABLE = 0
DESTINATION_TABLE = 1
PRIORITY = 100
ALL_BITS = 0xffffffffffffffff


def wanted(interface: Interface, bridge: str) -> Optional[tuple]:
    """(ofport, mac) the app programs for an interface, or None."""
    if interface.kind is not Kind.VM or interface.bridge != bridge:
        return None
    mac = (interface.attached_mac or '').strip().lower()
    ofport = interface.ofport
    if not MAC.match(mac) or int(mac[:2], 16) & 1:
        return None       # absent, malformed or multicast
    if ofport is None or not 0 < ofport <= MAX_OFPORT:
        return None
    return ofport, mac


class L2App(app_manager.OSKenApp):
    """Two flows per VM port of the integration bridge (see module)."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.CONF.register_opts(L2_OPTS, group=GROUP)
        self.bridge = self.CONF[GROUP].integration_bridge
        self.cookie = self.CONF[GROUP].cookie
        # uuid -> (ofport, mac) wanted; mac -> uuid whose flows hold it.
        self._wanted: dict[str, tuple] = {}
        self._mac_owner: dict[str, str] = {}
        self._bridge_dpid: Optional[int] = None
        self._datapaths: dict[int, Any] = {}  # dpid -> Datapath (main)
        self._warned_unusable: set = set()

    # -- the switch ----------------------------------------------------------

    @property
    def datapath(self):
        """The integration bridge's switch connection, if it is up."""
        if self._bridge_dpid is None:
            return None
        return self._datapaths.get(self._bridge_dpid)

    @handler.set_ev_cls(ofp_event.EventOFPStateChange,
                        [handler.MAIN_DISPATCHER, handler.DEAD_DISPATCHER])
    def _switch_state_changed(self, event) -> None:
        dp: Any = event.datapath
        if dp.id is None:
            return
        if dp.is_active and event.datapath.state == handler.MAIN_DISPATCHER:
            self._datapaths[dp.id] = dp
            if self._bridge_dpid is None:
                self._request_bridge_dpid()   # installs if it is this one
            elif dp.id == self._bridge_dpid:
                self.logger.info('%s connected (datapath %016x): '
                                 'installing %d ports', self.bridge, dp.id,
                                 len(self._mac_owner))
                self._reinstall(dp)
        else:
            dpid = dp.id
            if self._datapaths.get(dpid) is dp:
                del self._datapaths[dpid]

    @handler.set_ev_cls(ev.EventSyncFinished)
    def _sync_finished(self, event) -> None:
        if self._bridge_dpid is None:
            self._request_bridge_dpid()

    def _request_bridge_dpid(self) -> None:
        """Ask the agent app for the bridge's datapath id (no event of
        the bridge may carry it yet).
        """
        reply = self.send_request(ev.EventInterfacesRequest(kind='bridge'))
        dpid = reply.datapath_ids.get(self.bridge)
        if dpid is not None and dpid != self._bridge_dpid:
            self._bridge_dpid = dpid
            dp = self.datapath
            if dp is not None:
                self._reinstall(dp)

    def _learn_bridge_dpid(self, event) -> None:
        if event.interface.bridge != self.bridge or \
                event.datapath_id is None or \
                event.datapath_id == self._bridge_dpid:
            return
        self._bridge_dpid = event.datapath_id
        dp = self.datapath
        if dp is not None:
            self._reinstall(dp)

    def _reinstall(self, dp) -> None:
        """Remove every flow of our cookie, then install all ours."""
        parser, ofp = dp.ofproto_parser, dp.ofproto
        dp.send_msg(parser.OFPFlowMod(
            dp, cookie=self.cookie, cookie_mask=ALL_BITS,
            table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
            out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))
        for mac, uuid in self._mac_owner.items():
            self._send_flows(dp, self._wanted[uuid], add=True)

    def _send_flows(self, dp, port: tuple, add: bool) -> None:
        ofport, mac = port
        parser, ofp = dp.ofproto_parser, dp.ofproto
        command = ofp.OFPFC_ADD if add else ofp.OFPFC_DELETE_STRICT
        security = parser.OFPMatch(in_port=ofport, eth_src=mac)
        destination = parser.OFPMatch(eth_dst=mac)
        for table, match, inst in (
                (PORT_SECURITY_TABLE, security,
                 [parser.OFPInstructionGotoTable(DESTINATION_TABLE)]),
                (DESTINATION_TABLE, destination,
                 [parser.OFPInstructionActions(
                     ofp.OFPIT_APPLY_ACTIONS,
                     [parser.OFPActionOutput(ofport)])])):
            dp.send_msg(parser.OFPFlowMod(
                dp, cookie=self.cookie,
                cookie_mask=0 if add else ALL_BITS, table_id=table,
                command=command, priority=PRIORITY, match=match,
                instructions=inst if add else [],
                out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))

    # -- the ports -----------------------------------------------------------

    @handler.set_ev_cls([ev.EventInterfaceOnline, ev.EventInterfaceUpdated])
    def _port_up(self, event) -> None:
        self._learn_bridge_dpid(event)
        self._program_port(event.interface.uuid,
                           wanted(event.interface, self.bridge),
                           event.interface)

    @handler.set_ev_cls(ev.EventInterfaceOffline)
    def _port_down(self, event) -> None:
        self._program_port(event.interface.uuid, None, event.interface)

    def _program_port(self, uuid: str, port: Optional[tuple],
                      interface: Interface) -> None:
        """Make ``uuid``'s flows match ``port`` (None: no flows)."""
        old = self._wanted.get(uuid)
        if old == port:
            return
        dp = self.datapath
        if old is not None:
            del self._wanted[uuid]
            if self._mac_owner.get(old[1]) == uuid:
                del self._mac_owner[old[1]]
                if dp is not None:
                    self._send_flows(dp, old, add=False)
                self._give_mac_to_next_port(old[1], dp)
        if port is None:
            if interface.kind is Kind.VM and \
                    interface.bridge == self.bridge and \
                    uuid not in self._warned_unusable and old is None:
                self._warned_unusable.add(uuid)
                self.logger.warning(
                    'VM port %s has no usable ofport/attached-mac (%s, '
                    '%s): no flows', safe(interface.name), interface.ofport,
                    safe(interface.attached_mac))
            return
        self._warned_unusable.discard(uuid)
        self._wanted[uuid] = port
        owner = self._mac_owner.get(port[1])
        if owner is not None:
            self.logger.warning('VM ports %s share MAC %s: only the first '
                                'gets flows', safe(interface.name), port[1])
            return
        self._mac_owner[port[1]] = uuid
        if dp is not None:
            self._send_flows(dp, port, add=True)

    def _give_mac_to_next_port(self, mac: str, dp) -> None:
        """Give a freed MAC to another port that wants it, if any."""
        for uuid, port in self._wanted.items():
            if port[1] == mac:
                self._mac_owner[mac] = uuid
                if dp is not None:
                    self._send_flows(dp, port, add=True)
                return
