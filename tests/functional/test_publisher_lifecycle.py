"""Publishers across restarts, owners and odd OVSDB transactions.

Against real etcd / redis-server and ovsdb-server (ofports written by the
tests, no vswitchd, so one OVSDB transaction is exactly one agent batch).
Every wait is for an effect in the store itself; what a consumer sees is
read from the store's own history (etcd revisions, the Redis stream).
"""

import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.testing import sandbox
from tests.functional.stores import etcd_alive
from tests.functional.stores import etcd_changes_since
from tests.functional.stores import etcd_keys_per_lease
from tests.functional.stores import etcd_lease_alive
from tests.functional.stores import etcd_lease_ttl
from tests.functional.stores import etcd_leases
from tests.functional.stores import etcd_records
from tests.functional.stores import etcd_revision
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import etcd_written_since
from tests.functional.stores import expected_records
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import redis_alive
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.functional.stores import wait_until
from tests.helpers import vsctl_vm

pytestmark = [pytest.mark.functional, pytest.mark.timeout(90)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PREFIX = 'df-ovsdb-agent:hv1:'


# -- the two stores behind one interface -----------------------------------

class EtcdSide:
    name = 'etcd'

    def __init__(self, server):
        self.server = server

    def options(self, ttl=60, **extra):
        return dict(url=self.server.url, lease_ttl=ttl, **extra)

    def records(self, host='hv1'):
        return {n: r for n, (r, _) in etcd_records(self.server,
                                                   host).items()}

    def mark(self):
        return etcd_revision(self.server)

    def changes_since(self, mark):
        """Interface changes a value-comparing watcher saw since mark."""
        return etcd_changes_since(self.server, mark)

    def held_by(self, pub, host='hv1'):
        """All of the host's keys on pub's leases, its liveness record.

        The liveness record on the lease pub granted itself.
        """
        alive = etcd_alive(self.server, host)
        return (alive is not None and pub.writer.instance is not None and
                pub.writer.instance.is_self(alive[0]) and
                alive[1] == pub.store.lease_id and
                etcd_leases(self.server, host) <= set(pub.store.leases))

    def alive(self, host='hv1'):
        found = self.server.client().get('/df-ovsdb-agent/%s/alive' % host)
        return stores.parse_alive(found[0]) if found else None

    def remove_behind_back(self, name):
        self.server.client().delete('/df-ovsdb-agent/hv1/interfaces/' + name)

    def tamper_behind_back(self, name):
        self.server.client().put('/df-ovsdb-agent/hv1/interfaces/' + name,
                                 '{"name": "forged"}')


class RedisSide:
    name = 'redis'

    def __init__(self, server):
        self.server = server
        self.client = server.client()

    def options(self, ttl=60, **extra):
        return dict(url=self.server.url, liveness_ttl=ttl, **extra)

    def records(self, host='hv1'):
        return {n: json.loads(v) for n, v in self.client.hgetall(
            'df-ovsdb-agent:%s:interfaces' % host).items()}

    def mark(self):
        last = self.client.xrevrange(PREFIX + 'events', count=1)
        return last[0][0] if last else '0-0'

    def changes_since(self, mark):
        """Stream entries (events and sync markers) after mark."""
        return [fields['event'] for _, fields in self.client.xrange(
            PREFIX + 'events', min='(' + mark)]

    def held_by(self, pub, host='hv1'):
        alive = self.alive(host)
        return (alive is not None and pub.writer.instance is not None and
                pub.writer.instance.is_self(alive))

    def alive(self, host='hv1'):
        return redis_alive(self.server, host)

    def remove_behind_back(self, name):
        self.client.hdel(PREFIX + 'interfaces', name)

    def tamper_behind_back(self, name):
        self.client.hset(PREFIX + 'interfaces', name, '{"name": "forged"}')


@pytest.fixture(params=['etcd', 'redis'])
def side(request):
    if request.param == 'etcd':
        return EtcdSide(request.getfixturevalue('etcd_server'))
    return RedisSide(request.getfixturevalue('redis_server'))


# -- OVSDB helpers ---------------------------------------------------------

def bridge(name='br-int'):
    return ['--', 'add-br', name, '--', 'set', 'Interface', name,
            'ofport=65534']


def vm(name, ofport, iface_id, bridge_name='br-int'):
    return ['--'] + vsctl_vm(name, iface_id, bridge=bridge_name,
                             ofport=ofport)


def populate(box):
    box.vsctl(*(bridge() + vm('tap1', 1, 'p1') + vm('tap2', 2, 'p2') +
                vm('tap3', 3, 'p3')))


def run(make_agent, make_publisher, side, box, owner='o1', host='hv1',
        ttl=60, **options):
    """Agent + publisher, returned once the store holds the agent's state.

    "Holds" includes: written by this publisher (liveness record, lease).
    """
    agent = make_agent(box.remote)
    pub = make_publisher(side.name, agent, host, owner,
                         **side.options(ttl, **options))
    agent.start()
    wait_until(lambda: side.records(host) == expected_records(agent, host)
               and side.held_by(pub, host), 20, 'the store to converge')
    return agent, pub


def stop(agent, pub):
    pub.stop()
    agent.stop()


# -- tests -----------------------------------------------------------------

def test_same_name_recreated_and_vm_to_patch_converge(
        ovsdb, side, make_agent, make_publisher):
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb)
    old_uuid = side.records()['tap1']['uuid']
    mark = side.mark()

    # One OVSDB transaction: delete tap1, create another tap1.
    ovsdb.vsctl('--', 'del-port', 'tap1', *vm('tap1', 1, 'p1b'))
    wait_until(lambda: side.records()['tap1']['uuid'] != old_uuid and
               side.records() == expected_records(agent, 'hv1'))
    # vm -> patch under one name and uuid: another identity too.
    ovsdb.vsctl('set', 'Interface', 'tap2', 'type=patch',
                'options:peer=tap9')
    wait_until(lambda: side.records()['tap2']['kind'] == 'patch')

    # The writer is not wedged: a later change of another port arrives.
    began = time.monotonic()
    ovsdb.vsctl('set', 'Interface', 'tap3', 'external_ids:iface-id=p3b')
    wait_until(lambda: side.records()['tap3'].get('iface_id') == 'p3b', 5)
    logging.getLogger(__name__).info('later change in the store after %.3fs',
                                     time.monotonic() - began)
    assert pub.writer.failures == 0
    assert side.records() == expected_records(agent, 'hv1')
    if side.name == 'redis':
        events = [(e.get('action'), e.get('name'), e.get('kind'))
                  for e in map(json.loads, side.changes_since(mark))]
        assert events == [
            ('offline', 'tap1', 'vm'), ('online', 'tap1', 'vm'),
            ('offline', 'tap2', 'vm'), ('online', 'tap2', 'patch'),
            ('updated', 'tap3', 'vm')]
    else:
        # One put per key and transaction: tap1 and tap2 never vanished.
        changes = side.changes_since(mark)
        assert [(k.rsplit('/', 1)[1], new is None) for _, k, _, new
                in changes] == [('tap1', False), ('tap2', False),
                                ('tap3', False)]


def test_clean_restart_is_invisible_to_consumers(
        ovsdb, side, make_agent, make_publisher, caplog):
    caplog.set_level(logging.INFO)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=6)
    old_leases = set(getattr(pub.store, 'leases', ()))
    mark = side.mark()
    stop(agent, pub)  # SIGTERM's path: the keys stay

    agent2, pub2 = run(make_agent, make_publisher, side, ovsdb, ttl=6)
    if side.name == 'etcd':
        _assert_adopted(side, pub2, old_leases, mark)
        # The line publishers.rst quotes.
        assert ['Adopted etcd lease(s) %s of the previous process of host '
                'hv1: its keys stay as they are' % ', '.join(
                    '%x' % lease for lease in sorted(old_leases))] == [
            r.getMessage() for r in caplog.records
            if r.getMessage().startswith('Adopted etcd lease')]
    assert side.changes_since(mark) == []
    assert side.records() == expected_records(agent2, 'hv1')


def _assert_adopted(side, pub, old_leases, mark):
    """The restarted publisher adopted the old leases.

    Not one interface key written, and it keeps them alive (the first
    process is gone).
    """
    assert old_leases and old_leases <= set(pub.store.leases)
    assert pub.store.lease_id not in old_leases  # its own, for the guard
    assert etcd_written_since(side.server, 'hv1', mark) == []
    seen = {lease: [] for lease in old_leases}

    def refreshed():
        for lease, ttls in seen.items():
            ttls.append(etcd_lease_ttl(side.server, lease))
        return all(any(b > a for a, b in zip(ttls, ttls[1:]))
                   for ttls in seen.values())

    wait_until(refreshed, 15, 'the adopted leases to be refreshed')
    assert all(ttl > 0 for ttls in seen.values() for ttl in ttls)
    assert etcd_written_since(side.server, 'hv1', mark) == []


def test_etcd_restart_with_another_lease_ttl_moves_the_keys(
        ovsdb, etcd_server, make_agent, make_publisher):
    """Leases granted with another TTL are not adopted.

    The keys are rewritten, with their values, onto the new lease.
    """
    side = EtcdSide(etcd_server)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=6)
    old_lease = pub.store.lease_id
    mark = side.mark()
    stop(agent, pub)

    agent2, pub2 = run(make_agent, make_publisher, side, ovsdb, ttl=7)
    assert old_lease not in pub2.store.leases
    assert etcd_written_since(etcd_server, 'hv1', mark) == [
        'br-int', 'tap1', 'tap2', 'tap3']
    # Past the old lease's expiry nothing is deleted: no key is on it.
    wait_until(lambda: not etcd_lease_alive(etcd_server, old_lease), 10,
               'the old lease to expire')
    assert side.held_by(pub2)
    assert side.changes_since(mark) == []
    assert side.records() == expected_records(agent2, 'hv1')


def test_etcd_revoke_by_a_superseded_process_deletes_nothing(
        ovsdb, etcd_server, make_agent, make_publisher):
    """A revoke by a process whose leases were adopted deletes nothing.

    A newer process of the same owner adopted the first one's leases; the
    first one's revoke_on_stop must not delete the keys with them.
    """
    side = EtcdSide(etcd_server)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb,
                     revoke_on_stop=True)
    old_leases = set(pub.store.leases)
    mark = side.mark()
    agent2, pub2 = run(make_agent, make_publisher, side, ovsdb)
    assert old_leases <= set(pub2.store.leases)
    stop(agent, pub)  # still believes it is connected: tries to revoke
    assert all(etcd_lease_alive(etcd_server, lease) for lease in old_leases)
    assert side.held_by(pub2)
    assert side.records() == expected_records(agent2, 'hv1')
    assert side.changes_since(mark) == []


def _start_child(box, side, owner, ttl):
    options = ['%s=%s' % kv for kv in side.options(ttl).items()]
    proc = subprocess.Popen(
        [sys.executable, '-m', 'tests.functional.publisher_child',
         side.name, box.remote, 'hv1', owner] + options,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ''
    if line.strip() != 'ready':
        proc.kill()
        proc.wait(10)
        pytest.fail('publisher child did not get ready: %r' % line)
    return proc


def test_kill9_restart_is_invisible_to_consumers(
        ovsdb, side, make_agent, make_publisher):
    populate(ovsdb)
    child = _start_child(ovsdb, side, 'o1', ttl=8)
    try:
        wait_until(lambda: sorted(side.records()) ==
                   ['br-int', 'tap1', 'tap2', 'tap3'])
        old_leases = (etcd_leases(side.server, 'hv1')
                      if side.name == 'etcd' else set())
        mark = side.mark()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    # Same owner, within the TTL: taken over at once.
    agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=8)
    if side.name == 'etcd':
        _assert_adopted(side, pub, old_leases, mark)
    assert side.held_by(pub)
    assert side.changes_since(mark) == []
    assert side.records() == expected_records(agent, 'hv1')


def test_ovsdb_down_at_start_leaves_the_store_untouched(
        ovsdb, side, make_agent, make_publisher):
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb)
    before = (side.records(), side.alive())
    mark = side.mark()
    stop(agent, pub)
    ovsdb.kill_ovsdb()

    blind = make_agent(ovsdb.remote, timeout=2)
    make_publisher(side.name, blind, 'hv1', 'o1', **side.options())
    outcome = []
    starter = threading.Thread(target=lambda: outcome.append(
        _try(blind.start)))
    starter.start()
    starter.join(30)  # the agent's own start-up wait (2 s) is the window
    assert outcome and outcome[0] is not None, 'agent.start() did not fail'
    if side.name == 'etcd':
        assert side.mark() == mark  # not a single write
    assert side.changes_since(mark) == []
    assert (side.records(), side.alive()) == before

    ovsdb.start_ovsdb()
    agent3, pub3 = run(make_agent, make_publisher, side, ovsdb)
    assert side.changes_since(mark) == []


def _try(call):
    try:
        call()
    except Exception as exc:
        return exc
    return None


def test_second_owner_of_a_host_id_is_refused(
        tmp_path, ovsdb, side, make_agent, make_publisher, caplog):
    caplog.set_level(logging.INFO)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, owner='oA')
    mark = side.mark()
    other = sandbox.OvsSandbox(base_dir=str(tmp_path / 'other'),
                               vswitchd=False)
    os.makedirs(other.dir)
    other.start()
    try:
        other.vsctl(*(bridge() + vm('tap9', 9, 'p9')))
        intruder_agent = make_agent(other.remote)
        intruder = make_publisher(side.name, intruder_agent, 'hv1', 'oB',
                                  **side.options())
        intruder_agent.start()
        wait_until(lambda: intruder.writer.refusals >= 3, 20,
                   'the intruder to be refused a few times')
        assert intruder.writer.refused
        assert intruder.problem().startswith(
            'host id held by another agent (owner oA, pid %d)' % os.getpid())
        assert pub.problem() is None
        assert side.changes_since(mark) == []
        assert side.held_by(pub)
        refusals = [r for r in caplog.records
                    if r.levelno == logging.ERROR and 'hv1' in r.getMessage()]
        assert len(refusals) == 1, [r.getMessage() for r in refusals]
        message = refusals[0].getMessage()
        assert 'owner oA' in message and 'pid %d' % os.getpid() in message

        # The first agent stops for good: the intruder takes over.
        pub.writer.revoke_on_stop = True
        stop(agent, pub)
        wait_until(lambda: side.records() == expected_records(
            intruder_agent, 'hv1') and side.held_by(intruder), 20,
            'the intruder to take over (alive: %s)' % side.alive())
        assert not intruder.writer.refused
        assert intruder.problem() is None
    finally:
        other.stop()


def test_store_frozen_while_interfaces_change_converges_exactly(
        ovsdb, side, make_agent, make_publisher):
    """The store is SIGSTOPped while ports are unplugged, changed and
    plugged: the publisher notices (its writes time out), and after
    SIGCONT the store holds exactly OVSDB's state and consumers see each
    of those changes once, nothing else.
    """
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, timeout=1,
                     max_backoff=0.5)
    mark = side.mark()
    failures = pub.writer.failures
    side.server.proc.send_signal(signal.SIGSTOP)
    try:
        ovsdb.vsctl('del-port', 'tap1')
        ovsdb.vsctl('set', 'Interface', 'tap2', 'external_ids:iface-id=p2b')
        ovsdb.vsctl(*vm('tap4', 4, 'p4'))
        wait_until(lambda: pub.writer.failures > failures, 20,
                   'the publisher to notice the frozen store')
    finally:
        side.server.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: side.records() == expected_records(agent, 'hv1') and
               side.held_by(pub), 20)
    if side.name == 'redis':
        events = sorted((e['action'], e['name']) for e in map(
            json.loads, side.changes_since(mark)) if 'action' in e)
        assert events == [('offline', 'tap1'), ('online', 'tap4'),
                          ('updated', 'tap2')]
    else:
        changes = side.changes_since(mark)
        assert sorted((k.rsplit('/', 1)[1], old is None, new is None)
                      for _, k, old, new in changes) == [
            ('tap1', False, True), ('tap2', False, False),
            ('tap4', True, False)]


def test_periodic_reconcile_repairs_drift(ovsdb, side, make_agent,
                                          make_publisher):
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb,
                     resync_interval=0.5)
    want = expected_records(agent, 'hv1')
    reconciles = pub.writer.reconciles
    side.remove_behind_back('tap1')
    side.tamper_behind_back('tap2')
    # Nothing changes in OVSDB: only the periodic reconcile can repair.
    # (The count goes up just after the reconcile's write.)
    wait_until(lambda: side.records() == want and
               pub.writer.reconciles > reconciles, 15, 'the repair')
    assert pub.writer.failures == 0


def test_revoke_on_stop_removes_the_host(ovsdb, side, make_agent,
                                         make_publisher):
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb,
                     revoke_on_stop=True)
    mark = side.mark()
    stop(agent, pub)
    assert side.records() == {}
    assert side.alive() is None
    if side.name == 'redis':
        assert sorted(json.loads(e)['name'] for e in side.changes_since(
            mark)) == ['br-int', 'tap1', 'tap2', 'tap3']


def test_redis_liveness_is_refreshed_then_expires(
        ovsdb, redis_server, make_agent, make_publisher):
    side = RedisSide(redis_server)
    populate(ovsdb)
    agent, pub = run(make_agent, make_publisher, side, ovsdb, ttl=2)
    key = PREFIX + 'alive'
    alive = side.alive()
    assert {k: alive[k] for k in ('host', 'owner', 'pid', 'synced',
                                  'interfaces', 'ttl')} == {
        'host': 'hv1', 'owner': 'o1', 'pid': os.getpid(), 'synced': True,
        'interfaces': 4, 'ttl': 2}
    # Refreshed every third of the TTL: the remaining time goes up again.
    seen = []

    def refreshed_twice():
        seen.append(side.client.pttl(key))
        ups = sum(1 for a, b in zip(seen, seen[1:]) if b > a)
        return ups >= 2

    wait_until(refreshed_twice, 10, 'two refreshes')
    assert all(0 < t <= 2000 for t in seen)
    stop(agent, pub)
    wait_until(lambda: side.alive() is None, 5, 'the record to expire')
    # The state stays for consumers to see the host down, not its ports.
    assert sorted(side.records()) == ['br-int', 'tap1', 'tap2', 'tap3']


class SyntheticAgent:
    """Just what a publisher uses of an agent, fed by the test."""

    def __init__(self, host):
        self.bus = EventBus()
        self.host = host
        self.owner_id = 'o1'

    def subscribe(self, callback, replay=False, name=None):
        return self.bus.subscribe(callback, name=name)

    def unsubscribe(self, subscription):
        self.bus.unsubscribe(subscription)


def test_etcd_keys_per_lease_are_bounded(etcd_server, make_publisher):
    agent = SyntheticAgent('hv-big')
    pub = make_publisher('etcd', agent, None, **EtcdSide(
        etcd_server).options(ttl=6))
    ports = [Interface(Kind.VM, 'tap%04d' % i, 'u%04d' % i, i + 1,
                       iface_id='p%d' % i) for i in range(2100)]
    agent.bus.publish_many([InterfaceEvent(Action.ONLINE, p) for p in ports]
                           + [SYNC_FINISHED])
    wait_until(lambda: len(etcd_records(etcd_server, 'hv-big')) == 2100, 30)
    # 2,100 interface keys + the liveness record: three leases.
    counts = etcd_keys_per_lease(etcd_server, 'hv-big')
    assert sorted(counts.values()) == [101, 1000, 1000]
    assert set(counts) == set(pub.store.leases)
    # Every lease is kept alive: each one's remaining TTL goes up again.
    seen = {lease: [] for lease in counts}

    def all_refreshed():
        for lease, ttls in seen.items():
            ttls.append(etcd_lease_ttl(etcd_server, lease))
        return all(any(b > a for a, b in zip(t, t[1:]))
                   for t in seen.values())

    wait_until(all_refreshed, 20, 'every lease to be refreshed')
    # Removing interfaces frees room; no new lease is needed to add some.
    agent.bus.publish_many([InterfaceEvent(Action.OFFLINE, p)
                            for p in ports[:1500]])
    wait_until(lambda: len(etcd_records(etcd_server, 'hv-big')) == 600, 30)
    extra = [Interface(Kind.VM, 'new%d' % i, 'n%d' % i, 5000 + i)
             for i in range(50)]
    agent.bus.publish_many([InterfaceEvent(Action.ONLINE, p)
                            for p in extra])
    wait_until(lambda: len(etcd_records(etcd_server, 'hv-big')) == 650, 30)
    counts = etcd_keys_per_lease(etcd_server, 'hv-big')
    assert set(counts) <= set(pub.store.leases)
    assert len(pub.store.leases) == 3 and sum(counts.values()) == 651
    assert all(n <= stores.KEYS_PER_LEASE for n in counts.values())


def _daemon(tmp_path, box, etcd_server, redis_server):
    conf = tmp_path / 'agent.conf'
    conf.write_text(
        '[DEFAULT]\nhost = hv1\n'
        '[ovsdb]\nconnection = %s\n'
        '[agent]\npublishers = etcd,redis\nstate_dir = %s\n'
        '[publisher_etcd]\nurl = %s\nlease_ttl = 10\n'
        '[publisher_redis]\nurl = %s\nliveness_ttl = 10\n'
        % (box.remote, tmp_path / 'state', etcd_server.url,
           redis_server.url))
    daemon = os.path.join(os.path.dirname(sys.executable), 'df-ovsdb-agent')
    log = open(tmp_path / 'agent.log', 'a')
    proc = subprocess.Popen([daemon, '--config-file', str(conf)],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def test_daemon_restarts_are_invisible_to_consumers(
        tmp_path, ovsdb, etcd_server, redis_server):
    """SIGTERM then kill -9 of the real daemon, each restarted at once.

    The owner id the daemon keeps in state_dir lets it take its host over.
    """
    etcd, redis = EtcdSide(etcd_server), RedisSide(redis_server)
    populate(ovsdb)
    names = ['br-int', 'tap1', 'tap2', 'tap3']

    def published_by(proc):
        return all(sorted(side.records()) == names and side.alive() and
                   side.alive()['pid'] == proc.pid and
                   side.alive()['synced'] for side in (etcd, redis))

    procs = [_daemon(tmp_path, ovsdb, etcd_server, redis_server)]
    try:
        wait_until(lambda: published_by(procs[-1]), 30, 'the daemon')
        marks = (etcd.mark(), redis.mark())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            procs[-1].send_signal(sig)
            procs[-1].wait(20)
            procs.append(_daemon(tmp_path, ovsdb, etcd_server,
                                 redis_server))
            wait_until(lambda: published_by(procs[-1]), 30,
                       'the restarted daemon to take the host over')
        # Each restarted daemon adopted the leases its predecessor's keys
        # were on: not one interface key was written again.
        assert etcd_written_since(etcd_server, 'hv1', marks[0]) == []
        assert all(etcd_lease_alive(etcd_server, lease)
                   for lease in etcd_leases(etcd_server, 'hv1'))
        assert etcd.changes_since(marks[0]) == []
        assert redis.changes_since(marks[1]) == []
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
