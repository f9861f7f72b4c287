"""The replica: decoding, update2 diffs of sets and maps, bad updates."""

import json

import pytest

from df_ovsdb_agent.classifier import COLUMNS
from df_ovsdb_agent.classifier import InterfaceRows
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.ovsdb.monitor import interface_builder
from df_ovsdb_agent.ovsdb.monitor import interface_row
from df_ovsdb_agent.ovsdb.monitor import interface_rows
from df_ovsdb_agent.ovsdb.monitor import sync_rows
from df_ovsdb_agent.ovsdb.replica import ColumnType
from df_ovsdb_agent.ovsdb.replica import Replica
from df_ovsdb_agent.ovsdb.replica import row_decoders
from df_ovsdb_agent.ovsdb.replica import UpdateError
from df_ovsdb_agent.ovsdb import schema as schema_lib
from df_ovsdb_agent.ovsdb.tables import BY_NAME
from df_ovsdb_agent.ovsdb.tables import INTERFACE

STRMAP = {'key': 'string', 'value': 'string', 'min': 0, 'max': 'unlimited'}
TYPES = {'T': {
    'name': ColumnType.from_json('string'),
    'ofport': ColumnType.from_json({'key': 'integer', 'min': 0, 'max': 1}),
    'tags': ColumnType.from_json({'key': 'integer', 'min': 0,
                                  'max': 'unlimited'}),
    'peers': ColumnType.from_json({'key': 'uuid', 'min': 0, 'max': 4}),
    'ids': ColumnType.from_json(STRMAP),
    'up': ColumnType.from_json('boolean'),
}}
U1 = '11111111-0000-0000-0000-000000000001'
U2 = '11111111-0000-0000-0000-000000000002'


def _replica(row=None):
    replica = Replica(TYPES)
    replica.apply({'T': {'r': {'initial': row or {}}}}, 2)
    return replica


def test_initial_row_gets_defaults_for_omitted_columns():
    values = _replica({'name': 'a'}).rows('T')['r']
    assert values == {'name': 'a', 'ofport': None, 'tags': frozenset(),
                      'peers': frozenset(), 'ids': {}, 'up': False}


def test_decoding_of_every_shape():
    values = _replica({
        'name': 'a', 'ofport': 5, 'tags': ['set', [1, 2]],
        'peers': ['uuid', U1], 'ids': ['map', [['k', 'v']]],
        'up': True}).rows('T')['r']
    assert values == {'name': 'a', 'ofport': 5, 'tags': frozenset({1, 2}),
                      'peers': frozenset({U1}), 'ids': {'k': 'v'},
                      'up': True}


@pytest.mark.parametrize('diff,expected', [
    # A key absent gets added, same value removed, other value replaced.
    (['map', [['new', '1']]], {'a': '1', 'b': '2', 'new': '1'}),
    (['map', [['a', '1']]], {'b': '2'}),
    (['map', [['a', '9']]], {'a': '9', 'b': '2'}),
    (['map', [['a', '1'], ['b', '3'], ['c', '4']]], {'b': '3', 'c': '4'}),
])
def test_modify_diff_of_a_map(diff, expected):
    replica = _replica({'ids': ['map', [['a', '1'], ['b', '2']]]})
    before = replica.rows('T')['r']['ids']
    replica.apply({'T': {'r': {'modify': {'ids': diff}}}}, 2)
    assert replica.rows('T')['r']['ids'] == expected
    # Values handed out earlier are never changed in place.
    assert before == {'a': '1', 'b': '2'}


@pytest.mark.parametrize('diff,expected', [
    (3, {1, 2, 3}),                      # one element as a bare atom
    (['set', [1]], {2}),                 # present: removed
    (['set', [1, 2, 3, 4]], {3, 4}),     # toggled each
])
def test_modify_diff_of_a_set(diff, expected):
    replica = _replica({'tags': ['set', [1, 2]]})
    replica.apply({'T': {'r': {'modify': {'tags': diff}}}}, 2)
    assert replica.rows('T')['r']['tags'] == frozenset(expected)


def test_modify_of_single_value_columns_carries_the_new_value():
    replica = _replica({'name': 'a', 'ofport': 5})
    replica.apply({'T': {'r': {'modify': {'name': 'b', 'ofport': 7}}}}, 2)
    assert replica.rows('T')['r']['ofport'] == 7
    replica.apply({'T': {'r': {'modify': {'ofport': ['set', []]}}}}, 2)
    assert replica.rows('T')['r']['ofport'] is None
    assert replica.rows('T')['r']['name'] == 'b'


@pytest.mark.parametrize('diff,expected', [
    # ovsdb-server(7): a column with max 1 holds a single value, and the
    # diff of a single value is the new value -- not merged key by key.
    (['map', [['b', '2']]], {'b': '2'}),
    (['map', [['a', '9']]], {'a': '9'}),
    (['map', [['a', '1']]], {'a': '1'}),
    (['map', []], {}),
])
def test_modify_of_a_map_with_max_1_carries_the_new_value(diff, expected):
    types = {'T': {'opt': ColumnType.from_json(
        {'key': 'string', 'value': 'string', 'min': 0, 'max': 1})}}
    replica = Replica(types)
    replica.apply({'T': {'r': {'initial': {
        'opt': ['map', [['a', '1']]]}}}}, 2)
    replica.apply({'T': {'r': {'modify': {'opt': diff}}}}, 2)
    assert replica.rows('T')['r']['opt'] == expected


def test_modify_of_an_optional_uuid_carries_the_new_value():
    types = {'T': {'ref': ColumnType.from_json(
        {'key': 'uuid', 'min': 0, 'max': 1})}}
    replica = Replica(types)
    replica.apply({'T': {'r': {'initial': {'ref': ['uuid', U1]}}}}, 2)
    replica.apply({'T': {'r': {'modify': {'ref': ['uuid', U2]}}}}, 2)
    assert replica.rows('T')['r']['ref'] == U2
    replica.apply({'T': {'r': {'modify': {'ref': ['set', []]}}}}, 2)
    assert replica.rows('T')['r']['ref'] is None


def test_uuid_set_toggle():
    replica = _replica({'peers': ['set', [['uuid', U1]]]})
    replica.apply({'T': {'r': {'modify': {'peers': ['set', [
        ['uuid', U1], ['uuid', U2]]]}}}}, 2)
    assert replica.rows('T')['r']['peers'] == frozenset({U2})


def test_insert_delete_and_touched():
    replica = _replica()
    touched = replica.apply({'T': {'s': {'insert': {'name': 'x'}},
                                   'r': {'delete': None}}}, 2)
    assert set(touched['T']) == {'r', 's'}
    assert list(replica.rows('T')) == ['s']


def test_version1_updates():
    replica = _replica({'name': 'a', 'ofport': 1})
    replica.apply({'T': {'r': {'old': {'ofport': 1},
                               'new': {'name': 'a', 'ofport': 2}}}}, 1)
    assert replica.rows('T')['r']['ofport'] == 2
    replica.apply({'T': {'r': {'old': {'name': 'a'}}}}, 1)
    assert replica.rows('T') == {}


def test_unknown_tables_and_columns_are_ignored():
    replica = _replica()
    replica.apply({'Other': {'x': {'insert': {}}},
                   'T': {'r': {'modify': {'extra': 5, 'name': 'n'}}}}, 2)
    assert replica.rows('T')['r']['name'] == 'n'
    assert 'extra' not in replica.rows('T')['r']


@pytest.mark.parametrize('update', [
    {'T': {'r': {'modify': {'ofport': 'five'}}}},
    {'T': {'r': {'modify': {'ids': ['set', []]}}}},
    {'T': {'r': {'modify': {'ofport': ['set', [1, 2]]}}}},
    {'T': {'r': {'modify': {'up': 1}}}},
    {'T': {'r': {'modify': {'peers': ['named-uuid', 'x']}}}},
    {'T': {'nope': {'modify': {'name': 'x'}}}},
    {'T': {'nope': {'delete': None}}},
    {'T': {'r': {'frobnicate': {}}}},
    {'T': {'r': {'insert': {}, 'delete': None}}},
    {'T': {'r': {'insert': {'ids': ['map', [['k']]]}}}},
    {'T': {'r': 5}},
    {'T': []},
    [],
])
def test_updates_that_do_not_fit_raise(update):
    with pytest.raises(UpdateError):
        _replica().apply(update, 2)


def test_found_false_starts_over():
    replica = _replica()
    replica.txn_id = 'x'
    replica.clear()
    assert replica.rows('T') == {} and replica.txn_id is None


def test_declaration_matches_what_the_classifier_reads():
    table = BY_NAME[INTERFACE]
    assert set(COLUMNS) <= set(table.columns)
    # Every RowValues field is a declared column, but the derived bridge.
    assert set(RowValues._fields[1:-1]) <= set(table.columns +
                                               table.optional)
    assert RowValues._fields[-1] == 'bridge'


def test_vswitch_schema_types_and_interface_rows():
    from df_ovsdb_agent.testing import sandbox
    with open(sandbox.SCHEMA) as f:
        types = schema_lib.monitored_types(json.load(f))
    replica = Replica(types)
    replica.apply({INTERFACE: {U1: {'initial': {
        'name': 'tap0', 'ofport': 3,
        'external_ids': ['map', [['iface-id', 'p']]]}}}}, 2)
    row = interface_row(U1, replica.rows(INTERFACE)[U1])
    assert row == RowValues(U1, 'tap0', '', 3, {'iface-id': 'p'}, {})


def test_a_consumed_update_is_applied_the_same_and_freed():
    def updates():
        return {'T': {'r': {'initial': {'name': 'a', 'ids': ['map', [
            ['k', 'v']]]}}, 's': {'initial': {'tags': ['set', [1]]}}}}
    kept, consumed = Replica(TYPES), Replica(TYPES)
    message = updates()
    assert kept.apply(updates(), 2) == {'T': {'r': None, 's': None}.keys()}
    touched = consumed.apply(message, 2, consume=True)
    assert consumed.rows('T') == kept.rows('T')
    assert list(touched['T']) == ['r', 's']
    # The parsed rows were let go once applied.
    assert message == {'T': {'r': None, 's': None}}


# -- compact rows and specialised decoders -----------------------------------

SHAPES = [
    'a', '', 5, -1, 0, 2.5, True, False, None, {}, [], ['set', []],
    ['set', [3]], ['set', [1, 2]], ['set', ['a']], ['uuid', U1],
    ['uuid', 5], ['set', [['uuid', U1], ['uuid', U2]]],
    ['set', [['uuid', U1], ['named-uuid', U2]]],
    ['set', [['uuid', U1, 'x']]], ['set', ['ab']], ['set', [['uuid', 1]]],
    ['map', []], ['map', [['k', 'v']]], ['map', [['k', 'v'], ['l', 'w']]],
    ['map', [['k', 1]]], ['map', [[1, 'v']]], ['map', ['ab']],
    ['map', [{'k': 1, 'v': 2}]], ['map', [['k']]], ['map', [['k', 'v', 'w']]],
    ['map', [['k', 'v'], ['k', 'w']]], ['map', [['k', ['uuid', U1]]]],
    ['map', 'ab'], ['map'], ['bogus', []], [['set', []]],
    # A good pair then one that dict() alone would take apart.
    ['map', [['k', 'v'], 'ab']], ['map', [['k', 'v'], {'a': 1, 'b': 2}]],
    ['map', [['k', 'v'], ['l', None]]], ['map', [['k', 'v'], [2.5, 'w']]],
]
COLUMN_TYPES = [
    'string', 'integer', 'real', 'boolean', 'uuid',
    {'key': 'string', 'min': 0, 'max': 1},
    {'key': 'integer', 'min': 0, 'max': 1},
    {'key': {'type': 'string', 'enum': ['set', ['up', 'down']]},
     'min': 0, 'max': 1},
    {'key': {'type': 'string', 'enum': ['set', ['a', 'b']]}},
    {'key': 'uuid', 'min': 0, 'max': 'unlimited'},
    {'key': 'uuid', 'min': 1, 'max': 'unlimited'},
    {'key': 'integer', 'min': 0, 'max': 'unlimited'},
    STRMAP,
    {'key': 'string', 'value': 'string', 'min': 0, 'max': 1},
    {'key': 'string', 'value': 'uuid', 'min': 0, 'max': 'unlimited'},
]


def _outcome(function, datum):
    try:
        return 'ok', function(datum)
    except (UpdateError, TypeError, ValueError, KeyError):
        # Replica.apply turns each into an UpdateError naming the row.
        return 'error', None


@pytest.mark.parametrize('spec', COLUMN_TYPES, ids=repr)
def test_specialised_decoders_agree_with_decode(spec):
    ctype = ColumnType.from_json(spec)
    decoder = ctype.decoder()
    for datum in SHAPES:
        expected = _outcome(ctype.decode, json.loads(json.dumps(datum)))
        got = _outcome(decoder, json.loads(json.dumps(datum)))
        assert got == expected, datum
        if got[0] == 'ok':
            assert type(got[1]) is type(expected[1]), datum
    # An omitted column decodes to the default.
    assert decoder(ctype.wire_default) == ctype.default


def test_rows_are_tuples_with_a_mapping_view():
    replica = _replica({'name': 'a', 'ids': ['map', [['k', 'v']]]})
    assert replica.columns['T'] == tuple(TYPES['T'])
    stored = replica.tables['T']['r']
    assert type(stored) is tuple
    assert stored[replica.positions['T']['ids']] == {'k': 'v'}
    view = replica.rows('T')['r']
    assert dict(view) == {'name': 'a', 'ofport': None, 'tags': frozenset(),
                          'peers': frozenset(), 'ids': {'k': 'v'},
                          'up': False}
    assert len(replica.rows('T')) == 1 and 'r' in replica.rows('T')
    with pytest.raises(KeyError):
        view['extra']


def test_map_keys_and_enumerated_values_are_shared_between_rows():
    types = {'T': {'ids': ColumnType.from_json(STRMAP),
                   'state': ColumnType.from_json(COLUMN_TYPES[7])}}
    replica = Replica(types)
    rows = {uuid: {'initial': json.loads(json.dumps({
        'ids': ['map', [['iface-id', uuid]]], 'state': 'up'}))}
        for uuid in (U1, U2)}
    replica.apply({'T': rows}, 2)
    (ids1, state1), (ids2, state2) = replica.tables['T'].values()
    assert ids1 == {'iface-id': U1} and ids2 == {'iface-id': U2}
    assert next(iter(ids1)) is next(iter(ids2))
    assert state1 is state2 == 'up'


def test_string_map_decoder_on_a_big_map():
    ctype = ColumnType.from_json(STRMAP)
    pairs = [['key-%d' % i, 'value-%d' % i] for i in range(5000)]
    got = ctype.decoder()(_copy(['map', pairs]))
    assert got == ctype.decode(_copy(['map', pairs])) == dict(pairs)
    again = ctype.decoder()(_copy(['map', pairs[:10]]))
    # The keys are the interned copies, shared between values.
    assert all(a is b for a, b in zip(got, again))
    # One bad pair at the end sends the whole map to decode(), refused.
    with pytest.raises(UpdateError):
        ctype.decoder()(_copy(['map', pairs + [['k', 1]]]))


@pytest.mark.parametrize('pairs', [
    [['k', 'v'], ['l', 'w', 'x']], [['k', 'v'], ['l']], [['k', 'v', 'x']],
    [['k', 'v'], ['l', 1]], [['k', 'v'], ['l', None]], [['k', 'v'], 'lw'],
    [['k', 'v'], ['k', 'w']], [['k', 'v'], [['l'], 'w']],
    [['k', 'v'], {'l': 1, 'w': 2}], [['k', 'v'], 5], [['k', 'v'], []],
    [[1, 'v'], ['l', 'w']], [['k', 'v'], ['l', ['uuid', U1]]]],
    ids=repr)
def test_string_map_with_a_known_key_set_checks_every_pair(pairs):
    """A key set seen before (shared keys from the cache) takes the same
    values and refuses the same pairs as decode(): pair lengths, value
    types and duplicate keys are checked on every map, not once per set.
    """
    ctype = ColumnType.from_json(STRMAP)
    decoder = ctype.decoder()
    keys = [p[0] for p in pairs if isinstance(p, list) and p and
            isinstance(p[0], str)]
    # Teach the cache the good key sets this map could match.
    for n in range(1, len(keys) + 1):
        decoder(_copy(['map', [[k, 'x'] for k in keys[:n]]]))
    expected = _outcome(ctype.decode, _copy(['map', pairs]))
    got = _outcome(decoder, _copy(['map', pairs]))
    assert got == expected
    if got[0] == 'ok':
        assert type(got[1]) is dict


def test_string_map_key_sets_are_shared_and_bounded():
    from df_ovsdb_agent.ovsdb import replica as replica_lib
    decoder = ColumnType.from_json(STRMAP).decoder()
    first = decoder(_copy(['map', [['iface-id', 'a'], ['vm-uuid', 'b']]]))
    second = decoder(_copy(['map', [['iface-id', 'c'], ['vm-uuid', 'd']]]))
    assert first == {'iface-id': 'a', 'vm-uuid': 'b'}
    assert second == {'iface-id': 'c', 'vm-uuid': 'd'}
    assert all(a is b for a, b in zip(first, second))
    # The key sets live in the interned cache: the same bound empties
    # them (a stager checks it before each row).
    assert ('iface-id', 'vm-uuid') in replica_lib._interned
    types = {'T': {'ids': ColumnType.from_json(STRMAP)}}
    replica = Replica(types)
    stage = replica.stager('T')
    for i in range(replica_lib.INTERN_LIMIT + 2):
        stage(_copy({'initial': {'ids': ['map', [['k%d' % i, 'v']]]}}))
        assert len(replica_lib._interned) <= replica_lib.INTERN_LIMIT + 2
    assert ('iface-id', 'vm-uuid') not in replica_lib._interned


# -- one decoder per table (replica.row_decoders) ----------------------------

def _decoders_for(specs, names=None):
    names = names or ['c%d' % i for i in range(len(specs))]
    ctypes = tuple(ColumnType.from_json(spec) for spec in specs)
    return ctypes, row_decoders(ctypes, tuple(names),
                                tuple(t.wire_default for t in ctypes))


def _by_columns(ctypes, names, row):
    return tuple(t.decoder()(row.get(name, t.wire_default))
                 for t, name in zip(ctypes, names))


def _copy(value):
    return json.loads(json.dumps(value))


def test_row_decoder_agrees_with_the_column_decoders():
    names = ['c%d' % i for i in range(len(COLUMN_TYPES))]
    ctypes, (decode_row, stage) = _decoders_for(COLUMN_TYPES)
    rows = [{}, {'extra': 1}]
    # Every shape in every column, the others omitted.
    rows += [{name: datum} for name in names for datum in SHAPES]
    # Every column present at once, each with a shape it accepts.
    rows.append(dict(zip(names, [
        'a', 5, 2.5, True, ['uuid', U1], ['set', []], 7, 'up', 'b',
        ['set', [['uuid', U1], ['uuid', U2]]], ['uuid', U2],
        ['set', [1, 2]], ['map', [['k', 'v'], ['l', 'w']]],
        ['map', [['k', 'v']]], ['map', [['k', ['uuid', U1]]]]])))
    for row in rows:
        expected = _outcome(lambda r: _by_columns(ctypes, names, r),
                            _copy(row))
        assert _outcome(decode_row, _copy(row)) == expected, row
        update = {'initial': _copy(row)}
        staged = stage(update)
        if expected[0] == 'ok':
            assert staged == expected[1], row
            assert list(map(type, staged)) == list(map(type, expected[1]))
        else:
            assert staged is update, row  # left for apply() to refuse
    assert rows[-1] and _outcome(decode_row, rows[-1])[0] == 'ok'


@pytest.mark.parametrize('update', [
    {'insert': {'c0': 'a'}}, {'modify': {'c0': 'a'}}, {'delete': None},
    {'initial': {'c0': 'a'}, 'insert': {}}, {'initial': 'a'},
    {'initial': ['c0', 'a']}, {}, [], 'initial', None, 5])
def test_stage_leaves_anything_but_an_initial_row_as_it_is(update):
    _, (_, stage) = _decoders_for(['string'])
    assert stage(update) is update


def test_row_decoder_columns_are_data_not_code():
    # Column names come from the server's schema (hostile): they are
    # looked up as values, never put into the decoder's source.
    names = ['v0', 'get', 'row', '"); import os  #', '\n    return 1\n',
             '{i}', '%s', 'c0']
    specs = ['string', 'integer', STRMAP, 'boolean', 'string', 'string',
             'string', 'integer']
    ctypes, (decode_row, stage) = _decoders_for(specs, names)
    row = dict(zip(names, ['a', 1, ['map', [['k', 'v']]], True, 'b', 'c',
                           'd', 2]))
    assert decode_row(row) == ('a', 1, {'k': 'v'}, True, 'b', 'c', 'd', 2)
    assert stage({'initial': row}) == decode_row(row)
    assert decode_row({}) == ('', 0, {}, False, '', '', '', 0)


def test_a_table_staged_whole_is_stored_at_once():
    replica = Replica(TYPES)
    stage = replica.stager('T')
    rows = replica.staged_rows()
    rows.update(r=stage({'initial': {'name': 'a'}}),
                s=stage({'initial': {'ids': ['map', [['k', 'v']]]}}))
    assert all(type(row) is tuple for row in rows.values())
    touched = replica.apply({'T': rows}, 2, consume=True)
    assert list(touched['T']) == ['r', 's']
    assert replica.rows('T')['r']['name'] == 'a'
    assert replica.rows('T')['s']['ids'] == {'k': 'v'}
    # One row the stager left (a modify): the rest still applies row by
    # row, in order.
    rows = replica.staged_rows()
    rows.update(t=stage({'initial': {'name': 't'}}),
                r=stage({'modify': {'name': 'b'}}))
    replica.apply({'T': rows}, 2, consume=True)
    assert replica.rows('T')['r']['name'] == 'b'
    assert replica.rows('T')['t']['name'] == 't'


def test_sync_rows_agree_with_interface_builder():
    """What a sync hands the sink: the RowValues interface_builder makes
    of each stored row, without building them when the replica's columns
    are RowValues' own (InterfaceRows, padded with None when the schema
    lacks the optional columns), a list of them otherwise (a column in
    the middle missing); a copy the next update does not change.
    """
    from df_ovsdb_agent.testing import sandbox
    with open(sandbox.SCHEMA) as f:
        full = schema_lib.monitored_types(json.load(f))
    partial = {table: dict(types) for table, types in full.items()}
    del partial[INTERFACE]['link_state']
    base = {table: dict(types) for table, types in full.items()}
    for column in ('mac_in_use', 'link_state', 'admin_state'):
        del base[INTERFACE][column]
    for types in (full, partial, base):
        replica = Replica(types)
        replica.apply({INTERFACE: {
            U1: {'initial': {'name': 'tap0', 'ofport': 3,
                             'link_state': 'up',
                             'external_ids': ['map', [['iface-id', 'p']]]}},
            U2: {'initial': {'name': 'tap1'}}}}, 2)
        bridges = {U1: 'br-int'}

        def bridges_of(uuids):
            return map(bridges.get, uuids)
        build = interface_builder(replica)
        expected = [build(uuid, values, bridges.get(uuid))
                    for uuid, values in replica.tables[INTERFACE].items()]
        got = sync_rows(replica, bridges_of)
        assert type(got) is (list if types is partial else InterfaceRows)
        assert list(got) == expected
        assert interface_rows(replica, bridges_of) == expected
        assert {type(row) for row in got} == {RowValues}
        rows = list(got)
        assert rows[0].bridge == 'br-int' and rows[1].bridge is None
        assert rows[0].link_state == ('up' if types is full else None)
        replica.apply({INTERFACE: {U1: {'delete': None},
                                   U2: {'modify': {'name': 'x'}}}}, 2)
        assert list(got) == expected


# -- compiled only when worth it (replica.COMPILE_ROWS) ----------------------

def _apply_outcome(types, dump):
    replica = Replica(types)
    try:
        replica.apply(_copy(dump), 2)
    except UpdateError as exc:
        return 'error', str(exc)
    return 'ok', {table: [(v, list(map(type, v))) for v in rows.values()]
                  for table, rows in replica.tables.items()}


def test_a_dump_decoded_column_by_column_equals_the_compiled_decoder(
        monkeypatch):
    """Below COMPILE_ROWS a dump's rows are decoded by each column's
    decoder: the same rows, value types and errors as the row decoder.
    """
    from df_ovsdb_agent.ovsdb import replica as replica_lib
    names = ['c%d' % i for i in range(len(COLUMN_TYPES))]
    types = {'T': {name: ColumnType.from_json(spec)
                   for name, spec in zip(names, COLUMN_TYPES)}}
    rows = [{}, {'extra': 1}]
    rows += [{name: datum} for name in names for datum in SHAPES]
    dumps = [{'T': {U1: {'initial': row}}} for row in rows]
    dumps.append({'T': {U1: {'initial': rows[3]}, U2: {'initial': {}}}})
    outcomes = {}
    for threshold in (1, 10 ** 9):
        monkeypatch.setattr(replica_lib, 'COMPILE_ROWS', threshold)
        outcomes[threshold] = [_apply_outcome(types, d) for d in dumps]
    assert outcomes[1] == outcomes[10 ** 9]
    assert {o[0] for o in outcomes[1]} == {'ok', 'error'}


def test_only_a_table_with_many_rows_is_compiled_and_code_is_shared():
    from df_ovsdb_agent.ovsdb import replica as replica_lib
    types = {'T': TYPES['T'], 'S': {'name': TYPES['T']['name']}}
    many = {'r%d' % i: {'initial': {'name': 'n%d' % i, 'ofport': i}}
            for i in range(replica_lib.COMPILE_ROWS)}
    first = Replica(types)
    first.apply({'T': many, 'S': {U1: {'initial': {'name': 'x'}}}}, 2)
    assert set(first._compiled) == {'T'}
    assert first.rows('T')['r5']['ofport'] == 5
    assert first.rows('S')[U1]['name'] == 'x'
    # Later single rows of a compiled table still go the usual way.
    first.apply({'T': {U2: {'initial': {'name': 'y'}}}}, 2)
    assert first.rows('T')[U2]['name'] == 'y'
    # A second replica of the same types reuses the compiled code.
    second = Replica(types)
    assert second.stager('T') is not first.stager('T')
    assert second.stager('T').__code__ is first.stager('T').__code__
    assert second.stager('nope') is None


def test_the_old_protocol_keeps_the_interned_cache_bounded():
    # ``update`` (monitor, version 1) from a peer sending endless distinct
    # map keys: the cache is emptied as for update2, not grown for ever.
    from df_ovsdb_agent.ovsdb import replica as replica_lib
    replica = Replica({'T': {'ids': ColumnType.from_json(STRMAP)}})
    limit = replica_lib.INTERN_LIMIT
    rows = {'r%d' % i: {'new': {'ids': ['map', [['k%d' % i, 'v']]]}}
            for i in range(2 * limit)}
    replica.apply({'T': rows}, 1)
    assert len(replica_lib._interned) <= limit + 2
    assert replica.tables['T']['r%d' % (2 * limit - 1)] == (
        {'k%d' % (2 * limit - 1): 'v'},)
