"""The writer thread: its typed work items, and set-aside records found
by bisection.
"""

import time

import pytest

from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.publishers.records import Aside
from df_ovsdb_agent.publishers.writer import Push
from df_ovsdb_agent.publishers.writer import Step
from df_ovsdb_agent.publishers.writer import Writer
from tests import helpers
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import MemoryStore


def vm(name, uuid='u-' + '1' * 34, iface_id='port-1'):
    return helpers.vm(name, uuid, iface_id, bridge='br-int')


def writer_for(store):
    writer = Writer(store, lambda: instance(), max_backoff=1.0)
    writer._identity()
    return writer


def test_a_refused_record_is_found_by_bisection_and_set_aside(caplog):
    store = MemoryStore(lambda r: r.get('iface_id') == 'poison')
    writer = writer_for(store)
    names = ['tap%02d' % i for i in range(16)]
    with writer._cond:
        for i, name in enumerate(names):
            writer._desired.update({name: vm(
                name, 'u%d' % i, 'poison' if name == 'tap05' else 'p')})
    writer._do_reconcile()
    assert sorted(store.data) == [n for n in names if n != 'tap05']
    assert writer.set_aside() == {'tap05': Aside(
        'refused', 'refused by memory: UnicodeEncodeError: \'utf-8\' codec '
        'can\'t encode character \'\\x78\' in position 0: refused')}
    # log2(16) levels of halves: a handful of writes, not one per record.
    assert len(store.writes) <= 8
    errors = [r for r in caplog.records if r.levelname == 'ERROR']
    assert len(errors) == 1 and 'tap05' in errors[0].getMessage()
    # Unchanged, it is not offered again: no refusal, no new ERROR.
    store.writes.clear()
    writer._push({'tap05': vm('tap05', 'u5', 'poison')})
    writer._do_reconcile()
    assert store.writes == []
    assert len([r for r in caplog.records if r.levelname == 'ERROR']) == 1
    # Changed into something storable: written, no longer set aside.
    fixed = vm('tap05', 'u5', 'p')
    with writer._cond:
        writer._desired.update({'tap05': fixed})
    writer._push({'tap05': fixed})
    assert store.data['tap05']['iface_id'] == 'p'
    assert writer.set_aside() == {}
    assert writer._alive_key() == (False, 16)


def test_a_record_that_turns_bad_leaves_the_store():
    store = MemoryStore(lambda r: r.get('iface_id') == 'poison')
    writer = writer_for(store)
    good = vm('tap1', 'u1', 'p')
    with writer._cond:
        writer._desired.update({'tap1': good, 'tap2': vm('tap2', 'u2')})
    writer._do_reconcile()
    assert sorted(store.data) == ['tap1', 'tap2']
    # Refused by the store: its stale value is deleted.
    bad = vm('tap1', 'u1', 'poison')
    with writer._cond:
        writer._desired.update({'tap1': bad})
    writer._push({'tap1': bad})
    assert sorted(store.data) == ['tap2']
    assert writer._stored.copy() == {'tap2': store.data['tap2']}
    # Over the limits: never offered to the store at all.
    big = vm('tap2', 'u2', 'x' * 5000)
    store.writes.clear()
    writer._push({'tap2': big})
    assert store.data == {} and store.writes == [['tap2']]
    assert sorted(writer.set_aside()) == ['tap1', 'tap2']
    assert writer.set_aside()['tap2'].code == 'too_large'
    # Gone: nothing to set aside any more.
    writer._push({'tap1': None, 'tap2': None})
    assert writer.set_aside() == {}


def test_a_store_that_is_down_is_not_a_bad_record():
    store = MemoryStore(fail=ConnectionError('refused'))
    writer = writer_for(store)
    with writer._cond:
        writer._desired.update({'tap1': vm('tap1')})
    with pytest.raises(ConnectionError):
        writer._do_reconcile()
    assert writer.set_aside() == {}


def test_work_items_are_typed_and_in_order():
    store = MemoryStore()
    writer = writer_for(store)
    assert writer._pick() == (None, None)  # nothing before the first sync
    writer.offer(SyncEvent(Sync.FINISHED))
    assert writer._pick() == (Step.ESTABLISH, None)
    writer.connected = True
    writer.offer(SyncEvent(Sync.FINISHED))  # an agent resync
    tap1 = vm('tap1')
    with writer._cond:
        writer._desired.update({'tap1': tap1})
        writer._dirty.update({'tap1', 'tap2'})
    assert writer._pick() == (Step.RECONCILE, None)
    assert not writer._dirty  # the reconcile covers them
    with writer._cond:
        writer._dirty.update({'tap1', 'tap2'})
    assert writer._pick() == (Push({'tap1': tap1, 'tap2': None}), None)
    # Taken once; then the changed liveness record waits to coalesce.
    work, wait = writer._pick()
    assert work is None and 0 < wait <= 1.0
    writer._alive_due = time.monotonic()
    assert writer._pick() == (Step.ALIVE, None)
    # A store with upkeep gets its tick first.
    store.tick_interval = 5.0
    assert writer._pick() == (Step.TICK, None)
