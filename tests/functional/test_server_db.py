"""Never older than what was seen: servers judged by their ``_Server`` row.

Real clustered databases: a 3-member cluster whose member C is cut off,
misses a deletion and comes back alone (``connected: false``); a
single-member cluster whose database file is put back to an older copy
(``connected: true`` but a lower ``index``), for an agent that keeps
running and for one restarted with the same state file; a relay of a
cluster (no index: used).  The agent must leave a stale server before any
of its data is used, say why in one line and in ``/healthz``, keep its
state without an event, and use the server again once it is current.
"""

import logging
import re
import shutil
import signal
import threading
import urllib.error
import urllib.request

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.metrics import MetricsServer
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.testing.ovsdb_server import create_cluster
from df_ovsdb_agent.testing.ovsdb_server import OvsdbProcess
from df_ovsdb_agent.testing.ovsdb_server import wait_serving
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.rpc import RpcError
from df_ovsdb_agent.testing.sandbox import free_port
from df_ovsdb_agent.testing.sandbox import wait_for
from tests.functional.audit import agent_state
from tests.functional.audit import mismatches
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import db_truth
from tests.functional.ovsdb_ops import delete_ports_ops
from tests.functional.ovsdb_ops import populate
from tests.functional.ovsdb_ops import port_uuids
from tests.functional.ovsdb_ops import set_ofport_op
from tests.functional.test_cluster import cluster  # noqa: F401 (fixture)
from tests.functional.test_cluster import three_members  # noqa: F401
from tests.recorder import Recorder

PORTS = ['tap%d' % i for i in range(4)]


def _agent(remote, state_file=None, **settings):
    settings.setdefault('probe_interval', 1000)
    agent = Agent(settings=OvsdbSettings(connection=remote, **settings),
                  state_file=state_file)
    rec = Recorder()
    agent.subscribe(rec, name='rec')
    return agent, rec


def _populate(remote):
    populate(remote, PORTS)


def _delete(remote, name):
    with Rpc(remote, timeout=30) as rpc:
        ports = port_uuids(rpc, 'br-int')
        rpc.transact(*delete_ports_ops('br-int', [ports[name]]))


def _add_port_after_resume(remote, name):
    """Add VM port ``name`` through a cluster member that just resumed.

    ovsdb-server retries a clustered transaction whose commit ended in a
    "cluster error" (leadership changing, as it does right after SIGCONT);
    when the first attempt had in fact been committed, the retry fails on
    the unique name and the reply reports a constraint violation although
    the port is there (seen once in CI).  The port being there once is
    what the caller needs; the agent's events are asserted by the caller.
    """
    with Rpc(remote, timeout=30) as rpc:
        try:
            rpc.transact(*add_ports_ops('br-int', [name], lambda i: 99))
        except RpcError as exc:
            if 'constraint violation' not in str(exc) or \
                    not _has_port(remote, name)():
                raise


def _has_port(remote, name, present=True):
    def check():
        try:
            with Rpc(remote, timeout=2) as rpc:
                return (name in port_uuids(rpc, 'br-int')) == present
        except (OSError, RpcError):
            return False
    return check


def _healthz(metrics):
    try:
        with urllib.request.urlopen(metrics.url + '/healthz',
                                    timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _refused(agent, remote, reason, count=1):
    """Wait until ``remote`` was refused for ``reason`` ``count`` times."""
    monitor = agent.monitor
    wait_for(lambda: monitor.refused_servers >= count and
             monitor.refusal == '%s: %s' % (remote, reason), 40,
             '%s to be refused (%s)' % (remote, reason),
             interval=0.05)


def _warnings(caplog, pattern):
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and
            re.search(pattern, r.getMessage())]


def test_a_cut_off_member_is_not_used_until_it_caught_up(
        three_members, caplog):  # noqa: F811 (fixture)
    """The issue's scenario, with ``--connection A,C``."""
    caplog.set_level(logging.DEBUG, logger='df_ovsdb_agent')
    a, b, c = three_members.members
    _populate(a.remote)
    wait_for(_has_port(c.remote, 'tap3'), 20, 'C to have tap3')
    agent, rec = _agent('%s,%s' % (a.remote, c.remote))
    metrics = MetricsServer(agent, port=0)
    metrics.start()
    try:
        agent.start()
        assert agent.monitor.remote_name == a.remote
        rec.wait_for(lambda evs: len(rec.summary(evs)) == 4)

        c.kill()
        _delete(a.remote, 'tap2')
        rec.wait_event(name='tap2', action='offline')
        seen = agent.monitor._seen
        assert seen is not None
        before = rec.interface_events()

        # A and B freeze; C comes back alone with its old copy.
        a.signal(signal.SIGSTOP)
        b.signal(signal.SIGSTOP)
        c.start()
        assert _has_port(c.remote, 'tap2')(), 'C should serve its old copy'
        _refused(agent, c.remote, 'not connected to its cluster', count=3)
        # Refused every time, never used: no event, the state kept.
        assert rec.interface_events() == before
        assert 'tap2' not in {i.name for i in agent.interfaces()}
        assert {i.name for i in agent.interfaces()} == {'tap0', 'tap1',
                                                        'tap3'}
        status, body = _healthz(metrics)
        assert status == 503
        assert 'refused OVSDB at %s: not connected to its cluster' % (
            c.remote) in body, body
        lines = _warnings(caplog, 'OVSDB at %s is not used: not connected '
                          'to its cluster' % re.escape(c.remote))
        assert len(lines) == 1, lines  # said once, not at every retry
        assert all(r.exc_info is None for r in caplog.records)
        assert 'df_ovsdb_agent_refused_servers' in \
            urllib.request.urlopen(metrics.url + '/metrics',
                                   timeout=5).read().decode()

        # A and B run again: C catches up, and A or C is used again.
        syncs = agent.syncs
        a.signal(signal.SIGCONT)
        b.signal(signal.SIGCONT)
        assert agent.wait_synced(40, after=syncs)
        assert agent.monitor.refusal is None
        assert _healthz(metrics)[0] == 200
        # Nothing changed in the database meanwhile: no event at all.
        assert rec.interface_events() == before
        truth = db_truth(a.remote)
        assert mismatches(agent_state(agent), truth) == []
        # Real changes still come through, and only they.
        _add_port_after_resume(a.remote, 'tap9')
        rec.wait_event(name='tap9', action='online')
        assert rec.summary(rec.interface_events()[len(before):]) == [
            ('vm', 'online', 'tap9')]
        # The index seen moves on with the cluster (its _Server update may
        # come just after the data's).
        wait_for(lambda: agent.monitor._seen.index > seen.index, 10,
                 'the index seen to move on')
    finally:
        metrics.stop()
        agent.stop()


def _swap_db(server, path, source):
    """Stop ``server``, put ``source`` in place of its file, start it."""
    server.stop()
    shutil.copyfile(source, path)
    server.start()
    wait_serving(server.remote, timeout=30)


def test_a_member_behind_the_index_seen_is_not_used(tmp_path, caplog):
    """A connected member with an older copy (a database file put back):
    refused by the running agent (index in memory) and by an agent
    restarted with the same state file (index saved with the replica).
    """
    caplog.set_level(logging.INFO, logger='df_ovsdb_agent')
    workdir = str(tmp_path)
    db = '%s/single.db' % workdir
    create_cluster(db, free_port())
    server = OvsdbProcess(workdir, 'single', [db])
    server.start()
    wait_serving(server.remote, timeout=30)
    state = str(tmp_path / 'state.json')
    agents = []
    try:
        with Rpc(server.remote, timeout=30) as rpc:
            rpc.transact({'op': 'insert', 'table': 'Open_vSwitch',
                          'row': {}})
        _populate(server.remote)
        server.stop()
        old = '%s/old.db' % workdir
        shutil.copyfile(db, old)
        server.start()
        wait_serving(server.remote, timeout=30)

        first, rec = _agent(server.remote, state)
        agents.append(first)
        first.start()
        rec.wait_for(lambda evs: len(rec.summary(evs)) == 4)
        _delete(server.remote, 'tap2')
        rec.wait_event(name='tap2', action='offline')
        # Enough transactions that the old copy's index stays behind even
        # after the entries a restart appends.
        with Rpc(server.remote, timeout=30) as rpc:
            for n in range(10):
                rpc.transact(set_ofport_op('tap0', 100 + n))
        rec.wait_event(name='tap0', ofport=109)
        before = rec.interface_events()
        new = '%s/new.db' % workdir
        server.stop()
        shutil.copyfile(db, new)

        # The running agent meets the old copy: refused.
        server.start()
        wait_serving(server.remote, timeout=30)
        _swap_db(server, db, old)
        _refused_behind(first, server.remote)
        assert rec.interface_events() == before
        assert 'tap2' not in {i.name for i in first.interfaces()}
        first.stop()

        # A new process with the same state file: refused too.
        second, rec2 = _agent(server.remote, state, sync_timeout=60)
        agents.append(second)
        started = threading.Thread(target=second.start, daemon=True)
        started.start()
        _refused_behind(second, server.remote)
        assert rec2.interface_events() == []
        assert 'tap2' not in {i.name for i in second.interfaces()}

        # The current copy back: used, with nothing to report.
        _swap_db(server, db, new)
        started.join(60)
        assert not started.is_alive() and second.synced
        assert rec2.interface_events() == []
        assert mismatches(agent_state(second),
                          db_truth(server.remote)) == []
        assert all(r.exc_info is None for r in caplog.records)
    finally:
        for agent in agents:
            agent.stop()
        server.stop()


def _refused_behind(agent, remote):
    pattern = re.compile(r'index (\d+) is behind (\d+) already seen$')

    def refused():
        refusal = agent.monitor.refusal or ''
        return refusal.startswith(remote + ': ') and \
            pattern.search(refusal) is not None
    wait_for(refused, 40, '%s to be refused as behind' % remote,
             interval=0.05)
    behind, seen = pattern.search(agent.monitor.refusal).groups()
    assert int(behind) < int(seen)


def test_a_relay_of_a_cluster_is_used_without_an_index(
        cluster):  # noqa: F811 (fixture)
    """A relay's row has model "relay", no index: the index seen on the
    cluster does not apply to it, and moving from one to the other
    refuses nothing.
    """
    relay = cluster.relays[0]
    direct = cluster.server.unix_remote
    agent, rec = _agent('%s,%s' % (direct, relay.remote), probe_interval=5000)
    try:
        agent.start()
        assert agent.monitor.remote_name == direct
        assert agent.monitor._seen is not None
        rec.wait_sync('finished')
        syncs = agent.syncs
        rec.clear()
        # Only the agent's way to the cluster closes; the relay keeps its
        # own (TCP) connection to its source.
        listener = 'punix:%s' % cluster.server.sock
        cluster.server.appctl('ovsdb-server/remove-remote', listener)
        assert agent.wait_synced(20, after=syncs)
        assert agent.monitor.remote_name == relay.remote
        with Rpc(cluster.server.remote, timeout=30) as rpc:
            rpc.transact(set_ofport_op('tap5', 5555))
        rec.wait_event(name='tap5', ofport=5555)
        assert rec.summary() == [('vm', 'updated', 'tap5')]
        assert agent.monitor.refused_servers == 0
    finally:
        agent.stop()


def test_a_member_that_loses_its_cluster_is_left_at_once(
        three_members, caplog):  # noqa: F811 (fixture)
    """The _Server row changes during the session: the agent leaves."""
    caplog.set_level(logging.INFO, logger='df_ovsdb_agent')
    a, b, c = three_members.members
    _populate(a.remote)
    agent, rec = _agent(a.remote, probe_interval=5000)
    try:
        agent.start()
        rec.wait_sync('finished')
        before = rec.interface_events()
        connections = agent.monitor.connections
        # A keeps running and answering, but loses its majority.
        b.signal(signal.SIGSTOP)
        c.signal(signal.SIGSTOP)
        _refused(agent, a.remote, 'not connected to its cluster')
        # Left on the _Server update of the session it had, not after a
        # lost connection and a new one.
        lines = [r.getMessage() for r in caplog.records]
        first = next(i for i, line in enumerate(lines)
                     if 'is not used' in line)
        assert [line for line in lines[:first]
                if line.startswith(('Connected to', 'Lost'))] == [
            'Connected to OVSDB at %s' % a.remote] * connections
        assert not agent.synced
        assert rec.interface_events() == before
        syncs = agent.syncs
        b.signal(signal.SIGCONT)
        c.signal(signal.SIGCONT)
        assert agent.wait_synced(40, after=syncs)
        assert rec.interface_events() == before
    finally:
        agent.stop()
