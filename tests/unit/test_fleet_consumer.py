"""The fleet benchmark consumer's output: every item, one JSON line each,
in order, with the time it was yielded.
"""

import json

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


def test_lines_encoded_at_once_are_the_lines_encoded_one_by_one():
    lines = [fleet_consumer.line_of(float(i), item) for i, item in
             enumerate([
                 ClusterSync(Sync.STARTED, 'hv1'),
                 ClusterHost('hv1', HostState.UP),
                 _event('tap1'),
                 # Strings that hold what separates the lines.
                 _event('a,{"t":1}', iface_id=',{"t":'),
                 _event('b\n{"t":', t=',{"t":', attached_mac='é\u2028'),
                 ClusterSync(Sync.FINISHED, 'hv1', True)])]
    lines.append({'t': 9.0, 'e': 'd', 'held': 1, 'ridden': 0})
    text = fleet_consumer.encode_lines(lines)
    assert text.endswith('\n')
    assert [json.loads(line) for line in text.splitlines()] == lines
    assert text == ''.join(json.dumps(line, separators=(',', ':')) + '\n'
                           for line in lines)
    assert fleet_consumer.encode_lines([]) == ''


def test_output_writes_every_item_in_order(tmp_path):
    path = str(tmp_path / 'out.jsonl')
    out = fleet_consumer.Output(path)
    items = [_event('tap%d' % i) for i in range(2500)]
    for i, item in enumerate(items):
        out.add(1000.0 + i, item)
        if i == 1200:
            out.write({'t': 5.0, 'e': 'd', 'held': 1, 'ridden': 1})
    out.close()
    with open(path) as lines:
        got = [json.loads(line) for line in lines]
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
    path = str(tmp_path / 'out.jsonl')
    out = fleet_consumer.Output(path)
    fleet_consumer.follow(_Reader(steps), out)
    out.close()
    with open(path) as lines:
        got = [json.loads(line) for line in lines]
    assert [(line['e'], line.get('n'), line.get('held'), line.get('ridden'))
            for line in got] == [
        ('i', 'tap1', None, None), ('i', 'tap2', None, None),
        ('d', None, 1, 0), ('i', 'tap3', None, None),
        ('i', 'tap4', None, None), ('d', None, 1, 1), ('d', None, 2, 1)]
    times = [line['t'] for line in got]
    assert times == sorted(times)
    # A reader without counters: its items only.
    path = str(tmp_path / 'plain.jsonl')
    out = fleet_consumer.Output(path)
    fleet_consumer.follow(iter([_event('tap1'), _event('tap2')]), out)
    out.close()
    with open(path) as lines:
        assert [json.loads(line)['n'] for line in lines] == ['tap1', 'tap2']
