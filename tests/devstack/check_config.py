"""``check_config.py CONFIG_FILE``: is this a configuration the agent takes?

Loads the file exactly as ``df-ovsdb-agent --config-file CONFIG_FILE`` does
(same option registration, same validation, same plugin loading up to
their construction, through :class:`df_ovsdb_agent.cmd.agent.Daemon`), and
also rejects any option in the file that the agent does not know: a typo in
the DevStack plugin would otherwise be silently ignored by oslo.config.

Prints ``section.option=value`` for every option in the file, as the agent
parsed it (lists comma-joined).  Exit status: 0 valid; 1 invalid, with one
``invalid: ...`` line; 3 valid as far as it could be checked, because a
plugin named in the file is declared but not importable yet (one
``skip: ...`` line each; its options are printed as written).
"""

import configparser
import importlib.metadata
import sys
import tempfile
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_config import cfg  # noqa: E402

from df_ovsdb_agent.cmd.agent import Daemon  # noqa: E402
from df_ovsdb_agent.cmd import common  # noqa: E402
from df_ovsdb_agent.exceptions import AgentError  # noqa: E402
from df_ovsdb_agent import plugins  # noqa: E402

PROG = 'df-ovsdb-agent'
KINDS = ((plugins.PUBLISHERS_NAMESPACE, 'publishers'),
         (plugins.APPS_NAMESPACE, 'apps'))


class Invalid(Exception):
    """The file is not a configuration the agent accepts."""


def read_raw(path: str) -> configparser.RawConfigParser:
    # No default section: oslo.config does not inherit [DEFAULT] options
    # into groups, so [metrics] host is not [DEFAULT] host.
    raw = configparser.RawConfigParser(strict=True,
                                       default_section='\0none')
    raw.optionxform = str  # option names are case-sensitive in oslo
    with open(path) as f:
        raw.read_file(f)
    return raw


def missing_plugins(namespace: str, names: list) -> list:
    """Names declared as entry points whose module cannot be imported."""
    available = plugins.available(namespace)
    declared = {ep.name: ep for ep in
                importlib.metadata.entry_points(group=namespace)}
    missing = []
    for name in names:
        if name in available or name not in declared:
            continue  # unknown names are left for the agent to reject
        try:
            declared[name].load()
        except ImportError as exc:
            missing.append((name, '%s (%s)' % (declared[name].value, exc)))
    return missing


def load(path: str) -> tuple:
    """The parsed ConfigOpts and the option groups it could not check."""
    try:
        conf = common.load_config(['--config-file', path], PROG)
        unchecked = {}
        for namespace, opt in KINDS:
            names = conf.agent[opt]
            missing = missing_plugins(namespace, names)
            for name, why in missing:
                unchecked[plugins.group_name(namespace, name)] = why
            skip = {name for name, _ in missing}
            conf.set_override(opt, [n for n in names if n not in skip],
                              group='agent')
        # The daemon the harness runs holds the state directory's lock;
        # validating the rest of the file needs a directory of its own.
        state_dir = conf.agent.state_dir
        conf.set_override('state_dir', tempfile.mkdtemp(), group='agent')
        Daemon(conf).state_dir.close()
        conf.set_override('state_dir', state_dir, group='agent')
    except (AgentError, cfg.Error, ValueError) as exc:
        raise Invalid(' '.join(str(exc).split())) from None
    return conf, unchecked


def value_of(conf: cfg.ConfigOpts, section: str, option: str):
    try:
        group = conf if section == 'DEFAULT' else conf[section]
        return group[option]
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        raise Invalid('option [%s] %s is not one df-ovsdb-agent knows'
                      % (section, option)) from None


def render(value) -> str:
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return '' if value is None else str(value)


def check(path: str) -> int:
    raw = read_raw(path)
    conf, unchecked = load(path)
    lines = []
    for section in raw.sections():
        for option, written in raw.items(section, raw=True):
            if section in unchecked:
                value = written
            else:
                value = render(value_of(conf, section, option))
            lines.append('%s.%s=%s' % (section, option, value))
    print('\n'.join(lines))
    for group, why in sorted(unchecked.items()):
        print('skip: [%s] not checked: plugin %s is not importable'
              % (group, why))
    return 3 if unchecked else 0


def main(argv: list) -> int:
    if len(argv) != 1:
        print('usage: check_config.py CONFIG_FILE', file=sys.stderr)
        return 2
    try:
        return check(argv[0])
    except (Invalid, configparser.Error, OSError) as exc:
        print('invalid: %s' % ' '.join(str(exc).split()))
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
