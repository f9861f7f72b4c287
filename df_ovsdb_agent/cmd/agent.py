"""``df-ovsdb-agent``: the per-hypervisor daemon.

This module runs on native threads; ``cmd/eventlet/agent.py`` is the same
entry point after eventlet monkey-patching.
"""

import signal
import sys
import threading
from typing import Optional

from oslo_log import log as logging

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.cmd import common
from df_ovsdb_agent import conf as conf_lib
from df_ovsdb_agent import metrics
from df_ovsdb_agent import persist
from df_ovsdb_agent import plugins

LOG = logging.getLogger(__name__)
PROG = 'df-ovsdb-agent'


def log_event(event) -> None:
    LOG.info('%s', event)


class Daemon:
    """Agent + apps + signal handling, for one process lifetime."""

    def __init__(self, conf) -> None:
        self.conf = conf
        self.state_dir = persist.StateDir(conf.agent.state_dir)
        self.state_dir.open()
        try:
            self._build(conf)
        except BaseException:
            self.state_dir.close()
            raise

    def _build(self, conf) -> None:
        self.agent = Agent.from_conf(
            conf, state_file=self.state_dir.snapshot_path,
            owner_id=self.state_dir.owner_id())
        self.agent.subscribe(log_event, name='event-log')
        # Publishers first: they are subscribers like apps, but an app may
        # want to find them running.
        self.plugins = (
            plugins.load(plugins.PUBLISHERS_NAMESPACE,
                         conf.agent.publishers, conf, self.agent) +
            plugins.load(plugins.APPS_NAMESPACE, conf.agent.apps, conf,
                         self.agent))
        settings = conf_lib.metrics_settings(conf)
        self.metrics = (metrics.MetricsServer(self.agent, settings.host,
                                              settings.port)
                        if settings.enabled else None)
        self._stop = threading.Event()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop_signal(self, signum, frame) -> None:
        LOG.info('Caught %s, stopping', signal.Signals(signum).name)
        self._stop.set()

    def _on_hup(self, signum, frame) -> None:
        # oslo convention: SIGHUP reloads the config files' mutable options,
        # which for this agent means the logging settings.
        LOG.info('Caught SIGHUP, reloading log settings')
        self.conf.mutate_config_files()
        logging.setup(self.conf, 'df-ovsdb-agent')

    def run(self) -> int:
        if self.metrics is not None:
            # Before the first sync, so /healthz can say "not synced yet".
            self.metrics.start()
        for plugin in self.plugins:
            plugin.start()
        self.agent.start()
        LOG.info('%s running: %d interfaces online', PROG,
                 len(self.agent.interfaces()))
        self._stop.wait()
        self.shutdown()
        return 0

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        timeout = self.conf.agent.shutdown_timeout
        # Stop the monitor first, so nothing new is published, then let
        # subscribers drain what they already have.
        self.agent.stop(timeout)
        for plugin in reversed(self.plugins):
            try:
                plugin.stop()
            except Exception:
                LOG.exception('Plugin %s failed to stop', plugin)
        if self.metrics is not None:
            self.metrics.stop()
        self.state_dir.close()
        LOG.info('%s stopped', PROG)


def _main(argv: Optional[list]) -> int:
    conf = common.load_config(argv, PROG)
    daemon = Daemon(conf)
    daemon.install_signal_handlers()
    return daemon.run()


def main(argv: Optional[list] = None) -> int:
    return common.run(lambda: _main(argv), PROG)


if __name__ == '__main__':
    sys.exit(main())
