"""Keep a JSON file with the interfaces this host has online.

For local consumers that cannot embed the agent (shell scripts, node
exporters, CNI-style helpers).  The file is replaced atomically, and written
only when the subscriber has caught up, so bursts cost one write.
"""

import json
import os
import tempfile

from oslo_config import cfg

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.plugins import Plugin


class StateFileApp(Plugin):
    """Mirror the agent's online interfaces into ``[app_state_file] path``."""

    CONFIG_OPTS = [
        cfg.StrOpt('path', default='/run/df-ovsdb-agent/interfaces.json',
                   help='File to keep the online interfaces in, as JSON.'),
    ]

    def start(self) -> None:
        self._online: dict = {}
        self._synced = False
        self._sub = self.bus.subscribe(self._on_event, name='state_file')

    def stop(self) -> None:
        self.bus.unsubscribe(self._sub)

    def _on_event(self, event) -> None:
        if isinstance(event, InterfaceEvent):
            if event.action is Action.OFFLINE:
                self._online.pop(event.uuid, None)
            else:
                self._online[event.uuid] = event.interface.to_dict()
        else:
            self._synced = event.sync is Sync.FINISHED
        if self._sub.backlog == 0:
            self._write()

    def _write(self) -> None:
        path = self.config.path
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        body = {'host': self.host, 'synced': self._synced,
                'interfaces': sorted(self._online.values(),
                                     key=lambda i: i['name'])}
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.',
                                   prefix='.interfaces.')
        with os.fdopen(fd, 'w') as f:
            json.dump(body, f, indent=1)
        os.replace(tmp, path)
