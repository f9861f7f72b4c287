"""The agent as an os-ken app: OVSDB interface events as os-ken events.

It owns one :class:`~df_ovsdb_agent.agent.Agent`, built from the agent's
options in os-ken's configuration files, read into a private ConfigOpts so
they never collide with the host program's.  It starts without blocking
os-ken (the agent waits for OVSDB in the background) and stops the agent
first, so what is queued still reaches running observers.  Loading it and
the event order: doc/source/os-ken.rst.
"""

import logging

import threading
from typing import Callable, Optional

from os_ken.base import app_manager
from os_ken.controller import handler
from os_ken.lib import hub

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent import conf as conf_lib
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.exceptions import AgentError
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.os_ken import events as ev

LOG = logging.getLogger(__name__)


# Modules that must be green under os-ken's eventlet hub: the agent's
# monitor reads its socket on a thread of its own.
EVENTLET_MODULES = ('socket', 'select', 'thread', 'time')


def check_hub() -> None:
    """Refuse os-ken's eventlet hub unless eventlet patched everything.

    :raises ConfigError: one line saying what to patch.
    """
    if hub.HUB_TYPE != 'eventlet':
        return
    from eventlet import patcher
    missing = [name for name in EVENTLET_MODULES
               if not patcher.is_monkey_patched(name)]
    if missing:
        raise ConfigError(
            "os-ken's eventlet hub (OSKEN_HUB_TYPE=eventlet) needs "
            'eventlet.monkey_patch() of every module before anything '
            'imports threading or socket (not patched: %s); '
            'os_ken.lib.hub.patch(thread=False) is not enough'
            % ', '.join(missing))


def _config_files(conf) -> list:
    try:
        return list(conf.config_file or [])
    except Exception:  # a ConfigOpts not parsed yet: no files
        return []


class OSKenApp(app_manager.OSKenApp):
    """Runs the agent and turns its events into os-ken events."""

    _EVENTS = ev.EVENTS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Addressed by name (EventInterfacesRequest.dst).
        self.name = ev.APP_NAME
        check_hub()
        self.conf = conf_lib.from_files(_config_files(self.CONF))
        self.agent = Agent.from_conf(self.conf)
        self.shutdown_timeout = self.conf.agent.shutdown_timeout
        # What was handed to os-ken so far: uuid -> Interface (answers
        # EventInterfacesRequest consistently with the events).
        self._delivered: dict[str, Interface] = {}
        self._synced = False
        self._lock = threading.Lock()
        self._log_level = (logging.DEBUG
                           if self.conf.agent.event_log_level == 'DEBUG'
                           else logging.INFO)
        # Called with an error that ends the agent's start-up attempts
        # (not OVSDB being unreachable: that is retried); the runner sets
        # it to stop the process.
        self.on_fatal: Optional[Callable[[BaseException], None]] = None
        self._stopped = False

    def start(self):
        """Start the event loop, then the agent in the background."""
        thread = super().start()
        self.agent.subscribe(self._deliver, name='os-ken')
        self.agent.start_async(on_error=self._on_start_error)
        return thread

    def _on_start_error(self, exc: BaseException) -> None:
        LOG.error('%s', exc)
        if self.on_fatal is not None:
            self.on_fatal(exc)

    def _deliver(self, event) -> None:
        """Bus worker thread: one agent event -> one os-ken event.

        os-ken's queues hold 128 events per app; a full one makes this
        wait, and the agent's bus coalesces meanwhile (never drops).
        """
        LOG.log(self._log_level, '%s', event)
        os_ken_event = self._os_ken_event(event)
        with self._lock:
            if isinstance(event, InterfaceEvent):
                if event.action is Action.OFFLINE:
                    self._delivered.pop(event.uuid, None)
                else:
                    self._delivered[event.uuid] = event.interface
            else:
                self._synced = event.sync is Sync.FINISHED
        self.send_event_to_observers(os_ken_event)

    def _os_ken_event(self, event):
        if not isinstance(event, InterfaceEvent):
            return (ev.EventSyncFinished() if event.sync is Sync.FINISHED
                    else ev.EventSyncStarted())
        dpid = self.agent.datapath_id(event.interface.bridge)
        if event.action is Action.ONLINE:
            return ev.EventInterfaceOnline(event.interface, dpid)
        if event.action is Action.OFFLINE:
            return ev.EventInterfaceOffline(event.interface, dpid)
        return ev.EventInterfaceUpdated(event.interface, dpid, event.changed)

    @handler.set_ev_cls(ev.EventInterfacesRequest)
    def _answer_interfaces_request(
            self, req: ev.EventInterfacesRequest) -> None:
        with self._lock:
            interfaces = [i for i in self._delivered.values()
                          if (req.kind is None or i.kind.value == req.kind)
                          and (req.bridge is None or i.bridge == req.bridge)]
            synced = self._synced
        self.reply_to_request(req, ev.EventInterfacesReply(
            req.src, interfaces, synced, self.agent.monitor.datapath_ids))

    def stop(self) -> None:
        """Stop the agent first, then the app's event loop."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.agent.stop(self.shutdown_timeout)
        except AgentError as exc:
            LOG.warning('Agent did not stop cleanly: %s', exc)
        super().stop()

    def close(self) -> None:
        self.stop()
