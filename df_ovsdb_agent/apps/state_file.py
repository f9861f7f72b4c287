"""Keep a JSON file with the interfaces this host has online.

For local consumers that cannot embed the agent (shell scripts, node
exporters, CNI-style helpers).  The file mirrors the agent's own state and
is replaced atomically: once per sync and per transaction at most (writes
coalesce on a thread of their own), never once per event.  ``"synced"`` is
true only while the agent is in sync with OVSDB: false during a resync and
after the daemon stopped.
"""

import os

from oslo_config import cfg

from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import persist
from df_ovsdb_agent.plugins import Plugin


class StateFileApp(Plugin):
    """Mirror the agent's online interfaces into ``[app_state_file] path``."""

    CONFIG_OPTS = [
        cfg.StrOpt('path', default='/run/df-ovsdb-agent/interfaces.json',
                   help='File to keep the online interfaces in, as JSON.'),
    ]

    def start(self) -> None:
        path = self.config.path
        self._stopped = False
        self._writer = persist.StateWriter(path, self._body, 'state-file')
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)),
                        exist_ok=True)
            # Says "not synced" from the start, and proves the path works.
            self._writer.write_now()
        except OSError as exc:
            raise ConfigError('[app_state_file] path %s is not writable: %s'
                              % (path, exc.strerror or exc)) from None
        if self._writer.failures:
            raise ConfigError('[app_state_file] path %s is not writable'
                              % path)
        self._writer.start()
        self._sub = self.bus.subscribe(self._on_event, name='state_file')

    def stop(self) -> None:
        self.bus.unsubscribe(self._sub)
        self._writer.stop()
        self._stopped = True
        self._writer.write_now()

    def _on_event(self, event) -> None:
        # During a resync the agent's state only changes at its end.
        if self.agent.synced or isinstance(event, SyncEvent):
            self._writer.mark()

    def _body(self) -> dict:
        return {'host': self.host,
                'synced': self.agent.synced and not self._stopped,
                'interfaces': sorted((i.to_dict()
                                      for i in self.agent.interfaces()),
                                     key=lambda i: i['name'])}
