"""The agent's own check of the monitored columns' types (schema.check_type).

It replaced python-ovs's whole-schema parse at every connection; these
tests hold it to python-ovs's verdict, type by type.
"""

import copy
import json

import pytest

from df_ovsdb_agent.exceptions import SchemaError
from df_ovsdb_agent.ovsdb import schema as schema_lib
from df_ovsdb_agent.ovsdb.tables import TABLES
from df_ovsdb_agent.testing import sandbox


def _ovs_accepts(spec):
    from ovs.db import error
    from ovs.db import types
    try:
        types.Type.from_json(spec)
    except error.Error:
        return False
    return True


def _ours_accepts(spec):
    try:
        schema_lib.check_type(spec)
    except ValueError:
        return False
    return True


def _vswitch():
    with open(sandbox.SCHEMA) as f:
        return json.load(f)


def test_every_column_type_of_the_vswitch_schema_is_accepted():
    schema = _vswitch()
    specs = [column['type'] for table in schema['tables'].values()
             for column in table['columns'].values()]
    assert len(specs) > 100
    for spec in specs:
        assert _ovs_accepts(spec), spec
        assert _ours_accepts(spec), spec


BROKEN = [
    'no-such-type', 'void', 7, None, [], {'key': 'void'},
    {'value': 'string'}, {'key': 'string', 'extra': 1},
    {'key': {'type': 'string', 'minInteger': 1}},
    {'key': {'type': 'integer', 'minInteger': 5, 'maxInteger': 1}},
    {'key': {'type': 'integer', 'minInteger': 'a'}},
    {'key': {'type': 'real', 'minReal': 2.5, 'maxReal': 1}},
    {'key': {'type': 'string', 'minLength': 5, 'maxLength': 1}},
    {'key': {'type': 'string', 'minLength': -1}},
    {'key': {'type': 'string', 'maxLength': 2 ** 32}},
    {'key': {'type': 'uuid', 'refTable': 'T', 'refType': 'soft'}},
    {'key': {'type': 'uuid', 'refTable': 5}},
    {'key': {'type': 'string', 'enum': ['set', ['a', 1]]}},
    {'key': {'type': 'integer', 'enum': ['set', [1, 'a']]}},
    {'key': {'type': 'string', 'enum': 'a', 'maxLength': 3}},
    {'key': {'type': 'boolean', 'minInteger': 0}},
    {'key': 'string', 'min': 2}, {'key': 'string', 'min': -1},
    {'key': 'string', 'max': 0}, {'key': 'string', 'min': 1, 'max': 0},
    {'key': 'string', 'max': 'lots'}, {'key': 'string', 'min': 'a'},
    {'key': 'string', 'min': 0.5},
    {'key': 'string', 'value': 'void'},
    {'key': 'string', 'value': {'type': 'nope'}},
]
VALID = [
    'string', 'uuid', {'key': 'integer', 'min': 0, 'max': 'unlimited'},
    {'key': {'type': 'string', 'enum': ['set', ['a', 'b']]}},
    {'key': {'type': 'string', 'enum': 'a'}},
    {'key': {'type': 'integer', 'enum': ['set', [1, 2]]}},
    {'key': {'type': 'integer', 'minInteger': 1, 'maxInteger': 1}},
    {'key': {'type': 'real', 'minReal': 1, 'maxReal': 2.5}},
    {'key': {'type': 'string', 'minLength': 1}},
    {'key': {'type': 'uuid', 'refTable': 'T', 'refType': 'weak'}},
    {'key': 'string', 'value': 'string', 'min': 0, 'max': 'unlimited'},
    {'key': 'string', 'value': ''}, {'key': 'boolean', 'max': 3},
]

# python-ovs takes these (a float or boolean where a count belongs); the
# decoders compare counts with integers, so the agent refuses them.
STRICTER = [{'key': 'string', 'max': 2.0}, {'key': 'string', 'min': True},
            {'key': 'string', 'max': True}]


@pytest.mark.parametrize('spec', STRICTER, ids=range(len(STRICTER)))
def test_a_count_that_is_no_integer_is_refused(spec):
    assert not _ours_accepts(spec)


@pytest.mark.parametrize('spec', BROKEN, ids=range(len(BROKEN)))
def test_a_type_python_ovs_refuses_is_refused(spec):
    assert not _ovs_accepts(spec)
    assert not _ours_accepts(spec)


@pytest.mark.parametrize('spec', VALID, ids=range(len(VALID)))
def test_a_type_python_ovs_accepts_is_accepted(spec):
    assert _ovs_accepts(spec)
    assert _ours_accepts(spec)


@pytest.mark.parametrize('spec', BROKEN, ids=range(len(BROKEN)))
def test_a_broken_monitored_column_refuses_the_schema(spec):
    for table in TABLES:
        for column in table.columns + table.optional:
            schema = _vswitch()
            schema['tables'][table.name]['columns'][column]['type'] = \
                copy.deepcopy(spec)
            with pytest.raises(SchemaError,
                               match=r'^cannot parse the Open_vSwitch '
                                     r'schema: .'):
                schema_lib.monitored_types(schema)


def test_an_unmonitored_column_is_not_read():
    """Only what is monitored is checked (and decoded): the agent never
    reads the other columns, so their types cannot hurt it.
    """
    schema = _vswitch()
    schema['tables']['Interface']['columns']['statistics']['type'] = 'x'
    schema['tables']['Flow_Table']['columns']['name']['type'] = {}
    assert schema_lib.monitored_types(schema) == \
        schema_lib.monitored_types(_vswitch())


def test_the_check_does_not_import_python_ovs():
    import subprocess
    import sys
    code = ('import json, sys; from df_ovsdb_agent.ovsdb import schema; '
            'schema.monitored_types(json.load(open(%r))); '
            'print(sorted(m for m in sys.modules '
            "if m.split('.')[0] in ('ovs', 'eventlet')))" % sandbox.SCHEMA)
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'
