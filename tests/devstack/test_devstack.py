"""The DevStack plugin, exercised by tests/devstack/harness.sh, and linted.

Each harness scenario runs the plugin's phases against recording stubs of
DevStack's functions and a private ovsdb-server on 127.0.0.1 (see
doc/source/devstack.rst); this module runs one scenario per test and
fails on any ``not ok`` line.
"""

import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HARNESS = os.path.join(HERE, 'harness.sh')
SETTINGS = os.path.join(ROOT, 'devstack', 'settings')
DOC = os.path.join(ROOT, 'doc', 'source', 'devstack.rst')
SHELL_FILES = ['devstack/plugin.sh', 'devstack/settings',
               'devstack/lib/df-ovsdb-agent', 'tests/devstack/harness.sh',
               'tests/devstack/stubs.sh']
SCENARIOS = ['settings-defaults', 'disabled', 'stack-defaults',
             'stack-custom', 'unix-connection', 'connection-forms',
             'existing-manager',
             'wildcard-manager', 'wildcard-connection', 'remote-connection',
             'restack', 'ipv6', 'start-failure']
HARNESS_TIMEOUT = 150


def run_harness(*args: str) -> tuple:
    """(exit status, output) of the harness; its whole group dies on timeout.

    The harness's own teardown stops what it started; the process group is
    the backstop when it hangs.
    """
    env = dict(os.environ, HARNESS_PYTHON=sys.executable)
    proc = subprocess.Popen(['bash', HARNESS, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=HARNESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail('harness %s timed out after %ss:\n%s'
                    % (' '.join(args), HARNESS_TIMEOUT, output))
    return proc.returncode, output


@pytest.mark.timeout(30)
def test_harness_lists_every_scenario():
    status, output = run_harness('--list')
    assert status == 0, output
    assert output.split() == SCENARIOS


@pytest.mark.timeout(30)
def test_harness_rejects_an_unknown_scenario():
    status, output = run_harness('no-such-scenario')
    assert status == 2
    assert output.strip() == ('harness: unknown scenario no-such-scenario '
                              '(see --list)')


@pytest.mark.functional
@pytest.mark.timeout(HARNESS_TIMEOUT + 30)
@pytest.mark.parametrize('scenario', SCENARIOS)
def test_scenario(scenario):
    if shutil.which('ovsdb-server') is None:
        pytest.fail('ovsdb-server is not installed; run tools/setup.sh')
    status, output = run_harness(scenario)
    lines = output.splitlines()
    failed = [line for line in lines if line.startswith('not ok')]
    passed = [line for line in lines if line.startswith('ok ')]
    assert not failed and status == 0, output
    assert passed, output
    assert '# %s: %d checks, 0 failed' % (scenario, len(passed)) in lines
    skipped = [line.split('# SKIP', 1)[1].strip()
               for line in passed if '# SKIP' in line]
    if skipped:
        pytest.skip('; '.join(skipped))


@pytest.mark.timeout(60)
def test_shellcheck_is_clean():
    if shutil.which('shellcheck') is None:
        pytest.fail('shellcheck is not installed; run tools/setup.sh')
    result = subprocess.run(['shellcheck', '-x', *SHELL_FILES], cwd=ROOT,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ''


def test_every_variable_is_documented():
    with open(SETTINGS) as f:
        declared = re.findall(r'^(DF_OVSDB_AGENT_\w+)=', f.read(), re.M)
    with open(DOC) as f:
        documented = re.findall(r'^``(DF_OVSDB_AGENT_\w+)``$', f.read(),
                                re.M)
    assert len(declared) == len(set(declared))
    assert sorted(documented) == sorted(declared)
