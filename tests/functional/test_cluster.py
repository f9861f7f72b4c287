"""Relay and clustered remotes: failover and diff-only resyncs.

A real single-member cluster (``ovsdb-tool create-cluster``) with two
``ovsdb-server relay:`` processes in front of it.  Clustered servers and
relays keep transaction history, so after a reconnect the agent's
``monitor_cond_since`` gets ``found=true`` and only the rows that changed,
not the whole table.
"""

import signal
import time

import pytest

from df_ovsdb_agent.testing.ovsdb_server import create_cluster
from df_ovsdb_agent.testing.ovsdb_server import join_cluster
from df_ovsdb_agent.testing.ovsdb_server import OvsdbProcess
from df_ovsdb_agent.testing.ovsdb_server import wait_serving
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.rpc import RpcError
from df_ovsdb_agent.testing.sandbox import free_port
from df_ovsdb_agent.testing.sandbox import wait_for
from tests.functional.audit import agent_state
from tests.functional.audit import Audit
from tests.functional.audit import mismatches
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import db_truth
from tests.functional.ovsdb_ops import delete_ports_ops
from tests.functional.ovsdb_ops import port_uuids
from tests.functional.ovsdb_ops import set_ofport_op
from tests.recorder import Recorder

ROWS = 2000


class Cluster:
    """A clustered Open_vSwitch database served directly and by relays."""

    def __init__(self, workdir):
        self.dir = workdir
        db = '%s/cluster.db' % workdir
        create_cluster(db, free_port())
        self.server = OvsdbProcess(workdir, 'cluster', [db])
        self.relays = [
            OvsdbProcess(workdir, 'relay%d' % i,
                         ['relay:Open_vSwitch:%s'
                          % self.server.remote])
            for i in (1, 2)]

    def start(self):
        self.server.start()
        wait_serving(self.server.remote)
        with Rpc(self.server.remote, timeout=30) as rpc:
            rpc.transact({'op': 'insert', 'table': 'Open_vSwitch',
                          'row': {}})
            rpc.transact(*add_bridge_ops('br-int'))
            rpc.transact(*add_ports_ops(
                'br-int', ['tap%d' % i for i in range(ROWS)],
                lambda i: i + 1), timeout=30)
        for relay in self.relays:
            relay.start()
            wait_serving(relay.remote)

    def stop(self):
        for proc in self.relays + [self.server]:
            proc.stop()


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(str(tmp_path))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


class ThreeMembers:
    """A 3-member clustered Open_vSwitch database (raft on loopback).

    ``members`` are A, B and C; each serves clients on its own port.  A
    member restarted while the others are stopped serves its old copy,
    with ``_Server.Database`` ``connected: false``.
    """

    def __init__(self, workdir):
        self.dir = workdir
        raft = [free_port() for _ in range(3)]
        dbs = ['%s/%s.db' % (workdir, name) for name in 'ABC']
        create_cluster(dbs[0], raft[0])
        for db, port in zip(dbs[1:], raft[1:]):
            join_cluster(db, port, raft[0])
        self.members = [OvsdbProcess(workdir, name, [db])
                        for name, db in zip('ABC', dbs)]

    def start(self):
        for member in self.members:
            member.start()
        # Joining members answer "database not available" for a while.
        for member in self.members:
            wait_serving(member.remote, timeout=30)
        wait_for(self._root_inserted, 30, 'the cluster to take '
                 'writes', interval=0.1)

    def _root_inserted(self):
        try:
            with Rpc(self.members[0].remote, timeout=5) as rpc:
                rpc.transact({'op': 'insert', 'table': 'Open_vSwitch',
                              'row': {}})
            return True
        except (OSError, RpcError):
            return False

    def stop(self):
        for member in self.members:
            if member.proc is not None and member.proc.poll() is None:
                member.signal(signal.SIGCONT)
            member.stop()


@pytest.fixture
def three_members(tmp_path):
    cluster = ThreeMembers(str(tmp_path))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


class MonitorReplies:
    """Records (remote, found, rows) of every monitor_cond_since reply.

    Test introspection: the monitor keeps its last replies, with the rows
    each one carried (what crossed the wire).
    """

    def __init__(self, agent):
        self._monitor = agent.monitor
        self._after = agent.monitor.connections

    @property
    def replies(self):
        return [(r.remote, r.found, r.rows) for r in self._monitor.replies
                if r.connection > self._after and
                r.method == 'monitor_cond_since']


def _change_through(remote):
    """5 ports added, 3 removed, 2 re-numbered: the rows of the diff.

    10 Interface rows, the 8 Port rows added or removed with them and the
    Bridge whose ports changed (bridge membership is monitored too).
    """
    with Rpc(remote) as rpc:
        ports = port_uuids(rpc, 'br-int')
        rpc.transact(*add_ports_ops(
            'br-int', ['new%d' % i for i in range(5)], lambda i: 9000 + i))
        rpc.transact(*delete_ports_ops(
            'br-int', [ports['tap%d' % i] for i in range(3)]))
        rpc.transact(set_ofport_op('tap10', 7777),
                     set_ofport_op('tap11', -1))
    return 10 + 8 + 1


def _assert_exact(agent, rec, remote):
    truth = db_truth(remote)
    assert mismatches(agent_state(agent), truth) == []
    audit = Audit(rec.events)
    assert (audit.duplicates, audit.orphans, audit.misses(truth)) == (
        0, 0, [])
    return truth


def _start(make_agent, cluster, remote):
    agent = make_agent(remote, probe_interval=1000)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    # The bus coalesces a change into an event the subscriber has not taken
    # yet: let it take the dump's first, or tap100 is just "online".
    rec.wait_sync('finished')
    # One live change, so the agent's position is a transaction every
    # server has in its history (a relay cannot place ids older than its
    # own start, and answers those with a full dump).
    with Rpc(cluster.server.remote) as rpc:
        rpc.transact(set_ofport_op('tap100', 4444))
    rec.wait_event(name='tap100', action='updated')
    return agent, rec, MonitorReplies(agent)


def test_hung_relay_fails_over_and_transfers_only_the_diff(cluster,
                                                           make_agent):
    relays = {r.remote: r for r in cluster.relays}
    agent, rec, wire = _start(make_agent, cluster, ','.join(relays))
    active = relays[agent.monitor.remote_name]
    other = next(r for r in cluster.relays if r is not active)
    syncs = agent.syncs

    active.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    # Changes the agent cannot see: its relay is frozen.
    changed = _change_through(cluster.server.remote)
    assert agent.wait_synced(15, after=syncs)
    took = time.monotonic() - stopped
    assert agent.monitor.remote_name == other.remote
    assert wire.replies == [(other.remote, True, changed)]
    rec.wait_event(name='new4', action='online')
    truth = _assert_exact(agent, rec, cluster.server.remote)
    assert len(truth) == ROWS + 5 - 3 - 1
    print('\nRELAY failover after SIGSTOP: resynced in %.2fs on the other '
          'relay; monitor_cond_since found=true with %d of %d rows'
          % (took, changed, ROWS))


def test_killed_relay_fails_over_at_once(cluster, make_agent):
    relays = {r.remote: r for r in cluster.relays}
    agent, rec, wire = _start(make_agent, cluster, ','.join(relays))
    active = relays[agent.monitor.remote_name]
    syncs = agent.syncs
    active.kill()
    killed = time.monotonic()
    assert agent.wait_synced(10, after=syncs)
    took = time.monotonic() - killed
    assert agent.monitor.remote_name != active.remote
    # The other remote is tried without backoff.
    assert took < 1.0, took
    assert [r[1:] for r in wire.replies] == [(True, 0)]
    _change_through(cluster.server.remote)
    rec.wait_event(name='new4', action='online')
    _assert_exact(agent, rec, cluster.server.remote)
    print('\nRELAY failover after kill -9: resynced in %.3fs, %d rows '
          'transferred' % (took, wire.replies[0][2]))


@pytest.mark.parametrize('target', ['cluster', 'relay'])
def test_partition_resyncs_only_what_changed_meanwhile(cluster, make_agent,
                                                       target):
    server = cluster.server if target == 'cluster' else cluster.relays[0]
    agent, rec, wire = _start(make_agent, cluster, server.remote)
    syncs = agent.syncs
    listener = 'ptcp:%d:127.0.0.1' % server.port
    # The server keeps running but the agent's path to it is gone (its
    # connection is closed with the listener), like a partition.
    server.appctl('ovsdb-server/remove-remote', listener)
    wait_for(lambda: not agent.connected, 5, 'the disconnect')
    changed = _change_through(cluster.server.unix_remote)
    server.appctl('ovsdb-server/add-remote', listener)
    assert agent.wait_synced(10, after=syncs)
    assert wire.replies == [(server.remote, True, changed)]
    _assert_exact(agent, rec, cluster.server.remote)


def test_clustered_server_restart_resumes_from_history(cluster, make_agent):
    agent, rec, wire = _start(make_agent, cluster, cluster.server.remote)
    syncs = agent.syncs
    cluster.server.kill()
    cluster.server.start()
    restarted = time.monotonic()
    assert agent.wait_synced(20, after=syncs)
    took = time.monotonic() - restarted
    # Restored from the raft log, history included: nothing re-sent.
    assert wire.replies == [(cluster.server.remote, True, 0)]
    _change_through(cluster.server.remote)
    rec.wait_event(name='new4', action='online')
    _assert_exact(agent, rec, cluster.server.remote)
    print('\nCLUSTER restart: resynced %.2fs after restart, 0 of %d rows '
          're-sent' % (took, ROWS))
