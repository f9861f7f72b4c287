"""The plan: what the store holds vs the desired records -> one write."""

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers.plan import plan
from df_ovsdb_agent.publishers.plan import Write
from tests.unit.publisher_support import rec
from tests.unit.publisher_support import stored


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


def test_subset_keeps_the_changes_and_keys_of_the_names():
    a, b = rec('tap1', 'a'), rec('tap2', 'b')
    write = plan(stored(tap1=a), {'tap1': None, 'tap2': b}, resync=True)
    part = write.subset(['tap2'])
    assert summary(part) == [('online', 'tap2', 'b', 'vm')]
    assert part.state == {'tap2': b} and part.resync
    assert not write.subset(['other'])
    assert not Write([], {})
