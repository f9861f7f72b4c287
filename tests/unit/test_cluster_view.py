"""ClusterView: store reads and changes -> consistent cluster events."""

import random

from df_ovsdb_agent.cluster import ClusterHost
from df_ovsdb_agent.cluster import ClusterView
from df_ovsdb_agent.cluster import DownHolds
from df_ovsdb_agent.cluster import Holds
from df_ovsdb_agent.cluster import host_transition
from df_ovsdb_agent.cluster import HostState
from df_ovsdb_agent.cluster.stores import record_identity
from df_ovsdb_agent.state import KeyedState


def rec(name, uuid='u1', ofport=1, kind='vm', host='hv1'):
    return {'kind': kind, 'name': name, 'uuid': uuid, 'ofport': ofport,
            'host': host}


def alive(pid=1, synced=False, interfaces=0):
    return {'host': 'hv1', 'owner': 'o', 'version': '1', 'pid': pid,
            'started': 100.0 + pid, 'synced': synced,
            'interfaces': interfaces, 'ttl': 30}


def summary(events):
    return [str(e) if not hasattr(e, 'action') else
            (e.host, e.action.value, e.name) for e in events]


def test_replace_of_one_host_diffs_only_that_host():
    view = ClusterView()
    list(view.replace({('hv1', 'a'): rec('a'), ('hv1', 'b'): rec('b'),
                       ('hv2', 'a'): rec('a', host='hv2')}))
    events = list(view.replace({('hv1', 'b'): rec('b'),
                                ('hv1', 'c'): rec('c')}, host='hv1'))
    assert summary(events) == ['sync started host=hv1',
                               ('hv1', 'offline', 'a'),
                               ('hv1', 'online', 'c'),
                               'sync finished host=hv1']
    assert [(r['host'], r['name']) for r in view.records()] == [
        ('hv1', 'b'), ('hv1', 'c'), ('hv2', 'a')]


def test_full_replace_gives_nothing_for_unchanged_and_offline_first():
    view = ClusterView()
    list(view.replace({('hv1', 'a'): rec('a'), ('hv2', 'b'): rec('b')}))
    events = view.replace_quietly({('hv2', 'b'): rec('b', uuid='u9'),
                                   ('hv3', 'c'): rec('c')})
    assert summary(events) == [('hv1', 'offline', 'a'),
                               ('hv2', 'offline', 'b'),
                               ('hv2', 'online', 'b'),
                               ('hv3', 'online', 'c')]
    assert view.replace_quietly({('hv2', 'b'): rec('b', uuid='u9'),
                                 ('hv3', 'c'): rec('c')}) == []


def test_reset_forgets_then_reports_the_whole_host():
    view = ClusterView()
    view.apply('hv1', 'a', rec('a'))
    events = list(view.replace({('hv1', 'a'): rec('a')}, 'hv1', reset=True))
    assert summary(events) == ['sync started host=hv1 (reset)',
                               ('hv1', 'online', 'a'),
                               'sync finished host=hv1 (reset)']


def test_host_markers():
    assert host_transition(None, alive()) == [HostState.UP]
    assert host_transition(None, alive(synced=True)) == [HostState.UP,
                                                         HostState.SYNCED]
    assert host_transition(alive(), alive(synced=True)) == [
        HostState.SYNCED]
    # Only the interface count moved: nothing to tell.
    assert host_transition(alive(synced=True),
                           alive(synced=True, interfaces=5)) == []
    # A new process under the same host id: up again, not down.
    assert host_transition(alive(synced=True), alive(pid=2)) == [
        HostState.UP]
    assert host_transition(alive(), None) == [HostState.DOWN]
    assert host_transition(None, None) == []


def test_view_host_markers_and_replace_hosts():
    view = ClusterView()
    assert view.set_host('hv1', alive()) == [
        ClusterHost('hv1', HostState.UP)]
    assert view.set_host('hv1', alive()) == []
    markers = view.replace_hosts({'hv2': alive(synced=True)})
    assert [str(m) for m in markers] == ['host hv1 down', 'host hv2 up',
                                         'host hv2 synced']
    assert markers[0].record == alive()  # the last known one
    assert markers[0].to_dict() == {'host': 'hv1', 'state': 'down'}
    assert list(view.hosts()) == ['hv2']


def test_per_host_index_follows_every_change():
    view = ClusterView()
    view.replace_quietly({('hv1', 'a'): rec('a'), ('hv2', 'b'): rec('b')})
    view.apply('hv1', 'c', rec('c'))
    view.apply('hv2', 'b', None)
    assert view.names('hv1') == [('hv1', 'a'), ('hv1', 'c')]
    assert view.names('hv2') == []
    view.forget('hv1')
    assert view.names('hv1') == [] and len(view) == 0


def test_host_records_and_alive_cost_one_host():
    view = ClusterView()
    view.update({('hv1', 'a'): rec('a'),
                 ('hv2', 'b'): rec('b', 'u2', host='hv2')})
    view.set_host('hv1', alive(synced=True))
    assert view.host_records('hv1') == {('hv1', 'a'): rec('a')}
    assert view.host_records('hv3') == {}
    assert view.alive('hv1') == alive(synced=True)
    assert view.alive('hv2') is None


def test_holds_take_an_explicit_grace_over_the_ttl():
    holds = Holds(default_grace=60.0)
    assert holds.hold('hv1', dict(alive(), ttl=60), 100.0, grace=5.0)
    assert holds.hold('hv2', dict(alive(), ttl=60), 100.0)
    # A held host keeps its first deadline.
    assert not holds.hold('hv1', None, 200.0, grace=1.0)
    assert holds.due(105.0) == ['hv1']
    assert holds.due(159.0) == ['hv1']
    assert holds.due(160.0) == ['hv1', 'hv2']
    assert holds.next_deadline() == 105.0


def test_down_grace_defaults_to_half_the_records_ttl():
    downs = DownHolds()
    assert downs.enabled
    assert downs.grace({'ttl': 60}, default=90.0) == 30.0
    assert downs.grace({'ttl': 2}, default=90.0) == 1.0
    # No usable ttl in the record: half the reader's default.
    assert downs.grace({'ttl': 'x'}, default=90.0) == 45.0
    assert downs.grace(None, default=90.0) == 45.0
    # Bounded like a reset hold: at most half an hour.
    assert downs.grace({'ttl': 10 ** 9}, default=90.0) == 1800.0


def test_down_grace_given_or_off():
    assert DownHolds(12.5).grace({'ttl': 60}, default=90.0) == 12.5
    off = DownHolds(0.0)
    assert not off.enabled
    assert not DownHolds(-3.0).enabled


def test_update_follows_the_keyed_state_rules():
    """ClusterView.update (the rules inlined) gives what KeyedState with
    the records' identity gives, batch after batch, and its per-host
    index stays that of its records.
    """
    rng = random.Random(7)
    view = ClusterView()
    reference = KeyedState(record_identity)
    keys = [(h, n) for h in ('hv1', 'hv2', 'hv3') for n in ('a', 'b', 'c')]

    def record(key):
        return {'kind': rng.choice(['vm', 'vm', 'tunnel']), 'name': key[1],
                'uuid': rng.choice(['u1', 'u2']), 'host': key[0],
                'ofport': rng.choice([1, 2])}

    for position in range(500):
        batch = {key: (None if rng.random() < 0.4 else record(key))
                 for key in rng.sample(keys, rng.randint(1, len(keys)))}
        want = [(c.action, c.key[0], c.value, str(position))
                for c in reference.update(batch)]
        got = [(e.action, e.host, e.record, e.position)
               for e in view.update(batch, str(position))]
        assert got == want
        assert view.records() == [r for _, r in sorted(reference.items())]
        for host in ('hv1', 'hv2', 'hv3'):
            assert view.names(host) == sorted(
                k for k, _ in reference.items() if k[0] == host)


def test_cluster_event_builds_what_the_constructor_builds():
    import dataclasses

    import pytest

    from df_ovsdb_agent.cluster import cluster_event
    from df_ovsdb_agent.cluster import ClusterEvent
    from df_ovsdb_agent.events import Action

    for args in ((Action.ONLINE, 'hv1', rec('a')),
                 (Action.OFFLINE, 'hv2', rec('b', host='hv2'), '5-1'),
                 (Action.UPDATED, 'hv1', rec('c', ofport=None), None)):
        fast, slow = cluster_event(*args), ClusterEvent(*args)
        assert type(fast) is ClusterEvent
        assert fast == slow and repr(fast) == repr(slow)
        assert vars(fast) == vars(slow)
        assert list(vars(fast)) == list(vars(slow))  # same field order
        assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
        assert fast.to_dict() == slow.to_dict()
        assert str(fast) == str(slow) and fast.name == slow.name
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.host = 'other'  # type: ignore[misc]
    # The view's events are such events.
    view = ClusterView()
    came = view.update({('hv1', 'a'): rec('a')}, '1-0')
    assert came == [ClusterEvent(Action.ONLINE, 'hv1', rec('a'), '1-0')]
    assert vars(came[0]) == vars(
        ClusterEvent(Action.ONLINE, 'hv1', rec('a'), '1-0'))


def test_a_new_hosts_replace_gives_what_the_general_path_gives():
    """replace_quietly's shortcut for a host the view holds nothing of
    (_adopt) gives the events, records and per-host index the general
    path gives, whatever else is in the state it is handed (other hosts'
    keys, keys known already, None, nothing).
    """
    rng = random.Random(11)
    fast, slow = ClusterView(), ClusterView()
    slow._adopt = lambda state, host: None  # type: ignore[method-assign]
    hosts = ('hv1', 'hv2', 'hv3', 'hv4')
    adopted = []
    adopt = fast._adopt

    def counted(state, host):
        events = adopt(state, host)
        adopted.append(events is not None)
        return events

    fast._adopt = counted  # type: ignore[method-assign]

    def record(key):
        return {'kind': rng.choice(['vm', 'tunnel']), 'name': key[1],
                'uuid': rng.choice(['u1', 'u2']), 'host': key[0],
                'ofport': rng.choice([1, 2])}

    def state(host):
        names = rng.sample('abcdefgh', rng.randint(0, 8))
        keys = [(host, n) for n in names]
        roll = rng.random()
        if roll < 0.1:
            keys.append((rng.choice(hosts), rng.choice('abcdefgh')))
        out = {key: record(key) for key in keys}
        if roll > 0.95 and out:
            out[rng.choice(list(out))] = None
        return out

    for position in range(3000):
        roll = rng.random()
        host = rng.choice(hosts)
        if roll < 0.6:
            batch = state(host)
            got = fast.replace_quietly(dict(batch), host)
            want = slow.replace_quietly(dict(batch), host)
        elif roll < 0.8:
            got = fast.forget(host)
            want = slow.forget(host)
        else:
            key = (host, rng.choice('abcdefgh'))
            new = None if rng.random() < 0.5 else record(key)
            got = fast.apply(host, key[1], new, str(position))
            want = slow.apply(host, key[1], new, str(position))
        assert got == want
        assert fast.records() == slow.records()
        assert fast._names == slow._names
    # The shortcut was taken often, and declined often.
    assert adopted.count(True) > 300 and adopted.count(False) > 50
