"""Version, licence and extras as a user of the package sees them."""

import configparser
from importlib import metadata
import os
import subprocess
import sys

import pytest

import df_ovsdb_agent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    return parser


def test_version_is_the_installed_one_and_from_setup_cfg():
    target = _setup_cfg()['metadata']['version']
    assert df_ovsdb_agent.__version__ == metadata.version('df-ovsdb-agent')
    # pbr: the release itself on a tag, else target.devN.
    version = df_ovsdb_agent.__version__
    assert version == target or version.startswith(target + '.dev'), version


def test_license_is_apache_2_and_shipped():
    with open(os.path.join(ROOT, 'LICENSE')) as f:
        text = f.read()
    assert text.split()[:3] == ['Apache', 'License', 'Version']
    assert 'END OF TERMS AND CONDITIONS' in text
    meta = _setup_cfg()['metadata']
    assert meta['license'] == 'Apache-2.0'
    assert meta['license_files'].split() == ['LICENSE']


def test_eventlet_is_an_extra_not_a_requirement():
    with open(os.path.join(ROOT, 'requirements.txt')) as f:
        assert 'eventlet' not in f.read()
    assert 'eventlet' in _setup_cfg()['extras']['eventlet']


def test_console_scripts_import_no_eventlet():
    """The CLIs run on native threads: nothing imports eventlet.

    python-ovs imports eventlet on its own when it is installed (to detect
    monkey-patching), so the check is that nothing monkey-patched.
    """
    code = ('import sys\n'
            'import df_ovsdb_agent.cmd.agent, df_ovsdb_agent.cmd.events\n'
            'import df_ovsdb_agent.cmd.demo\n'
            'import socket, threading\n'
            'assert socket.socket.__module__ == "socket", socket.socket\n'
            'assert threading.Lock.__module__ in ("_thread", "threading")\n'
            'print("ok")\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == 'ok', out.stderr


def test_every_console_script_has_version():
    section = _setup_cfg()['entry_points']['console_scripts']
    targets = [line.split('=')[1].strip() for line in section.splitlines()
               if line]
    assert len(targets) >= 4
    for target in targets:
        module, func = target.split(':')
        code = 'import sys; from %s import %s as m; sys.exit(m(%r))' % (
            module, func, ['--version'])
        result = subprocess.run([sys.executable, '-c', code],
                                capture_output=True, text=True, timeout=60,
                                cwd=ROOT)
        assert result.returncode == 0, (target, result.stderr)
        assert result.stdout.strip() == df_ovsdb_agent.__version__, target


def test_eventlet_compatibility_entry_point_still_runs():
    pytest.importorskip('eventlet')  # the `eventlet` extra
    code = ('import sys, socket\n'
            'sys.argv = ["df-ovsdb-agent", "--version"]\n'
            'import df_ovsdb_agent.cmd.eventlet.agent as compat\n'
            'assert socket.socket.__module__ != "socket"  # monkey-patched\n'
            'sys.exit(compat.main())\n')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, timeout=60,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == df_ovsdb_agent.__version__
