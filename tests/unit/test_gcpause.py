"""collector_paused: pauses an enabled collector, never enables one it
did not disable (nesting, an embedder that disabled it).
"""

import gc

import pytest

from df_ovsdb_agent.ovsdb.gcpause import collector_paused


@pytest.fixture(autouse=True)
def collector_restored():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_pauses_and_resumes():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumes_after_an_exception():
    gc.enable()
    with pytest.raises(ValueError):
        with collector_paused():
            raise ValueError('boom')
    assert gc.isenabled()


def test_nested_blocks_resume_only_at_the_outermost():
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_by_the_program_stays_disabled():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
