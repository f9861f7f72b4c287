"""Duplicate iface-ids among online VM interfaces."""

import pytest

from df_ovsdb_agent.conflicts import IfaceIdIndex
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from tests import helpers


def vm(name, iface_id):
    return helpers.vm(name, iface_id=iface_id)


def states(events):
    return dict(events)


def ev(action, interface):
    # The index follows states (uuid -> Interface, None: offline).
    return interface.uuid, None if action == 'offline' else interface


class Followed:
    """An index fed the states before each batch, as the agent feeds it
    its snapshot's.
    """

    def __init__(self):
        self.index = IfaceIdIndex()
        self.states = {}

    def apply(self, batch):
        previous = {uuid: self.states[uuid] for uuid in batch
                    if uuid in self.states}
        for uuid, interface in batch.items():
            if interface is None:
                self.states.pop(uuid, None)
            else:
                self.states[uuid] = interface
        return self.index.apply(batch, previous)

    @property
    def conflicts(self):
        return self.index.conflicts


class OwnRecord:
    """The oracle: the index as it was written first, keeping its own
    uuid -> iface-id record and a group of uuids per iface-id; a conflict
    starts when a group grows from one interface to two.
    """

    def __init__(self):
        self.groups = {}
        self.id_of = {}

    def apply(self, batch):
        started = {}
        for uuid, interface in batch.items():
            old = self.id_of.pop(uuid, None)
            if old is not None:
                del self.groups[old][uuid]
                if not self.groups[old]:
                    del self.groups[old]
            if (interface is None or interface.kind is not Kind.VM or
                    not interface.iface_id):
                continue
            self.id_of[uuid] = interface.iface_id
            group = self.groups.setdefault(interface.iface_id, {})
            group[uuid] = interface
            if len(group) == 2:
                started[interface.iface_id] = group
        return [sorted(vms.values(), key=lambda i: i.name)
                for vms in started.values() if len(vms) > 1]

    @property
    def conflicts(self):
        return sum(1 for vms in self.groups.values() if len(vms) > 1)


def held(index):
    """iface-id -> {uuid: interface} an IfaceIdIndex holds for it."""
    return {iface_id: dict(vms) if type(vms) is dict else {vms.uuid: vms}
            for iface_id, vms in index._by_id.items()}


def test_second_vm_with_an_iface_id_starts_a_conflict_once():
    index = Followed()
    assert index.apply(states([ev('online', vm('tap1', 'p1'))])) == []
    assert index.apply(states([ev('online', vm('tap2', 'p1'))])) == [
        [vm('tap1', 'p1'), vm('tap2', 'p1')]]
    assert index.conflicts == 1
    # A third one is still the same conflict, not a new warning.
    assert index.apply(states([ev('online', vm('tap3', 'p1'))])) == []
    assert index.apply(states([ev('offline', vm('tap3', 'p1')),
                               ev('offline', vm('tap2', 'p1'))])) == []
    assert index.conflicts == 0


def test_update_moving_the_iface_id_is_followed():
    index = Followed()
    index.apply(states([ev('online', vm('tap1', 'p1')),
                        ev('online', vm('tap2', 'p2'))]))
    assert index.apply(states([ev('updated', vm('tap2', 'p1'))])) == [
        [vm('tap1', 'p1'), vm('tap2', 'p1')]]
    assert index.apply(states([ev('updated', vm('tap2', 'p3'))])) == []
    assert index.conflicts == 0


def test_non_vm_kinds_are_ignored():
    index = Followed()
    patch = Interface(Kind.PATCH, 'p', 'u', 1, peer='q')
    assert index.apply(states([ev('online', patch),
                               ev('online', vm('t', 'x'))])) == []
    assert index.conflicts == 0


def test_following_the_snapshot_gives_what_its_own_record_gives():
    # The agent feeds the index its snapshot's states before each commit
    # instead of letting it keep a uuid -> iface-id record: the oracle's
    # results on the same batches (random moves, duplicates, offline,
    # kind changes).
    import random

    from df_ovsdb_agent.snapshot import Snapshot
    rng = random.Random(19)
    own, fed, snapshot = OwnRecord(), IfaceIdIndex(), Snapshot()
    seen_conflicts = 0
    for step in range(400):
        batch = {}
        for _ in range(rng.randint(1, 6)):
            name = 'tap%d' % rng.randrange(12)
            roll = rng.random()
            if roll < 0.2:
                batch['u-' + name] = None
            elif roll < 0.3:
                batch['u-' + name] = Interface(Kind.PATCH, name, 'u-' + name,
                                               1, peer='q')
            else:
                batch['u-' + name] = vm(
                    name, rng.choice(['p1', 'p2', 'p3', None]))
        previous = {uuid: old for uuid in batch
                    if (old := snapshot.get(uuid)) is not None}
        changed = snapshot.commit(batch)
        expected = own.apply(changed)
        assert fed.apply(changed, previous) == expected, step
        assert fed.conflicts == own.conflicts, step
        assert held(fed) == own.groups
        seen_conflicts += len(expected)
    # The walk did start conflicts (the comparison is not vacuous).
    assert seen_conflicts > 10
    # A resync's adopt (the gone ones included) against the whole snapshot.
    previous = snapshot.copy()
    changed = snapshot.adopt({'u-a': vm('a', 'p1'), 'u-b': vm('b', 'p1')})
    assert fed.apply(changed, previous) == own.apply(changed) == [
        [vm('a', 'p1'), vm('b', 'p1')]]
    assert fed.conflicts == own.conflicts == 1


@pytest.mark.parametrize('seed', range(30))
def test_first_batch_shortcut_is_the_loop(seed):
    # A first batch into an empty index fed the snapshot's states is
    # indexed in one go, unless two VMs share an iface-id or one has
    # none: the same conflicts, the same index (then the same answers to
    # the batches after it) as the oracle keeping its own record.
    import random
    rng = random.Random(seed)
    batch = {}
    for i in range(rng.randrange(0, 40)):
        uuid, name = 'u%d' % i, 'tap%d' % i
        roll = rng.random()
        if roll < 0.1:
            batch[uuid] = None
        elif roll < 0.2:
            batch[uuid] = Interface(Kind.PATCH, name, uuid, 1, peer='q')
        else:
            # Mostly distinct iface-ids: some seeds have no duplicate.
            batch[uuid] = helpers.vm(name, uuid, iface_id=rng.choice(
                ['p%d' % i] * 30 + ['p1', None, '']))
    fed, own = IfaceIdIndex(), OwnRecord()
    assert fed.apply(batch, {}) == own.apply(batch)
    assert held(fed) == own.groups
    assert fed.conflicts == own.conflicts
    # And they go on agreeing.
    later = {uuid: None for uuid in rng.sample(sorted(batch),
                                               len(batch) // 2)}
    later['new'] = helpers.vm('new', 'new', iface_id='p1')
    previous = {u: i for u in later if (i := batch.get(u)) is not None}
    assert fed.apply(later, previous) == own.apply(later)
    assert held(fed) == own.groups
