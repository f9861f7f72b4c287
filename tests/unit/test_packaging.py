"""Version, licence and extras as a user of the package sees them."""

import ast
import configparser
from importlib import metadata
import os
import re
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


def test_console_log_lines_carry_no_colour_codes():
    """oslo.log 5.0.x (Debian 12) appends an ANSI reset to every console
    line; the journal must get plain text with any supported oslo.log.
    """
    code = ('import logging\n'
            'from df_ovsdb_agent.cmd import common\n'
            'common.load_config([], "x")\n'
            'logging.getLogger("t").warning("plain line")\n'
            'logging.getLogger("t").error("second line")\n')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert lines[0].endswith(' WARNING t [-] plain line'), lines
    assert lines[1].endswith(' ERROR t [-] second line'), lines
    assert '\x1b' not in result.stdout + result.stderr


def test_runtime_requirements_are_what_the_agent_imports():
    """pbr is a build requirement only; ovsdbapp belongs to the demo."""
    with open(os.path.join(ROOT, 'requirements.txt')) as f:
        names = {re.split(r'[<>=!~ ;\[]', line.strip(), 1)[0].lower()
                 for line in f if line.strip() and not line.startswith('#')}
    assert names == {'ovs', 'oslo.config', 'oslo.log', 'stevedore',
                     'prometheus-client'}
    with open(os.path.join(ROOT, 'requirements.txt')) as f:
        # Constraints hold upper bounds, not requirements.
        assert '<' not in f.read()
    assert 'ovsdbapp' in _setup_cfg()['extras']['demo']


def _imported_modules(path):
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from ('%s.%s' % (node.module, alias.name)
                        for alias in node.names)


def test_test_support_and_ovsdbapp_stay_out_of_the_product():
    """Only the demo reaches df_ovsdb_agent.testing; ovsdbapp only there."""
    package = os.path.join(ROOT, 'df_ovsdb_agent')
    testing = os.path.join(package, 'testing')
    seen = {}
    for top, _dirs, files in os.walk(package):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(top, name)
                seen[os.path.relpath(path, ROOT)] = set(
                    _imported_modules(path))
    assert 'df_ovsdb_agent/testing/sandbox.py' in seen
    reaching = sorted(
        path for path, modules in seen.items()
        if not path.startswith(os.path.relpath(testing, ROOT))
        and any(m == 'df_ovsdb_agent.testing'
                or m.startswith('df_ovsdb_agent.testing.') for m in modules))
    assert reaching == ['df_ovsdb_agent/cmd/demo.py']
    with_ovsdbapp = sorted(
        path for path, modules in seen.items()
        if any(m.split('.')[0] == 'ovsdbapp' for m in modules))
    assert with_ovsdbapp
    assert all(path.startswith('df_ovsdb_agent/testing/')
               for path in with_ovsdbapp), with_ovsdbapp


def _minimums(lines):
    found = {}
    for line in lines:
        match = re.match(r'^\s*([A-Za-z0-9._-]+)>=([0-9.]+)', line)
        if match:
            found[match[1].lower()] = match[2]
    return found


def test_lower_constraints_pin_exactly_the_minimums():
    with open(os.path.join(ROOT, 'requirements.txt')) as f:
        minimums = _minimums(f)
    extras = _setup_cfg()['extras']
    for extra in ('etcd', 'redis', 'demo'):
        minimums.update(_minimums(extras[extra].splitlines()))
    with open(os.path.join(ROOT, 'lower-constraints.txt')) as f:
        pins = dict(line.strip().lower().split('==') for line in f
                    if '==' in line and not line.startswith('#'))
    assert {name: pins.get(name) for name in minimums} == minimums
    # Debian 12's packages satisfy them, but etcd3gw's (2.0.0 applies no
    # timeout per request: a hung etcd blocks a publisher for ever).
    debian_12 = {'stevedore': '4.0.2', 'ovsdbapp': '2.1.0',
                 'prometheus-client': '0.16.0', 'redis': '4.3.4',
                 'oslo.config': '9.0.0', 'oslo.log': '5.0.1'}
    for name, version in debian_12.items():
        assert _version(minimums[name]) <= _version(version), name
    assert minimums['etcd3gw'] == '2.4.0'


def _version(text):
    return tuple(int(part) for part in text.split('.'))
