"""Fixtures for every test."""

import pytest


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
