"""etc/systemd/df-ovsdb-agent.service: the settings operators rely on."""

import collections
import configparser
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, 'etc', 'systemd', 'df-ovsdb-agent.service')


def _parse(path):
    """section -> key -> [values]; systemd allows repeated keys."""
    sections = collections.defaultdict(lambda: collections.defaultdict(list))
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(('#', ';')):
                continue
            if line.startswith('['):
                section = line.strip('[]')
                continue
            key, value = line.split('=', 1)
            sections[section][key.strip()].append(value.strip())
    return sections


@pytest.fixture(scope='module')
def unit():
    return _parse(UNIT)


def _one(unit, section, key):
    values = unit[section][key]
    assert len(values) == 1, (section, key, values)
    return values[0]


def test_notify_type_with_watchdog_and_restart(unit):
    assert _one(unit, 'Service', 'Type') == 'notify'
    assert _one(unit, 'Service', 'NotifyAccess') == 'main'
    assert _one(unit, 'Service', 'WatchdogSec') == '30s'
    assert _one(unit, 'Service', 'Restart') == 'on-failure'
    # Waiting for OVSDB at boot has no deadline.
    assert _one(unit, 'Service', 'TimeoutStartSec') == 'infinity'
    assert _one(unit, 'Service', 'TimeoutStopSec')


def test_ordered_after_the_open_vswitch_database(unit):
    after = ' '.join(unit['Unit']['After']).split()
    assert 'ovsdb-server.service' in after
    assert 'openvswitch-switch.service' in after
    assert 'ovsdb-server.service' in _one(unit, 'Unit', 'Wants').split()
    # The agent outlives an Open vSwitch restart.
    assert 'Requires' not in unit['Unit'] and 'BindsTo' not in unit['Unit']


def test_exec_start_runs_the_native_threads_console_script(unit):
    argv = _one(unit, 'Service', 'ExecStart').split()
    assert argv == ['/usr/bin/df-ovsdb-agent', '--config-file',
                    '/etc/df-ovsdb-agent/df-ovsdb-agent.conf']
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(os.path.join(ROOT, 'setup.cfg'))
    scripts = dict(
        (name.strip(), target.strip()) for name, target in
        (line.split('=') for line in
         setup_cfg['entry_points']['console_scripts'].splitlines() if line))
    assert scripts['df-ovsdb-agent'] == 'df_ovsdb_agent.cmd.agent:main'


def test_hardening(unit):
    service = unit['Service']
    for key, value in [('NoNewPrivileges', 'yes'),
                       ('ProtectSystem', 'strict'),
                       ('ProtectHome', 'yes'),
                       ('PrivateTmp', 'yes'),
                       ('StateDirectory', 'df-ovsdb-agent'),
                       ('RuntimeDirectory', 'df-ovsdb-agent'),
                       ('CapabilityBoundingSet', '')]:
        assert service[key] == [value], key
    families = set(_one(unit, 'Service', 'RestrictAddressFamilies').split())
    assert families == {'AF_UNIX', 'AF_INET', 'AF_INET6'}


def test_state_dir_matches_the_option_default():
    from df_ovsdb_agent import conf as conf_lib
    defaults = {(group, opt.name): opt.default
                for group, opts in conf_lib.list_opts() for opt in opts}
    assert defaults[('agent', 'state_dir')] == '/var/lib/df-ovsdb-agent'


def test_systemd_analyze_verify_is_clean(tmp_path):
    tool = shutil.which('systemd-analyze')
    if tool is None:
        pytest.skip('systemd-analyze is not installed')
    # verify checks that ExecStart exists; the package is not installed
    # in /usr/bin here, so point it at a binary that is.
    with open(UNIT) as f:
        text = f.read().replace('/usr/bin/df-ovsdb-agent',
                                shutil.which('true'))
    copy = tmp_path / 'df-ovsdb-agent.service'
    copy.write_text(text)
    result = subprocess.run([tool, 'verify', str(copy)],
                            capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are only warnings: require silence.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == '' and result.stdout.strip() == '', (
        result.stdout + result.stderr)


def test_memory_max_follows_max_message_size(unit):
    from df_ovsdb_agent import conf as conf_lib
    from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
    value = _one(unit, 'Service', 'MemoryMax')
    assert value.endswith('M'), value
    limit = int(value[:-1]) << 20
    message = OvsdbSettings.max_message_size
    # The option's default (MiB) and the library's agree.
    assert [o.default for o in conf_lib.OVSDB_OPTS
            if o.name == 'max_message_size'] == [message >> 20]
    # benchmarks/message_memory.py: one message costs up to 27x its size
    # while parsed; a 100,000-interface host's state is ~460 MiB.
    assert limit >= message * 27 + (460 << 20)
    # ...and the default still admits that host's 48.6 MiB initial dump.
    assert message >= 48.6 * (1 << 20) * 1.25
