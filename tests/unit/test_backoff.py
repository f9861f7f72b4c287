"""df_ovsdb_agent.backoff: the one backoff of the monitor (fast first
retry, doubling, jitter), the start-up waits and the stores (decorrelated
jitter), and the jitter of periodic work.
"""

import random

from df_ovsdb_agent import backoff as backoff_lib
from df_ovsdb_agent.backoff import Backoff
from df_ovsdb_agent.backoff import jittered
from tests.helpers import Clock


def test_first_retry_is_fast_then_doubles_up_to_the_cap():
    clock = Clock()
    backoff = Backoff(0.1, 1.0, rand=random.Random(1), clock=clock)
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
    backoff = Backoff(0.1, 1.0, rand=random.Random(4), clock=clock)
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
    firsts = {round(Backoff(0.1, 1.0, rand=random.Random(seed)).next(), 6)
              for seed in range(20)}
    assert len(firsts) > 10


def test_reset_starts_over():
    clock = Clock()
    backoff = Backoff(0.1, 1.0, rand=random.Random(2), clock=clock)
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 0.1


def test_a_cap_below_the_minimum_is_the_minimum():
    backoff = Backoff(0.5, 0.1, rand=random.Random(3))
    assert all(0.25 <= backoff.next() <= 0.5 for _ in range(5))


# The stores' and the start-up waits' backoff (decorrelated jitter).

def test_backoff_is_jittered_capped_and_resets():
    backoffs = [Backoff.decorrelated_jitter(2.0, initial=0.1)
                for _ in range(20)]
    sequences = [[b.next() for _ in range(12)] for b in backoffs]
    for seq in sequences:
        assert all(0.1 <= d <= 2.0 for d in seq)
    # Hosts that failed together do not retry in lockstep.
    assert len({seq[1] for seq in sequences}) > 1
    # It grows: late delays are mostly near the cap.
    late = [seq[-1] for seq in sequences]
    assert sum(late) / len(late) > 0.5
    backoffs[0].reset()
    assert backoffs[0].next() <= 0.3


def test_start_up_wait_begins_at_its_first_delay_and_stays_capped():
    first, cap = backoff_lib.START_BACKOFF
    backoff = Backoff.decorrelated_jitter(cap, initial=first,
                                          rand=random.Random(5))
    delays = [backoff.next() for _ in range(30)]
    assert first <= delays[0] <= 3 * first
    assert all(first <= d <= cap for d in delays)
    assert max(delays) > 10 * first


def test_decorrelated_first_delay_is_lowered_to_the_cap():
    backoff = Backoff.decorrelated_jitter(0.05, initial=0.1,
                                          rand=random.Random(6))
    assert [backoff.next() for _ in range(3)] == [0.05, 0.05, 0.05]


def test_jittered_stays_within_ten_percent():
    values = [jittered(300.0) for _ in range(500)]
    assert all(270.0 <= v <= 330.0 for v in values)
    assert max(values) - min(values) > 10
