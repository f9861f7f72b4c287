"""Fixtures: a real Open vSwitch per test, on a free 127.0.0.1 port."""

import os
import shutil

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
from df_ovsdb_agent.testing import sandbox

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    """Mark every test of this directory ``functional``.

    (A ``pytestmark`` in a conftest.py marks nothing: only test modules'
    own ``pytestmark`` counts.)  So ``-m "not functional"`` starts no
    server at all.
    """
    for item in items:
        if os.path.abspath(str(item.fspath)).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.functional)


def _require_ovs():
    if shutil.which('ovsdb-server') is None:
        pytest.fail('ovsdb-server is not installed; run tools/setup.sh')


@pytest.fixture
def ovs(tmp_path):
    """ovsdb-server + ovs-vswitchd (dummy datapath): real ofports."""
    _require_ovs()
    box = sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=True)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def ovsdb(tmp_path):
    """ovsdb-server alone: tests write ofport themselves."""
    _require_ovs()
    box = sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=False)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def make_agent():
    """Factory for agents that are stopped at teardown."""
    agents = []

    def factory(remote, **settings):
        agent = Agent(settings=OvsdbSettings(connection=remote, **settings))
        agents.append(agent)
        return agent

    yield factory
    for agent in agents:
        agent.stop(timeout=5)
