"""The _Server.Database rules: which server's data may be used."""

import pytest

from df_ovsdb_agent.ovsdb.replica import ColumnType
from df_ovsdb_agent.ovsdb.replica import Replica
from df_ovsdb_agent.ovsdb.replica import UpdateError
from df_ovsdb_agent.ovsdb import replica_file
from df_ovsdb_agent.ovsdb import serverdb
from df_ovsdb_agent.ovsdb.serverdb import Seen

CID = 'c1d00000-0000-0000-0000-000000000001'
OTHER = 'c1d00000-0000-0000-0000-000000000002'


def row(model='clustered', connected=True, index=7, cid=CID,
        name='Open_vSwitch'):
    return {'name': name, 'model': model, 'connected': connected,
            'index': index, 'cid': cid}


@pytest.mark.parametrize('values,seen,reason', [
    (row(), None, None),
    (row(), Seen(CID, 7), None),
    (row(index=8), Seen(CID, 7), None),
    (row(connected=False), None, 'not connected to its cluster'),
    (row(connected=False, index=9), Seen(CID, 7),
     'not connected to its cluster'),
    (row(index=6), Seen(CID, 7), 'index 6 is behind 7 already seen'),
    # Another cluster (rebuilt from a backup): its own indexes.
    (row(index=6, cid=OTHER), Seen(CID, 7), None),
    # A member that has no index yet is judged on "connected" alone.
    (row(index=None), Seen(CID, 7), None),
    (row(model='relay', index=None, cid=None), Seen(CID, 7), None),
    (row(model='relay', connected=False, index=None, cid=None), None,
     'relay not connected to its source'),
    # Standalone databases are always connected and have no index.
    (row(model='standalone', index=None, cid=None), Seen(CID, 7), None),
    (row(model='odd\nmodel', connected=False), None,
     'database odd\\nmodel is not connected to its storage'),
    (None, None, 'its _Server database does not list the database'),
])
def test_refusal(values, seen, reason):
    assert serverdb.refusal(values, seen) == reason


def test_advance_keeps_the_highest_index_per_cluster():
    seen = serverdb.advance(None, row(index=5))
    assert seen == Seen(CID, 5)
    assert serverdb.advance(seen, row(index=9)) == Seen(CID, 9)
    assert serverdb.advance(Seen(CID, 9), row(index=9)) == Seen(CID, 9)
    # Never lowered (refusal() keeps such a server out anyway).
    assert serverdb.advance(Seen(CID, 9), row(index=3)) == Seen(CID, 9)
    assert serverdb.advance(Seen(CID, 9), row(index=3, cid=OTHER)) == \
        Seen(OTHER, 3)
    for other in (row(model='relay', index=None, cid=None),
                  row(model='standalone', index=None, cid=None),
                  row(index=None), None):
        assert serverdb.advance(Seen(CID, 9), other) == Seen(CID, 9)


def test_monitor_request_asks_for_one_row_and_few_columns():
    request = serverdb.monitor_request('Open_vSwitch', 'm1', 'id1')
    assert request == {
        'method': 'monitor_cond', 'id': 'id1',
        'params': ['_Server', 'm1', {'Database': [{
            'columns': ['cid', 'connected', 'index', 'model', 'name'],
            'where': [['name', '==', 'Open_vSwitch']]}]}]}


def test_rows_from_the_wire_are_checked_and_found():
    server = Replica(serverdb.TYPES)
    server.apply({'Database': {'u1': {'initial': {
        'name': 'Open_vSwitch', 'model': 'clustered', 'connected': True,
        'index': 7, 'cid': ['uuid', CID], 'leader': True}}}}, 2)
    found = serverdb.find(server.rows('Database'), 'Open_vSwitch')
    assert found == row()
    assert serverdb.find(server.rows('Database'), 'OVN') is None
    server.apply({'Database': {'u1': {'modify': {
        'connected': False, 'index': 8}}}}, 2)
    assert serverdb.refusal(server.rows('Database')['u1'], None) == \
        'not connected to its cluster'
    # Hostile values do not fit the types: the session ends.
    for bad in ({'index': 'seven'}, {'connected': 'yes'},
                {'cid': 'not-a-uuid-datum'}):
        with pytest.raises(UpdateError):
            server.apply({'Database': {'u1': {'modify': bad}}}, 2)


@pytest.mark.parametrize('value,expected', [
    ({'cid': CID, 'index': 7}, Seen(CID, 7)),
    ({'cid': None, 'index': 0}, Seen(None, 0)),
    ({'cid': CID, 'index': True}, None),
    ({'cid': 5, 'index': 7}, None),
    ({'index': '7'}, None),
    ([CID, 7], None),
    (None, None),
])
def test_seen_from_json(value, expected):
    assert serverdb.seen_from_json(value) == expected


def test_the_replica_file_keeps_the_index_even_when_the_replica_does_not_fit(
        tmp_path):
    types = {'T': {'name': ColumnType('string')}}
    replica = Replica(types)
    replica.apply({'T': {'r': {'initial': {'name': 'a'}}}}, 2)
    replica.txn_id = 'txn'
    path = tmp_path / 'replica'
    path.write_bytes(replica_file.encode(replica_file.cut(replica,
                                                          Seen(CID, 42))))
    saved = replica_file.read(str(path), types)
    assert saved.seen == Seen(CID, 42)
    assert saved.replica is not None and saved.replica.rows('T') == {
        'r': {'name': 'a'}}
    other = replica_file.read(str(path), {'T': {'x': ColumnType('string')}})
    assert other == (None, Seen(CID, 42))
    assert replica_file.read(str(tmp_path / 'none'), types) == (None, None)
    path.write_bytes(replica_file.encode(replica_file.cut(replica)))
    assert replica_file.read(str(path), types).seen is None
