"""The published record: limits, set-aside reasons, stored forms."""

import json

import pytest

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.state import Change
from tests.unit.publisher_support import rec


def test_check_record_limits_are_inclusive():
    at = 'x' * records.MAX_VALUE_BYTES
    assert records.check_record(rec('tap1', 'a', iface_id=at)) is None
    over = records.check_record(rec('tap1', 'a', iface_id=at + 'x'))
    assert over == records.Aside(
        'too_large', 'iface_id is 4097 bytes, over the 4096-byte limit per '
        'value')
    # Bytes, not characters: 2,049 two-byte characters are over.
    assert records.check_record(rec('tap1', 'a', iface_id='é' * 2049)).code \
        == 'too_large'
    many = {'v%d' % i: 'x' * 4000 for i in range(5)}
    whole = records.check_record(rec('tap1', 'a', **many))
    assert whole.code == 'too_large' and 'limit per record' in whole.text
    # The record limit counts JSON escapes: 3,000 control characters are
    # 18,000 bytes of JSON.
    escaped = records.check_record(rec('tap1', 'a', iface_id='\x01' * 3000))
    assert escaped == records.Aside(
        'too_large', 'the record is 18076 bytes, over the 16384-byte limit '
        'per record')
    assert records.check_record(rec('tap1', 'a', iface_id='\x01' * 2500)) \
        is None


@pytest.mark.parametrize('record,code,text', [
    (rec('tap\udcff', 'a'), 'not_unicode', 'name is not valid Unicode'),
    (rec('tap1', 'a', iface_id='\ud800'), 'not_unicode',
     'iface_id is not valid Unicode'),
    (rec('', 'a'), 'bad_name', 'the name is empty'),
    (rec('tap1', 'a', iface_id=['x']), 'bad_type', 'iface_id is a list'),
    (rec('tap1', 'a', iface_id={'x': 1}), 'bad_type', 'iface_id is a dict'),
])
def test_check_record_refuses(record, code, text):
    assert records.check_record(record) == records.Aside(code, text)


GOOD = json.dumps(rec('tap1', 'a'))


@pytest.mark.parametrize('raw', [
    b'\xff\xfe{}',                             # not UTF-8
    '[' * 100000,                              # too deep (and too large)
    '[' * 10000,                               # too deep, small
    '{"name": "tap1"',                         # not JSON
    '[1, 2]', '"text"', 'null',                # not an object
    '{"kind": ["not","a","kind"], "sync": "finished", "uuid": {"x": 1}}',
    '{"kind": "vm", "name": 1, "uuid": "a", "ofport": 1, "host": "h"}',
    '{"kind": "vm", "name": "t", "uuid": "a", "ofport": 1}',  # no host
    GOOD[:-1] + ', "pad": "%s"}' % ('x' * records.MAX_RECORD_BYTES),
])
def test_garbage_in_the_store_is_unreadable_never_an_error(raw):
    assert records.parse_stored(raw) is None
    assert records.stored_form(raw) == (records.UNREADABLE, True)


@pytest.mark.parametrize('raw,form', [
    (GOOD, (rec('tap1', 'a'), False)),
    (GOOD.encode(), (rec('tap1', 'a'), False)),
    # An older version's event form: the record, to be rewritten.
    (json.dumps(dict(rec('tap1', 'a'), action='online')),
     (rec('tap1', 'a'), True)),
], ids=['text', 'bytes', 'older-event-form'])
def test_stored_forms_that_are_records(raw, form):
    assert records.stored_form(raw) == form


def test_record_of_and_event_of():
    interface = Interface(Kind.VM, 'tap1', 'a', 1, bridge='br-int',
                          iface_id='p')
    record = records.record_of(interface, 'hv1')
    assert record == dict(interface.to_dict(), host='hv1')
    assert 'action' not in record
    event = records.event_of(Change(Action.OFFLINE, 'tap1', record))
    assert event == dict(record, action='offline')
    assert 'action' not in record  # the record itself is left alone


@pytest.mark.parametrize('text,shown', [
    # A lone surrogate becomes text, then its backslash is escaped too.
    ('tap\udcff\x01', 'tap\\\\udcff\\x01'),
    ('x' * 500, 'x' * 64 + '...[+436 chars]'),
], ids=['escapes', 'bound'])
def test_printable_escapes_and_bounds(text, shown):
    assert records.printable(text) == shown
