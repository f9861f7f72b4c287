"""A wheel is enough to run the agent: built, installed in a fresh venv.

The wheel (and the sdist) carry the systemd unit and the config sample;
``df-ovsdb-agent-systemd-unit`` from that venv prints a unit whose
``ExecStart`` is the venv's own ``df-ovsdb-agent``, which ``systemd-analyze
verify`` accepts with the real path.
"""

import filecmp
import glob
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHARE = ('share', 'df-ovsdb-agent')
SHIPPED = {'df-ovsdb-agent.service': ('etc', 'systemd',
                                      'df-ovsdb-agent.service'),
           'df-ovsdb-agent.conf.sample': ('etc',
                                          'df-ovsdb-agent.conf.sample')}
PIP = ('-m', 'pip', '-q', '--disable-pip-version-check')


def _run(args, timeout=240, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


@pytest.fixture(scope='module')
def checkout(tmp_path_factory):
    """A clone of this checkout with its uncommitted changes: builds write
    their egg-info there, never into the tree under test (where it would
    change the version other tests see).
    """
    path = tmp_path_factory.mktemp('checkout') / 'df-ovsdb-agent'
    _run(['git', 'clone', '-q', '--no-hardlinks', ROOT, str(path)])
    _export(str(path))
    return str(path)


@pytest.fixture(scope='module')
def wheel_venv(tmp_path_factory, checkout):
    """(venv directory, wheel path): the wheel installed with its
    dependencies from the package index into a fresh venv.
    """
    base = tmp_path_factory.mktemp('wheel')
    dist = base / 'dist'
    _run([sys.executable, *PIP, 'wheel', '--no-deps', '-w', str(dist),
          checkout])
    wheels = glob.glob(str(dist / 'df_ovsdb_agent-*.whl'))
    assert len(wheels) == 1, wheels
    venv = base / 'venv'
    _run([sys.executable, '-m', 'venv', str(venv)])
    _run([str(venv / 'bin' / 'python'), *PIP, 'install', wheels[0]])
    return str(venv), wheels[0]


@pytest.mark.timeout(600)
def test_wheel_install_ships_the_unit_and_the_sample(wheel_venv):
    venv, _ = wheel_venv
    for name, source in SHIPPED.items():
        installed = os.path.join(venv, *SHARE, name)
        assert filecmp.cmp(installed, os.path.join(ROOT, *source),
                           shallow=False), name


@pytest.mark.timeout(600)
def test_unit_from_a_fresh_venv_points_at_it_and_verifies(wheel_venv,
                                                          tmp_path):
    venv, _ = wheel_venv
    bin_dir = os.path.join(venv, 'bin')
    result = _run([os.path.join(bin_dir, 'df-ovsdb-agent-systemd-unit')])
    lines = result.stdout.splitlines()
    agent = os.path.join(bin_dir, 'df-ovsdb-agent')
    assert ('ExecStart=%s --config-file '
            '/etc/df-ovsdb-agent/df-ovsdb-agent.conf' % agent) in lines
    # The venv's interpreter may live in a home directory (pyenv):
    # ProtectHome=yes would hide it from the service.
    python = os.path.realpath(os.path.join(bin_dir, 'python'))
    in_home = python.startswith(('/root/', '/home/'))
    assert ('ProtectHome=read-only' if in_home else 'ProtectHome=yes') \
        in lines
    # The agent of that venv runs.
    version = _run([agent, '--version']).stdout.strip()
    assert version
    tool = shutil.which('systemd-analyze')
    if tool is None:
        pytest.skip('systemd-analyze is not installed')
    unit = tmp_path / 'df-ovsdb-agent.service'
    unit.write_text(result.stdout)
    verify = subprocess.run([tool, 'verify', str(unit)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    assert (verify.stdout + verify.stderr).strip() == ''


@pytest.mark.timeout(300)
def test_sdist_carries_the_unit_and_the_sample(tmp_path, checkout):
    # Release notes, AUTHORS and ChangeLog are not what is tested here.
    env = dict(os.environ, SKIP_GENERATE_RENO='1',
               SKIP_GENERATE_AUTHORS='1', SKIP_WRITE_GIT_CHANGELOG='1')
    _run([sys.executable, 'setup.py', '-q', 'sdist', '-d', str(tmp_path)],
         cwd=checkout, env=env)
    tarballs = glob.glob(str(tmp_path / 'df-ovsdb-agent-*.tar.gz')) + \
        glob.glob(str(tmp_path / 'df_ovsdb_agent-*.tar.gz'))
    assert len(tarballs) == 1, os.listdir(tmp_path)
    with tarfile.open(tarballs[0]) as tar:
        names = {name.split('/', 1)[1] for name in tar.getnames()
                 if '/' in name}
    for source in SHIPPED.values():
        assert '/'.join(source) in names


def _export(dest):
    """The tracked files of this tree, without .git (as `git archive`
    gives them, with any uncommitted change).
    """
    names = _run(['git', 'ls-files', '-z'], cwd=ROOT).stdout.split('\0')
    for name in filter(None, names):
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):
            target = os.path.join(dest, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)


@pytest.mark.timeout(300)
def test_tarball_without_git_needs_pbr_version_and_says_so(tmp_path):
    tree = tmp_path / 'df-ovsdb-agent'
    _export(str(tree))
    # No repository above the export either.
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path))
    env.pop('PBR_VERSION', None)
    result = subprocess.run([sys.executable, 'setup.py', '--version'],
                            cwd=tree, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.splitlines() == [
        'df-ovsdb-agent: this tree has no git history and no PKG-INFO to '
        'take its version from; set PBR_VERSION, e.g. PBR_VERSION=0.2.0 '
        'pip install .']
    env['PBR_VERSION'] = '0.2.0'
    dist = tmp_path / 'dist'
    _run([sys.executable, *PIP, 'wheel', '--no-deps', '-w', str(dist),
          str(tree)], env=env)
    assert [os.path.basename(p) for p in glob.glob(str(dist / '*.whl'))] \
        == ['df_ovsdb_agent-0.2.0-py3-none-any.whl']
