"""What ``--help`` and a bad argument import: only what their text needs.

Start-up time is mostly imports (``python -X importtime``, see
benchmarks/startup.py).  Each console script's ``--help`` runs in a fresh
interpreter and the modules it loaded are compared with the modules that
oslo.config itself loads (and oslo.log, for the daemon, whose ``--help``
lists oslo.log's options): nothing heavy may come on top.  An import-set
assertion, never a timing one, so it cannot flake on a busy machine.

oslo.config >= 6 imports stevedore (and the bare ``oslo_log`` package)
itself: those are in the floor, and only what comes on top counts.
"""

import json
import subprocess
import sys

import pytest

from df_ovsdb_agent import conf as conf_lib

# Packages none of the --help paths needs: the agent's run time (python-ovs
# and eventlet, which python-ovs imports when it is installed), metrics,
# logging set-up, the stores' clients and the optional integrations.
HEAVY = ('oslo_log', 'oslo_serialization', 'oslo_utils', 'oslo_context',
         'prometheus_client', 'stevedore', 'ovs', 'eventlet', 'dns',
         'etcd3gw', 'requests', 'urllib3', 'redis', 'ovsdbapp', 'os_ken',
         'df_ovsdb_agent.agent', 'df_ovsdb_agent.ovsdb.monitor',
         'df_ovsdb_agent.ovsdb.client', 'df_ovsdb_agent.ovsdb.schema',
         'df_ovsdb_agent.testing',
         # What deferred bodies would import (df_ovsdb_agent.cmd.DEFERRED).
         'netaddr.core', 'dateutil.tz.tz', '_ssl', 'socketserver')

OSLO_CONFIG = ('oslo_config.cfg',)
OSLO_LOG = ('oslo_config.cfg', 'oslo_log.log')

# (console script module, what its --help legitimately needs)
COMMANDS = [
    ('df_ovsdb_agent.cmd.agent', OSLO_LOG),
    ('df_ovsdb_agent.cmd.events', OSLO_CONFIG),
    ('df_ovsdb_agent.cmd.cluster_events', OSLO_CONFIG),
    ('df_ovsdb_agent.cmd.demo', OSLO_CONFIG),
    ('df_ovsdb_agent.cmd.systemd_unit', ()),
]

# Run in a fresh interpreter: import the floor, note sys.modules, then run
# the command's main() the way its console script does and report what
# was imported on top of the floor.
PROBE = r'''
import contextlib, importlib, io, json, sys
floor_modules, module, extra = sys.argv[1:4]
for name in filter(None, floor_modules.split(',')):
    importlib.import_module(name)
floor = set(sys.modules)
if extra:
    importlib.import_module(extra)
out = io.StringIO()
code = 'returned'
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        importlib.import_module(module).main(sys.argv[4:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({'code': code, 'output': out.getvalue(),
                  'new': sorted(set(sys.modules) - floor)}))
'''


def _probe(module, floor, args, extra=''):
    result = subprocess.run(
        [sys.executable, '-c', PROBE, ','.join(floor), module, extra,
         *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _heavy(modules):
    return sorted(name for name in modules
                  if any(name == h or name.startswith(h + '.')
                         for h in HEAVY))


@pytest.mark.parametrize('module,floor', COMMANDS,
                         ids=[m.rsplit('.', 1)[1] for m, _ in COMMANDS])
def test_help_imports_nothing_heavy(module, floor):
    found = _probe(module, floor, ['--help'])
    assert found['code'] == 0, found['output']
    assert found['output'].startswith('usage: '), found['output']
    assert _heavy(found['new']) == []


@pytest.mark.parametrize('module,floor', COMMANDS,
                         ids=[m.rsplit('.', 1)[1] for m, _ in COMMANDS])
def test_bad_argument_imports_nothing_heavy(module, floor):
    found = _probe(module, floor, ['--no-such-option'])
    assert found['code'] == 2, found['output']
    assert 'no-such-option' in found['output']
    assert _heavy(found['new']) == []


def test_probe_sees_what_the_agent_imports():
    """The probe is not blind: importing the agent shows the monitor
    among the new modules, and python-ovs's schema module shows ovs.
    """
    found = _probe('df_ovsdb_agent.cmd.events', OSLO_CONFIG, ['--help'],
                   extra='df_ovsdb_agent.agent')
    heavy = _heavy(found['new'])
    assert 'df_ovsdb_agent.ovsdb.monitor' in heavy
    # python-ovs (and eventlet through it) is not imported by the agent.
    assert 'ovs' not in heavy
    found = _probe('df_ovsdb_agent.cmd.events', OSLO_CONFIG, ['--help'],
                   extra='ovs.db.schema')
    assert 'ovs' in _heavy(found['new'])


def test_option_default_is_the_monitors():
    """conf spells the default remote out instead of importing the
    monitor; the two must not drift apart.
    """
    from df_ovsdb_agent.ovsdb import monitor
    assert conf_lib.DEFAULT_CONNECTION == monitor.DEFAULT_CONNECTION
    assert monitor.OvsdbSettings().connection == conf_lib.DEFAULT_CONNECTION


def test_controller_without_os_ken_is_one_line_and_exit_1():
    """os-ken is an extra: without it df-ovsdb-controller says how to
    install it, in one line, instead of a traceback.
    """
    code = ('import sys; sys.modules["os_ken"] = None; '
            'from df_ovsdb_agent.cmd.controller import main; main(["--help"])')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith('df-ovsdb-controller: error: '
                               'df-ovsdb-controller needs os-ken'), lines
    assert "pip install 'df-ovsdb-agent[os-ken]'" in lines[0]


# What the daemon and df-ovsdb-events --once import before their first
# OVSDB connection: run in a fresh interpreter, the command connects to a
# socket this probe listens on, and the moment it is accepted the probe
# notes sys.modules and exits.
CONNECT_PROBE = r'''
import json, os, socket, sys, threading
module, work = sys.argv[1:3]
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(1)
port = listener.getsockname()[1]
conf = os.path.join(work, 'agent.conf')
with open(conf, 'w') as f:
    f.write('[ovsdb]\nconnection = tcp:127.0.0.1:%d\n[agent]\n'
            'state_dir = %s\n' % (port, os.path.join(work, 'state')))
args = ['--config-file', conf] + sys.argv[3:]


def accept():
    listener.accept()
    from df_ovsdb_agent import cmd
    names = sorted(sys.modules)
    # The daemon logs to stdout: the probe's line is marked.
    print('PROBE ' + json.dumps({'modules': names, 'loaded': [
        n for n in names if cmd.loaded(n)]}))
    sys.stdout.flush()
    os._exit(0)


threading.Thread(target=accept, daemon=True).start()
import importlib
importlib.import_module(module).main(args)
os._exit(3)  # main() returned without connecting
'''

# Imported by nothing before the first connection: the package metadata
# (``--version`` looks it up), the JSON log formatter's dependencies,
# metrics, the stores' clients, python-ovs.
NOT_BEFORE_CONNECTING = (
    'importlib.metadata', 'xmlrpc', 'http.client', 'email', 'zipfile',
    'oslo_utils.timeutils', 'prometheus_client', 'ovs', 'eventlet',
    'requests', 'etcd3gw', 'redis', 'df_ovsdb_agent.publishers',
    'df_ovsdb_agent.testing',
    # What the deferred bodies (netaddr's, dateutil's tzdata, uuid's,
    # ssl's...) and persist's atomic writes would import.
    'importlib.resources', 'pathlib', 'tempfile', 'netaddr.core', '_ssl',
    'queue', 'socketserver')


def _connect_probe(module, tmp_path, *args):
    result = subprocess.run(
        [sys.executable, '-c', CONNECT_PROBE, module, str(tmp_path), *args],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines()
             if line.startswith('PROBE ')]
    assert len(lines) == 1, result.stdout + result.stderr
    return json.loads(lines[0][len('PROBE '):])


def _under(modules, packages):
    return sorted(name for name in modules
                  if any(name == p or name.startswith(p + '.')
                         for p in packages))


# Deferred modules that oslo.config imports, and oslo.log (the daemon),
# and the read path (ssl).
BY_OSLO_CONFIG = {'rfc3986', 'netaddr', 'stevedore', 'pickle', 'textwrap'}
BY_OSLO_LOG = BY_OSLO_CONFIG | {
    'debtcollector', 'oslo_serialization.jsonutils', 'dateutil.tz',
    'dateutil._tzdata_impl', 'calendar', 'logging.config',
    'logging.handlers', 'configparser', 'uuid'}
# Whose body runs before the daemon's first connection: the first log
# line's time stamp ("No saved state", or "Loaded saved state").
AGENT_RUNS = {'dateutil.tz'}
# The daemon restarts: its state directory has an owner id (the first
# start makes one, with uuid and tempfile).
OWNER_ID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'


# What oslo.config and oslo.log import by themselves, the cmd package
# (the deferral) imported first: (modules, deferred ones whose body ran).
LIBRARIES_ALONE = (
    'import json, sys; from df_ovsdb_agent import cmd; '
    'import oslo_config.cfg%s; names = sorted(sys.modules); '
    'print(json.dumps([names, [n for n in names if cmd.loaded(n)]]))')


def _libraries_alone(oslo_log):
    code = LIBRARIES_ALONE % (', oslo_log.log' if oslo_log else '')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _deferral_applies():
    # The oldest oslo.config allowed (9.0.0, lower-constraints.txt) runs
    # debtcollector's body while it is imported (its environment source
    # decorates at import time), and debtcollector then imports
    # importlib.metadata; the deferral was built and measured with 10.x.
    from importlib import metadata
    major = metadata.version('oslo.config').split('.')[0]
    return int(major) >= 10


@pytest.mark.parametrize('module,args,deferred,oslo_log,runs', [
    ('df_ovsdb_agent.cmd.agent', (), BY_OSLO_LOG | {'ssl'}, True,
     AGENT_RUNS),
    ('df_ovsdb_agent.cmd.events', ('--once',), BY_OSLO_CONFIG | {'ssl'},
     False, set()),
], ids=['agent', 'events-once'])
def test_first_connection_imports(module, args, deferred, oslo_log, runs,
                                  tmp_path, monkeypatch):
    """Until the command's first OVSDB connection: the deferred modules'
    bodies have not run (the daemon's: except ``runs``; netaddr's neither:
    ``[metrics] host``'s default is checked without it), nothing of
    :data:`NOT_BEFORE_CONNECTING` is imported, and what the connection
    needs is (the probe is not blind).  Beyond, that is, what oslo.config
    (and oslo.log) import by themselves: nothing with the versions the
    deferral was built for (see the next test), more with the oldest.
    """
    from df_ovsdb_agent import cmd
    from df_ovsdb_agent import persist
    alone, alone_loaded = _libraries_alone(oslo_log)
    (tmp_path / 'state').mkdir(mode=0o700)
    (tmp_path / 'state' / persist.OWNER_FILE).write_text(OWNER_ID + '\n')
    # Over the conftest's (the environment wins over the config file).
    monkeypatch.setenv('OS_AGENT__STATE_DIR', str(tmp_path / 'state'))
    found = _connect_probe(module, tmp_path, *args)
    assert 'df_ovsdb_agent.ovsdb.jsonrpc' in found['modules']
    assert 'oslo_config.cfg' in found['loaded']
    assert _under(found['modules'], NOT_BEFORE_CONNECTING) == \
        _under(alone, NOT_BEFORE_CONNECTING)
    assert sorted(set(cmd.DEFERRED) & set(found['loaded'])) == \
        sorted(runs | (set(cmd.DEFERRED) & set(alone_loaded)))
    # Imported (by oslo.config, oslo.log; ssl by the read path), never
    # run.  The oldest oslo.config allowed does not import pickle at all.
    imported = deferred if _deferral_applies() else \
        (deferred & set(alone)) | {'ssl'}
    assert imported <= set(found['modules'])
    assert deferred <= set(cmd.DEFERRED)


def test_oslo_config_and_oslo_log_without_deferred_bodies():
    """With the cmd package imported first (as every console script
    does), importing oslo.config and oslo.log runs none of the deferred
    bodies and does not import importlib.metadata.
    """
    if not _deferral_applies():
        pytest.skip('oslo.config < 10 runs debtcollector at import time')
    from df_ovsdb_agent import cmd
    modules, loaded = _libraries_alone(oslo_log=True)
    assert [[n for n in loaded if n in cmd.DEFERRED],
            'importlib.metadata' in modules] == [[], False]


def test_version_is_looked_up_only_when_an_argument_may_ask():
    """argparse takes any unambiguous prefix of --version; anything else
    gets a placeholder that is never printed.
    """
    import df_ovsdb_agent
    from df_ovsdb_agent.cmd import common
    placeholder = common.VERSION_NOT_LOOKED_UP
    assert common.version_for([]) == placeholder
    assert common.version_for(['--config-file', 'a.conf', '--debug',
                               '--help']) == placeholder
    assert common.version_for(['--', '--version']) == placeholder
    for arg in ('--version', '--vers', '--v', '--verbose'):
        assert common.version_for(['--debug', arg]) == \
            df_ovsdb_agent.__version__, arg


@pytest.mark.parametrize('arg', ['--version', '--vers'])
def test_version_option_prints_the_version(arg):
    import df_ovsdb_agent
    result = subprocess.run(
        [sys.executable, '-c', 'from df_ovsdb_agent.cmd.events import main; '
         'main()', arg], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == df_ovsdb_agent.__version__
