"""The documentation builds warning-free and its library example runs.

The example is run as a user would run it, against a real ovsdb-server and
ovs-vswitchd (dummy datapath) on a free 127.0.0.1 port.
"""

import configparser
import dataclasses
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

from oslo_config import cfg
import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent import events
from tests.helpers import OutputLines
from tests.helpers import vsctl_vm
from tests.recorder import Recorder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, 'doc', 'source')
EXAMPLES = os.path.join(ROOT, 'doc', 'examples')
EXAMPLE = os.path.join(EXAMPLES, 'embed_agent.py')
BUILD_TIMEOUT = 60


def _read(name):
    with open(os.path.join(SOURCE, name)) as f:
        return f.read()


@pytest.mark.timeout(BUILD_TIMEOUT + 10)
def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / 'html'
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q',
         '-b', 'html', '-d', str(tmp_path / 'doctrees'), SOURCE, str(out)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'WARNING' not in result.stderr, result.stderr
    assert time.monotonic() - started < BUILD_TIMEOUT
    # The configuration reference is generated from the options themselves.
    config = (out / 'configuration.html').read_text()
    for needle in ('sync_timeout', 'require_ofport', 'app_state_file'):
        assert needle in config, needle


def test_event_reference_covers_the_contract():
    """Every kind, action, attribute and marker of events.py is described."""
    text = _read('events.rst')
    names = ([k.value for k in events.Kind] +
             [a.value for a in events.Action] +
             [s.value for s in events.Sync] +
             [f.name for f in dataclasses.fields(events.Interface)])
    missing = [n for n in names if '``%s``' % n not in text]
    assert not missing, 'events.rst does not describe: %s' % missing


def test_cli_reference_covers_every_console_script():
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(os.path.join(ROOT, 'setup.cfg'))
    section = setup_cfg['entry_points']['console_scripts']
    scripts = [line.split('=')[0].strip() for line in section.splitlines()
               if '=' in line]
    assert scripts
    text = _read('cli.rst')
    missing = [s for s in scripts if '``%s``' % s not in text]
    assert not missing, 'cli.rst does not describe: %s' % missing


def _vm_port(name, iface_id):
    return vsctl_vm(name, iface_id, mac='fa:16:3e:00:00:01')


@pytest.mark.functional
@pytest.mark.timeout(90)
def test_library_example_runs_against_real_ovsdb(ovs):
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*_vm_port('tap-a', 'port-a'))
    proc = subprocess.Popen([sys.executable, EXAMPLE, ovs.remote],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        lines = OutputLines(proc.stdout)
        # br-int and tap-a are online; only tap-a is a VM port.
        lines.wait_new(lambda s: s == '2 interfaces online, 1 of them VM '
                                      'ports')
        replayed = lines.wait_new(lambda s: s.startswith('vm online tap-a'))
        assert 'iface_id=port-a' in replayed
        assert 'attached_mac=fa:16:3e:00:00:01' in replayed

        ovs.vsctl(*_vm_port('tap-b', 'port-b'))
        plugged = lines.wait_new(lambda s: s.startswith('vm online tap-b'))
        ofport = int(plugged.split('ofport=')[1].split()[0])
        assert ofport > 0  # assigned by ovs-vswitchd, not by the test

        # Filtered out by kinds=[Kind.VM]; its event is published before
        # tap-a's offline, so it would show up before that line.
        ovs.vsctl('add-port', 'br-int', 'vxlan0', '--', 'set', 'Interface',
                  'vxlan0', 'type=vxlan', 'options:remote_ip=192.0.2.9')
        ovs.vsctl('del-port', 'tap-a')
        lines.wait_new(lambda s: s.startswith('vm offline tap-a'))

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    output = lines.drain(10)
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert not [s for s in output if s.split()[0] in ('tunnel', 'bridge')]
    assert 'Traceback' not in stderr and 'Warning' not in stderr, stderr


@pytest.mark.timeout(30)
def test_library_example_reports_a_bad_remote_in_one_line():
    result = subprocess.run([sys.executable, EXAMPLE, 'tpc:127.0.0.1:6640'],
                            capture_output=True, text=True, timeout=20,
                            cwd=ROOT)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.strip().splitlines() == [
        "embed_agent: error: OVSDB remote 'tpc:127.0.0.1:6640' is not "
        "valid; expected tcp:IP:PORT, ssl:IP:PORT or unix:PATH"]


def _load_example(name):
    spec = importlib.util.spec_from_file_location(
        'doc_example_%s' % name, os.path.join(EXAMPLES, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.functional
@pytest.mark.timeout(60)
def test_app_example_tracks_ofports(ovs):
    """The plugin example, given its own option group as the loader does."""
    app_cls = _load_example('ofport_map_app').OfportMapApp
    conf = cfg.ConfigOpts()
    conf.register_opts(app_cls.CONFIG_OPTS, group='app_ofport_map')
    conf([], default_config_files=[])
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*_vm_port('tap-a', 'port-a'))
    agent = Agent(ovs.remote)
    app = app_cls(agent, conf['app_ofport_map'], 'compute-1')
    seen = Recorder()
    try:
        app.start()
        agent.subscribe(seen, name='test')
        agent.start()
        # Apps start before the first sync: the port came as an event.
        agent.bus.wait_idle(10)
        tap_a = [i for i in agent.interfaces() if i.name == 'tap-a'][0]
        assert app.ofport('port-a') == tap_a.ofport > 0

        ovs.vsctl(*_vm_port('tap-b', 'port-b'))
        seen.wait_event(name='tap-b', action='online')
        agent.bus.wait_idle(10)
        tap_b = [i for i in agent.interfaces() if i.name == 'tap-b'][0]
        assert app.ofport('port-b') == tap_b.ofport > 0

        ovs.vsctl('del-port', 'tap-a')
        seen.wait_event(name='tap-a', action='offline')
        agent.bus.wait_idle(10)
        assert app.ofport('port-a') is None
        assert app._sub.errors == 0
    finally:
        agent.stop(5)
        app.stop()


def _console_scripts():
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(os.path.join(ROOT, 'setup.cfg'))
    section = setup_cfg['entry_points']['console_scripts']
    return dict((name.strip(), target.strip()) for name, target in
                (line.split('=') for line in section.splitlines() if line))


def _run_script(target, *args):
    """Run a console script's ``main`` from this tree, as a user would."""
    module, func = target.split(':')
    code = 'import sys; from %s import %s as m; sys.exit(m(%r))' % (
        module, func, list(args))
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=60, cwd=ROOT,
                          env=dict(os.environ, COLUMNS='80'))


@pytest.mark.timeout(120)
def test_cli_usage_blocks_are_the_programs_own():
    text = _read('cli.rst')
    for name, target in _console_scripts().items():
        result = _run_script(target, '--help')
        assert result.returncode == 0, result.stderr
        usage = result.stdout[:result.stdout.index('\n\n')]
        block = '\n'.join('    ' + line for line in usage.splitlines())
        assert block + '\n' in text, (
            'cli.rst: usage of %s is not:\n%s' % (name, block))


@pytest.mark.timeout(60)
def test_configuration_quotes_the_real_bad_value_error(tmp_path):
    text = _read('configuration.rst')
    quoted = [line.strip() for line in text.splitlines()
              if 'df-ovsdb-events: error: invalid value' in line]
    assert len(quoted) == 1
    bad = tmp_path / 'bad.conf'
    bad.write_text('[agent]\nrequire_ofport = maybe\n')
    result = _run_script(_console_scripts()['df-ovsdb-events'],
                         '--config-file', str(bad), '--once')
    assert result.returncode != 0
    assert result.stderr.strip() == quoted[0].replace('/tmp/bad.conf',
                                                      str(bad))


# `pip install '.[etcd,redis]'` or `'df-ovsdb-agent[eventlet]'`
EXTRA_RE = re.compile(r"(?:\.|df-ovsdb-agent)\[([a-z,]+)\]")


def test_docs_name_no_extra_that_does_not_exist():
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(os.path.join(ROOT, 'setup.cfg'))
    extras = set(setup_cfg['extras'])
    for name in os.listdir(SOURCE):
        if not name.endswith('.rst'):
            continue
        text = _read(name)
        for match in EXTRA_RE.finditer(text):
            named = set(match.group(1).split(','))
            assert named <= extras, (name, match.group(0))


def test_release_notes_are_rendered_with_upgrade_notes(tmp_path):
    """reno's Sphinx extension renders releasenotes/notes into the docs."""
    assert 'reno.sphinxext' in _read('conf.py')
    assert '.. release-notes::' in _read('releasenotes.rst')
    assert 'releasenotes' in _read('index.rst').split('.. toctree::')[1]
    out = tmp_path / 'html'
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-q', '-b', 'text',
         '-d', str(tmp_path / 'doctrees'), SOURCE, str(out)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    text = (out / 'releasenotes.txt').read_text()
    assert 'Upgrade Notes' in text
    # A note's text, e.g. the changed default connection list.
    assert 'tcp:127.0.0.1:6640,unix:/var/run/openvswitch/db.sock' in text


def test_index_counts_the_interface_columns_the_monitor_logs():
    from df_ovsdb_agent.ovsdb import tables
    interface = tables.BY_NAME[tables.INTERFACE]
    count = len(interface.columns) + len(interface.optional)
    words = {5: 'five', 6: 'six', 7: 'seven', 8: 'eight', 9: 'nine',
             10: 'ten'}
    match = re.search(r'on the (\w+) ``Interface`` columns', _read(
        'index.rst'))
    assert match, 'index.rst no longer says how many columns'
    assert match.group(1) == words[count]


def _documented_exit_statuses():
    """The statuses of cli.rst's exit status table."""
    text = _read('cli.rst')
    table = text.split('Exit status, for all of them:', 1)[1]
    table = table.split('\n\n', 1)[1].split('\n\n', 1)[0]
    return {int(m.group(1)) for m in re.finditer(r'^(\d+)\s{2,}', table,
                                                 re.M)}


@pytest.mark.timeout(300)
def test_every_documented_exit_status_is_what_the_programs_return(
        tmp_path):
    bad_remote = tmp_path / 'bad-remote.conf'
    bad_remote.write_text('[ovsdb]\nconnection = tcp:localhost:1\n')
    # One operator error per program (exit 1); every program also gets
    # --version (0), an unknown option (2) and, where it reads one, a
    # missing configuration file (2).
    operator_errors = {
        'df-ovsdb-agent': ['--config-file', str(bad_remote)],
        'df-ovsdb-events': ['--connection', 'tcp:localhost:1', '--once'],
        'df-ovsdb-demo': ['--connection', 'tcp:localhost:1'],
        'df-ovsdb-cluster-events': ['--etcd', 'http://127.0.0.1:1',
                                    '--once'],
        'df-ovsdb-agent-systemd-unit': ['--config-file', '/etc/a b.conf'],
    }
    seen = set()
    for name, target in _console_scripts().items():
        cases = [(['--version'], 0), (['--no-such-option'], 2)]
        if name != 'df-ovsdb-agent-systemd-unit':  # only names the file
            cases.append((['--config-file', str(tmp_path / 'none.conf')],
                          2))
        if name in operator_errors:
            cases.append((operator_errors[name], 1))
        for args, expected in cases:
            result = _run_script(target, *args)
            assert result.returncode == expected, (name, args, result.stderr)
            seen.add(result.returncode)
            if expected:
                lines = result.stderr.splitlines()
                assert lines[-1].startswith('%s: error: ' % name), (
                    name, args, result.stderr)
                assert 'Traceback' not in result.stderr
                if expected == 1:
                    assert len(lines) == 1, (name, result.stderr)
    # 130: Ctrl-C before a program installed its own signal handlers.
    from df_ovsdb_agent.cmd import common

    def interrupted():
        raise KeyboardInterrupt
    seen.add(common.run(interrupted, 'x'))
    assert seen == _documented_exit_statuses()
