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
