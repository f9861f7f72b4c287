"""The persisted-state writer: atomic, coalescing, spaced, restartable."""

import json
import logging
import os
import threading

import pytest

from df_ovsdb_agent.ovsdb import replica_file
from df_ovsdb_agent import persist


class Body:
    """A body that counts how often it was built, with an optional gate."""

    def __init__(self):
        self.value = 0
        self.calls = 0
        self.gate = None
        self.entered = threading.Event()

    def __call__(self):
        self.calls += 1
        value = self.value
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        return {'value': value}


def read(path):
    with open(path) as f:
        return json.load(f)


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'f.json'
    persist.write_atomic(str(path), b'one')
    persist.write_atomic(str(path), b'two')
    assert path.read_bytes() == b'two'
    assert os.listdir(tmp_path) == ['f.json']


def test_marks_during_a_write_coalesce_into_one_more_write(tmp_path):
    path = str(tmp_path / 's.json')
    body = Body()
    body.gate = threading.Event()
    writer = persist.StateWriter(path, body)
    writer.start()
    writer.mark()
    assert body.entered.wait(10)
    # The first write is in flight (blocked in body()); 100 more marks.
    for body.value in range(1, 101):
        writer.mark()
    body.gate.set()
    assert writer.flush(10)
    writer.stop(10)
    assert read(path) == {'value': 100}
    assert writer.writes == 2  # the first, then one for all the marks
    assert body.calls <= 3


def test_unchanged_body_is_not_rewritten(tmp_path):
    path = str(tmp_path / 's.json')
    writer = persist.StateWriter(path, Body())
    writer.start()
    assert writer.flush(10)
    os.unlink(path)  # would come back if written again
    assert writer.flush(10)
    writer.stop(10)
    assert writer.writes == 1 and not os.path.exists(path)


def test_min_interval_spaces_writes(tmp_path):
    path = str(tmp_path / 's.json')
    body = Body()
    writer = persist.StateWriter(path, body, min_interval=3600)
    writer.start()
    assert writer.flush(10)
    body.value = 1
    writer.mark()
    # Within the interval nothing more is written; a stop writes at once.
    assert not writer.flush(0.2)
    assert read(path) == {'value': 0}
    writer.stop(10)
    assert read(path) == {'value': 1}


def test_failure_is_one_error_line_then_recovers(tmp_path, caplog):
    path = tmp_path / 'sub' / 's.json'
    body = Body()
    writer = persist.StateWriter(str(path), body)
    caplog.set_level(logging.INFO, logger='df_ovsdb_agent.persist')
    for body.value in range(3):
        writer.write_now()
    assert writer.failures == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and str(path) in errors[0].getMessage()
    path.parent.mkdir()
    writer.write_now()
    assert read(path) == {'value': 2}
    assert 'works again' in caplog.records[-1].getMessage()


def test_writer_restarts_after_stop(tmp_path):
    path = str(tmp_path / 's.json')
    body = Body()
    writer = persist.StateWriter(path, body)
    writer.start()
    writer.stop(10)
    body.value = 7
    writer.start()
    assert writer.flush(10)
    writer.stop(10)
    assert read(path) == {'value': 7}


def test_state_dir_owner_id_is_stable_and_lock_is_exclusive(tmp_path):
    first = persist.StateDir(str(tmp_path / 'sd'))
    first.open()
    owner = first.owner_id()
    assert first.owner_id() == owner
    second = persist.StateDir(str(tmp_path / 'sd'))
    try:
        second.open()
    except persist.ConfigError as exc:
        assert 'is in use by another df-ovsdb-agent' in str(exc)
    else:
        raise AssertionError('second lock taken')
    first.close()
    second.open()
    assert second.owner_id() == owner
    second.close()


def _owner_id(path) -> str:
    """The owner id of the state directory at ``path``, opened and closed."""
    state = persist.StateDir(str(path))
    state.open()
    try:
        return state.owner_id()
    finally:
        state.close()


@pytest.mark.parametrize('text,kept', [
    # What owner_id() writes, checked without the uuid module.
    ('0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9', True),
    # Other spellings uuid.UUID accepts: kept, as they always were.
    ('0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9', True),
    ('{0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9}', True),
    ('0f1e2d3c4b5a49788695a4b3c2d1e0f9', True),
    # Not a UUID: replaced by a new one.
    ('0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f', False),
    ('0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0fg', False),
    ('owner\n0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9', False),
    ('', False),
])
def test_owner_id_file_is_kept_only_when_a_uuid(tmp_path, text, kept):
    import uuid
    path = tmp_path / 'sd'
    path.mkdir(mode=0o700)
    (path / persist.OWNER_FILE).write_text(text + '\n')
    owner = _owner_id(path)
    if kept:
        assert owner == text
    else:
        assert owner != text
        assert persist.CANONICAL_UUID.match(owner)
        assert str(uuid.UUID(owner)) == owner
        assert (path / persist.OWNER_FILE).read_text() == owner + '\n'


# -- the state directory: owner-only, no symbolic links ----------------------

@pytest.mark.parametrize('mode', [0o777, 0o1777, 0o770, 0o757])
def test_group_or_world_writable_state_dir_is_refused(tmp_path, mode):
    path = tmp_path / 'sd'
    path.mkdir()
    os.chmod(path, mode)
    state = persist.StateDir(str(path))
    with pytest.raises(persist.ConfigError) as err:
        state.open()
    assert str(err.value) == (
        '[agent] state_dir %s is group- or world-writable (mode %04o); '
        'make it writable by its owner only' % (path, mode))
    assert not (path / 'lock').exists()


@pytest.mark.parametrize('mode', [0o700, 0o750, 0o755])
def test_owner_writable_state_dir_is_used(tmp_path, mode):
    path = tmp_path / 'sd'
    path.mkdir()
    os.chmod(path, mode)
    state = persist.StateDir(str(path))
    state.open()
    state.close()
    assert (path / 'lock').is_file()


def test_planted_lock_link_or_fifo_is_refused(tmp_path):
    path = tmp_path / 'sd'
    path.mkdir(mode=0o750)
    target = tmp_path / 'precious'
    target.write_text('keep me')
    (path / 'lock').symlink_to(target)
    with pytest.raises(persist.ConfigError) as err:
        persist.StateDir(str(path)).open()
    assert str(err.value) == ('[agent] state_dir %s: lock is a symbolic '
                              'link; not followed' % path)
    assert target.read_text() == 'keep me'
    # A dangling link is not created through either.
    (path / 'lock').unlink()
    (path / 'lock').symlink_to(tmp_path / 'made-through-link')
    with pytest.raises(persist.ConfigError):
        persist.StateDir(str(path)).open()
    assert not (tmp_path / 'made-through-link').exists()
    # A FIFO would block a plain open(): refused at once.
    (path / 'lock').unlink()
    os.mkfifo(path / 'lock')
    with pytest.raises(persist.ConfigError) as err:
        persist.StateDir(str(path)).open()
    assert str(err.value) == ('[agent] state_dir %s: lock is not a '
                              'regular file' % path)


def test_planted_state_file_links_are_not_followed(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = tmp_path / 'sd'
    path.mkdir(mode=0o750)
    target = tmp_path / 'precious'
    body = {'format': persist.FORMAT, 'host': None, 'hostname': None,
            'interfaces': []}
    target.write_text(json.dumps(body))
    snapshot = path / persist.SNAPSHOT_FILE
    snapshot.symlink_to(target)
    assert persist.load_snapshot(str(snapshot), None) is None
    assert [r.getMessage() for r in caplog.records] == [
        'Saved state %s is a symbolic link; not followed; the first sync '
        'reports every interface online' % snapshot]
    # A write replaces the link itself, never what it points to.
    persist.write_atomic(str(snapshot), b'{}')
    assert not snapshot.is_symlink() and snapshot.read_text() == '{}'
    assert json.loads(target.read_text()) == body

    owner = path / persist.OWNER_FILE
    owner.symlink_to(target)
    made = _owner_id(path)
    assert not owner.is_symlink() and owner.read_text() == made + '\n'
    assert json.loads(target.read_text()) == body


def test_planted_replica_file_link_is_not_followed(tmp_path, caplog):
    target = tmp_path / 'precious'
    target.write_text('{}')
    link = tmp_path / 'snapshot.json.replica'
    link.symlink_to(target)
    assert replica_file.load(str(link), {}) is None
    assert ('Saved OVSDB replica %s is a symbolic link; not followed; full '
            'dump' % link) in caplog.text
