"""The benchmark's Reporter: the cheap per-event count reports exactly the
lines the locked, reset-on-expect count it replaced reported (a model of
it is kept here), at the same event, for random sequences of events and
commands; marks and a target armed after the events that reach it.
"""

import io
import json
import random
import threading
import time

from benchmarks import contenders


class ModelReporter:
    """The Reporter before it was made cheap (times left out)."""

    def __init__(self):
        self.lines = []
        self.count = 0
        self.target = None
        self.synced = False
        self.resync_count = 0
        self.resync_target = None
        self.sync_target = None

    def event(self, name, n=1):
        self.count += n
        self.resync_count += n
        if name is not None and name.startswith(contenders.MARK_PREFIX):
            self.lines.append({'ev': 'mark', 'name': name})
        if self.target is not None and self.count >= self.target:
            self.target = None
            self.lines.append({'ev': 'reached', 'count': self.count})
        if self.sync_target is not None and self.count >= self.sync_target:
            self.sync_target = None
            self.synced = True
            self.lines.append({'ev': 'synced', 'events': self.count})
        if (self.resync_target is not None
                and self.resync_count >= self.resync_target):
            self.resync_target = None
            self.lines.append({'ev': 'resynced',
                               'events': self.resync_count})

    def expect(self, count):
        self.count = 0
        self.target = count

    def expect_resync(self, count):
        self.resync_count = 0
        self.resync_target = count

    def sync_started(self):
        if self.synced:
            self.resync_count = 0

    def sync_finished(self):
        if not self.synced:
            self.synced = True
            self.lines.append({'ev': 'synced', 'events': self.count})
        else:
            self.lines.append({'ev': 'resynced',
                               'events': self.resync_count})


def _lines(out):
    lines = []
    for line in out.getvalue().splitlines():
        msg = json.loads(line)
        assert isinstance(msg.pop('t'), int)
        lines.append(msg)
    return lines


def _names(rnd):
    return rnd.choice(['tap1', 'lat7', 'la', 'lau', 'lat', 'l', 'ktap',
                       None, 'vhu' + 'x' * rnd.randrange(3)])


def test_same_lines_at_the_same_events_as_the_model():
    for seed in range(300):
        rnd = random.Random(seed)
        out = io.StringIO()
        rep, model = contenders.Reporter(out), ModelReporter()
        if rnd.random() < 0.5:
            rep.sync_target = model.sync_target = rnd.randrange(1, 40)
        for _ in range(rnd.randrange(1, 120)):
            op = rnd.random()
            if op < 0.75:
                name = _names(rnd)
                n = 1 if name is not None else rnd.randrange(0, 9)
                rep.event(name, n)
                model.event(name, n)
            elif op < 0.85:
                count = rnd.randrange(1, 30)
                rep.expect(count)
                model.expect(count)
            elif op < 0.92:
                count = rnd.choice([None, rnd.randrange(1, 30)])
                rep.expect_resync(count)
                model.expect_resync(count)
            elif op < 0.96:
                rep.sync_started()
                model.sync_started()
            else:
                rep.sync_finished()
                model.sync_finished()
            # Line by line: each is written at the event that causes it.
            assert _lines(out) == model.lines, seed
            assert (rep.count, rep.resync_count, rep.synced) == (
                model.count, model.resync_count, model.synced), seed


def test_marks_are_the_names_with_the_prefix():
    out = io.StringIO()
    rep = contenders.Reporter(out)
    for name in ('lat', 'lat0', 'lat12x', 'la', 'lau', 'lasso', 'tap',
                 'Lat1', 'ʟat', ''):
        rep.event(name)
    assert [m['name'] for m in _lines(out)] == ['lat', 'lat0', 'lat12x']
    assert rep.count == 10


def test_a_target_reached_while_it_is_armed_is_reported_once():
    # The subscriber's thread counts without the lock while the command
    # thread arms targets: every target is reported once, with its count.
    out = io.StringIO()
    rep = contenders.Reporter(out)
    stop = threading.Event()

    def subscriber():
        while not stop.is_set():
            rep.event('tap')

    thread = threading.Thread(target=subscriber)
    thread.start()
    try:
        for _ in range(200):
            before = len(out.getvalue())
            rep.expect(3)
            deadline = time.monotonic() + 10
            while len(out.getvalue()) == before:
                assert time.monotonic() < deadline, 'no reached line'
    finally:
        stop.set()
        thread.join()
    reached = _lines(out)
    assert len(reached) == 200
    assert all(msg == {'ev': 'reached', 'count': msg['count']}
               and msg['count'] >= 3 for msg in reached)
