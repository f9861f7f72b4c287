"""Fixtures for every test; a real Open vSwitch per test (``ovs``,
``ovsdb``), on a free 127.0.0.1 port.
"""

import shutil

import pytest

from df_ovsdb_agent.testing import sandbox


@pytest.fixture(autouse=True)
def _agent_state_dir(tmp_path_factory, monkeypatch):
    """Each test's daemons keep their state in a directory of their own.

    oslo.config reads ``OS_<GROUP>__<OPTION>`` from the environment, and
    child processes inherit it, so no daemon a test starts touches
    ``/var/lib/df-ovsdb-agent`` or another test's state.  Tests about the
    state directory set ``[agent] state_dir`` themselves.
    """
    path = tmp_path_factory.mktemp('state')
    monkeypatch.setenv('OS_AGENT__STATE_DIR', str(path))
    return path


def _require_ovs():
    if shutil.which('ovsdb-server') is None:
        pytest.fail('ovsdb-server is not installed; run tools/setup.sh')


def _sandbox(tmp_path, vswitchd):
    _require_ovs()
    box = sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=vswitchd)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def ovs(tmp_path):
    """ovsdb-server + ovs-vswitchd (dummy datapath): real ofports."""
    yield from _sandbox(tmp_path, vswitchd=True)


@pytest.fixture
def ovsdb(tmp_path):
    """ovsdb-server alone: tests write ofport themselves."""
    yield from _sandbox(tmp_path, vswitchd=False)
