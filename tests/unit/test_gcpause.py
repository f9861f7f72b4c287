"""collector_paused: pauses an enabled collector, never enables one it
did not disable (nesting, an embedder that disabled it).
"""

import gc

import pytest

from df_ovsdb_agent.ovsdb import gcpause
from df_ovsdb_agent.ovsdb.gcpause import collector_paused


@pytest.fixture(autouse=True)
def collector_restored(monkeypatch):
    monkeypatch.setattr(gcpause, '_others_freeze', False)
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


def _generation(obj):
    """The generation ``obj`` is in; None if frozen (or untracked)."""
    for generation in range(3):
        if any(o is obj for o in gc.get_objects(generation=generation)):
            return generation
    return None


def _young(count):
    # Tracked containers that all survive, as a dump's are.
    return [[i] for i in range(count)]


needs_promotion = pytest.mark.skipif(not gcpause._PROMOTES,
                                     reason='no O(1) promotion here')


@needs_promotion
def test_a_big_pause_leaves_its_survivors_in_the_oldest_generation():
    gc.enable()
    gc.collect()
    with collector_paused():
        kept = _young(gcpause.PROMOTE_AFTER)
        assert _generation(kept[0]) == 0
    assert gc.isenabled()
    assert gc.get_count()[0] < 50
    assert _generation(kept[0]) == _generation(kept[-1]) == 2
    assert gc.get_freeze_count() == 0


def test_a_small_pause_leaves_them_young():
    gc.enable()
    gc.collect()
    with collector_paused():
        kept = _young(100)
    assert _generation(kept[0]) == 0


@needs_promotion
def test_only_the_outermost_block_promotes():
    gc.enable()
    gc.collect()
    with collector_paused():
        with collector_paused():
            kept = _young(gcpause.PROMOTE_AFTER)
        assert _generation(kept[0]) == 0
    assert _generation(kept[0]) == 2


def test_a_collector_disabled_by_the_program_is_not_touched():
    gc.disable()
    gc.collect()
    with collector_paused():
        kept = _young(gcpause.PROMOTE_AFTER)
    assert _generation(kept[0]) == 0


def test_what_the_program_froze_stays_frozen():
    gc.enable()
    theirs = [[]]
    gc.freeze()
    try:
        assert _generation(theirs) is None
        with collector_paused():
            kept = _young(gcpause.PROMOTE_AFTER)
        assert _generation(theirs) is None
        # Not promoted: young, or just collected from the youngest.
        assert _generation(kept[0]) in (0, 1)
        assert not gcpause.promote_young()
        assert _generation(theirs) is None
    finally:
        gc.unfreeze()
    # Not even once they are unfrozen: they were someone's decision.
    with collector_paused():
        kept = _young(gcpause.PROMOTE_AFTER)
    assert _generation(kept[0]) in (0, 1)
