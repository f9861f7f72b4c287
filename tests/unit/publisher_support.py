"""Builders shared by the unit tests of the publisher modules."""

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.publishers.store import Instance
from df_ovsdb_agent.publishers.store import Store
from df_ovsdb_agent.state import KeyedState


def rec(name, uuid, kind='vm', **extra):
    """A published record of host hv1."""
    return dict({'name': name, 'uuid': uuid, 'kind': kind, 'ofport': 1,
                 'host': 'hv1'}, **extra)


def stored(**records):
    """What a writer believes the store holds: name -> record."""
    return KeyedState(stores.record_identity, records)


def instance(owner='o1', pid=10, started=100.0):
    """A process claiming host hv1."""
    return Instance('hv1', owner, pid, started, '1.0')


class MemoryStore(Store):
    """A store in a dict that refuses, for its content, any write holding
    a record ``poisoned`` says is bad -- all of the write, as etcd refuses
    a whole transaction.
    """

    def __init__(self, poisoned=lambda record: False, fail=None):
        super().__init__()
        self.data = {}
        self.poisoned = poisoned
        self.fail = fail
        self.writes = []

    @property
    def target(self):
        return 'memory'

    def connect(self):
        pass

    def claim(self, alive):
        pass

    def put_alive(self, alive):
        pass

    def revoke(self):
        pass

    def read_state(self):
        return dict(self.data), frozenset()

    def apply(self, write):
        if self.fail is not None:
            raise self.fail
        if any(r is not None and self.poisoned(r)
               for r in write.state.values()):
            raise UnicodeEncodeError('utf-8', 'x', 0, 1, 'refused')
        self.writes.append(sorted(write.state))
        for name, record in write.state.items():
            if record is None:
                self.data.pop(name, None)
            else:
                self.data[name] = record
