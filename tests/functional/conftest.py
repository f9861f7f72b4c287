"""Fixtures of the functional tests (the ``ovs`` and ``ovsdb`` servers are
in tests/conftest.py: tests/test_docs.py runs them too)."""

import os

import pytest

from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings

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
