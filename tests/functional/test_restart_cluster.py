"""An agent restarted against a clustered database resumes from history.

With a state file the agent also keeps its replica and the id of the last
transaction it applied; a clustered server (or a relay) then answers the
restarted agent's ``monitor_cond_since`` with only what changed while it
was down.
"""

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing import sandbox
from tests.functional.audit import agent_state
from tests.functional.audit import mismatches
from tests.functional.ovsdb_ops import db_truth
from tests.functional.ovsdb_ops import set_ofport_op
from tests.functional.test_cluster import _change_through
from tests.functional.test_cluster import cluster  # noqa: F401 (fixture)
from tests.functional.test_cluster import ROWS
from tests.recorder import Recorder


def _agent(remote, path):
    agent = Agent(settings=OvsdbSettings(connection=remote,
                                         probe_interval=1000),
                  state_file=str(path))
    rec = Recorder()
    agent.subscribe(rec, name='rec')
    return agent, rec


def _wire(agent):
    """(found, rows) of the first monitor reply of this agent."""
    reply = agent.monitor.replies[0]
    return reply.found, reply.rows


def test_restart_resumes_from_the_saved_replica(cluster, tmp_path):  # noqa
    path = tmp_path / 'state.json'
    remote = cluster.server.remote
    first, rec = _agent(remote, path)
    first.start()
    rec.wait_sync('finished')  # else the change may coalesce into "online"
    # A live change: the agent's position is then a transaction id.
    with Rpc(remote) as rpc:
        rpc.transact(set_ofport_op('tap100', 4444))
    rec.wait_event(name='tap100', action='updated')
    # Saved after the sync already (by the writer thread), not only on stop.
    sandbox.wait_for((tmp_path / 'state.json.replica').exists, 10,
                     'the replica saved after the sync')
    full_bytes = first.monitor.bytes_received
    first.stop()
    assert (tmp_path / 'state.json.replica').exists()

    changed = _change_through(remote)
    second, rec = _agent(remote, path)
    second.start()
    events = rec.wait_sync('finished')
    # Only the diff crossed the wire, and only its events were published.
    assert _wire(second) == (True, changed)
    assert sorted(rec.summary(events)) == sorted(
        [('vm', 'online', 'new%d' % i) for i in range(5)] +
        [('vm', 'offline', 'tap%d' % i) for i in range(3)] +
        [('vm', 'updated', 'tap10'), ('vm', 'offline', 'tap11')])
    diff_bytes = second.monitor.bytes_received
    assert mismatches(agent_state(second),
                      db_truth(remote)) == []
    assert diff_bytes * 20 < full_bytes
    print('\nagent restart against a cluster: %d bytes (found=true, %d '
          'rows) instead of %d bytes for the %d-row dump'
          % (diff_bytes, changed, full_bytes, ROWS))
    second.stop()


def test_a_replica_for_other_columns_is_not_used(cluster, tmp_path):  # noqa
    path = tmp_path / 'state.json'
    (tmp_path / 'state.json.replica').write_text(
        '{"format": 1, "txn_id": "x", "types": [], "tables": {}}')
    agent, rec = _agent(cluster.server.remote, path)
    agent.start()
    rec.wait_sync('finished')
    assert _wire(agent)[0] is False  # a full dump
    assert mismatches(agent_state(agent),
                      db_truth(cluster.server.remote)) == []
    assert len(agent.interfaces()) >= ROWS
    agent.stop()
