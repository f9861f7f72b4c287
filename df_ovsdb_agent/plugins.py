"""Loading of apps and publishers through stevedore (os-vif style).

Each plugin class declares ``CONFIG_OPTS``; the loader registers them in the
plugin's own group (``[app_<name>]`` / ``[publisher_<name>]``) and hands the
plugin that group only, never the global configuration.
"""

import abc
import importlib
import logging
from typing import Optional, TYPE_CHECKING

from oslo_config import cfg

from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.options import read_group

if TYPE_CHECKING:  # pragma: no cover
    from df_ovsdb_agent.agent import Agent

LOG = logging.getLogger(__name__)

APPS_NAMESPACE = 'df_ovsdb_agent.apps'
PUBLISHERS_NAMESPACE = 'df_ovsdb_agent.publishers'
GROUP_PREFIX = {APPS_NAMESPACE: 'app_', PUBLISHERS_NAMESPACE: 'publisher_'}


class Plugin(abc.ABC):
    """Base of apps and publishers: a bus subscriber with its own options."""

    CONFIG_OPTS: list = []
    #: Python modules the plugin needs, and the extra that installs them:
    #: checked at start-up, so a missing one is one clear line, not a
    #: plugin that retries an ImportError forever.
    REQUIRES: tuple = ()
    EXTRA: Optional[str] = None

    def __init__(self, agent: 'Agent', config,
                 host: Optional[str] = None) -> None:
        """:param config: this plugin's option group (attribute access).
        :param host: the configured host id, if any (see :attr:`host`).
        """
        self.agent = agent
        self.bus = agent.bus
        self.config = config
        self._host = host

    @property
    def host(self) -> str:
        """The host id: configured, else the agent's (Open vSwitch's
        system-id once the agent has synced, else the hostname).
        """
        return self._host or self.agent.host

    @abc.abstractmethod
    def start(self) -> None:
        """Subscribe and start; called before the agent's first sync."""

    def stop(self) -> None:
        """Release resources; the agent is already stopped."""

    def problem(self) -> Optional[str]:
        """What keeps the plugin from doing its job now, in one short
        line (``/healthz`` and metrics report it); None when healthy.
        """
        return None


def available(namespace: str) -> dict:
    """Plugin name -> class for every installed entry point."""
    # stevedore and importlib.metadata are imported where plugins are
    # looked up: a daemon without plugins never needs them, and every
    # command's start-up would pay for them (doc/source/cli.rst).
    from stevedore import extension
    mgr: extension.ExtensionManager = extension.ExtensionManager(
        namespace, invoke_on_load=False)
    return {ext.name: ext.plugin for ext in mgr}


def _names(namespace: str) -> list:
    from importlib import metadata as importlib_metadata
    return [ep.name for ep in importlib_metadata.entry_points(
        group=namespace)]


def _load_failed(manager, entrypoint, exc) -> None:
    raise ConfigError('cannot load plugin %r from %s: %s'
                      % (entrypoint.name, entrypoint.value, exc))


def group_name(namespace: str, name: str) -> str:
    return GROUP_PREFIX[namespace] + name


def load(namespace: str, names: list, conf: cfg.ConfigOpts,
         agent: 'Agent') -> list:
    """Instantiate the named plugins, each with its own option group."""
    if not names:
        return []
    installed = _names(namespace)
    unknown = [name for name in names if name not in installed]
    if unknown:
        raise ConfigError('unknown plugin %r in %s (installed: %s)'
                          % (unknown[0], namespace,
                             ', '.join(sorted(installed)) or 'none'))
    from stevedore import named
    # Import only the configured plugins: another plugin's missing extra
    # dependency must not matter here.
    mgr = named.NamedExtensionManager(
        namespace, names, invoke_on_load=False, name_order=True,
        on_load_failure_callback=_load_failed)
    found = {ext.name: ext.plugin for ext in mgr}
    plugins = []
    for name in names:
        cls = found[name]
        _check_requirements(namespace, name, cls)
        group = group_name(namespace, name)
        conf.register_opts(cls.CONFIG_OPTS, group=group)
        read_group(conf, group, cls.CONFIG_OPTS)
        config = conf[group]
        LOG.info('Loading %s %s from %s', namespace, name, cls.__module__)
        plugins.append(cls(agent, config, conf.host))
    return plugins


def _check_requirements(namespace: str, name: str, cls) -> None:
    for module in cls.REQUIRES:
        try:
            importlib.import_module(module)
        except ImportError:
            how = ("pip install 'df-ovsdb-agent[%s]'" % cls.EXTRA
                   if cls.EXTRA else 'pip install %s' % module)
            raise ConfigError('%s %s needs the Python package %s, which is '
                              'not installed: %s'
                              % (GROUP_PREFIX[namespace].rstrip('_'), name,
                                 module, how)) from None


def list_plugin_opts(namespace: str) -> list:
    """(group, opts) of every installed plugin, for the config generator."""
    return [(group_name(namespace, name), cls.CONFIG_OPTS)
            for name, cls in sorted(available(namespace).items())
            if cls.CONFIG_OPTS]
