"""The etcd reader's decoding of the JSON gateway's base64 values."""

import base64

import pytest

from df_ovsdb_agent.cluster import etcd
from df_ovsdb_agent.cluster import schema


def _reference(value):
    """What the reader accepted before its strict fast path."""
    if not isinstance(value, str):
        raise schema.BadRecord('not base64 text')
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise schema.BadRecord('not base64') from None


@pytest.mark.parametrize('value', [
    '', 'YQ==', 'YWI=', 'YWJj', 'eyJhIjoxfQ==', 'YQ', 'YQ=', 'YQ===',
    '=YQ==', 'YQ==YQ==', 'Y Q==', 'YQ==\n', '\nYQ==', 'Y\x00Q=',
    'YR==', 'YWJ=', 'ab-_', 'ab+/', 'é', '\udcff', '====', 'A', 'AB=C',
    base64.b64encode(bytes(range(256))).decode(), None, b'YQ==', 5])
def test_b64_accepts_and_refuses_exactly_what_validate_did(value):
    try:
        want = ('ok', _reference(value))
    except schema.BadRecord as exc:
        want = ('bad', str(exc))
    try:
        got = ('ok', etcd._b64(value))
    except schema.BadRecord as exc:
        got = ('bad', str(exc))
    assert got == want
