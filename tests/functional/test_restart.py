"""Exact events across an agent restart: the persisted snapshot.

Interfaces removed, changed or added while the agent was down give exactly
``offline`` / ``updated`` / ``online`` after it comes back; unchanged ones
give nothing.  The agent is restarted every way an agent dies: a clean
stop, SIGTERM, kill -9 and SIGSTOP/SIGCONT of the daemon.
"""

import json
import logging
import os
import signal
import subprocess

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.testing import sandbox
from tests.functional.procs import Proc
from tests.functional.procs import script
from tests.functional.procs import write_conf
from tests.recorder import Recorder
from tests.recorder import replay_state

# What the changes made while the agent is down must give, and nothing else.
EXPECTED = [('vm', 'offline', 'tap1'), ('vm', 'online', 'tap4'),
            ('vm', 'updated', 'tap2')]


def add_vm(ovs, name):
    ovs.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name,
              'external_ids:iface-id=port-%s' % name)


def populate(ovs):
    ovs.vsctl('add-br', 'br-int')
    for name in ('tap1', 'tap2', 'tap3'):
        add_vm(ovs, name)


def change_while_down(ovs):
    """Delete tap1, change tap2, add tap4; leave tap3 and br-int alone."""
    ovs.vsctl('del-port', 'tap1')
    ovs.vsctl('set', 'Interface', 'tap2', 'external_ids:iface-id=moved')
    add_vm(ovs, 'tap4')


def saved_names(path):
    try:
        with open(path) as f:
            return sorted(i['name'] for i in json.load(f)['interfaces'])
    except (OSError, ValueError):
        return None


def start_agent(ovs, path, **kwargs):
    agent = Agent(ovs.remote, state_file=str(path), **kwargs)
    rec = Recorder()
    agent.subscribe(rec, name='rec')
    agent.start()
    return agent, rec


def test_library_restart_reports_exactly_what_changed(ovs, tmp_path):
    path = tmp_path / 'snapshot.json'
    populate(ovs)
    agent, rec = start_agent(ovs, path)
    rec.wait_sync('finished')
    assert sorted(rec.summary()) == [
        ('bridge', 'online', 'br-int'), ('vm', 'online', 'tap1'),
        ('vm', 'online', 'tap2'), ('vm', 'online', 'tap3')]
    agent.stop()
    assert saved_names(path) == ['br-int', 'tap1', 'tap2', 'tap3']

    change_while_down(ovs)
    agent, rec = start_agent(ovs, path)
    rec.wait_sync('finished')
    assert sorted(rec.summary()) == EXPECTED
    assert rec.interface_events()[0].action.value == 'offline'
    updated = [e for e in rec.interface_events() if e.name == 'tap2'][0]
    assert updated.interface.iface_id == 'moved'
    # Live changes after the restart are saved as they are published.
    ovs.vsctl('del-port', 'tap3')
    rec.wait_event(name='tap3', action='offline')
    assert agent.flush_state(10)
    assert saved_names(path) == ['br-int', 'tap2', 'tap4']
    agent.stop()


def test_replay_gives_the_restored_state_then_the_diff(ovs, tmp_path):
    path = tmp_path / 'snapshot.json'
    populate(ovs)
    agent, rec = start_agent(ovs, path)
    agent.stop()
    change_while_down(ovs)

    agent = Agent(ovs.remote, state_file=str(path))
    full = Recorder()
    agent.subscribe(full, name='full', replay=True)
    agent.start()
    events = full.wait_sync('finished')
    # Never an offline for something not online, never two onlines.
    assert replay_state(events) == {i.uuid: i for i in agent.interfaces()}
    assert sorted(i.name for i in agent.interfaces()) == [
        'br-int', 'tap2', 'tap3', 'tap4']
    agent.stop()


@pytest.mark.parametrize('problem', ['missing', 'corrupt', 'foreign',
                                     'unreadable', 'truncated'])
def test_unusable_state_file_gives_one_warning_and_a_full_sync(
        ovs, tmp_path, caplog, problem):
    path = tmp_path / 'snapshot.json'
    populate(ovs)
    if problem == 'foreign':
        agent, _ = start_agent(ovs, path, host='hv-other')
        agent.stop()
    elif problem == 'corrupt':
        path.write_text('{"format": 1, "interfaces": [{"kind": "vm"}]}')
    elif problem == 'truncated':
        path.write_text('{"format": 1, "interfa')
    elif problem == 'unreadable':
        path.mkdir()  # root reads any file; a directory cannot be read
    caplog.set_level(logging.WARNING, logger='df_ovsdb_agent')
    caplog.clear()
    agent, rec = start_agent(ovs, path, host='hv-this')
    rec.wait_sync('finished')
    assert sorted(rec.summary()) == [
        ('bridge', 'online', 'br-int'), ('vm', 'online', 'tap1'),
        ('vm', 'online', 'tap2'), ('vm', 'online', 'tap3')]
    warnings = [r.getMessage() for r in caplog.records
                if r.name == 'df_ovsdb_agent.persist' and
                r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0]
    assert 'first sync reports every interface online' in warnings[0]
    agent.stop()
    if problem != 'unreadable':
        assert saved_names(path) == ['br-int', 'tap1', 'tap2', 'tap3']


def test_ovsdb_down_at_start_keeps_the_saved_state(ovs, tmp_path):
    path = tmp_path / 'snapshot.json'
    populate(ovs)
    agent, _ = start_agent(ovs, path)
    agent.stop()
    saved = path.read_text()
    down = Agent(settings=OvsdbSettings(
        connection='tcp:127.0.0.1:%d' % sandbox.free_port(), timeout=0.5),
        state_file=str(path))
    with pytest.raises(OvsdbUnreachable):
        down.start()
    assert path.read_text() == saved


# -- the daemon, restarted every way it can die ------------------------------

@pytest.fixture
def conf_state_dir(monkeypatch):
    """The config file's state_dir, not tests/conftest.py's environment
    variable (oslo.config lets the environment win).
    """
    monkeypatch.delenv('OS_AGENT__STATE_DIR')


def daemon_conf(ovs, tmp_path):
    return write_conf(tmp_path, '[ovsdb]\nconnection = %s\n'
                                '[agent]\nstate_dir = %s\n'
                      % (ovs.remote, tmp_path / 'state'))


def parse_event(line):
    """(kind, action, name) of a daemon's event log line, else None."""
    words = line.split()
    for at, word in enumerate(words[:-2]):
        if (word in ('bridge', 'vm', 'tunnel', 'patch') and
                words[at + 1] in ('online', 'offline', 'updated')):
            return tuple(words[at:at + 3])
    return None


def event_lines(proc):
    """(kind, action, name) of the events the daemon logged before its
    first 'sync finished' line.
    """
    # The event log's own marker line, not "OVSDB sync finished in ...".
    proc.wait_line('] sync finished', timeout=30)
    lines = proc.lines[:[i for i, line in enumerate(proc.lines)
                         if '] sync finished' in line][0]]
    return sorted(filter(None, map(parse_event, lines)))


@pytest.mark.parametrize('how', ['SIGKILL', 'SIGTERM', 'SIGSTOP'])
def test_daemon_restart_reports_exactly_what_changed(ovs, tmp_path,
                                                     conf_state_dir, how):
    populate(ovs)
    conf = daemon_conf(ovs, tmp_path)
    first = Proc([script('df-ovsdb-agent'), '--config-file', conf])
    try:
        assert event_lines(first) == [
            ('bridge', 'online', 'br-int'), ('vm', 'online', 'tap1'),
            ('vm', 'online', 'tap2'), ('vm', 'online', 'tap3')]
        # A live change, saved before the agent dies (wait for the effect).
        add_vm(ovs, 'tap5')
        first.wait_line('vm online tap5')
        snapshot = tmp_path / 'state' / 'snapshot.json'
        sandbox.wait_for(lambda: 'tap5' in (saved_names(snapshot) or []),
                         10, 'tap5 in the saved snapshot')
        if how == 'SIGSTOP':
            first.proc.send_signal(signal.SIGSTOP)
            change_while_down(ovs)
            first.proc.send_signal(signal.SIGCONT)
            # Everything between tap5 and tap6 is what changed meanwhile.
            add_vm(ovs, 'tap6')
            first.wait_line('vm online tap6', timeout=30)
            lines = first.lines
            start = lines.index(first.wait_line('vm online tap5'))
            between = lines[start + 1:lines.index(
                first.wait_line('vm online tap6'))]
            assert sorted(filter(None, map(parse_event, between))) == (
                EXPECTED), between
            return
        first.proc.send_signal(getattr(signal, how))
        assert first.proc.wait(15) == (0 if how == 'SIGTERM' else -9)
    finally:
        first.kill()
    change_while_down(ovs)
    second = Proc([script('df-ovsdb-agent'), '--config-file', conf])
    try:
        assert event_lines(second) == EXPECTED
    finally:
        second.kill()


def test_second_daemon_on_one_state_dir_is_refused(ovs, tmp_path,
                                                   conf_state_dir):
    conf = daemon_conf(ovs, tmp_path)
    first = Proc([script('df-ovsdb-agent'), '--config-file', conf])
    try:
        first.wait_line('df-ovsdb-agent running')
        out = subprocess.run([script('df-ovsdb-agent'), '--config-file',
                              conf], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 1
        assert out.stderr.strip().splitlines()[-1] == (
            'df-ovsdb-agent: error: [agent] state_dir %s is in use by '
            'another df-ovsdb-agent' % (tmp_path / 'state'))
        assert 'Traceback' not in out.stderr
    finally:
        first.kill()


def test_unusable_state_dir_is_a_start_up_error(ovs, tmp_path,
                                                conf_state_dir):
    blocker = tmp_path / 'state'
    blocker.write_text('a file, not a directory')
    conf = daemon_conf(ovs, tmp_path)
    out = subprocess.run([script('df-ovsdb-agent'), '--config-file', conf],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith(
        'df-ovsdb-agent: error: [agent] state_dir %s is not usable: '
        % blocker)
    assert 'Traceback' not in out.stderr


def _start_daemon(ovs, tmp_path):
    """Run the daemon on its test config until it exits (within 30 s)."""
    return subprocess.run([script('df-ovsdb-agent'), '--config-file',
                           daemon_conf(ovs, tmp_path)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize('mode', [0o1777, 0o777, 0o770])
def test_writable_by_others_state_dir_is_a_start_up_error(ovs, tmp_path,
                                                          conf_state_dir,
                                                          mode):
    state = tmp_path / 'state'
    state.mkdir()
    os.chmod(state, mode)  # 1777: like /tmp, sticky bit and all
    out = _start_daemon(ovs, tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        'df-ovsdb-agent: error: [agent] state_dir %s is group- or '
        'world-writable (mode %04o); make it writable by its owner only'
        % (state, mode)]
    assert not (state / 'lock').exists()


def test_planted_lock_link_is_a_start_up_error(ovs, tmp_path,
                                               conf_state_dir):
    state = tmp_path / 'state'
    state.mkdir(mode=0o750)
    target = tmp_path / 'precious'
    target.write_text('keep me')
    (state / 'lock').symlink_to(target)
    out = _start_daemon(ovs, tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        'df-ovsdb-agent: error: [agent] state_dir %s: lock is a symbolic '
        'link; not followed' % state]
    assert target.read_text() == 'keep me'


# -- df-ovsdb-events --state-file ------------------------------------------

def events_once(ovs, path):
    out = subprocess.run([script('df-ovsdb-events'), '--connection',
                          ovs.remote, '--once', '--state-file', str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0] == {'sync': 'started', 'chassis': None}
    assert lines[-1] == {'sync': 'finished', 'chassis': None}
    return sorted((d['kind'], d['action'], d['name'])
                  for d in lines[1:-1]), out.stderr


def test_events_once_with_state_file_prints_changes_since_last_run(
        ovs, tmp_path):
    path = tmp_path / 'events-state.json'
    populate(ovs)
    first, stderr = events_once(ovs, path)
    assert first == [('bridge', 'online', 'br-int'), ('vm', 'online', 'tap1'),
                     ('vm', 'online', 'tap2'), ('vm', 'online', 'tap3')]
    assert 'No saved state at %s' % path in stderr
    assert events_once(ovs, path) == ([], '')
    change_while_down(ovs)
    assert events_once(ovs, path) == (EXPECTED, '')
    assert events_once(ovs, path) == ([], '')
    assert os.stat(path).st_size > 0
