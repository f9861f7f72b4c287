"""The deferred imports of the console scripts (df_ovsdb_agent.cmd): an
import binds the module, its body runs on the first attribute read, once,
whichever thread reads first, and fails as the eager import would have.
"""

import sys
import threading
import types

import pytest

from df_ovsdb_agent import cmd

COUNTER = '''
import threading
runs = []
entered = threading.Event()
release = threading.Event()
release.set()
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Modules in tmp_path: ``counter`` (records body runs), ``lone`` and
    ``pkg.sub`` (deferred), ``eager`` (not deferred), ``broken``
    (deferred, its body fails).
    """
    body = ('import counter\ncounter.runs.append(__name__)\n'
            'counter.entered.set()\ncounter.release.wait(30)\n'
            'VALUE = "done"\n')
    (tmp_path / 'counter.py').write_text(COUNTER)
    (tmp_path / 'lone.py').write_text(body)
    (tmp_path / 'eager.py').write_text(body)
    (tmp_path / 'broken.py').write_text('raise RuntimeError("no")\n')
    (tmp_path / 'pkg').mkdir()
    (tmp_path / 'pkg' / '__init__.py').write_text('')
    (tmp_path / 'pkg' / 'sub.py').write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = cmd._Finder(('lone', 'pkg.sub', 'broken'))
    monkeypatch.setattr(sys, 'meta_path', [finder] + sys.meta_path)
    names = ('counter', 'lone', 'eager', 'broken', 'pkg', 'pkg.sub')
    yield
    for name in names:
        sys.modules.pop(name, None)


def _runs():
    import counter
    return list(counter.runs)


def test_import_binds_and_first_read_runs_once(fake):
    import eager  # noqa: F401 (its body runs at import)
    import lone
    assert _runs() == ['eager']
    assert not cmd.loaded('lone') and cmd.loaded('eager')
    import lone as again  # noqa: F811 (an import of a deferred module)
    assert again is lone and _runs() == ['eager']
    assert lone.VALUE == 'done'
    assert lone.VALUE == 'done'
    assert _runs() == ['eager', 'lone']
    assert cmd.loaded('lone') and type(lone) is types.ModuleType
    assert lone.__spec__.loader is not None
    assert not isinstance(lone.__spec__.loader, cmd._DeferringLoader)


def test_from_package_import_submodule(fake):
    from pkg import sub
    assert sys.modules['pkg.sub'] is sub
    assert _runs() == []
    import pkg
    assert pkg.sub is sub
    assert sub.VALUE == 'done' and _runs() == ['pkg.sub']


def test_second_thread_waits_for_the_body(fake):
    import counter
    import lone
    counter.release.clear()
    got: dict = {}

    def read(who):
        try:
            got[who] = lone.VALUE
        except Exception as exc:  # the failure this test is about
            got[who] = exc

    first = threading.Thread(target=read, args=('first',))
    first.start()
    assert counter.entered.wait(30)
    second = threading.Thread(target=read, args=('second',))
    second.start()
    # Without the lock it would see the half-run module at once
    # (AttributeError); with it, it waits for the body.
    second.join(0.2)
    assert second.is_alive() and 'second' not in got
    counter.release.set()
    first.join(30)
    second.join(30)
    assert got == {'first': 'done', 'second': 'done'}
    assert _runs() == ['lone']


def test_failing_body_fails_at_first_read_as_an_import_would(fake):
    import broken
    with pytest.raises(RuntimeError, match='no'):
        broken.anything
    assert 'broken' not in sys.modules
    with pytest.raises(RuntimeError, match='no'):
        import broken  # noqa: F401,F811
        broken.anything


def test_imported_before_stays_as_it_is(fake):
    import eager
    finder = cmd._Finder(('eager',))
    sys.meta_path.insert(0, finder)
    import eager as again  # noqa: F811
    assert again is eager and cmd.loaded('eager')


def test_names_outside_the_list_are_left_to_the_other_finders():
    assert cmd._Finder(('a',)).find_spec('json', None) is None
    assert cmd._Finder(('nowhere_such_module',)).find_spec(
        'nowhere_such_module', None) is None


def test_setting_an_attribute_runs_the_body_first(fake):
    """A monkey-patch (eventlet's of ssl) is not undone by the body
    running at a later read.
    """
    import lone
    lone.VALUE = 'patched'
    assert _runs() == ['lone'] and cmd.loaded('lone')
    assert lone.VALUE == 'patched'
    from pkg import sub
    del sub.VALUE
    assert _runs() == ['lone', 'pkg.sub']
    assert not hasattr(sub, 'VALUE')


def test_submodule_of_a_deferred_package_binds_during_its_body(
        tmp_path, monkeypatch):
    """A deferred package whose body imports its own submodule (the
    import system sets it on the package while the body runs): one run,
    the submodule bound.
    """
    (tmp_path / 'dpkg').mkdir()
    (tmp_path / 'dpkg' / '__init__.py').write_text(
        'from . import part\nVALUE = part.VALUE\n')
    (tmp_path / 'dpkg' / 'part.py').write_text('VALUE = 7\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, 'meta_path',
                        [cmd._Finder(('dpkg',))] + sys.meta_path)
    try:
        import dpkg
        assert not cmd.loaded('dpkg') and 'dpkg.part' not in sys.modules
        assert dpkg.VALUE == 7 and dpkg.part is sys.modules['dpkg.part']
        assert cmd.loaded('dpkg')
    finally:
        sys.modules.pop('dpkg', None)
        sys.modules.pop('dpkg.part', None)
