"""Run os-ken apps with the agent app: the core of ``df-ovsdb-controller``.

Loading, contexts and instantiation are os-ken's ``AppManager``; starting
order, waiting and stopping are done here, because ``AppManager.run_apps``
does not work on the native hub.
"""

import signal
import sys
import threading
from typing import Optional

from oslo_log import log as logging

import df_ovsdb_agent
from df_ovsdb_agent.exceptions import AgentError
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import logsafe

LOG = logging.getLogger(__name__)

AGENT_APP = 'df_ovsdb_agent.os_ken.app'
# Seconds past shutdown_timeout after which a stop signal exits for sure.
FORCED_EXIT_GRACE = 2.0
DEFAULT_EXIT_TIMEOUT = 5.0


def parse(argv: Optional[list], prog: str):
    """os-ken's CONF with os-ken's options, oslo.log's and the apps."""
    # app_manager first: it and os_ken.controller.controller import each
    # other; the latter registers the OpenFlow options (ofp_listen_host...).
    try:
        from os_ken.base import app_manager  # noqa: F401
        from os_ken import cfg
        from os_ken.controller import controller  # noqa: F401
    except ImportError as exc:
        # os-ken is an extra: without it, one line saying how to get it.
        raise ConfigError("%s needs os-ken, an extra: pip install "
                          "'df-ovsdb-agent[os-ken]' (%s)"
                          % (prog, logsafe.one_line(str(exc)))) from None
    conf = cfg.CONF
    logging.register_options(conf)
    conf.register_cli_opts([cfg.MultiStrOpt(
        'app', positional=True, default=[],
        help='os-ken app modules to run with the agent app, e.g. '
             'df_ovsdb_agent.os_ken.l2')])
    # A local controller: OpenFlow on loopback unless configured.
    conf.set_default('ofp_listen_host', '127.0.0.1')
    conf(argv if argv is not None else sys.argv[1:],
         project='df-ovsdb-agent', prog=prog, default_config_files=[],
         version=df_ovsdb_agent.__version__)
    logging.setup(conf, 'df-ovsdb-agent')
    logsafe.install_repeat_filter()
    return conf


class Controller:
    """The loaded apps, for one process lifetime."""

    def __init__(self, conf, apps: list) -> None:
        from os_ken.base import app_manager
        self.conf = conf
        self.stopped = threading.Event()
        self.error: Optional[BaseException] = None
        self.manager = app_manager.AppManager.get_instance()
        apps = [AGENT_APP] + [a for a in apps if a != AGENT_APP]
        try:
            self.manager.load_apps(apps)
        except ImportError as exc:
            raise AgentError('cannot load os-ken app: %s' % exc) from None
        for app in apps:
            if app not in self.manager.applications_cls:
                raise AgentError('%s is not an os-ken app module (it '
                                 'defines no OSKenApp subclass)' % app)
        contexts = self.manager.create_contexts()
        self.manager.instantiate_apps(**contexts)
        from df_ovsdb_agent.os_ken.events import APP_NAME
        self.agent_app = self.manager.applications[APP_NAME]
        self.agent_app.on_fatal = self._on_agent_error
        self.shutdown_timeout = self.agent_app.shutdown_timeout

    def _on_agent_error(self, exc: BaseException) -> None:
        self.error = exc
        self.stopped.set()

    def wait(self) -> None:
        # A timeout keeps the main thread responsive to signals.
        while not self.stopped.wait(1.0):
            pass

    def stop(self) -> None:
        """The agent app first (it drains into running observers), then
        the other apps, in reverse order of loading, within
        shutdown_timeout (a stop that hangs is left behind).
        """
        stopper = threading.Thread(target=self._stop_all, daemon=True,
                                   name='df-ovsdb-shutdown')
        stopper.start()
        stopper.join(self.shutdown_timeout + 0.5)
        if stopper.is_alive():
            LOG.warning('Shutdown did not finish within shutdown_timeout '
                        '(%ss); exiting anyway', self.shutdown_timeout)

    def _stop_all(self) -> None:
        names = [self.agent_app.name] + [
            name for name in reversed(list(self.manager.applications))
            if name != self.agent_app.name]
        for name in names:
            try:
                self.manager.uninstantiate(name)
            except Exception:
                LOG.exception('os-ken app %s failed to stop', name)


class Signals:
    """SIGTERM/SIGINT stop the controller, SIGHUP reloads its log
    settings (as the daemon's); installed before anything.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.controller: Optional[Controller] = None
        self.conf = None
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        from os_ken.lib import hub
        handle = (self._reload_log_settings if signum == signal.SIGHUP
                  else self._begin_stop)
        if hub.HUB_TYPE == 'eventlet':
            # The handler runs in eventlet's main loop, which must not
            # block (a lock, starting a thread): act from a green thread.
            import eventlet
            eventlet.spawn_n(handle, signum)
        else:
            handle(signum)

    def _reload_log_settings(self, signum: int) -> None:
        if self.conf is None:
            return
        LOG.info('Caught SIGHUP, reloading log settings')
        self.conf.mutate_config_files()
        logging.setup(self.conf, 'df-ovsdb-agent')
        logsafe.install_repeat_filter()

    def _begin_stop(self, signum: int) -> None:
        first = not self.stop.is_set()
        self.stop.set()
        if self.controller is not None:
            self.controller.stopped.set()
        if first:
            timeout = (self.controller.shutdown_timeout
                       if self.controller is not None
                       else DEFAULT_EXIT_TIMEOUT)
            timer = threading.Timer(timeout + FORCED_EXIT_GRACE,
                                    _force_exit, args=(timeout,))
            timer.daemon = True
            timer.start()
        LOG.info('Caught %s, stopping', signal.Signals(signum).name)


def _force_exit(timeout: float) -> None:
    import os
    # No logging here: what hangs may be holding its locks.
    os.write(2, ('df-ovsdb-controller: not stopped %ss after the signal; '
                 'exiting now\n' % (timeout + FORCED_EXIT_GRACE)).encode())
    os._exit(0)


def run(argv: Optional[list], prog: str) -> int:
    """Parse, load, start, wait for a stop signal, stop; the exit code."""
    signals = Signals()
    conf = parse(argv, prog)
    signals.conf = conf
    if not conf.app:
        raise AgentError('no os-ken app module given (e.g. '
                         'df_ovsdb_agent.os_ken.l2)')
    LOG.info('%s starting: apps %s', prog, ', '.join(conf.app))
    controller = Controller(conf, conf.app)
    signals.controller = controller
    try:
        if signals.stop.is_set():
            controller.stopped.set()
        LOG.info('%s running; OpenFlow on %s port %s', prog,
                 conf.ofp_listen_host, conf.ofp_tcp_listen_port or
                 '6653 and 6633')
        controller.wait()
    finally:
        controller.stop()
        LOG.info('%s stopped', prog)
    if controller.error is not None:
        raise controller.error
    return 0
