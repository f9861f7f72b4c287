"""Pure logic of the fleet benchmark: what the consumer saw vs the real
changes, lag percentiles, and views built from event logs.

A *change* is ``(t, key, action, record)`` with ``key = (host, name)``:
the real ones are stamped by the synthetic agents at commit, the seen ones
by the consumer on arrival (both ``CLOCK_MONOTONIC``).
"""

import collections
import dataclasses
from typing import Iterable, Optional

Change = tuple  # (t, (host, name), action, record)


@dataclasses.dataclass
class Comparison:
    """How the consumer's events line up with the real changes."""

    real: int = 0
    seen: int = 0
    #: (real t, seen t) of each seen event that is a real change.
    matched: list = dataclasses.field(default_factory=list)
    #: seen events that are no real change (a flap, a duplicate).
    extra: list = dataclasses.field(default_factory=list)
    #: real changes never seen, not even as part of a later one.
    missing: list = dataclasses.field(default_factory=list)
    #: real changes skipped because a later change of the same key was
    #: delivered instead (coalescing: the final state is still right).
    coalesced: int = 0

    @property
    def exact(self) -> bool:
        return not (self.extra or self.missing or self.coalesced)

    def lags(self) -> list:
        return sorted(seen - real for real, seen in self.matched)

    def summary(self) -> dict:
        lags = self.lags()
        actions = collections.Counter(c[2] for c in self.extra)
        return {'real': self.real, 'seen': self.seen,
                'matched': len(self.matched), 'extra': len(self.extra),
                'extra_by_action': dict(sorted(actions.items())),
                'missing': len(self.missing), 'coalesced': self.coalesced,
                'exact': self.exact,
                'lag_p50': percentile(lags, 50),
                'lag_p99': percentile(lags, 99),
                'lag_max': lags[-1] if lags else None}


def compare(real: Iterable[Change], seen: Iterable[Change]) -> Comparison:
    """Line up, key by key and in order, the events seen with the real
    changes: each seen event matches the next real change of its key with
    the same action and record; real changes passed over are coalesced,
    those after the last match missing, unmatched seen events extra.
    """
    result = Comparison()
    by_key: dict = collections.defaultdict(list)
    for change in real:
        by_key[change[1]].append(change)
        result.real += 1
    position: dict = collections.defaultdict(int)
    for event in seen:
        result.seen += 1
        changes = by_key.get(event[1], [])
        start = position[event[1]]
        found = next((j for j in range(start, len(changes))
                      if changes[j][2:] == event[2:]), None)
        if found is None:
            result.extra.append(event)
            continue
        result.coalesced += found - start
        result.matched.append((changes[found][0], event[0]))
        position[event[1]] = found + 1
    for key, changes in by_key.items():
        result.missing.extend(changes[position[key]:])
    return result


def percentile(values: list, pct: float) -> Optional[float]:
    """The ``pct`` percentile of sorted ``values`` (nearest rank)."""
    if not values:
        return None
    rank = max(1, -(-len(values) * pct // 100))
    return values[int(rank) - 1]


class View:
    """(host, name) -> record, from a stream of interface events."""

    def __init__(self) -> None:
        self.records: dict = {}

    def apply(self, key: tuple, action: str, record: dict) -> None:
        if action == 'offline':
            self.records.pop(key, None)
        else:
            self.records[key] = record

    def __eq__(self, other) -> bool:
        return isinstance(other, View) and self.records == other.records

    def differences(self, other: 'View') -> int:
        """Keys whose record differs between the two views."""
        keys = set(self.records) | set(other.records)
        return sum(1 for key in keys
                   if self.records.get(key) != other.records.get(key))
