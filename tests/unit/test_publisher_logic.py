"""Pure logic of the publishers: write plans, ownership rules, backoff."""

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import Backoff
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers.base import Instance
from df_ovsdb_agent.publishers.base import plan
from df_ovsdb_agent.state import KeyedState


def rec(name, uuid, kind='vm', **extra):
    return dict({'name': name, 'uuid': uuid, 'kind': kind, 'ofport': 1,
                 'host': 'hv1'}, **extra)


def stored(**records):
    return KeyedState(stores.record_identity, records)


def summary(write):
    return [(c.action.value, c.key, c.value['uuid'], c.value['kind'])
            for c in write.changes]


def test_same_name_recreated_is_one_put_but_offline_then_online():
    old, new = rec('tap1', 'a'), rec('tap1', 'b')
    write = plan(stored(tap1=old), {'tap1': new})
    # The event stream says what happened...
    assert summary(write) == [('offline', 'tap1', 'a', 'vm'),
                              ('online', 'tap1', 'b', 'vm')]
    # ...the state names the key once, with its final value.
    assert write.state == {'tap1': new}


def test_kind_change_under_one_name_is_one_put():
    old, new = rec('p1', 'a'), rec('p1', 'a', kind='patch', peer='p2')
    write = plan(stored(p1=old), {'p1': new})
    assert summary(write) == [('offline', 'p1', 'a', 'vm'),
                              ('online', 'p1', 'a', 'patch')]
    assert write.state == {'p1': new}


def test_removal_update_and_nothing():
    a, b = rec('tap1', 'a'), rec('tap2', 'b')
    b2 = dict(b, ofport=7)
    write = plan(stored(tap1=a, tap2=b), {'tap1': None, 'tap2': b2})
    assert [(c.action, c.key) for c in write.changes] == [
        (Action.OFFLINE, 'tap1'), (Action.UPDATED, 'tap2')]
    assert write.state == {'tap1': None, 'tap2': b2}
    assert not plan(stored(tap1=a), {'tap1': dict(a)})


def test_rewrite_of_an_identical_value_is_no_event():
    a = rec('tap1', 'a')
    write = plan(stored(tap1=a), {'tap1': dict(a), 'gone': None},
                 rewrite=frozenset({'tap1', 'gone'}))
    assert write.changes == []
    assert write.state == {'tap1': a}  # nothing to rewrite for 'gone'
    assert write


def instance(owner='o1', pid=10, started=100.0):
    return Instance('hv1', owner, pid, started, '1.0')


def alive(owner='o1', pid=10, started=100.0):
    return stores.alive_record('hv1', owner, '1.0', pid, started, True, 3,
                               60)


def test_take_over_only_own_or_older_same_owner():
    me = instance()
    assert me.may_take_over(alive())                      # our own record
    assert me.may_take_over(alive(pid=9, started=99.0))   # we restarted
    assert not me.may_take_over(alive(pid=11, started=101.0))  # newer
    assert not me.may_take_over(alive(owner='o2', started=1.0))
    assert not me.may_take_over({'owner': 'o1', 'started': 'x'})
    assert me.is_self(alive()) and not me.is_self(alive(pid=9))


def test_backoff_is_jittered_capped_and_resets():
    backoffs = [Backoff(2.0, initial=0.1) for _ in range(20)]
    sequences = [[b.next() for _ in range(12)] for b in backoffs]
    for seq in sequences:
        assert all(0.1 <= d <= 2.0 for d in seq)
    # Hosts that failed together do not retry in lockstep.
    assert len({seq[1] for seq in sequences}) > 1
    # It grows: late delays are mostly near the cap.
    late = [seq[-1] for seq in sequences]
    assert sum(late) / len(late) > 0.5
    backoffs[0].reset()
    assert backoffs[0].next() <= 0.3


def test_jittered_stays_within_ten_percent():
    values = [stores.jittered(300.0) for _ in range(500)]
    assert all(270.0 <= v <= 330.0 for v in values)
    assert max(values) - min(values) > 10


def test_alive_key_layout():
    assert stores.etcd_alive_key('/p/', 'hv1') == '/p/hv1/alive'
    assert stores.etcd_parse_alive_key('/p', '/p/hv1/alive') == 'hv1'
    assert stores.etcd_parse_alive_key('/p', '/p/hv1/interfaces/alive') \
        is None
    assert stores.etcd_parse_key('/p', '/p/hv1/alive') is None
    assert stores.redis_alive_key('kp', 'hv1') == 'kp:hv1:alive'
    assert stores.parse_alive('{"owner": "o"}') == {'owner': 'o'}
    assert stores.parse_alive('[1]') is None
    assert stores.parse_alive(b'\xff') is None
