"""The fleet benchmark's pure parts: the synthetic agent and the comparison
of what a consumer saw with the real changes."""

import pytest

from benchmarks import fleet
from benchmarks.fleet_agent import SyntheticAgent
from benchmarks.fleet_analysis import compare
from benchmarks.fleet_analysis import percentile
from benchmarks.fleet_analysis import View
from tests.helpers import numbered_vm as vm
from tests.recorder import Recorder


def summary(events):
    return [str(e) if not hasattr(e, 'action') else
            (e.action.value, e.name, e.ofport) for e in events]


class TestSyntheticAgent:

    def test_replay_before_sync_has_no_finished_marker(self):
        agent = SyntheticAgent('hv1', 'o1', restored={'u1': vm(1)})
        rec = Recorder()
        agent.subscribe(rec, replay=True)
        agent.sync({'u1': vm(1), 'u2': vm(2)})
        events = rec.wait_sync()
        assert summary(events) == [('online', 'tap1', 1), 'sync started',
                                   ('online', 'tap2', 1), 'sync finished']
        agent.stop()

    def test_replay_when_synced_ends_with_finished(self):
        agent = SyntheticAgent('hv1')
        agent.sync({'u1': vm(1)})
        rec = Recorder()
        agent.subscribe(rec, replay=True)
        assert summary(rec.wait_sync()) == [('online', 'tap1', 1),
                                            'sync finished']
        assert agent.synced and agent.syncs == 1
        agent.stop()

    def test_without_replay_changes_are_relative_to_now(self):
        agent = SyntheticAgent('hv1')
        agent.sync({'u1': vm(1)})
        rec = Recorder()
        agent.subscribe(rec)
        agent.batch({'u1': vm(1, ofport=7), 'u2': vm(2)})
        events = rec.wait_count(2)
        assert summary(events) == [('updated', 'tap1', 7),
                                   ('online', 'tap2', 1)]
        agent.stop()

    def test_recorder_gets_each_commit_with_its_events(self):
        commits = []
        agent = SyntheticAgent('hv1', recorder=lambda t, evs: commits.append(
            (t, summary(evs))))
        agent.sync({'u1': vm(1)})
        agent.batch({'u1': None})
        agent.batch({'u9': None})  # no change: nothing recorded
        assert [c[1] for c in commits] == [[('online', 'tap1', 1)],
                                           [('offline', 'tap1', 1)]]
        assert commits[0][0] <= commits[1][0]
        assert agent.interfaces() == [] and agent.state() == {}
        agent.stop()

    def test_public_surface_matches_agent(self):
        from df_ovsdb_agent.agent import Agent
        for name in ('subscribe', 'unsubscribe', 'interfaces', 'synced',
                     'syncs', 'host', 'owner_id', 'bus'):
            assert hasattr(SyntheticAgent('h', 'o'), name), name
            assert (hasattr(Agent, name) or name in (
                'syncs', 'owner_id', 'bus')), name


def ch(t, name, action, value=1):
    return (t, ('h', name), action, {'name': name, 'v': value})


class TestCompare:

    def test_exact(self):
        real = [ch(1, 'a', 'online'), ch(2, 'a', 'updated', 2)]
        seen = [ch(1.5, 'a', 'online'), ch(2.25, 'a', 'updated', 2)]
        result = compare(real, seen)
        assert result.exact
        assert result.lags() == [0.25, 0.5]
        assert result.summary()['lag_p50'] == 0.25

    def test_flap_is_extra(self):
        real = []
        seen = [ch(1, 'a', 'offline'), ch(2, 'a', 'online')]
        result = compare(real, seen)
        assert not result.exact
        assert result.summary()['extra_by_action'] == {'offline': 1,
                                                       'online': 1}

    def test_skipped_change_is_coalesced_and_tail_missing(self):
        real = [ch(1, 'a', 'updated', 2), ch(2, 'a', 'updated', 3),
                ch(3, 'b', 'online')]
        seen = [ch(4, 'a', 'updated', 3)]
        result = compare(real, seen)
        assert (result.coalesced, len(result.missing)) == (1, 1)
        assert result.missing[0][1] == ('h', 'b')

    def test_same_event_twice_is_one_extra(self):
        real = [ch(1, 'a', 'online')]
        seen = [ch(2, 'a', 'online'), ch(3, 'a', 'online')]
        assert len(compare(real, seen).extra) == 1

    @pytest.mark.parametrize('values,pct,expected', [
        ([], 50, None), ([1], 99, 1), ([1, 2, 3, 4], 50, 2),
        (list(range(1, 101)), 99, 99)])
    def test_percentile(self, values, pct, expected):
        assert percentile(values, pct) == expected


def test_view_differences():
    a, b = View(), View()
    a.apply(('h', 'x'), 'online', {'v': 1})
    b.apply(('h', 'x'), 'online', {'v': 2})
    b.apply(('h', 'y'), 'online', {'v': 1})
    assert a != b and a.differences(b) == 2
    b.apply(('h', 'y'), 'offline', {'v': 1})
    b.apply(('h', 'x'), 'updated', {'v': 1})
    assert a == b


def test_bad_arguments_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        fleet.parse_args(['--stores', 'zookeeper'])
    assert exc.value.code == 2
    assert 'unknown store or scenario: zookeeper' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fleet.parse_args(['--set', 'lease_ttl=5'])


class TestInlineBus:
    """inline=True: the same events, in the same order, delivered before
    the publishing call returns (no thread per subscriber).
    """

    def test_replay_and_changes_arrive_synchronously(self):
        agent = SyntheticAgent('hv1', 'o1', restored={'u1': vm(1)},
                               inline=True)
        got = []
        sub = agent.subscribe(got.append, replay=True)
        assert summary(got) == [('online', 'tap1', 1)]
        agent.sync({'u1': vm(1, ofport=3), 'u2': vm(2)})
        assert summary(got[1:]) == ['sync started', ('updated', 'tap1', 3),
                                    ('online', 'tap2', 1), 'sync finished']
        agent.batch({'u2': None})
        assert summary(got[5:]) == [('offline', 'tap2', 1)]
        assert sub.wait_idle(0) and sub.backlog == 0
        agent.unsubscribe(sub)
        agent.batch({'u3': vm(3)})
        assert len(got) == 6
        assert threading_count_unchanged(agent)
        agent.stop()

    def test_same_outcome_as_the_threaded_bus(self):
        """The threaded bus may coalesce a lagging subscriber's backlog;
        inline, every event arrives.  Both end in the same state.
        """
        def run(inline):
            agent = SyntheticAgent('hv1', inline=inline)
            agent.sync({'u1': vm(1)})
            rec = Recorder()
            agent.subscribe(rec, replay=True)
            agent.batch({'u1': vm(1, ofport=9), 'u2': vm(2)})
            agent.sync({'u2': vm(2, ofport=4)})
            assert agent.bus.wait_idle(10)
            events = list(rec.events)
            agent.stop()
            state = {}
            for e in events:
                if hasattr(e, 'action'):
                    state.pop(e.name, None)
                    if e.action.value != 'offline':
                        state[e.name] = e.ofport
            return summary(events), state
        inline, threaded = run(True), run(False)
        assert inline[0] == [('online', 'tap1', 1), 'sync finished',
                             ('updated', 'tap1', 9), ('online', 'tap2', 1),
                             'sync started', ('offline', 'tap1', 9),
                             ('updated', 'tap2', 4), 'sync finished']
        assert inline[1] == threaded[1] == {'tap2': 4}

    def test_filters_and_a_failing_subscriber(self):
        agent = SyntheticAgent('hv1', inline=True)
        got = []
        agent.subscribe(lambda e: 1 / 0)
        agent.subscribe(got.append, actions=['offline'])
        agent.sync({'u1': vm(1)})
        agent.batch({'u1': None})
        assert summary(got) == ['sync started', 'sync finished',
                                ('offline', 'tap1', 1)]
        assert agent.bus.subscriptions[0].errors == 4
        agent.stop()
        assert agent.bus.subscriptions == []


def threading_count_unchanged(agent):
    import threading
    return not any(t.name.startswith('df-ovsdb-bus')
                   for t in threading.enumerate())


def usage(t, load, busy, store=0.0, workers=(0.0,)):
    return {'t': t, 'loadavg': (load, load, load), 'machine_busy': busy,
            'each_worker': list(workers),
            'procs': {'store': {'cpu': store}, 'workers': {
                'cpu': sum(workers)}}}


@pytest.mark.parametrize('load,busy,comparable,others', [
    (0.5, 1.0, True, 0.0),      # the machine busy only with the fleet
    (1.5, 1.0, False, 0.0),     # load before the scenario
    (0.5, 4.0, False, 30.0),    # 3 CPU-s of others in 10 s
])
def test_noise_marks_runs_not_comparable(load, busy, comparable, others):
    before = usage(0.0, load, 100.0)
    after = usage(10.0, 0.1, 100.0 + busy, store=0.5, workers=(0.5,))
    found = fleet._noise(before, after)
    assert found['comparable'] is comparable
    assert found['others_cpu_pct'] == pytest.approx(others)
    assert found['worker_max_cpu_pct'] == pytest.approx(5.0)


@pytest.mark.parametrize('load_first,others,comparable', [
    (0.3, 0.0, True),     # quiet at the start, nothing else during it
    (0.3, 20.0, True),    # at the threshold
    (0.3, 20.5, False),   # other processes used the CPU during it
    (1.01, 0.0, False),   # the machine was busy when the run began
])
def test_comparable_rule(load_first, others, comparable):
    assert fleet.comparable(load_first, others) is comparable


def test_a_scenario_after_a_heavy_one_stays_comparable():
    # The fleet's own previous scenario left the 1-minute load at 6: that
    # is no other process.  Only the load before the run's first
    # scenario and the others' CPU during this one count.
    before = usage(0.0, 6.0, 100.0)
    after = usage(10.0, 3.0, 101.0, store=0.5, workers=(0.5,))
    found = fleet._noise(before, after, load_first=0.4)
    assert found['comparable'] is True
    assert found['loadavg_first'] == 0.4
    assert found['loadavg_before'][0] == 6.0
    # The same scenario in a run that began on a busy machine...
    assert fleet._noise(before, after, load_first=2.0)['comparable'] is False
    # ... or with another process busy during it (3 CPU-s in 10 s).
    busy_after = usage(10.0, 3.0, 104.0, store=0.5, workers=(0.5,))
    found = fleet._noise(before, busy_after, load_first=0.4)
    assert found['comparable'] is False
    assert found['others_cpu_pct'] == pytest.approx(30.0)


def test_sizes_and_start_rate_arguments(capsys):
    args = fleet.parse_args(['--sizes', '1000,2500', '--start-rate', '50'])
    assert (args.sizes, args.start_rate, args.bus) == ([1000, 2500], 50.0,
                                                       'inline')
    assert fleet.parse_args(['--hosts', '7']).sizes == [7]
    for bad in (['--sizes', '10,x'], ['--sizes', '0'],
                ['--start-rate', '-1']):
        with pytest.raises(SystemExit):
            fleet.parse_args(bad)
    assert 'bad --sizes' in capsys.readouterr().err


def test_sizes_with_interfaces_rate_and_scenarios(capsys):
    args = fleet.parse_args([
        '--sizes', '1000x50@0:cold+rolling,2500x20,10000', '--interfaces',
        '10', '--scenarios', 'cold,idle', '--start-rate', '100'])
    assert args.runs == [(1000, 50, ('cold', 'rolling'), 0.0),
                         (2500, 20, ('cold', 'idle'), 100.0),
                         (10000, 10, ('cold', 'idle'), 100.0)]
    assert args.sizes == [1000, 2500, 10000]
    assert args.runtime == 'green'
    for bad in ('1000x0', '1000xy', '1000@-1', '1000@z', '1000:cold+nap'):
        with pytest.raises(SystemExit):
            fleet.parse_args(['--sizes', bad])
    assert 'unknown scenario nap' in capsys.readouterr().err


def test_worker_commands_are_whole_lines():
    import os
    import threading

    from benchmarks.fleet_worker import commands

    read, write = os.pipe()

    def feed():
        # One command cut in two writes, then two in one, then EOF.
        for chunk in (b'{"op": "st', b'atus"}\n\n{"op": "a"}\n{"op"',
                      b': "b"}\n'):
            os.write(write, chunk)
        os.close(write)

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        assert list(commands(read)) == ['{"op": "status"}', '{"op": "a"}',
                                        '{"op": "b"}']
    finally:
        thread.join(5)
        os.close(read)


def test_flaps_name_the_consumers_down_holds():
    from benchmarks import fleet_report
    quiet = {'events': {'extra': 0}, 'markers': {'host_up': 3},
             'down_holds': {'held': 0, 'ridden': 0}}
    assert fleet_report.flaps_text(quiet) == '0'
    ridden = dict(quiet, down_holds={'held': 2, 'ridden': 2})
    assert fleet_report.flaps_text(ridden) == '0 (2 held, 2 ridden out)'
    down = {'events': {'extra': 5}, 'markers': {'host_down': 1},
            'down_holds': {'held': 1, 'ridden': 0}}
    assert fleet_report.flaps_text(down) == '6 (1 held, 0 ridden out)'


def test_cold_start_cpu_split_is_per_host_and_sums_up():
    replies = [{'cpu_launch': 0.1, 'cpu_ports': 0.2, 'cpu_sync': 0.3,
                'cpu_total': 1.0}] * 2
    split = fleet._cpu_split(replies, 100)['worker_cpu_ms_per_host']
    # The ports are made up before the window: not part of the total.
    assert split == {'launch': 2.0, 'ports': 4.0, 'sync': 6.0,
                     'total': 20.0, 'writers': 12.0}
    # A paced start does not split it.
    assert fleet._cpu_split([{'cpu_total': 1.0}], 100) == {}


def test_tail_returns_complete_lines_only(tmp_path):
    path = tmp_path / 'out.jsonl'
    tail = fleet.Tail(str(path))
    assert tail.read() == []
    with open(path, 'ab') as f:
        f.write(b'{"t":1}\n{"t":2')
    assert tail.read() == [{'t': 1}]
    with open(path, 'ab') as f:
        f.write(b'}\n\n{"t":3}\n')
    assert tail.read() == [{'t': 2}, {'t': 3}]
    assert tail.read() == []
