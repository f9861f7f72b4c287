"""The fleet benchmark consumer's output: every item, one line each, in
order, with the time it was yielded.
"""

import random

from benchmarks import fleet_consumer
from df_ovsdb_agent.cluster import ClusterEvent
from df_ovsdb_agent.cluster import ClusterHost
from df_ovsdb_agent.cluster import ClusterSync
from df_ovsdb_agent.cluster import HostState
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Sync


def _event(name, **extra):
    return ClusterEvent(Action.ONLINE, 'hv1', dict(
        {'kind': 'vm', 'name': name, 'uuid': 'u-' + name, 'ofport': 5,
         'host': 'hv1'}, **extra))


def _written(path):
    return fleet_consumer.Frames(path).read()


def test_every_line_reads_back_as_it_was_written(tmp_path):
    path = str(tmp_path / 'out.bin')
    out = fleet_consumer.Output(path)
    items = [ClusterSync(Sync.STARTED, 'hv1'),
             ClusterHost('hv1', HostState.UP),
             _event('tap1'),
             # Strings no text format would carry as they are: a lone
             # surrogate, separators, escapes, non-ASCII.
             _event('a,{"t":1}\n', iface_id='\udcff\x00"\\'),
             _event('b', t=',{"t":', attached_mac='\u00e9\u2028'),
             ClusterSync(Sync.FINISHED, 'hv1', True)]
    for i, item in enumerate(items):
        out.add(float(i), item)
    out.write({'t': 9.0, 'e': 'd', 'held': 1, 'ridden': 0})
    out.close()
    got = _written(path)
    assert got == [
        {'t': 0.0, 'e': 's', 's': 'started', 'h': 'hv1', 'reset': False},
        {'t': 1.0, 'e': 'h', 'h': 'hv1', 's': 'up'},
        {'t': 2.0, 'e': 'i', 'a': 'online', 'h': 'hv1', 'n': 'tap1',
         'r': items[2].record},
        {'t': 3.0, 'e': 'i', 'a': 'online', 'h': 'hv1',
         'n': 'a,{"t":1}\n', 'r': items[3].record},
        {'t': 4.0, 'e': 'i', 'a': 'online', 'h': 'hv1', 'n': 'b',
         'r': items[4].record},
        {'t': 5.0, 'e': 's', 's': 'finished', 'h': 'hv1', 'reset': True},
        {'t': 9.0, 'e': 'd', 'held': 1, 'ridden': 0}]
    assert got[3]['r']['iface_id'] == '\udcff\x00"\\'


def test_frames_count_their_events_and_wait_for_whole_batches(tmp_path):
    rng = random.Random(3)
    path = tmp_path / 'out.bin'
    frames = fleet_consumer.Frames(str(path))
    assert frames.read_raw() == []
    written = []
    data = b''
    for _ in range(50):
        lines = [fleet_consumer.line_of(rng.random(), rng.choice(
            [_event('tap%d' % rng.randrange(9)),
             ClusterHost('hv1', HostState.DOWN)]))
            for _ in range(rng.randrange(1, 30))]
        written.append(lines)
        data += fleet_consumer.encode_frame(lines)
    # Appended in pieces that cut headers and payloads anywhere.
    got = []
    at = 0
    while at < len(data):
        step = rng.randrange(1, 400)
        with open(path, 'ab') as f:
            f.write(data[at:at + step])
        at += step
        got += frames.read_raw()
    assert [events for events, _ in got] == [
        sum(1 for line in lines if line[0] == 'i') for lines in written]
    assert fleet_consumer.Frames.decode(got) == [
        fleet_consumer.as_dict(line) for lines in written for line in lines]
    assert frames.read_raw() == []


def test_output_writes_every_item_in_order(tmp_path):
    path = str(tmp_path / 'out.bin')
    out = fleet_consumer.Output(path)
    items = [_event('tap%d' % i) for i in range(2500)]
    for i, item in enumerate(items):
        out.add(1000.0 + i, item)
        if i == 1200:
            out.write({'t': 5.0, 'e': 'd', 'held': 1, 'ridden': 1})
    out.close()
    got = _written(path)
    assert len(got) == len(items) + 1
    assert got[1201] == {'t': 5.0, 'e': 'd', 'held': 1, 'ridden': 1}
    del got[1201]
    assert [(g['t'], g['n'], g['e'], g['a']) for g in got] == [
        (1000.0 + i, 'tap%d' % i, 'i', 'online') for i in range(len(items))]


class _Downs:
    held = 0
    ridden = 0


class _Reader:
    """Yields items; between them, its down hold counters change."""

    def __init__(self, steps):
        self.downs = _Downs()
        self._steps = steps

    def __iter__(self):
        for item, held, ridden in self._steps:
            self.downs.held, self.downs.ridden = held, ridden
            if item is not None:
                yield item


def test_follow_records_each_item_and_the_counters_when_they_change(
        tmp_path):
    steps = [(_event('tap1'), 0, 0), (_event('tap2'), 1, 0),
             (_event('tap3'), 1, 0), (_event('tap4'), 1, 1),
             (None, 2, 1)]  # changed after the last item: the end says so
    path = str(tmp_path / 'out.bin')
    out = fleet_consumer.Output(path)
    fleet_consumer.follow(_Reader(steps), out)
    out.close()
    got = _written(path)
    assert [(line['e'], line.get('n'), line.get('held'), line.get('ridden'))
            for line in got] == [
        ('i', 'tap1', None, None), ('i', 'tap2', None, None),
        ('d', None, 1, 0), ('i', 'tap3', None, None),
        ('i', 'tap4', None, None), ('d', None, 1, 1), ('d', None, 2, 1)]
    times = [line['t'] for line in got]
    assert times == sorted(times)
    # A reader without counters: its items only.
    path = str(tmp_path / 'plain.bin')
    out = fleet_consumer.Output(path)
    fleet_consumer.follow(iter([_event('tap1'), _event('tap2')]), out)
    out.close()
    assert [line['n'] for line in _written(path)] == ['tap1', 'tap2']
