"""The monitor's reconnect backoff: fast first retry, doubling, jitter."""

import random

from df_ovsdb_agent.ovsdb.monitor import Backoff


def test_first_retry_is_fast_then_doubles_up_to_the_cap():
    backoff = Backoff(0.1, 1.0, random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, ceiling in zip(delays, ceilings):
        # Jittered down by at most half, never above the ceiling.
        assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_agents_apart():
    firsts = {round(Backoff(0.1, 1.0, random.Random(seed)).next(), 6)
              for seed in range(20)}
    assert len(firsts) > 10


def test_reset_starts_over():
    backoff = Backoff(0.1, 1.0, random.Random(2))
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 0.1


def test_a_cap_below_the_minimum_is_the_minimum():
    backoff = Backoff(0.5, 0.1, random.Random(3))
    assert all(0.25 <= backoff.next() <= 0.5 for _ in range(5))
