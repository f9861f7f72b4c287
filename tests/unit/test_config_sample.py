"""etc/df-ovsdb-agent.conf.sample is what oslo-config-generator makes now.

Regenerate it after changing an option with ``tox -e genconfig``, or the
command in ``REGENERATE`` below (see doc/source/configuration.rst).
"""

import difflib
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join('etc', 'oslo-config-generator',
                              'df-ovsdb-agent.conf')
SAMPLE = os.path.join(ROOT, 'etc', 'df-ovsdb-agent.conf.sample')
REGENERATE = 'oslo-config-generator --config-file %s' % GENERATOR_CONF


@pytest.mark.timeout(60)
def test_config_sample_is_up_to_date(tmp_path):
    fresh = tmp_path / 'df-ovsdb-agent.conf.sample'
    result = subprocess.run(
        [sys.executable, '-m', 'oslo_config.generator',
         '--config-file', GENERATOR_CONF, '--output-file', str(fresh)],
        capture_output=True, text=True, timeout=50, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    with open(SAMPLE) as f:
        committed = f.read().splitlines(keepends=True)
    generated = fresh.read_text().splitlines(keepends=True)
    delta = ''.join(list(difflib.unified_diff(
        committed, generated, 'committed', 'generated'))[:60])
    if committed != generated:
        pytest.fail('etc/df-ovsdb-agent.conf.sample is stale; regenerate it '
                    'with\n  %s\n%s' % (REGENERATE, delta), pytrace=False)
