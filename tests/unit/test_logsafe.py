"""Escaped, bounded log values and rate-limited repeats."""

import io
import logging

import pytest

from df_ovsdb_agent import logsafe
from df_ovsdb_agent.logsafe import safe
from tests.helpers import Clock


@pytest.mark.parametrize('value, expected', [
    ('tap0c1a2b3d', 'tap0c1a2b3d'),
    ('a\nb', 'a\\nb'),
    ('a\r\nb', 'a\\r\\nb'),
    ('\ttab', '\\ttab'),
    ('\x1b[31mred\x1b[0m', '\\x1b[31mred\\x1b[0m'),
    ('nul\x00', 'nul\\x00'),
    ('del\x7f', 'del\\x7f'),
    ('c1\x85\x9b', 'c1\\x85\\x9b'),
    ('line\u2028sep', 'line\\u2028sep'),
    ('back\\nslash', 'back\\\\nslash'),
    ('caf\u00e9 \u4e2d\u6587 \U0001f600', 'caf\u00e9 \u4e2d\u6587 \U0001f600'),
    (42, '42'),
    (None, 'None'),
])
def test_escaping(value, expected):
    assert safe(value) == expected


def test_forged_newline_stays_on_one_line():
    forged = 'port-1\n2026-12-01 14:00:00.000 1 ERROR fake [-] forged line'
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger('test_logsafe.forged')
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('bad iface-id %s', safe(forged))
        logger.warning('lazy %s', logsafe.Safe(forged))
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == ['bad iface-id port-1\\n2026-12-01 14:00:00.000 1 ERROR '
                     'fake [-] forged line',
                     'lazy port-1\\n2026-12-01 14:00:00.000 1 ERROR '
                     'fake [-] forged line']


def test_100kb_value_is_bounded_with_a_marker():
    value = 'x' * 100_000
    out = safe(value)
    assert out == 'x' * 256 + '...[+99744 chars]'
    assert len(safe(value, limit=10)) == len('x' * 10 + '...[+99990 chars]')


def test_cut_counts_characters_of_the_value_not_of_escapes():
    # Each newline takes 2 output characters: 5 fit in 10.
    assert safe('\n' * 20, limit=10) == '\\n' * 5 + '...[+15 chars]'
    # An escape sequence is never split.
    assert safe('abc\x1bdef', limit=5) == 'abc...[+4 chars]'


def test_exact_limit_is_not_cut():
    assert safe('y' * 256) == 'y' * 256


@pytest.fixture
def captured():
    clock = Clock()
    rf = logsafe.RepeatFilter(interval=60, clock=clock)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))
    handler.addFilter(rf)
    logger = logging.getLogger('test_logsafe.repeat')
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, clock, stream
    logger.removeHandler(handler)


def test_repeats_are_summarised_once_per_interval(captured):
    logger, clock, stream = captured
    for _ in range(30):                   # once a second for 30 s
        logger.error('column %s missing', 'ofport')
        clock.now += 1
    logger.error('other error')
    clock.now += 30                       # 60 s after the first one
    logger.error('column %s missing', 'ofport')
    logger.error('column %s missing', 'ofport')
    assert stream.getvalue().splitlines() == [
        'ERROR column ofport missing',
        'ERROR other error',
        'ERROR column ofport missing (repeated 29 times in the last 60s)',
    ]


def test_a_repeat_after_a_quiet_interval_is_logged_plain(captured):
    logger, clock, stream = captured
    logger.error('boom')
    clock.now += 61
    logger.error('boom')
    assert stream.getvalue().splitlines() == ['ERROR boom', 'ERROR boom']


def test_info_and_debug_are_never_limited(captured):
    logger, clock, stream = captured
    for _ in range(3):
        logger.info('vm online tap1')
    assert stream.getvalue().splitlines() == ['INFO vm online tap1'] * 3


def test_one_filter_on_two_handlers_passes_a_record_to_both(captured):
    logger, clock, stream = captured
    second = io.StringIO()
    handler = logging.StreamHandler(second)
    handler.addFilter(logger.handlers[0].filters[0])
    logger.addHandler(handler)
    try:
        logger.error('twice')
        logger.error('twice')
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == ['ERROR twice']
    assert second.getvalue().splitlines() == ['twice']


def test_keys_are_bounded():
    clock = Clock()
    rf = logsafe.RepeatFilter(interval=60, max_keys=10, clock=clock)
    for i in range(100):
        record = logging.LogRecord('x', logging.ERROR, __file__, 1,
                                   'error %d', (i,), None)
        assert rf.filter(record)
    assert len(rf._seen) == 10


def test_install_repeat_filter_on_every_handler():
    logger = logging.getLogger('test_logsafe.install')
    handlers = [logging.NullHandler(), logging.NullHandler()]
    for h in handlers:
        logger.addHandler(h)
    try:
        rf = logsafe.install_repeat_filter(logger, interval=5)
        assert all(rf in h.filters for h in handlers)
    finally:
        for h in handlers:
            logger.removeHandler(h)


def test_lone_surrogate_is_escaped_and_encodable():
    out = safe('tap\udcff\ud800x')
    assert out == 'tap\\udcff\\ud800x'
    out.encode('utf-8')  # would raise UnicodeEncodeError unescaped


def test_escape_filter_makes_every_record_one_encodable_line():
    stream = io.BytesIO()
    text = io.TextIOWrapper(stream, encoding='utf-8', write_through=True)
    handler = logging.StreamHandler(text)
    handler.addFilter(logsafe.EscapeFilter(limit=100))
    # On two handlers, the record is still escaped only once.
    second = logging.StreamHandler(io.StringIO())
    second.addFilter(logsafe.EscapeFilter(limit=100))
    logger = logging.getLogger('test_logsafe.filter')
    logger.addHandler(handler)
    logger.addHandler(second)
    logger.propagate = False
    errors = []
    handler.handleError = lambda record: errors.append(record)
    try:
        # Not passed through safe() by the caller: the filter catches it.
        logger.warning('name %s', 'a\udcff\n2026-12-06 ERROR forged')
        logger.warning('already safe %s', safe('a\nb'))
        logger.warning('long %s', 'x' * 500)
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(second)
    assert errors == []
    lines = stream.getvalue().decode('utf-8').splitlines()
    assert lines == ['name a\\udcff\\n2026-12-06 ERROR forged',
                     # backslashes of already escaped values are kept
                     'already safe a\\nb',
                     'long ' + 'x' * 95 + '...[+405 chars]']


def test_one_line():
    assert logsafe.one_line('a\nb\\n\udcff') == 'a\\nb\\n\\udcff'
    assert logsafe.one_line('abcdef', 3) == 'abc...[+3 chars]'
