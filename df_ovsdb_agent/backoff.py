"""Delays between attempts: one capped, jittered exponential backoff.

Used by the OVSDB monitor's reconnects, the agent's and the daemon's
start-up wait, and the store publishers and readers.  Jitter keeps a fleet
that failed at the same moment from retrying in lockstep.
"""

import random
import time
from typing import Callable, Optional

#: First delay of the stores' reconnects, in seconds.
INITIAL_BACKOFF = 0.1

#: Delays between start-up attempts (first, cap), in seconds, of
#: ``Agent.start_async`` and the daemon: each attempt already waits
#: ``[ovsdb] timeout``.
START_BACKOFF = (1.0, 30.0)


class Backoff:
    """Capped exponential delays with jitter; :meth:`reset` after a success.

    Two jitter rules, because their users want different first delays:

    * ``decorrelated=False`` (the monitor): the ceiling doubles from
      ``initial`` to ``maximum``; each delay is drawn from [ceiling/2,
      ceiling], and for the first ``fast_period`` seconds of an outage the
      ceiling stays under ``fast_ceiling`` -- most outages are restarts,
      and a restarted ovsdb-server should be met within a fraction of a
      second.
    * ``decorrelated=True`` (start-up waits, stores): each delay is drawn
      from [initial, 3 x the previous one], capped at ``maximum`` (the
      "decorrelated jitter" of the AWS architecture blog): it grows about
      as fast as doubling, and hosts spread out from the first retry.
    """

    def __init__(self, initial: float, maximum: float, *,
                 decorrelated: bool = False,
                 rand: Optional[random.Random] = None,
                 fast_ceiling: float = 0.25, fast_period: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """:param initial: the first delay (its ceiling, without
            ``decorrelated``), seconds.
        :param maximum: the cap, seconds.  Without ``decorrelated`` a cap
            below ``initial`` is ``initial``; with it, ``initial`` is
            lowered to the cap.
        :param fast_ceiling: without ``decorrelated``, the ceiling for the
            first ``fast_period`` seconds of an outage (0 disables).
        """
        self.decorrelated = decorrelated
        if decorrelated:
            self.initial = min(initial, maximum)
            self.maximum = maximum
            self.fast_period = 0.0
        else:
            self.initial = initial
            self.maximum = max(initial, maximum)
            self.fast_period = fast_period
        self.fast_ceiling = max(self.initial, fast_ceiling)
        self._rand = rand or random.Random()
        self._clock = clock
        self._failures = 0
        self._outage_start = 0.0
        self._last_delay = self.initial

    @classmethod
    def decorrelated_jitter(cls, maximum: float,
                            initial: float = INITIAL_BACKOFF,
                            rand: Optional[random.Random] = None
                            ) -> 'Backoff':
        """The stores' and the start-up wait's backoff."""
        return cls(initial, maximum, decorrelated=True, rand=rand)

    def next(self) -> float:
        """The delay before the next attempt, in seconds."""
        if self.decorrelated:
            upper = max(self.initial, self._last_delay * 3)
            self._last_delay = min(self.maximum,
                                   self._rand.uniform(self.initial, upper))
            return self._last_delay
        now = self._clock()
        if not self._failures:
            self._outage_start = now
        delay = min(self.maximum, self.initial * (2 ** self._failures))
        if now - self._outage_start < self.fast_period:
            delay = min(delay, self.fast_ceiling)
        self._failures = min(self._failures + 1, 32)
        return delay * self._rand.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Start over from the first delay (after a success)."""
        self._failures = 0
        self._last_delay = self.initial


def jittered(seconds: float, fraction: float = 0.1,
             rand: Optional[random.Random] = None) -> float:
    """``seconds`` +- ``fraction`` of it, uniformly.

    Spreads a fleet's periodic work (Calico jitters its tickers by 10%).
    """
    return seconds * (rand or random).uniform(1.0 - fraction,
                                              1.0 + fraction)
