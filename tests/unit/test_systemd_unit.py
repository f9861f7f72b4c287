"""etc/systemd/df-ovsdb-agent.service: the settings operators rely on."""

import collections
import configparser
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, 'etc', 'systemd', 'df-ovsdb-agent.service')


def _parse(path):
    with open(path) as f:
        return _parse_text(f.read())


def _parse_text(text):
    """section -> key -> [values]; systemd allows repeated keys."""
    sections = collections.defaultdict(lambda: collections.defaultdict(list))
    section = None
    for raw in text.splitlines():
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


# df-ovsdb-agent-systemd-unit: the shipped unit adapted to an install.

def _template():
    with open(UNIT) as f:
        return f.read()


def _rendered(**kwargs):
    from df_ovsdb_agent.cmd import systemd_unit
    text = systemd_unit.render(_template(), '/opt/venv/bin/df-ovsdb-agent',
                               **kwargs)
    return text, _parse_text(text)


def test_generated_unit_runs_this_install_and_keeps_the_rest():
    text, unit = _rendered()
    assert _one(unit, 'Service', 'ExecStart') == (
        '/opt/venv/bin/df-ovsdb-agent --config-file '
        '/etc/df-ovsdb-agent/df-ovsdb-agent.conf')
    assert _one(unit, 'Service', 'ProtectHome') == 'yes'
    assert 'User' not in unit['Service']
    shipped = _parse(UNIT)
    for section in shipped:
        for key, values in shipped[section].items():
            if key != 'ExecStart':
                assert unit[section][key] == values, (section, key)
    assert text.startswith('# Generated by df-ovsdb-agent-systemd-unit ')


def test_generated_unit_user_groups_config_and_protect_home():
    _, unit = _rendered(config_file='/srv/agent.conf',
                        protect_home='read-only', user='openvswitch',
                        group='hugetlbfs',
                        supplementary_groups=['hugetlbfs', 'x'])
    assert _one(unit, 'Service', 'ExecStart').endswith(
        ' --config-file /srv/agent.conf')
    assert _one(unit, 'Service', 'ProtectHome') == 'read-only'
    assert _one(unit, 'Service', 'User') == 'openvswitch'
    assert _one(unit, 'Service', 'Group') == 'hugetlbfs'
    assert _one(unit, 'Service', 'SupplementaryGroups') == 'hugetlbfs x'


@pytest.mark.parametrize('kwargs', [
    {'agent': '/opt/my venv/bin/df-ovsdb-agent'},
    {'agent': '/opt/%h/bin/df-ovsdb-agent'},
    {'agent': 'relative/df-ovsdb-agent'},
    {'config_file': '/etc/$X.conf'},
    {'user': 'root\nExecStartPre=/bin/evil'},
    {'supplementary_groups': ['a b']},
])
def test_generated_unit_refuses_what_systemd_would_reinterpret(kwargs):
    from df_ovsdb_agent.cmd import systemd_unit
    args = dict({'agent': '/opt/venv/bin/df-ovsdb-agent'}, **kwargs)
    with pytest.raises(systemd_unit.UnitError):
        systemd_unit.render(_template(), **args)


def test_home_directories_get_protect_home_read_only(tmp_path):
    from df_ovsdb_agent.cmd import systemd_unit
    assert systemd_unit.under_home(['/root/venv/bin/df-ovsdb-agent'])
    assert systemd_unit.under_home(['/home/ops/.local/bin/df-ovsdb-agent'])
    assert systemd_unit.under_home(['/run/user/1000/x'])
    assert not systemd_unit.under_home(['/usr/local/bin/df-ovsdb-agent',
                                        '/opt/venv', '/homeless/x'])
    # A symlink into a home directory counts (a venv's python often is).
    link = tmp_path / 'python3'
    link.symlink_to('/root/.pyenv/bin/python3')
    assert systemd_unit.under_home([str(link)])


def test_generator_output_verifies_with_this_venv(tmp_path):
    tool = shutil.which('systemd-analyze')
    if tool is None:
        pytest.skip('systemd-analyze is not installed')
    script = os.path.join(os.path.dirname(sys.executable),
                          'df-ovsdb-agent-systemd-unit')
    result = subprocess.run([script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    agent = os.path.join(os.path.dirname(sys.executable), 'df-ovsdb-agent')
    unit = _parse_text(result.stdout)
    assert _one(unit, 'Service', 'ExecStart').split()[0] == agent
    copy = tmp_path / 'df-ovsdb-agent.service'
    copy.write_text(result.stdout)
    verify = subprocess.run([tool, 'verify', str(copy)],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    assert (verify.stdout + verify.stderr).strip() == ''


def test_generator_errors_are_one_line(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable),
                          'df-ovsdb-agent-systemd-unit')
    result = subprocess.run([script, '--config-file', '/etc/a b.conf'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.startswith('df-ovsdb-agent-systemd-unit: error: ')
    assert len(result.stderr.splitlines()) == 1
