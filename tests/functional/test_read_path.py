"""The read path against a real ovsdb-server: diffs, conversions,
transactions, failures on the way to the sink, huge values, and python-ovs's
IDL and ``ovsdb-client dump`` as oracles for randomized transaction streams.
"""

import json
import logging
import os
import random
import subprocess
import threading
import time

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent import metrics
from df_ovsdb_agent.ovsdb import client as client_lib
from df_ovsdb_agent.ovsdb import jsonrpc
from df_ovsdb_agent.ovsdb.monitor import Monitor
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.ovsdb.replica import ColumnType
from df_ovsdb_agent.ovsdb.replica import Replica
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.sandbox import SCHEMA
from df_ovsdb_agent.testing.sandbox import wait_for
from tests.functional.audit import agent_state
from tests.functional.audit import mismatches
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import db_truth
from tests.functional.ovsdb_ops import delete_ports_ops
from tests.functional.ovsdb_ops import interface_rows
from tests.functional.ovsdb_ops import ovs_map
from tests.functional.ovsdb_ops import populate
from tests.functional.ovsdb_ops import port_uuids
from tests.functional.ovsdb_ops import set_ofport_op
from tests.recorder import Recorder


class ViewSink:
    """A sink keeping what the agent would see: rows, sync state, system."""

    def __init__(self):
        self.rows = {}
        self.system = None
        self.synced = False
        self.batches = 0
        self.cond = threading.Condition()

    def on_sync_started(self):
        with self.cond:
            self.synced = False

    def on_batch(self, rows):
        with self.cond:
            for uuid, row in rows.items():
                if row is None:
                    self.rows.pop(uuid, None)
                else:
                    self.rows[uuid] = row
            self.batches += 1
            self.cond.notify_all()

    def on_synced(self, rows):
        with self.cond:
            self.rows = {row.uuid: row for row in rows}
            self.synced = True
            self.cond.notify_all()

    def on_system(self, external_ids):
        with self.cond:
            self.system = dict(external_ids)
            self.cond.notify_all()

    def wait(self, predicate, timeout=15, what='the sink'):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout), \
                'timed out waiting for %s' % what

    def by_name(self, name):
        with self.cond:
            return next((r for r in self.rows.values() if r.name == name),
                        None)


@pytest.fixture
def make_monitor():
    monitors = []

    def factory(remote, sink, **settings):
        monitor = Monitor(OvsdbSettings(connection=remote, **settings), sink)
        monitors.append(monitor)
        monitor.start()
        return monitor

    yield factory
    for monitor in monitors:
        monitor.stop(5)


def _truth_rows(remote):
    with Rpc(remote, timeout=30) as rpc:
        return {r.uuid: r for r in interface_rows(rpc)}


# -- update2 modify of maps and sets, on one session -------------------------

def test_update2_modify_diffs_of_maps_and_sets(ovsdb):
    """Sets and maps from the server's own ``modify`` diffs.

    Port.trunks (a set) and external_ids (a map) equal the database after
    every step.
    """
    populate(ovsdb.unix_remote, 0)
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(*add_ports_ops('br-int', ['p0'], lambda i: 1))
    conn = jsonrpc.Connection.open(ovsdb.unix_remote, 5, 1 << 20)
    try:
        session = client_lib.Session(conn, 0, 10)
        deadline = time.monotonic() + 10
        schema = session.get_schema(deadline)
        port = schema['tables']['Port']['columns']
        replica = Replica({'Port': {
            c: ColumnType.from_json(port[c]['type'])
            for c in ('name', 'trunks', 'tag', 'external_ids')}})
        found, _ = session.monitor(replica, deadline)
        assert not found and session.method == 'monitor_cond_since'

        def step(mutation, column, expected):
            with Rpc(ovsdb.unix_remote) as rpc:
                rpc.transact({'op': 'mutate', 'table': 'Port',
                              'where': [['name', '==', 'p0']],
                              'mutations': [mutation]})
                row = rpc.transact({'op': 'select', 'table': 'Port',
                                    'where': [['name', '==', 'p0']]})[0][
                                        'rows'][0]
            touched = session.next_update(replica, time.monotonic() + 10)
            assert touched is not None and len(touched['Port']) == 1
            (values,) = replica.rows('Port').values()
            assert values[column] == expected
            assert values[column] == replica.types['Port'][column].decode(
                row[column])

        step(['trunks', 'insert', ['set', [1, 2, 3]]], 'trunks',
             frozenset({1, 2, 3}))
        step(['trunks', 'delete', ['set', [2]]], 'trunks',
             frozenset({1, 3}))
        step(['trunks', 'insert', ['set', [7]]], 'trunks',
             frozenset({1, 3, 7}))
        step(['external_ids', 'insert', ovs_map({'a': '1',
                                                 'b': '2'})],
             'external_ids', {'a': '1', 'b': '2'})
        step(['external_ids', 'delete', ['set', ['a']]], 'external_ids',
             {'b': '2'})
        with Rpc(ovsdb.unix_remote) as rpc:
            # update replaces: b changes value, c is new, a stays gone.
            rpc.transact({'op': 'update', 'table': 'Port',
                          'where': [['name', '==', 'p0']],
                          'row': {'external_ids': ovs_map(
                              {'b': '3', 'c': '4'}), 'tag': 5}})
        session.next_update(replica, time.monotonic() + 10)
        (values,) = replica.rows('Port').values()
        assert values['external_ids'] == {'b': '3', 'c': '4'}
        assert values['tag'] == 5
    finally:
        conn.close()


# -- transactions reach subscribers whole, offline first ---------------------

def test_recreation_in_one_transaction_is_offline_before_online(
        ovsdb, make_agent):
    count = 100
    populate(ovsdb.unix_remote, count)
    agent = make_agent(ovsdb.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_sync('finished')
    old = {i.name: i.uuid for i in agent.interfaces()}
    assert len(old) == count
    mark = len(rec.events)
    names = ['tap%d' % i for i in range(count)]
    with Rpc(ovsdb.unix_remote, timeout=30) as rpc:
        ports = port_uuids(rpc, 'br-int')
        # One transaction: the old ports go, new ones with the same names
        # and ofports come.
        ops = delete_ports_ops('br-int', [ports[n] for n in names])
        ops += add_ports_ops('br-int', names, lambda i: i + 1)
        rpc.transact(*ops, timeout=30)
    rec.wait_for(lambda evs: sum(
        1 for e in evs[mark:] if isinstance(e, InterfaceEvent) and
        e.action.value == 'online') == count)
    events = [e for e in rec.events[mark:] if isinstance(e, InterfaceEvent)]
    assert len(events) == 2 * count
    for key in ('name', 'ofport'):
        seen = {}
        for index, event in enumerate(events):
            seen.setdefault(getattr(event, key), []).append(
                (event.action.value, event.uuid))
        for value, history in seen.items():
            # Per name and per ofport: the old one's offline strictly
            # before the new one's online.
            assert [a for a, _ in history] == ['offline', 'online'], (
                key, value, history)
            assert history[0][1] in old.values()
            assert history[1][1] not in old.values()
    assert mismatches(agent_state(agent),
                      db_truth(ovsdb.unix_remote)) == []


# -- the write side through ovsdbapp ------------------------------------------

@pytest.mark.parametrize('box', ['ovsdb', 'ovs'],
                         ids=['no-vswitchd', 'vswitchd'])
def test_sandbox_adds_and_removes_through_ovsdbapp(request, make_agent,
                                                   box):
    box = request.getfixturevalue(box)
    # Without ovs-vswitchd, ofports are written directly.
    ofports = {} if box.vswitchd else {'tap1': {'ofport': 7},
                                       'vx1': {'ofport': 8}}
    agent = make_agent(box.remote)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    box.add_bridge('br-int')
    box.add_port('br-int', 'tap1', external_ids={'iface-id': 'p1'},
                 **ofports.get('tap1', {}))
    box.add_port('br-int', 'vx1', type='vxlan',
                 options={'remote_ip': '192.0.2.1'},
                 **ofports.get('vx1', {}))
    rec.wait_event(name='tap1', action='online')
    rec.wait_event(name='vx1', action='online')
    box.del_port('tap1')
    rec.wait_event(name='tap1', action='offline')
    assert mismatches(agent_state(agent),
                      db_truth(box.unix_remote)) == []


# -- the schema: once per start, again on every reconnect -------------------

def _appctl(ovsdb, *args):
    subprocess.run(['ovs-appctl', '-t',
                    os.path.join(ovsdb.dir, 'ovsdb-server.ctl')] + list(args),
                   check=True, capture_output=True, timeout=10)


def _schema_requests(ovsdb):
    """get_schema requests the server received, from its own debug log."""
    with open(os.path.join(ovsdb.dir, 'ovsdb-server.log')) as f:
        return f.read().count('method="get_schema"')


def test_schema_is_fetched_once_per_start_and_again_on_reconnect(
        ovsdb, make_agent):
    populate(ovsdb.unix_remote, 3)
    _appctl(ovsdb, 'vlog/set', 'jsonrpc:file:dbg')
    agent = make_agent(ovsdb.unix_remote, min_backoff=10, max_backoff=100)
    agent.start()
    assert agent.wait_synced(10)
    # start() fetched and checked it; the first session reused that.
    assert _schema_requests(ovsdb) == 1
    assert len(agent.interfaces()) == 3
    syncs = agent.syncs
    # The server drops every client: the next session asks again (the
    # schema may have changed meanwhile).
    _appctl(ovsdb, 'ovsdb-server/reconnect')
    assert agent.wait_synced(15, after=syncs)
    assert _schema_requests(ovsdb) == 2
    assert agent.monitor.connections == 2
    assert len(agent.interfaces()) == 3


# -- online schema conversion ------------------------------------------------

def _schema_file(tmp_path, name, change):
    with open(SCHEMA) as f:
        schema = json.load(f)
    change(schema['tables']['Interface']['columns'])
    path = tmp_path / ('%s.ovsschema' % name)
    path.write_text(json.dumps(schema))
    return str(path)


def _convert(ovsdb, schema):
    subprocess.run(['ovsdb-client', 'convert', ovsdb.unix_remote, schema],
                   check=True, capture_output=True, timeout=60)


def _sync_markers(rec, mark):
    return [str(e) for e in rec.events[mark:]
            if not isinstance(e, InterfaceEvent)]


def test_convert_to_a_schema_with_an_extra_column(ovsdb, make_agent,
                                                  tmp_path):
    populate(ovsdb.unix_remote, 5)
    agent = make_agent(ovsdb.remote, probe_interval=1000)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_sync('finished')
    mark, syncs = len(rec.events), agent.syncs
    connections = agent.monitor.connections
    extra = _schema_file(tmp_path, 'extra', lambda cols: cols.update(
        df_extra={'type': {'key': 'string', 'min': 0, 'max': 1}}))
    _convert(ovsdb, extra)
    assert agent.wait_synced(15, after=syncs)
    # This bracket's end: until the bus delivers it, the first sync's
    # marker is still the latest event (wait_sync would return at once).
    rec.wait_for(lambda evs: len(evs) > mark and
                 str(evs[-1]) == 'sync finished')
    # One sync bracket on the same connection, and not a single event.
    assert _sync_markers(rec, mark) == ['sync started', 'sync finished']
    assert rec.summary(rec.events[mark:]) == []
    assert agent.monitor.connections == connections
    assert agent.monitor.forced_resyncs == 0
    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(set_ofport_op('tap1', 4242))
    rec.wait_event(name='tap1', action='updated')
    assert mismatches(agent_state(agent),
                      db_truth(ovsdb.unix_remote)) == []


def test_convert_to_a_schema_without_a_monitored_column(
        ovsdb, make_agent, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger='df_ovsdb_agent.ovsdb')
    populate(ovsdb.unix_remote, 5)
    agent = make_agent(ovsdb.remote, probe_interval=1000)
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_sync('finished')
    syncs = agent.syncs
    lacking = _schema_file(tmp_path, 'lacking',
                           lambda cols: cols.pop('options'))
    _convert(ovsdb, lacking)
    attempts = agent.monitor.attempts
    began = time.monotonic()
    wait_for(lambda: agent.monitor.attempts >= attempts + 4, 15,
             'retries')
    took = time.monotonic() - began
    assert not agent.synced
    # Backed off: the first four delays are at least 0.05+0.1+0.2 s.
    assert took >= 0.35, took
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].getMessage().endswith(
        'Interface table lacks column(s) options; retrying')
    assert problems[0].exc_info is None

    with Rpc(ovsdb.unix_remote) as rpc:
        rpc.transact(set_ofport_op('tap2', 77))
    _convert(ovsdb, SCHEMA)
    assert agent.wait_synced(15, after=syncs)
    rec.wait_event(name='tap2', action='updated')
    assert mismatches(agent_state(agent),
                      db_truth(ovsdb.unix_remote)) == []


# -- an exception on the way to the subscribers ------------------------------

class FailingOnce(Agent):
    """An agent whose batch handling raises once (a classifier bug)."""

    armed = True

    def on_batch(self, rows):
        if self.armed and any(r is not None and r.name == 'boom'
                              for r in rows.values()):
            self.armed = False
            raise RuntimeError('classifier bug')
        super().on_batch(rows)


def test_raising_sink_forces_a_resync_and_stays_exact(ovsdb, caplog):
    populate(ovsdb.unix_remote, 5)
    agent = FailingOnce(settings=OvsdbSettings(connection=ovsdb.remote))
    try:
        rec = Recorder()
        agent.subscribe(rec)
        agent.start()
        rec.wait_sync('finished')
        syncs = agent.syncs
        with Rpc(ovsdb.unix_remote) as rpc:
            rpc.transact(*add_ports_ops('br-int', ['boom', 'bang'],
                                        lambda i: 100 + i))
        assert agent.wait_synced(15, after=syncs)
        rec.wait_event(name='bang', action='online')
        rec.wait_event(name='boom', action='online')
        assert agent.monitor.forced_resyncs == 1
        collected = {m.name: m for m in metrics.AgentCollector(
            agent, metrics.EventCounter()).collect()}
        forced = collected['df_ovsdb_agent_forced_resyncs']
        assert forced.samples[0].value == 1
        assert mismatches(agent_state(agent),
                          db_truth(ovsdb.unix_remote)) == []
        logged = [r for r in caplog.records if r.exc_info is not None]
        assert len(logged) == 1 and 'forcing a fresh sync' in \
            logged[0].getMessage()
    finally:
        agent.stop()


# -- huge values --------------------------------------------------------------

@pytest.mark.parametrize('size', [1 << 20, 16 << 20], ids=['1MiB', '16MiB'])
def test_huge_value_in_a_row(ovsdb, make_monitor, size):
    populate(ovsdb.unix_remote, 3)
    sink = ViewSink()
    make_monitor(ovsdb.remote, sink)
    value = ''.join(random.Random(size).choice('abcdef0123456789')
                    for _ in range(1024)) * (size // 1024)
    with Rpc(ovsdb.unix_remote, timeout=60) as rpc:
        committed = time.monotonic()
        rpc.transact({'op': 'mutate', 'table': 'Interface',
                      'where': [['name', '==', 'tap1']],
                      'mutations': [['external_ids', 'insert',
                                     ovs_map({'big': value})]]},
                     timeout=60)
    sink.wait(lambda s: 'big' in s.by_name('tap1').external_ids, 60,
              'the big value')
    took = time.monotonic() - committed
    assert sink.by_name('tap1').external_ids['big'] == value
    print('\nHUGE value of %d bytes: commit -> sink %.3fs' % (size, took))


# -- differential: the replica against python-ovs's IDL and ovsdb-client -----

COLUMNS = ('name', 'type', 'ofport', 'external_ids', 'options')


class IdlOracle:
    """A raw python-ovs IDL on the same columns, driven in this thread."""

    def __init__(self, remote):
        from ovs.db import idl
        helper = idl.SchemaHelper(SCHEMA)
        helper.register_columns('Interface', list(COLUMNS))
        self.idl = idl.Idl(remote, helper)

    def rows_when(self, predicate, timeout=15):
        import ovs.poller
        deadline = time.monotonic() + timeout
        while True:
            self.idl.run()
            rows = self.rows()
            if predicate(rows):
                return rows
            assert time.monotonic() < deadline, 'the IDL did not catch up'
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(100)
            poller.block()

    def rows(self):
        out = {}
        for row in self.idl.tables['Interface'].rows.values():
            ofport = row.ofport
            out[str(row.uuid)] = RowValues(
                str(row.uuid), row.name, row.type,
                ofport[0] if ofport else None, dict(row.external_ids),
                dict(row.options))
        return out

    def close(self):
        self.idl.close()


def _dump(remote):
    out = subprocess.run(
        ['ovsdb-client', '-f', 'json', 'dump', remote, 'Open_vSwitch',
         'Interface', '_uuid'] + list(COLUMNS), capture_output=True,
        text=True, check=True, timeout=30).stdout
    table = json.loads(out)
    rows = {}
    for data in table['data']:
        row = dict(zip(table['headings'], data))
        ofport = row['ofport']
        rows[row['_uuid'][1]] = RowValues(
            row['_uuid'][1], row['name'], row['type'],
            None if isinstance(ofport, list) else ofport,
            dict(row['external_ids'][1]), dict(row['options'][1]))
    return rows


class Transactions:
    """Random transactions on VM, tunnel and patch ports.

    Each one also stamps a marker interface, so the reader knows when it
    is in.
    """

    def __init__(self, remote, seed):
        self.remote = remote
        self.rand = random.Random(seed)
        self.seq = 0
        self.next_name = 0

    def setup(self):
        populate(self.remote, 0)
        with Rpc(self.remote) as rpc:
            rpc.transact(*add_ports_ops('br-int', ['marker'],
                                        lambda i: 60000))

    def _name(self):
        self.next_name += 1
        return 'p%d' % self.next_name

    def run_one(self):
        self.seq += 1
        rand = self.rand
        with Rpc(self.remote, timeout=30) as rpc:
            ports = port_uuids(rpc, 'br-int')
            names = sorted(n for n in ports if n != 'marker')
            ops = []
            choice = rand.random()
            if choice < 0.3 or len(names) < 3:
                new = [self._name() for _ in range(rand.randint(1, 4))]
                ops += add_ports_ops(
                    'br-int', new,
                    lambda i: rand.choice([None, -1, rand.randint(1, 99)]))
            elif choice < 0.45:
                gone = rand.sample(names, rand.randint(1, min(3, len(names))))
                ops += delete_ports_ops('br-int',
                                        [ports[n] for n in gone])
            elif choice < 0.6:
                # Same-name re-creation in one transaction.
                name = rand.choice(names)
                ops += delete_ports_ops('br-int', [ports[name]])
                ops += add_ports_ops('br-int', [name],
                                     lambda i: rand.randint(1, 99))
            elif choice < 0.8:
                name = rand.choice(names)
                key = rand.choice(['iface-id', 'attached-mac', 'k1', 'k2'])
                if rand.random() < 0.5:
                    mutation = ['external_ids', 'delete', ['set', [key]]]
                else:
                    mutation = ['external_ids', 'insert', ovs_map(
                        {key: 'v%d' % rand.randint(0, 3)})]
                ops.append({'op': 'mutate', 'table': 'Interface',
                            'where': [['name', '==', name]],
                            'mutations': [mutation]})
            elif choice < 0.9:
                name = rand.choice(names)
                kind = rand.choice(['', 'vxlan', 'patch'])
                options = {'vxlan': {'remote_ip': '192.0.2.%d'
                                     % rand.randint(1, 9)},
                           'patch': {'peer': 'x'}}.get(kind, {})
                ops.append({'op': 'update', 'table': 'Interface',
                            'where': [['name', '==', name]],
                            'row': {'type': kind,
                                    'options': ovs_map(options)}})
            else:
                for name in rand.sample(names, min(3, len(names))):
                    ops.append(set_ofport_op(
                        name, rand.choice([None, -1, rand.randint(1, 99)])))
            ops.append({'op': 'update', 'table': 'Interface',
                        'where': [['name', '==', 'marker']],
                        'row': {'external_ids': ovs_map(
                            {'seq': str(self.seq)})}})
            rpc.transact(*ops, timeout=30)
        return self.seq


def _core(rows):
    """uuid -> the five classified columns (what every oracle reads)."""
    return {uuid: tuple(row)[:6] for uuid, row in rows.items()}


def _marker_seq(rows):
    for row in rows.values():
        if row.name == 'marker':
            return row.external_ids.get('seq')
    return None


@pytest.mark.timeout(300)
def test_differential_against_the_idl_and_ovsdb_client(ovsdb, make_monitor):
    txns = Transactions(ovsdb.unix_remote, seed=8)
    txns.setup()
    sink = ViewSink()
    monitor = make_monitor(ovsdb.remote, sink, probe_interval=1000)
    oracle = IdlOracle(ovsdb.unix_remote)
    steps, restarts = 120, 0
    try:
        for step in range(steps):
            if step and step % 40 == 0:
                # kill -9 and restart: the resync must land on the same view.
                ovsdb.kill_ovsdb()
                ovsdb.start_ovsdb()
                oracle.close()
                oracle = IdlOracle(ovsdb.unix_remote)
                restarts += 1
            seq = str(txns.run_one())
            sink.wait(lambda s: s.synced and _marker_seq(s.rows) == seq,
                      15, 'transaction %s' % seq)
            idl_rows = oracle.rows_when(lambda r: _marker_seq(r) == seq)
            dumped = _dump(ovsdb.unix_remote)
            with sink.cond:
                seen = _core(sink.rows)
            assert seen == _core(idl_rows), step
            assert seen == _core(dumped), step
            replica = monitor._replica.rows('Interface')
            assert set(replica) == set(seen)
    finally:
        oracle.close()
    assert restarts == 2 and monitor.forced_resyncs == 0
    print('\nDIFFERENTIAL %d transactions, %d restarts, %d batches: '
          'replica == IDL == ovsdb-client dump after each'
          % (steps, restarts, sink.batches))
