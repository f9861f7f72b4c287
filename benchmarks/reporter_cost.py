"""The benchmark subscriber's own cost per event, which every contender's
measured CPU includes: ``python -m benchmarks.reporter_cost``.

Prints thread CPU per event (best and median of 7 runs of 200,000) for
``Reporter.event`` alone and for the agent contender's callback shape
(an ``isinstance`` test for sync markers, then ``event(name)``), with a
target armed as in a run.
"""

import io
import time

from benchmarks import contenders

EVENTS = 200000
RUNS = 7


class _Interface:
    __slots__ = ('name',)


class _Event:
    __slots__ = ('interface',)


class _Sync:
    pass


def _events() -> list:
    made = []
    for i in range(EVENTS):
        event = _Event()
        event.interface = _Interface()
        event.interface.name = 'tap%d' % i
        made.append(event)
    return made


def _per_event(events: list, callback: bool) -> float:
    """Nanoseconds of thread CPU per event."""
    rep = contenders.Reporter(io.StringIO())
    rep.sync_target = EVENTS + 1
    count = rep.event

    def subscriber(event) -> None:
        if isinstance(event, _Sync):
            rep.sync_finished()
        else:
            count(event.interface.name)

    if callback:
        func, args = subscriber, events
    else:
        func, args = count, [e.interface.name for e in events]
    began = time.thread_time()
    for arg in args:
        func(arg)
    spent = time.thread_time() - began
    assert rep.count == EVENTS
    return spent / EVENTS * 1e9


def main() -> None:
    events = _events()
    for label, callback in (('Reporter.event', False),
                            ("agent contender's callback", True)):
        runs = sorted(_per_event(events, callback) for _ in range(RUNS))
        print('%-27s %4.0f ns per event (best), %4.0f (median of %d)'
              % (label, runs[0], runs[RUNS // 2], RUNS))


if __name__ == '__main__':
    main()
