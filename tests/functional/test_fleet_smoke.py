"""The fleet benchmark still runs end to end at a tiny scale, and its
consumer sees exactly the real changes (figures, not timings)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.mark.timeout(180)
def test_tiny_fleet_is_exact(tmp_path):
    proc = subprocess.run(
        [sys.executable, '-m', 'benchmarks.fleet', '--hosts', '3',
         '--interfaces', '5', '--workers', '2', '--stores', 'etcd,redis',
         '--scenarios', 'churn,rolling', '--churn-seconds', '2',
         '--churn-fraction', '0.5', '--churn-rate', '3', '--settle', '0',
         '--timeout', '60', '--no-publish', '--out', str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / 'fleet_results.json').read_text())
    assert not (tmp_path / 'fleet_results.md').exists()
    for store in ('etcd', 'redis'):
        scenarios = results['stores'][store]
        assert set(scenarios) >= {'cold', 'churn', 'rolling'}, scenarios
        for name in ('cold', 'churn', 'rolling'):
            result = scenarios[name]
            events = result['events']
            assert result['converged'], (store, name, result)
            assert result['view_exact'], (store, name, result)
            assert events['exact'], (store, name, events)
            assert events['seen'] == events['real'], (store, name, events)
        assert scenarios['cold']['events']['real'] == 15
        assert scenarios['churn']['events']['real'] > 0
        # A rolling restart with unchanged state: no event at all.
        assert scenarios['rolling']['events']['seen'] == 0
        assert scenarios['rolling']['durations_s']['hosts'] == 3
    assert '## etcd' in proc.stdout and '## redis' in proc.stdout
