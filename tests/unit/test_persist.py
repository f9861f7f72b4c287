"""The persisted-state writer: atomic, coalescing, spaced, restartable."""

import json
import logging
import os
import threading

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
