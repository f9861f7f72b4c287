"""The store side: who may claim a host id, what every Store shares."""

import pytest

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.publishers.store import NotOwner
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import MemoryStore


def alive(owner='o1', pid=10, started=100.0):
    return stores.alive_record('hv1', owner, '1.0', pid, started, True, 3,
                               60)


@pytest.mark.parametrize('record,allowed', [
    (alive(), True),                                   # our own record
    (alive(pid=9, started=99.0), True),                # we restarted
    (alive(pid=11, started=101.0), False),             # newer
    (alive(owner='o2', started=1.0), False),
    ({'owner': 'o1', 'started': 'x'}, False),
], ids=['own', 'restarted', 'newer', 'other-owner', 'bad-started'])
def test_take_over_only_own_or_older_same_owner(record, allowed):
    assert instance().may_take_over(record) is allowed


def test_is_self_only_this_process():
    me = instance()
    assert me.is_self(alive()) and not me.is_self(alive(pid=9))


def test_a_store_is_bound_before_use():
    store = MemoryStore()
    with pytest.raises(RuntimeError):
        store.host
    store.bind(instance())
    assert store.me == instance() and store.host == 'hv1'
    assert store.tick(alive()) is False and store.tick_interval is None


@pytest.mark.parametrize('exc,refused', [
    (UnicodeEncodeError('utf-8', 'x', 0, 1, 'bad'), True),
    (RecursionError(), True),
    (ConnectionError('down'), False),
    (NotOwner('hv1', alive(owner='o2')), False),
], ids=['not-unicode', 'too-deep', 'connection', 'not-owner'])
def test_a_store_refuses_only_content(exc, refused):
    store = MemoryStore()
    store.bind(instance())
    assert store.refuses(exc) is refused


def test_not_owner_names_the_host_and_the_other_record():
    other = alive(owner='o2')
    exc = NotOwner('hv1', other)
    assert exc.host == 'hv1' and exc.alive is other
    assert str(exc).startswith('host hv1 is held by ')
    assert NotOwner('hv1', None).alive is None
