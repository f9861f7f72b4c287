"""The state_file app: checked at start, one write per sync or batch,
"synced" only while the agent is."""

import json
import subprocess
import types

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.apps.state_file import StateFileApp
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.testing.rpc import Client as Rpc
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import set_ofport_op
from tests.functional.procs import script
from tests.functional.procs import write_conf
from tests.recorder import Recorder


def _app(agent, path):
    return StateFileApp(agent, types.SimpleNamespace(path=str(path)), 'hv1')


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_one_write_per_sync_and_per_batch_and_not_synced_after_stop(
        ovsdb, tmp_path):
    path = tmp_path / 'run' / 'interfaces.json'
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(*add_bridge_ops('br-int'))
        rpc.transact(*add_ports_ops(
            'br-int', ['tap%d' % i for i in range(200)], lambda i: i + 1))
    agent = Agent(ovsdb.remote)
    app = _app(agent, path)
    app.start()
    assert _read(path) == {'host': 'hv1', 'synced': False,
                           'interfaces': []}
    rec = Recorder()
    agent.subscribe(rec, name='rec')
    agent.start()
    rec.wait_sync('finished')
    app._writer.flush(10)
    written = _read(path)
    assert written['synced'] is True
    assert len(written['interfaces']) == len(agent.interfaces()) == 200
    # The first sync's 200 events: the initial write, then one or two.
    assert app._writer.writes <= 3, app._writer.writes
    before = app._writer.writes
    # 100 ports renumbered in one transaction: a batch, not 100 writes.
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(*[set_ofport_op('tap%d' % i, 1000 + i)
                       for i in range(100)])
    rec.wait_for(lambda evs: sum(1 for e in evs
                                 if getattr(e, 'ofport', 0) >= 1000) == 100)
    app._writer.flush(10)
    assert app._writer.writes - before <= 2, app._writer.writes - before
    assert {i['ofport'] for i in _read(path)['interfaces']
            if i['name'] == 'tap5'} == {1005}
    agent.stop()
    app.stop()
    assert _read(path)['synced'] is False


@pytest.mark.parametrize('how', ['directory', 'parent-is-a-file'])
def test_unwritable_path_is_a_start_up_error(tmp_path, how):
    if how == 'directory':
        path = tmp_path / 'taken'
        path.mkdir()
    else:
        (tmp_path / 'file').write_text('')
        path = tmp_path / 'file' / 'interfaces.json'
    with pytest.raises(ConfigError, match=r'^\[app_state_file\] path .* is '
                                          r'not writable'):
        _app(Agent('tcp:127.0.0.1:1'), path).start()
    # And for the daemon, one line before it even waits for OVSDB.
    conf = write_conf(tmp_path, '[agent]\napps = state_file\n'
                                '[app_state_file]\npath = %s\n' % path)
    out = subprocess.run([script('df-ovsdb-agent'), '--config-file', conf],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().startswith(
        'df-ovsdb-agent: error: [app_state_file] path %s is not writable'
        % path), out.stderr
