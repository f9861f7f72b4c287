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


@pytest.mark.parametrize('prefix', ['/df-ovsdb-agent', '/p/', '/a/b'])
def test_batch_reads_keys_as_the_store_layout_parses_them(prefix):
    """_Batch parses interface keys inline: the same (host, name) as
    stores.etcd_parse_key, and every other key as before.
    """
    from df_ovsdb_agent.cluster import stores

    top = prefix.rstrip('/')
    keys = [top + '/hv1/interfaces/tap1', top + '/hv1/interfaces/',
            top + '/hv1/interfaces/a/interfaces/b', top + '//interfaces/x',
            top + '/hv1/alive', top + '/hv1/x/alive', top + '/alive',
            top + '/h/v/interfaces/tap1', top + 'hv1/interfaces/tap1',
            '/other/hv1/interfaces/tap1', top + '/hv1/interfaces',
            top + '/h\udcff/interfaces/tap1', top + '/hv1/interfaces/t\udcff',
            top + '/' + 'h' * 1025 + '/interfaces/tap1', '', top,
            top + '/hv1/interfacesx/tap1', top + '/h\udcff/alive']
    for key in keys:
        batch = etcd._Batch(prefix)
        batch.add(key, None)
        parsed = stores.etcd_parse_key(prefix, key)
        alive = stores.etcd_parse_alive_key(prefix, key)
        good = all(type(part) is str and part.isascii() and
                   0 < len(part) <= schema.MAX_NAME
                   for part in parsed or (alive or '\udcff',))
        if parsed is not None:
            assert batch.hosts == {}
            assert list(batch.interfaces) == [parsed]
            assert batch.skipped == (0 if good and '/' not in parsed[0]
                                     else 1)
        elif alive is not None:
            assert batch.interfaces == {}
            assert batch.hosts == {alive: None}
            assert batch.skipped == (0 if good else 1)
        else:
            assert batch.interfaces == {} and batch.hosts == {}
