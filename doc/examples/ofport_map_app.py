"""An example app: which OpenFlow port does each Neutron port have?

A controller module needs ``iface-id -> ofport`` to program flows.  This app
keeps that map from the agent's events; register it in your package's
``setup.cfg``::

    [entry_points]
    df_ovsdb_agent.apps =
        ofport_map = my_controller.ofport_map_app:OfportMapApp

and enable it with ``[agent] apps = ofport_map``; its options are read from
``[app_ofport_map]``.
"""

import logging
import threading
from typing import Optional

from oslo_config import cfg

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.plugins import Plugin

LOG = logging.getLogger(__name__)


class OfportMapApp(Plugin):
    """Keep the ofport of every VM port online, by its iface-id."""

    CONFIG_OPTS = [
        cfg.BoolOpt('log_changes', default=False,
                    help='Log every change of the map at INFO level.'),
    ]

    def start(self) -> None:
        # uuid -> (iface_id, ofport): keyed by row, because during a live
        # migration two rows may briefly carry the same iface-id.
        self._ports: dict = {}
        self._lock = threading.Lock()
        # Apps start before the agent's first sync, so no replay is needed:
        # the first sync arrives as online events.
        self._sub = self.agent.subscribe(self._on_event, kinds=[Kind.VM],
                                         name='ofport_map')

    def stop(self) -> None:
        self.agent.unsubscribe(self._sub)

    def ofport(self, iface_id: str) -> Optional[int]:
        """The ofport of the VM port with this iface-id, if it is online."""
        with self._lock:
            for port_iface_id, ofport in self._ports.values():
                if port_iface_id == iface_id:
                    return ofport
        return None

    def _on_event(self, event) -> None:
        # Runs in this app's own bus thread; sync markers need no action.
        if not isinstance(event, InterfaceEvent):
            return
        with self._lock:
            if event.action is Action.OFFLINE:
                self._ports.pop(event.uuid, None)
            else:
                self._ports[event.uuid] = (event.interface.iface_id,
                                           event.ofport)
        if self.config.log_changes:
            LOG.info('%s: port %s ofport %s on %s', event.action.value,
                     event.interface.iface_id, event.ofport, self.host)
