"""Builders shared by the unit tests of the publisher modules."""

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.state import KeyedState


def rec(name, uuid, kind='vm', **extra):
    """A published record of host hv1."""
    return dict({'name': name, 'uuid': uuid, 'kind': kind, 'ofport': 1,
                 'host': 'hv1'}, **extra)


def stored(**records):
    """What a writer believes the store holds: name -> record."""
    return KeyedState(stores.record_identity, records)
