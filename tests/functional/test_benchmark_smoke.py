"""The benchmark harness still runs end to end (figures, not timings)."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks import scenarios

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.mark.timeout(90)
def test_tiny_run_produces_every_figure(tmp_path):
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, '-m', 'benchmarks.run', '--tiny', '--no-publish',
         '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=85)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / 'results.json').read_text())

    for name in scenarios.ALL:
        cell = results['sync'][name]['50']
        assert cell['median'] > 0, name
        assert cell['events'] == [51], name  # 50 ports + br-int
        assert cell['rss_median'] > 0, name
        assert results['idle'][name]['churn']['seconds'] > 0, name
    for name in scenarios.PUSH:
        for phase in ('idle', 'burst'):
            assert results['latency'][name][phase]['n'] == 5, (name, phase)
        assert results['burst'][name]['50']['median'] > 0, name
    for name in scenarios.RESYNC:
        assert results['resync'][name]['median'] > 0, name
    assert results['resync']['agent']['events'] == [10]
    assert '### Targets' in proc.stdout


@pytest.mark.timeout(150)
def test_os_ken_flows_benchmark_runs():
    proc = subprocess.run(
        [sys.executable, '-m', 'benchmarks.os_ken_flows', '--plugs', '3',
         '--bulk', '10', '--repeats', '1'],
        cwd=ROOT, capture_output=True, text=True, timeout=140)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for needle in ('3 ports one after the other: p50',
                   'all 6 flows back', '10 ports in one transaction -> '
                   'all 20 flows present', 'no flow left'):
        assert needle in proc.stdout, proc.stdout
