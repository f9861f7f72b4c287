"""Option declarations; register_opts(conf) and list_opts() for tools.

Only entry points read a ConfigOpts; they turn it into plain settings
objects (:func:`ovsdb_settings`, :func:`policy`, :func:`agent_args`) for
everything below.  The dependency points one way: this module imports the
plugin loader (for :func:`list_opts`), never the reverse; plugins get their
own option group, the agent its settings (``Agent.from_conf`` only
delegates to :func:`agent_args`).
"""

import types
from typing import Iterable, TYPE_CHECKING

from oslo_config import cfg

from df_ovsdb_agent.classifier import DEFAULT_BRIDGE_NAMES
from df_ovsdb_agent.classifier import DEFAULT_TUNNEL_TYPES
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent import metrics
from df_ovsdb_agent.options import read_group  # noqa: F401 (public here)
from df_ovsdb_agent.ovsdb.peer import DEFAULT_TRUSTED_USERS
from df_ovsdb_agent.ovsdb import remote as remote_lib
from df_ovsdb_agent import plugins

if TYPE_CHECKING:  # pragma: no cover
    from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings

# The monitor's own default (``ovsdb.monitor.DEFAULT_CONNECTION``; a unit
# test keeps the two equal).  Spelled out here because importing the
# monitor brings in python-ovs, which every command's ``--help`` would
# then pay for (see doc/source/cli.rst, start-up).
DEFAULT_CONNECTION = 'tcp:127.0.0.1:6640,unix:/var/run/openvswitch/db.sock'

DEFAULT_OPTS = [
    cfg.HostAddressOpt(
        'host',
        help='Id of this hypervisor, used by publishers to key its state. '
             'Default: Open vSwitch\'s external_ids:system-id (the OVN '
             'chassis name), else the hostname.'),
]

OVSDB_OPTS = [
    cfg.StrOpt(
        'connection', default=DEFAULT_CONNECTION,
        help='OVSDB remote(s) to monitor: tcp:IP:PORT, ssl:IP:PORT or '
             'unix:PATH; a comma-separated list is tried in turn (the '
             'agent stays on the one that works).'),
    cfg.FloatOpt(
        'timeout', default=10.0, min=0.1,
        help='Seconds to wait at start-up for the server to answer and '
             'send its schema before giving up.'),
    cfg.FloatOpt(
        'sync_timeout', default=300.0, min=1.0,
        help='Seconds to wait at start-up for the initial dump of the '
             'Interface table.'),
    cfg.IntOpt(
        'probe_interval', default=5000, min=0,
        help='Milliseconds of silence after which the session sends an '
             'inactivity probe and, if that goes unanswered as long again, '
             'reconnects. 0 disables probes (not recommended).'),
    cfg.IntOpt(
        'max_backoff', default=1000, min=1000,
        help='Upper bound, in milliseconds, of the delay between '
             'reconnection attempts. Retries never stop.'),
    cfg.IntOpt(
        'max_message_size', default=64, min=1,
        help='Largest OVSDB message accepted, in MiB. A peer sending more '
             'in one message is disconnected. The initial dump is the '
             'largest message: about 500 bytes per interface (48.6 MiB for '
             '100,000). One message can cost up to ~27 times its size in '
             'memory while it is parsed, so this also bounds the agent\'s '
             'memory (see the operations guide).'),
    cfg.StrOpt('ssl_key_file',
               help='Private key for ssl: remotes.'),
    cfg.StrOpt('ssl_cert_file',
               help='Certificate for ssl: remotes.'),
    cfg.StrOpt('ssl_ca_cert_file',
               help='CA certificate the server must be signed by.'),
    cfg.ListOpt(
        'trusted_users', default=list(DEFAULT_TRUSTED_USERS),
        help='Users (names or uids) whose local OVSDB server is believed: '
             'the user running a unix: socket\'s server (SO_PEERCRED) or a '
             'loopback tcp: remote\'s server (/proc/net/tcp) must be one '
             'of them or the agent\'s own user, else the remote is refused '
             'before any of its data is used and the next one is tried. A '
             'name that does not exist on the host is not trusted. ssl: '
             'remotes are checked by their certificate, tcp: remotes to '
             'other addresses are not checked.'),
    cfg.BoolOpt(
        'check_peer_user', default=True,
        help='Check who runs a local OVSDB server (see trusted_users). '
             'Turning this off lets any local user who listens on a '
             'configured loopback port or socket path first (e.g. '
             '127.0.0.1:6640 while ovsdb-server listens only on its unix '
             'socket) feed the agent forged interfaces and a forged '
             'system-id; only for setups where the server runs as another '
             'user and no untrusted user can log in.'),
]

AGENT_OPTS = [
    cfg.ListOpt(
        'bridge_names', default=list(DEFAULT_BRIDGE_NAMES),
        help='Internal interfaces with exactly these names are bridges.'),
    cfg.ListOpt(
        'tunnel_types', default=list(DEFAULT_TUNNEL_TYPES),
        help='Interface types treated as tunnels (with options:remote_ip).'),
    cfg.ListOpt(
        'vm_bridges', default=[],
        help='Interfaces with an iface-id count as VM ports only on these '
             'bridges (e.g. br-int, as ovn-controller binds VIFs on the '
             'integration bridge only). Empty: on any bridge.'),
    cfg.BoolOpt(
        'require_ofport', default=True,
        help='Only report an interface online once OVS has given it an '
             'OpenFlow port (ofport > 0).'),
    cfg.ListOpt(
        'apps', default=[],
        help='Controller modules to load from the df_ovsdb_agent.apps '
             'entry point namespace.'),
    cfg.ListOpt(
        'publishers', default=[],
        help='Publishers to load from the df_ovsdb_agent.publishers entry '
             'point namespace (e.g. etcd, redis); each reads its own '
             '[publisher_<name>] group.'),
    cfg.StrOpt(
        'state_dir', default='/var/lib/df-ovsdb-agent',
        help='Directory for the agent\'s own state: the last published '
             'interfaces (so that after a restart only what changed while '
             'the agent was down is reported), its owner id and a lock '
             'that keeps a second agent out.'),
    cfg.StrOpt(
        'event_log_level', default='INFO', choices=['INFO', 'DEBUG'],
        help='Level of the one log line per interface event. DEBUG keeps '
             'the events of very large hosts out of an INFO log.'),
    cfg.FloatOpt(
        'shutdown_timeout', default=5.0, min=0.0,
        help='Seconds subscribers get to drain their backlog on shutdown.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every option of the agent on ``conf``.

    A host program that already has a ``host`` option of its own in
    ``[DEFAULT]`` (neutron's agents do) keeps it, and the agent uses its
    value: it means the same thing, the id of this hypervisor.  For groups
    that could collide with the host program's, use :func:`from_files`.
    """
    try:
        conf.register_opts(DEFAULT_OPTS)
    except cfg.DuplicateOptError:
        pass
    conf.register_opts(OVSDB_OPTS, group='ovsdb')
    conf.register_opts(AGENT_OPTS, group='agent')
    conf.register_opts(metrics.METRICS_OPTS, group='metrics')


def from_files(config_files: Iterable[str]) -> cfg.ConfigOpts:
    """A private ConfigOpts with the agent's options, read from
    ``config_files`` (and ``OS_<GROUP>__<OPTION>`` variables).

    For an embedding program (an os-ken controller): the agent's options
    come from the program's own configuration files without being
    registered on its ConfigOpts, so none of its options or groups can
    collide with ours.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf([], project='df-ovsdb-agent', prog='df-ovsdb-agent',
         default_config_files=list(config_files), default_config_dirs=[],
         use_env=True)
    return conf


def list_opts():
    """Entry point for oslo-config-generator: ours, then every plugin's."""
    return ([('DEFAULT', DEFAULT_OPTS), ('ovsdb', OVSDB_OPTS),
             ('agent', AGENT_OPTS), ('metrics', metrics.METRICS_OPTS)] +
            plugins.list_plugin_opts(plugins.APPS_NAMESPACE) +
            plugins.list_plugin_opts(plugins.PUBLISHERS_NAMESPACE))


def ovsdb_settings(conf: cfg.ConfigOpts) -> 'OvsdbSettings':
    """Read and validate the ``[ovsdb]`` group into plain settings."""
    from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
    group = _read(conf, 'ovsdb')
    settings = OvsdbSettings(
        connection=group.connection, timeout=group.timeout,
        sync_timeout=group.sync_timeout,
        probe_interval=group.probe_interval, max_backoff=group.max_backoff,
        max_message_size=group.max_message_size << 20,
        ssl_key_file=group.ssl_key_file, ssl_cert_file=group.ssl_cert_file,
        ssl_ca_cert_file=group.ssl_ca_cert_file,
        trusted_users=tuple(u.strip() for u in group.trusted_users
                            if u.strip()),
        check_peer_user=group.check_peer_user)
    remote_lib.split_remotes(settings.connection)
    return settings


def agent_args(conf: cfg.ConfigOpts) -> dict:
    """The :class:`~df_ovsdb_agent.agent.Agent` arguments the options
    give: ``settings``, ``policy`` and ``host``, read and validated.
    """
    return {'settings': ovsdb_settings(conf), 'policy': policy(conf),
            'host': conf.host}


def policy(conf: cfg.ConfigOpts) -> Policy:
    """Read and validate the classification options of ``[agent]``."""
    group = _read(conf, 'agent')
    for opt in ('bridge_names', 'tunnel_types', 'vm_bridges'):
        values = getattr(group, opt)
        if any(not v.strip() for v in values):
            raise ConfigError('[agent] %s contains an empty name' % opt)
    return Policy(bridge_names=frozenset(v.strip()
                                         for v in group.bridge_names),
                  tunnel_types=frozenset(v.strip()
                                         for v in group.tunnel_types),
                  require_ofport=group.require_ofport,
                  vm_bridges=frozenset(v.strip() for v in group.vm_bridges))


def _read(conf: cfg.ConfigOpts, name: str):
    groups: dict[str, list] = {
        'DEFAULT': DEFAULT_OPTS, 'ovsdb': OVSDB_OPTS, 'agent': AGENT_OPTS,
        'metrics': metrics.METRICS_OPTS}
    opts = groups[name]
    return types.SimpleNamespace(**read_group(conf, name, opts))


def metrics_settings(conf: cfg.ConfigOpts):
    """Read and validate the ``[metrics]`` group."""
    return _read(conf, 'metrics')
