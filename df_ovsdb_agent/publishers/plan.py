"""The write side's plan: what the store holds vs what it should hold ->
one :class:`Write`.

Pure, no I/O.  The writer keeps what it believes the store holds in a
:class:`~df_ovsdb_agent.state.KeyedState`; :func:`plan` turns that and a
batch of desired records into the events a consumer is owed and the final
value of each key -- one operation per key, as an etcd transaction needs.
"""

import dataclasses
from typing import Iterable, Mapping, Optional

from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.state import KeyedState


@dataclasses.dataclass
class Write:
    """One write: ``changes`` are the events a consumer is owed (offline
    first; a new identity under a name is offline then online), ``state``
    the final value of each key written (None: delete) -- one operation
    per key, which etcd requires of a transaction.  ``alive``, if set, is
    the liveness record to write after the data in the same atomic write
    (only for a store whose ``writes_alive`` says it can).
    """

    changes: list
    state: dict
    resync: bool = False
    alive: Optional[dict] = None

    def __bool__(self) -> bool:
        return bool(self.changes or self.state or self.alive is not None)

    def subset(self, names: Iterable[str]) -> 'Write':
        """The part of this write that concerns ``names`` (without the
        liveness record: it belongs after all of the data).
        """
        keep = set(names)
        return Write([c for c in self.changes if c.key in keep],
                     {n: v for n, v in self.state.items() if n in keep},
                     self.resync)


def plan(stored: KeyedState, batch: Mapping[str, Optional[Record]],
         rewrite: frozenset = frozenset(), resync: bool = False) -> Write:
    """What to write to take ``stored`` to ``batch`` (name -> record, None:
    gone); names in ``rewrite`` are written even when their value is right
    (they sit on a foreign lease).
    """
    changes = stored.changes(batch)
    state: dict = {}
    for change in changes:  # offline first: the last one per key wins
        state[change.key] = (None if change.action is Action.OFFLINE
                             else change.value)
    for name in rewrite:
        if name not in state and batch.get(name) is not None:
            state[name] = batch[name]
    return Write(changes, state, resync)
