"""``df-ovsdb-agent``: the per-hypervisor daemon.

Native threads only.  It waits for OVSDB at boot for as long as it takes,
tells systemd when it is ready (after the first complete sync), and stops
everything it started on SIGTERM/SIGINT, whenever they come.
"""

import logging as std_logging
import os
import signal
import sys
import threading
from typing import Optional

from oslo_log import log as logging

from df_ovsdb_agent.backoff import Backoff
from df_ovsdb_agent.backoff import START_BACKOFF
from df_ovsdb_agent.cmd import common
from df_ovsdb_agent import conf as conf_lib
from df_ovsdb_agent.exceptions import AgentError
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent import logsafe
from df_ovsdb_agent import metrics
from df_ovsdb_agent.ovsdb.peer import UntrustedPeer
from df_ovsdb_agent import persist
from df_ovsdb_agent import plugins
from df_ovsdb_agent import systemd

LOG = logging.getLogger(__name__)
PROG = 'df-ovsdb-agent'
# How often systemd's STATUS= line is refreshed, in seconds.
STATUS_INTERVAL = 1.0
# Seconds past shutdown_timeout the daemon waits for its stops to return.
SHUTDOWN_GRACE = 0.5
# Seconds past shutdown_timeout after which a stop signal exits for sure,
# and the timeout assumed before the configuration is read.
FORCED_EXIT_GRACE = 2.0
DEFAULT_EXIT_TIMEOUT = 5.0


class EventLog:
    """The daemon's event log: one line per event at INFO (or DEBUG)."""

    def __init__(self, level: int) -> None:
        self.level = level

    def __call__(self, event) -> None:
        LOG.log(self.level, '%s', event)


class Daemon:
    """Agent, publishers, apps, metrics and systemd notifications, for
    one process lifetime.
    """

    def __init__(self, conf, stop: Optional[threading.Event] = None,
                 wake: Optional[threading.Event] = None) -> None:
        """:param stop: set to stop the daemon (e.g. by a signal handler
            installed before the daemon exists); ``wake`` with it.
        """
        self.conf = conf
        self._stop = stop or threading.Event()
        self._wake = wake or threading.Event()
        self.state_dir = persist.StateDir(conf.agent.state_dir)
        self.state_dir.open()
        try:
            self._build(conf)
        except BaseException:
            self.state_dir.close()
            raise

    def _build(self, conf) -> None:
        # Imported here, not with the module: the agent brings in
        # python-ovs, which --help and a bad argument do not need.
        from df_ovsdb_agent.agent import Agent
        self.agent = Agent.from_conf(
            conf, state_file=self.state_dir.snapshot_path,
            owner_id=self.state_dir.owner_id())
        self.agent.subscribe(EventLog(
            std_logging.DEBUG if conf.agent.event_log_level == 'DEBUG'
            else std_logging.INFO), name='event-log')
        # Publishers first: they are subscribers like apps, but an app may
        # want to find them running.
        self.plugins = (
            plugins.load(plugins.PUBLISHERS_NAMESPACE,
                         conf.agent.publishers, conf, self.agent) +
            plugins.load(plugins.APPS_NAMESPACE, conf.agent.apps, conf,
                         self.agent))
        settings = conf_lib.metrics_settings(conf)
        self.metrics = (metrics.MetricsServer(self.agent, settings.host,
                                              settings.port, self.plugins)
                        if settings.enabled else None)
        self._started: list = []
        self._shut_down = False
        self.notifier = systemd.Notifier()
        self.watchdog = systemd.Watchdog.from_env(self.notifier)

    def on_hup(self) -> None:
        # oslo convention: SIGHUP reloads the config files' mutable options,
        # which for this agent means the logging settings.
        LOG.info('Caught SIGHUP, reloading log settings')
        self.conf.mutate_config_files()
        common.setup_logging(self.conf)
        # setup() replaced the handlers the filter was on.
        logsafe.install_filters()

    def run(self) -> int:
        """Start everything, run until SIGTERM/SIGINT, stop everything.

        Whatever path leads out (a signal during the wait for OVSDB or
        the first sync, an error), everything started is stopped again.
        """
        try:
            if self.metrics is not None:
                # Before the first sync: /healthz says why it is not ok.
                self.metrics.start()
            for plugin in self.plugins:
                self._started.append(plugin)
                plugin.start()
            if not self._start_agent():
                return 0  # stopped while waiting for OVSDB
            self.notifier.ready(self._status())
            LOG.info('%s running: %d interfaces online', PROG,
                     len(self.agent.interfaces()))
            self._run_until_stopped()
            return 0
        finally:
            self.shutdown()

    def _start_agent(self) -> bool:
        """Wait for OVSDB and the first sync for as long as it takes.

        The wait runs on a thread of its own so that a stop signal ends
        the daemon at once, whatever the monitor is doing.
        """
        done = threading.Event()
        failure: list = []

        def wait_for_ovsdb() -> None:
            backoff = Backoff.decorrelated_jitter(
                START_BACKOFF[1], initial=START_BACKOFF[0])
            while not self._stop.is_set():
                try:
                    self.agent.start()
                    break
                except OvsdbUnreachable as exc:
                    delay = backoff.next()
                    self.notifier.status('waiting for OVSDB: %s' % exc)
                    # Someone posing as OVSDB is more than a wait.
                    log = LOG.error if isinstance(exc, UntrustedPeer) \
                        else LOG.warning
                    log('%s; retrying in %.1fs', exc, delay)
                    self._stop.wait(delay)
                except BaseException as exc:  # one-line start-up error
                    failure.append(exc)
                    break
            done.set()
            self._wake.set()

        threading.Thread(target=wait_for_ovsdb, daemon=True,
                         name='df-ovsdb-start').start()
        while not (done.is_set() or self._stop.is_set()):
            self._wake.wait()
            self._wake.clear()
        if failure:
            raise failure[0]
        return done.is_set() and not self._stop.is_set()

    def _run_until_stopped(self) -> None:
        """Report status (and keep systemd's watchdog fed) until stopped."""
        period = self.watchdog.period if self.watchdog else STATUS_INTERVAL
        status = None
        while not self._stop.is_set():
            if self.watchdog is not None and self.agent.monitor_alive():
                self.watchdog.kick()
            current = self._status()
            if current != status:
                self.notifier.status(current)
                status = current
            self._stop.wait(min(period, STATUS_INTERVAL))

    def _status(self) -> str:
        return '%s, %s, %d interfaces online' % (
            'connected' if self.agent.connected else 'not connected',
            'synced' if self.agent.synced else 'syncing',
            len(self.agent.interfaces()))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def shutdown(self) -> None:
        """Stop everything that was started, within shutdown_timeout.

        The stops run on a thread of their own: whatever hangs (a store
        that does not answer, a subscriber that does not return), the
        daemon exits when the time is up.
        """
        if self._shut_down:
            return
        self._shut_down = True
        self.notifier.stopping()
        timeout = self.conf.agent.shutdown_timeout
        stopper = threading.Thread(target=self._stop_all, args=(timeout,),
                                   daemon=True, name='df-ovsdb-shutdown')
        stopper.start()
        stopper.join(timeout + SHUTDOWN_GRACE)
        if stopper.is_alive():
            LOG.warning('Shutdown did not finish within shutdown_timeout '
                        '(%ss); exiting anyway', timeout)
        LOG.info('%s stopped', PROG)

    def _stop_all(self, timeout: float) -> None:
        # Stop the monitor first, so nothing new is published, then let
        # subscribers drain what they already have.
        self.agent.stop(timeout)
        for plugin in reversed(self._started):
            try:
                plugin.stop()
            except Exception:
                LOG.exception('Plugin %s failed to stop', plugin)
        if self.metrics is not None:
            self.metrics.stop()
        self.state_dir.close()


class Signals:
    """SIGTERM/SIGINT stop the daemon, SIGHUP reloads its log settings.

    Installed before anything else, so that a signal during start-up
    (loading plugins, waiting for OVSDB) stops the daemon cleanly too.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.daemon: Optional[Daemon] = None
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum, frame) -> None:
        # The flag first: a signal handler must not depend on a lock
        # (logging's) that the interrupted code may hold.
        first = not self.stop.is_set()
        self.stop.set()
        self.wake.set()
        if first:
            self._arm_exit_timer()
        LOG.info('Caught %s, stopping', signal.Signals(signum).name)

    def _arm_exit_timer(self) -> None:
        """Exit for sure a little after shutdown_timeout, whatever hangs
        (the orderly shutdown is bounded too; this also covers the
        interpreter's own exit waiting on a wedged thread).
        """
        timeout = (self.daemon.conf.agent.shutdown_timeout
                   if self.daemon is not None else DEFAULT_EXIT_TIMEOUT)
        timer = threading.Timer(timeout + FORCED_EXIT_GRACE, self._exit_now,
                                args=(timeout,))
        timer.daemon = True
        timer.start()

    @staticmethod
    def _exit_now(timeout: float) -> None:
        # No logging here: what hangs may be holding its locks.
        os.write(2, ('%s: not stopped %ss after the signal '
                     '(shutdown_timeout %ss); exiting now\n'
                     % (PROG, timeout + FORCED_EXIT_GRACE,
                        timeout)).encode())
        os._exit(0)

    def _on_hup(self, signum, frame) -> None:
        if self.daemon is not None:
            self.daemon.on_hup()


def _main(argv: Optional[list]) -> int:
    signals = Signals()
    conf = common.load_config(argv, PROG)
    logsafe.install_filters()
    try:
        signals.daemon = Daemon(conf, signals.stop, signals.wake)
        return signals.daemon.run()
    except AgentError as exc:
        # To the configured log destination too, not only to stderr (which
        # is where the console log goes when none is configured).
        if conf.log_file or conf.use_journal or conf.use_syslog:
            LOG.error('%s', exc)
        raise


def main(argv: Optional[list] = None) -> int:
    """Run the daemon; the process ends here, with its exit status.

    After the orderly shutdown the process exits at once (``os._exit``)
    instead of through the interpreter's finalisation, which waits on
    threads and locks that a wedged store client or subscriber may hold:
    "exit 0 within shutdown_timeout" must not depend on them.
    """
    common.exit_now(common.run(lambda: _main(argv), PROG))


if __name__ == '__main__':
    sys.exit(main())
