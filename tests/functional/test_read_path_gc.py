"""The read path's pauses of the garbage collector against a real
ovsdb-server: the collector runs again after a sync, after a dump cut
short by the connection closing, and after a dump that is not JSON; and a
dump big enough to be parsed row by row (``jsonrpc.walk_message``) lands
exactly as the database holds it.  After a big dump no young or middle
collection walks what the dump left (gcpause promotes it), and objects
the program froze stay frozen (then nothing is promoted).

A small TCP relay between the agent and the real server cuts or spoils the
server's bytes on one chosen connection and holds the next one until the
test has looked at the collector, so nothing of the agent runs meanwhile.
"""

import gc
import socket
import threading

import pytest

from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.ovsdb import gcpause
from df_ovsdb_agent.ovsdb import jsonrpc
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing.sandbox import wait_for
from tests.functional.ovsdb_ops import interface_rows
from tests.functional.ovsdb_ops import populate

PORTS = 1000
# A dump's parse leaves ~4 tracked containers per interface, the sync ~1;
# a young or middle collection of this process walks far fewer.
BIG = 10000


class Relay:
    """127.0.0.1 relay to ``upstream`` (host, port).

    ``spoil(n, data, sent)`` may rewrite the server's bytes on connection
    ``n`` (1-based; ``sent``: bytes relayed so far) and returns (data,
    close_after); connection ``hold`` waits for :meth:`release` before it
    reaches the server.
    """

    def __init__(self, upstream, spoil, hold):
        self.upstream, self.spoil, self.hold = upstream, spoil, hold
        self.released = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(8)
        self.remote = 'tcp:127.0.0.1:%d' % self.listener.getsockname()[1]
        self.connections = 0
        self.relayed: dict = {}
        self.cond = threading.Condition()
        self.socks: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.cond:
                self.connections += 1
                number = self.connections
                self.socks.append(client)
                self.cond.notify_all()
            threading.Thread(target=self._serve, args=(number, client),
                             daemon=True).start()

    def _serve(self, number, client):
        if number == self.hold:
            self.released.wait(60)
        server = socket.create_connection(self.upstream)
        self.socks.append(server)
        threading.Thread(target=self._pump, args=(client, server),
                         daemon=True).start()
        sent = 0
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                data, close = self.spoil(number, data, sent)
                client.sendall(data)
                sent += len(data)
                with self.cond:
                    self.relayed[number] = sent
                if close:
                    break
        except OSError:
            pass
        for sock in (client, server):
            sock.close()

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass

    def wait_connections(self, count, timeout=30):
        with self.cond:
            assert self.cond.wait_for(lambda: self.connections >= count,
                                      timeout), 'no connection %d' % count

    def stop(self):
        self.released.set()
        for sock in [self.listener] + self.socks:
            try:
                sock.close()
            except OSError:
                pass


def _cut_mid_dump(number, data, sent):
    # Connection 1 fetches the schema; 2 is the monitor's: its dump is
    # cut after 300 KB (the schema replies before it are ~30 KB).
    if number == 2 and sent + len(data) >= 300000:
        return data[:300000 - sent], True
    return data, False


def _garbage_mid_dump(number, data, sent):
    if number == 2 and sent < 300000 <= sent + len(data):
        at = 300000 - sent
        return data[:at] + b'\x01' + data[at:], False
    return data, False


@pytest.fixture
def relay(ovsdb):
    relays = []

    def factory(spoil):
        _, host, port = ovsdb.remote.split(':')
        made = Relay((host, int(port)), spoil, hold=3)
        relays.append(made)
        return made

    yield factory
    for made in relays:
        made.stop()


@pytest.mark.parametrize('spoil', [_cut_mid_dump, _garbage_mid_dump],
                         ids=['closed-mid-dump', 'not-json-mid-dump'])
def test_collector_runs_after_a_failed_and_a_real_sync(ovsdb, make_agent,
                                                       relay, spoil):
    populate(ovsdb.unix_remote, PORTS)
    with Rpc(ovsdb.unix_remote, timeout=30) as rpc:
        truth = {row.uuid: (row.name, row.ofport, row.bridge)
                 for row in interface_rows(rpc)
                 if classify(row, Policy()) is not None}
    assert len(truth) == PORTS
    proxy = relay(spoil)
    agent = make_agent(proxy.remote, min_backoff=10, max_backoff=100)
    failed_before = agent.monitor.forced_resyncs
    assert gc.isenabled()
    agent.start_async()
    # The monitor reconnects after the spoiled dump; that connection is
    # held, so no sync step of the agent runs while the collector is read.
    proxy.wait_connections(3)
    assert gc.isenabled()
    assert agent.syncs == 0
    if spoil is _garbage_mid_dump:
        wait_for(lambda: agent.monitor.forced_resyncs > failed_before, 10,
                 'the protocol error')
    proxy.released.set()
    assert agent.wait_synced(60)
    assert gc.isenabled()
    # The whole dump arrived on connection 3 and was walked row by row.
    assert proxy.relayed[3] > jsonrpc.WALK_AFTER
    assert {i.uuid: (i.name, i.ofport, i.bridge)
            for i in agent.interfaces()} == truth
    replica = agent.monitor._replica
    assert all(type(row) is tuple
               for row in replica.tables['Interface'].values())


class Walks:
    """gc callback: the objects each young or middle collection walks
    (the generations it collects, counted at its start).
    """

    def __init__(self):
        self.sizes: list = []

    def __call__(self, phase, info):
        generation = info['generation']
        if phase == 'start' and generation < 2:
            self.sizes.append(sum(len(gc.get_objects(generation=g))
                                  for g in range(generation + 1)))

    def one_more(self):
        """Allocate until one more young collection ran; its size."""
        seen, junk = len(self.sizes), []
        while len(self.sizes) == seen:
            junk.append([])
            assert len(junk) < 10 ** 6, 'no collection'
        return self.sizes[-1]


@pytest.fixture
def walks(monkeypatch):
    # Both of the sync's pauses promote (the parse's at any size above
    # ~1,250 interfaces, the sync's above ~5,000 with the default).
    monkeypatch.setattr(gcpause, 'PROMOTE_AFTER', BIG // 2)
    monkeypatch.setattr(gcpause, '_others_freeze', False)
    made = Walks()
    gc.enable()
    gc.collect()
    gc.callbacks.append(made)
    yield made
    gc.callbacks.remove(made)


def _big_sync(ovsdb, make_agent):
    populate(ovsdb.unix_remote, BIG)
    agent = make_agent(ovsdb.remote)
    agent.start_async()
    assert agent.wait_synced(120)
    assert len(agent.interfaces()) == BIG
    return agent


@pytest.mark.skipif(not gcpause._PROMOTES, reason='no O(1) promotion')
def test_no_young_collection_walks_a_big_dump(ovsdb, make_agent, walks):
    _big_sync(ovsdb, make_agent)
    walks.one_more()
    assert gc.isenabled()
    # Without the promotion the first collection after the parse walks
    # >= 4 * BIG objects, the one after the sync >= BIG.
    assert max(walks.sizes) < BIG, walks.sizes
    assert gc.get_freeze_count() == 0


def test_objects_the_program_froze_stay_frozen(ovsdb, make_agent, walks):
    theirs = [[]]
    gc.freeze()
    try:
        _big_sync(ovsdb, make_agent)
        walks.one_more()
        assert not any(o is theirs for o in gc.get_objects())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert any(o is theirs for o in gc.get_objects(generation=2))
    # Nothing was promoted: a young collection walked the dump.
    assert max(walks.sizes) >= BIG, walks.sizes
