"""The monitor's reconnect backoff: fast first retry, doubling, jitter."""

import random

from df_ovsdb_agent.ovsdb.monitor import Backoff


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_first_retry_is_fast_then_doubles_up_to_the_cap():
    clock = Clock()
    backoff = Backoff(0.1, 1.0, random.Random(1), clock=clock)
    delays = []
    for _ in range(8):
        delays.append(backoff.next())
        clock.now += 10  # past the fast period
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, ceiling in zip(delays, ceilings):
        # Jittered down by at most half, never above the ceiling.
        assert ceiling / 2 <= delay <= ceiling


def test_short_outages_are_retried_often_long_ones_backed_off():
    clock = Clock()
    backoff = Backoff(0.1, 1.0, random.Random(4), clock=clock)
    delays = []
    while clock.now < 110:
        delays.append(backoff.next())
        clock.now += delays[-1]
    fast = [d for d, t in zip(delays, _times(delays)) if t < 3.0]
    # A restarted server is met within 0.25 s during the first 3 s ...
    assert max(fast) <= 0.25 and fast[0] <= 0.1
    # ... and a dead one costs about one attempt a second after that.
    assert len(delays) - len(fast) <= 107 / 0.5
    assert max(delays) <= 1.0 and delays[-1] >= 0.5


def _times(delays):
    elapsed, out = 0.0, []
    for delay in delays:
        out.append(elapsed)
        elapsed += delay
    return out


def test_jitter_spreads_agents_apart():
    firsts = {round(Backoff(0.1, 1.0, random.Random(seed)).next(), 6)
              for seed in range(20)}
    assert len(firsts) > 10


def test_reset_starts_over():
    clock = Clock()
    backoff = Backoff(0.1, 1.0, random.Random(2), clock=clock)
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 0.1


def test_a_cap_below_the_minimum_is_the_minimum():
    backoff = Backoff(0.5, 0.1, random.Random(3))
    assert all(0.25 <= backoff.next() <= 0.5 for _ in range(5))
