"""The store side: who may claim a host id, what every Store shares."""

import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.publishers.store import NotOwner
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import MemoryStore


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


def test_a_store_is_bound_before_use_and_refuses_only_content():
    store = MemoryStore()
    with pytest.raises(RuntimeError):
        store.host
    store.bind(instance())
    assert store.me == instance() and store.host == 'hv1'
    assert store.tick(alive()) is False and store.tick_interval is None
    assert store.refuses(UnicodeEncodeError('utf-8', 'x', 0, 1, 'bad'))
    assert store.refuses(RecursionError())
    assert not store.refuses(ConnectionError('down'))
    assert not store.refuses(NotOwner('hv1', alive(owner='o2')))


def test_not_owner_names_the_host_and_the_other_record():
    other = alive(owner='o2')
    exc = NotOwner('hv1', other)
    assert exc.host == 'hv1' and exc.alive is other
    assert str(exc).startswith('host hv1 is held by ')
    assert NotOwner('hv1', None).alive is None
