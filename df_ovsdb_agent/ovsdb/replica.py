"""The monitored columns as plain Python values, one update at a time.

Values: an atom is ``str``/``int``/``float``/``bool`` (a uuid is its
string); a column holding at most one value is that value (``None`` when
an optional one is empty); a set is a ``frozenset``; a map is a ``dict``.
Stored values are never changed in place (a modified map is a new dict),
so whoever received a row keeps a consistent copy.

A row is stored compactly, as a plain tuple of its column values in the
order of :attr:`Replica.columns` (a tuple of atoms costs a third of a dict
and the cyclic garbage collector stops tracking it); :meth:`Replica.rows`
gives the usual uuid -> {column: value} view over them.  Each column is
decoded by a function chosen once from its type (:meth:`ColumnType.decoder`):
a string or integer is one type check, a string map one ``dict()`` with
C-level checks.  Map keys (``iface-id``, ``attached-mac``...) and the
values of enumerated columns (``link_state``...) recur in every row: they
are interned, so 100,000 rows share one copy of each.

Updates follow ``ovsdb-server(7)``: ``update`` (old/new rows) and
``update2``/``update3`` (initial/insert/modify/delete), where a ``modify``
carries for single-value columns (``max`` 1, maps and optional values
included) the new value, for sets the elements to toggle and for maps the
pairs to add, remove (same value) or replace (different value).
Anything that does not fit the schema raises :class:`UpdateError`: the
caller then drops the replica and re-syncs.
"""

import collections.abc
import functools
import math
from operator import itemgetter
import re
import textwrap
from typing import Any, Callable, Iterator, Mapping, Optional

from df_ovsdb_agent.logsafe import one_line
from df_ovsdb_agent.logsafe import safe

UUID_ZERO = '00000000-0000-0000-0000-000000000000'


class UpdateError(Exception):
    """An update that cannot be applied to the replica."""


def is_int(value: Any) -> bool:
    """An OVSDB integer: an int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An OVSDB real: an integer or a float."""
    return is_int(value) or isinstance(value, float)


def _uuid(value: Any) -> str:
    if (isinstance(value, list) and len(value) == 2 and
            value[0] == 'uuid' and isinstance(value[1], str)):
        return value[1]
    raise UpdateError('expected a uuid, got %s' % _short(value))


def _checked(test: Callable[[Any], bool], what: str):
    def atom(value: Any) -> Any:
        if not test(value):
            raise UpdateError('expected %s, got %s' % (what, _short(value)))
        return value
    return atom


ATOMS = {
    'string': (_checked(lambda v: isinstance(v, str), 'a string'), ''),
    'integer': (_checked(is_int, 'an integer'), 0),
    'real': (_checked(is_number,
                      'a real'), 0.0),
    'boolean': (_checked(lambda v: isinstance(v, bool), 'a boolean'), False),
    'uuid': (_uuid, UUID_ZERO),
}


# Atom types that arrive as the Python value itself: decoding them is a
# type check only (the fast path; everything else takes the slow one).
_PLAIN = {'string': str, 'integer': int, 'real': float, 'boolean': bool}

# What an empty optional value or set looks like on the wire.
_EMPTY_SET = ['set', []]
_STR = frozenset({str})
_TWO = {2}
_UUID_TAG = {'uuid'}
_TUPLE = {tuple}
_first = itemgetter(0)
_second = itemgetter(1)
_list_len = list.__len__

# Interned strings: map keys and enumerated values recur in every row.
# setdefault is one C call and atomic; the cache is emptied when it has
# grown past INTERN_LIMIT (checked before each row, so at most one row's
# values beyond it), so a peer sending endless distinct keys costs
# nothing lasting (those strings are then simply not shared).
INTERN_LIMIT = 4096
_interned: dict = {}
_intern = _interned.setdefault


# Every text from the peer that goes into an UpdateError (and from there
# into log lines, /healthz and error lines) is escaped and bounded here,
# when the error is built: a row uuid is a JSON object key, any string.
def _short(value: Any) -> str:
    return one_line(repr(value), 60)


def _uuid_text(uuid: Any) -> str:
    return safe(uuid, 40)


def _base_type(spec: Any) -> str:
    name = spec.get('type') if isinstance(spec, dict) else spec
    if name not in ATOMS:
        raise ValueError('unknown atomic type %r' % (name,))
    return name


class ColumnType:
    """How one column's values look on the wire and in the replica."""

    def __init__(self, key: str, value: Optional[str] = None,
                 n_min: int = 1, n_max: float = 1,
                 enumerated: bool = False) -> None:
        self.key, self.value = key, value
        self.n_min, self.n_max = n_min, n_max
        # Values come from a small fixed set (the schema's "enum"): worth
        # interning.  A decoding hint only: not part of the type's identity.
        self.enumerated = enumerated
        self._key_atom = ATOMS[key][0]
        self._value_atom = ATOMS[value][0] if value else None
        self._plain = _PLAIN.get(key) if n_max == 1 and not value else None
        self._map_types = None
        if value and key in _PLAIN and value in _PLAIN:
            self._map_types = (frozenset({_PLAIN[key]}),
                               frozenset({_PLAIN[value]}))
        if value:
            self.default: Any = {}
        elif n_max > 1:
            self.default = frozenset()
        elif n_min == 0:
            self.default = None
        else:
            self.default = ATOMS[key][1]

    @classmethod
    def from_json(cls, spec: Any) -> 'ColumnType':
        """From a schema's ``"type"``; :raises ValueError: if malformed."""
        if not isinstance(spec, dict):
            return cls(_base_type(spec))
        n_max = spec.get('max', 1)
        n_max = math.inf if n_max == 'unlimited' else n_max
        value = spec.get('value')
        key = spec['key']
        return cls(_base_type(key),
                   _base_type(value) if value is not None else None,
                   spec.get('min', 1), n_max,
                   isinstance(key, dict) and 'enum' in key)

    def _key(self) -> tuple:
        return (self.key, self.value, self.n_min, self.n_max)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColumnType) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return 'ColumnType(%r, %r, %r, %r)' % self._key()

    @property
    def is_map(self) -> bool:
        return self.value is not None

    @functools.cached_property
    def wire_default(self) -> Any:
        """The default as the wire would carry it (what an omitted
        column means): :meth:`decoder` turns it into :attr:`default`.
        One object per type, never changed: a decoder may recognise it.
        """
        if self.value is not None:
            return ['map', []]
        if self.n_max > 1 or self.n_min == 0:
            return _EMPTY_SET
        if self.key == 'uuid':
            return ['uuid', UUID_ZERO]
        return self.default

    def decoder(self) -> Callable[[Any], Any]:
        """A function equivalent to :meth:`decode`, specialised for this
        type: the common cases (a string or integer, an optional one, a
        string map, a set of uuids) cost a type check or a few C-level
        calls; anything else goes to :meth:`decode`, which raises
        :class:`UpdateError` for what does not fit.
        """
        slow = self.decode
        plain = self._plain
        if plain is not None:
            if self.enumerated and plain is str:
                def scalar(datum: Any) -> Any:
                    if type(datum) is str:
                        return _intern(datum, datum)
                    return None if datum == _EMPTY_SET and \
                        self.n_min == 0 else slow(datum)
                return scalar
            if self.n_min == 1:
                return lambda datum: (datum if type(datum) is plain
                                      else slow(datum))
            empty = _EMPTY_SET

            def optional(datum: Any) -> Any:
                if type(datum) is plain:
                    return datum
                return None if datum == empty else slow(datum)
            return optional
        if self._map_types is not None and \
                self._map_types[0] == self._map_types[1] == _STR:
            return self._string_map_decoder()
        if self.key == 'uuid' and self.value is None and self.n_max > 1:
            return self._uuid_set_decoder()
        return slow

    def _string_map_decoder(self) -> Callable[[Any], Any]:
        slow, empty, absent = self.decode, self.default, self.wire_default

        def string_map(datum: Any) -> Any:
            if datum is absent:
                return empty  # an omitted column (Replica: wire_default)
            if type(datum) is list and len(datum) == 2 and \
                    datum[0] == 'map' and type(datum[1]) is list:
                pairs = datum[1]
                if not pairs:
                    return empty  # shared: stored values are never changed
                try:
                    # zip(strict) takes every pair apart into (keys,
                    # values) in C, as dict() would in decode(): exactly
                    # two items each, or ValueError.
                    keys, values = zip(*pairs, strict=True)
                    # The interned copy of this key set (rows repeat
                    # it): one lookup, not one per key.
                    shared = _interned.get(keys)
                    if shared is None:
                        ''.join(keys)  # every key a string
                        shared = tuple(map(_intern, keys, keys))
                        if len(set(shared)) != len(shared):
                            return slow(datum)  # a key twice
                        _interned[keys] = shared
                    ''.join(values)  # every value a string
                    return dict(zip(shared, values))
                except (TypeError, ValueError):
                    return slow(datum)
            return slow(datum)
        return string_map

    def _uuid_set_decoder(self) -> Callable[[Any], Any]:
        slow, empty = self.decode, self.default

        def uuid_set(datum: Any) -> Any:
            if type(datum) is list and len(datum) == 2:
                tag, rest = datum
                if tag == 'uuid' and type(rest) is str:
                    return frozenset((rest,))
                if tag == 'set' and type(rest) is list:
                    if not rest:
                        return empty
                    try:
                        # Each element is ["uuid", "<string>"].
                        if set(map(_list_len, rest)) == _TWO and \
                                set(map(_first, rest)) == _UUID_TAG:
                            result = frozenset(map(_second, rest))
                            ''.join(result)
                            return result
                    except TypeError:
                        pass
            return slow(datum)
        return uuid_set

    def decode(self, datum: Any) -> Any:
        """A wire datum -> the replica's value."""
        # Fast paths: ~all of a dump is single values and string maps.
        if type(datum) is self._plain:
            return datum
        if self._map_types is not None and type(datum) is list and \
                len(datum) == 2 and datum[0] == 'map':
            try:
                result = dict(datum[1])
            except (TypeError, ValueError):
                result = None
            if result is not None:
                keys, values = self._map_types
                if set(map(type, result)) <= keys and \
                        set(map(type, result.values())) <= values:
                    return result
        return self._decode(datum)

    def _decode(self, datum: Any) -> Any:
        if self.value is not None:
            if not (isinstance(datum, list) and len(datum) == 2 and
                    datum[0] == 'map' and isinstance(datum[1], list)):
                raise UpdateError('expected a map, got %s' % _short(datum))
            key, value = self._key_atom, self._value_atom
            assert value is not None
            return {key(k): value(v) for k, v in datum[1]}
        if (isinstance(datum, list) and len(datum) == 2 and
                datum[0] == 'set' and isinstance(datum[1], list)):
            elements = [self._key_atom(e) for e in datum[1]]
        else:
            elements = [self._key_atom(datum)]
        if self.n_max > 1:
            return frozenset(elements)
        if len(elements) == 1:
            return elements[0]
        if not elements and self.n_min == 0:
            return None
        raise UpdateError('expected one value, got %s' % _short(datum))

    def apply_diff(self, old: Any, diff: Any) -> Any:
        """The new value from an ``update2`` modify diff."""
        change = self.decode(diff)
        if self.n_max <= 1:
            # ovsdb-server(7): "for columns with single value, the
            # difference is the value of the new column" -- and a column
            # holds a single value whenever its max is 1, a map or an
            # optional value included (ovsdb-server diffs only composite
            # types, n_max > 1, element by element).
            return change
        if self.value is not None:
            new = dict(old)
            for key, value in change.items():
                if key in new and new[key] == value:
                    del new[key]
                else:
                    new[key] = value
            return new
        return old ^ change  # toggle each element


# Per-column snippets of a table's row decoder (see row_decoder); only
# column *indices* are put into them, as {i}: never a name from the
# server.  Each leaves the column's value in v{i}; d{i} is the column's
# decoder, which handles (or refuses) whatever the inline test did not.
_SNIPPET_PLAIN = """\
    v{i} = get(c{i}, w{i})
    if type(v{i}) is not t{i}:
        v{i} = d{i}(v{i})
"""
_SNIPPET_INTERNED = """\
    v{i} = get(c{i}, w{i})
    if type(v{i}) is str:
        v{i} = intern(v{i}, v{i})
    else:
        v{i} = d{i}(v{i})
"""
_SNIPPET_ONE_UUID = """\
    v{i} = get(c{i}, w{i})
    if type(v{i}) is list and len(v{i}) == 2 and v{i}[0] == 'uuid' and \\
            type(v{i}[1]) is str:
        v{i} = frozenset((v{i}[1],))
    else:
        v{i} = d{i}(v{i})
"""
_SNIPPET_OTHER = """\
    v{i} = d{i}(get(c{i}, w{i}))
"""


# The stager around a row decoder's body (see row_decoders).
_STAGE = """\
def stage(update):
    if len(interned) > INTERN_LIMIT:
        interned.clear()
    if type(update) is dict and len(update) == 1:
        row = update.get('initial')
        if type(row) is dict:
            try:
%s
            except (UpdateError, TypeError, ValueError, KeyError):
                pass  # apply() names the row in its error
    return update
"""


def row_decoders(ctypes: tuple, columns: tuple, wire_defaults: tuple
                 ) -> tuple[Callable[[dict], tuple], Callable[[Any], Any]]:
    """Two functions for one table, built once from its column types.

    ``decode_row``: ``{column: datum}`` -> the tuple of values, equal to
    applying each column's :meth:`ColumnType.decoder` to
    ``row.get(column, wire_default)`` and raising what they raise, in one
    Python frame per row: a plain or enumerated value is checked inline,
    anything else is one call of its column's decoder.

    ``stage``: :meth:`Replica.stager`'s function, the same in one frame:
    an ``initial`` row update that fits -> its tuple; anything else is
    returned as it is.
    """
    namespace: dict[str, Any] = {
        'intern': _intern, 'interned': _interned, 'frozenset': frozenset,
        'type': type, 'len': len, 'str': str, 'list': list, 'dict': dict,
        'INTERN_LIMIT': INTERN_LIMIT, 'UpdateError': UpdateError,
        'TypeError': TypeError, 'ValueError': ValueError,
        'KeyError': KeyError}
    snippets = []
    for i, ctype in enumerate(ctypes):
        namespace['c%d' % i] = columns[i]
        namespace['w%d' % i] = wire_defaults[i]
        namespace['d%d' % i] = ctype.decoder()
        if ctype._plain is str and ctype.enumerated:
            snippet = _SNIPPET_INTERNED
        elif ctype._plain is not None:
            namespace['t%d' % i] = ctype._plain
            snippet = _SNIPPET_PLAIN
        elif ctype.key == 'uuid' and ctype.value is None and \
                ctype.n_max > 1:
            snippet = _SNIPPET_ONE_UUID
        else:
            snippet = _SNIPPET_OTHER
        snippets.append(snippet.format(i=i))
    values = ''.join('v%d, ' % i for i in range(len(ctypes)))
    body = '    get = row.get\n%s    return (%s)\n' % (
        ''.join(snippets), values)
    source = 'def decode_row(row):\n%s\n%s' % (
        body, _STAGE % textwrap.indent(body, ' ' * 12))
    code = _CODE.get(source)
    if code is None:
        code = compile(source, '<row decoders>', 'exec')
        if len(_CODE) < _CODE_LIMIT:
            _CODE[source] = code
    exec(code, namespace)
    return namespace['decode_row'], namespace['stage']


# Compiled row decoders by source (which holds only column indices and
# snippet kinds): the _Server replica of every session and the data
# replica after a reconnect reuse them.  Bounded: a schema cannot grow it.
_CODE: dict[str, Any] = {}
_CODE_LIMIT = 64
# A table's row decoders are compiled (0.15-0.7 ms each) once one message
# brings it this many rows (a dump), or a big message is staged; fewer
# rows are decoded column by column (the same values): ~1.5 us more per
# Interface row, so this is about where compiling starts to pay, and the
# one-row tables (_Server.Database, Open_vSwitch) never pay for it.
COMPILE_ROWS = 512


# A uuid as ovsdb-server writes it: the only strings a run takes (no
# escapes, so the text is the value).
_UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
# A schema column name a run's pattern may hold as it is.
_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
# Rows one regex match of a run takes at most: what a run holds at once
# beside the rows (the matched pairs) stays ~1 MB.
RUN_ROWS = 1024


def one_uuid_run(column: str) -> Optional[Callable[[str, int, dict], int]]:
    """For a table whose only monitored column is a set of uuids (Port's
    ``interfaces``): a function staging, from ``pos`` in ``text``, every
    row written exactly as ovsdb-server writes a dump's row with one uuid
    in that set::

        "<uuid>":{"initial":{"<column>":["uuid","<uuid>"]}},"<uuid>":...

    into ``rows`` as :meth:`Replica.stager` would stage them, with no
    parse tree and no Python step per row; it returns the position after
    the last row it took (``pos`` itself when the first row is not of that
    form: the caller stages that one row by row, and may try again after
    it).  None when the column name is not a plain identifier.
    """
    if not _NAME.fullmatch(column):
        return None
    row = r'"%s":\{"initial":\{"' + column + r'":\["uuid","%s"\]\}\}'
    bare = row % (_UUID, _UUID)
    # Every row of this form with its comma has the same length: a batch
    # of n matches that spans exactly n * size characters tiles them, so
    # one pass both reads the rows and proves them contiguous.
    size = len('"":{"initial":{"%s":["uuid",""]}},' % column) + 2 * 36
    tiles = re.compile(row % ('(%s)' % _UUID, '(%s)' % _UUID) + ',').findall
    pairs = re.compile(row % ('(%s)' % _UUID, '(%s)' % _UUID)).findall
    # Where a batch does not tile (the table's last row, a row of another
    # form): how far the rows of this form go, then those rows alone.
    extent = re.compile(r'%s(?:,%s){0,%d}' % (bare, bare, RUN_ROWS - 1))

    def run(text: str, pos: int, rows: dict) -> int:
        end = pos
        while True:
            stop = pos + RUN_ROWS * size
            found = tiles(text, pos, stop)
            if not found or len(found) * size != stop - pos:
                match = extent.match(text, pos)
                if match is None:
                    return end  # at the comma before a row it does not take
                end = match.end()
                found = pairs(text, pos, end)
            else:
                end = stop - 1  # the comma after the last row
            # uuid -> (frozenset((interface,)),): the stager's tuple.
            rows.update(zip(map(_first, found),
                            zip(map(frozenset, zip(map(_second, found))))))
            if end != stop - 1:
                return end
            pos = stop
    return run


class Row(collections.abc.Mapping):
    """One stored row as a read-only {column: value} mapping (a view)."""

    __slots__ = ('_values', '_index')

    def __init__(self, values: tuple, index: Mapping[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, column: str) -> Any:
        return self._values[self._index[column]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(dict(self))


class Rows(collections.abc.Mapping):
    """One table as a read-only uuid -> :class:`Row` mapping (a view)."""

    __slots__ = ('_rows', '_index')

    def __init__(self, rows: Mapping[str, tuple],
                 index: Mapping[str, int]) -> None:
        self._rows = rows
        self._index = index

    def __getitem__(self, uuid: str) -> Row:
        return Row(self._rows[uuid], self._index)

    def get(self, uuid: str, default: Any = None) -> Any:
        values = self._rows.get(uuid)
        return default if values is None else Row(values, self._index)

    def column(self, column: str) -> dict[str, Any]:
        """uuid -> the value of one column, for every row."""
        return dict(zip(self._rows, map(itemgetter(self._index[column]),
                                        self._rows.values())))

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return repr(dict(self))


class StagedRows(dict):
    """One table's row updates as :meth:`Replica.stager` left them: an
    ``initial`` row already decoded (a tuple), anything else as parsed.
    """

    __slots__ = ('owner',)

    def __init__(self, owner: 'Replica') -> None:
        super().__init__()
        self.owner = owner


class Replica:
    """Rows of the monitored tables, keyed by table then uuid.

    :attr:`tables` holds each row as a tuple of values in the order of
    :attr:`columns` (``positions`` maps a column to its place);
    :meth:`rows` is the mapping view.
    """

    def __init__(self, types: Mapping[str, Mapping[str, ColumnType]]):
        self.types = types
        self.columns = {table: tuple(cols) for table, cols in types.items()}
        self.positions = {table: {c: i for i, c in enumerate(cols)}
                          for table, cols in types.items()}
        self._ctypes = {table: tuple(cols.values())
                        for table, cols in types.items()}
        self._defaults = {table: tuple(t.default for t in cols.values())
                          for table, cols in types.items()}
        self._wire_defaults = {table: tuple(t.wire_default
                                            for t in cols.values())
                               for table, cols in types.items()}
        self._decoders = {table: tuple(t.decoder() for t in cols.values())
                          for table, cols in types.items()}
        # table -> (decode_row, stage), built when first worth it.
        self._compiled: dict[str, tuple] = {}
        # table -> run_stager's function (None: none for that table).
        self._runs: dict[str, Any] = {}
        # The row being applied, for the error that names it.
        self._failed: Any = None
        self.tables: dict[str, dict[str, tuple]] = {t: {} for t in types}
        # The transaction the replica reflects (monitor_cond_since), or
        # None when unknown: then only a full dump can refresh it.
        self.txn_id: Optional[str] = None

    def clear(self) -> None:
        """Forget everything (before a full dump, or after an error)."""
        for rows in self.tables.values():
            rows.clear()
        self.txn_id = None

    def apply(self, table_updates: Any, version: int,
              consume: bool = False) -> dict:
        """Apply one update message; return {table: touched uuids}.

        :param version: 1 for ``update``/``monitor`` replies, 2 for
            ``update2``/``update3`` and their replies.
        :param consume: replace each row update in ``table_updates`` by
            None once applied, so that a big dump's parsed rows are freed
            while the replica's are built (peak: one copy, not two).
        :raises UpdateError: the update does not fit; the replica is then
            only partly updated and must be cleared.
        """
        if not isinstance(table_updates, dict):
            raise UpdateError('expected an object of table updates, got %s'
                              % _short(table_updates))
        touched = {}
        for table, rows in table_updates.items():
            if table not in self.tables:
                continue  # not ours: a server may send more than asked
            if not isinstance(rows, dict):
                raise UpdateError('expected rows of table %s, got %s'
                                  % (table, _short(rows)))
            try:
                if version == 2:
                    self._rows_update2(table, rows, consume)
                else:
                    for uuid, update in rows.items():
                        self._failed = uuid
                        # Bounded as in _rows_update2: a peer speaking the
                        # old protocol can send endless distinct keys too.
                        if len(_interned) > INTERN_LIMIT:
                            _interned.clear()
                        self._row_update1(table, uuid, update)
            except (TypeError, ValueError, KeyError) as exc:
                raise UpdateError('%s row %s: %s: %s' % (
                    table, _uuid_text(self._failed), type(exc).__name__,
                    safe(str(exc), 80))) from None
            touched[table] = rows.keys()
        return touched

    def stager(self, table: str) -> Optional[Callable[[Any], Any]]:
        """For :class:`~.jsonrpc.RowHook`: a function staging one parsed
        row update of ``table`` for :meth:`apply` (update2/update3 only):
        an ``initial`` row that fits becomes its stored tuple, so a big
        dump's rows are decoded while it is parsed and each row's parse
        tree is freed at once; anything else is left as it is, for
        :meth:`apply` to handle (and refuse) as usual.
        """
        return self._row_decoders(table)[1] if table in self.types \
            else None

    def run_stager(self, table: str
                   ) -> Optional[Callable[[str, int, dict], int]]:
        """For :class:`~.jsonrpc.RowHook`: a function staging many rows of
        ``table`` at once straight from the text (see :func:`one_uuid_run`),
        or None: the table is staged row by row only.
        """
        if table not in self.types:
            return None
        ctypes = self._ctypes[table]
        if len(ctypes) != 1 or ctypes[0].key != 'uuid' or \
                ctypes[0].value is not None or ctypes[0].n_max <= 1:
            return None
        run = self._runs.get(table)
        if run is None:
            run = self._runs[table] = one_uuid_run(self.columns[table][0])
        return run

    def _row_decoders(self, table: str) -> tuple:
        built = self._compiled.get(table)
        if built is None:
            built = self._compiled[table] = row_decoders(
                self._ctypes[table], self.columns[table],
                self._wire_defaults[table])
        return built

    def staged_rows(self) -> StagedRows:
        """For :class:`~.jsonrpc.RowHook`: where one table's staged rows
        go (marked as staged by this replica).
        """
        return StagedRows(self)

    def _rows_update2(self, table: str, rows: dict, consume: bool) -> None:
        # One loop for a whole table: a dump is ~all "initial" rows, each
        # built by C-level iteration over the columns (map/call), Python
        # running only in the column decoders, or staged (decoded) already
        # while the message was parsed; the slow path does everything else.
        stored = self.tables[table]
        built = self._compiled.get(table)
        if built is None and len(rows) >= COMPILE_ROWS:
            built = self._row_decoders(table)
        decode_row = built[0] if built is not None else None
        slow = self._row_update2
        staged = type(rows) is StagedRows and rows.owner is self
        if staged and set(map(type, rows.values())) == _TUPLE:
            # A dump staged whole (the usual case): one C-level pass,
            # not one Python step per row.  Nothing to consume: the
            # tuples are what the replica keeps.
            stored.update(rows)
            return
        for uuid, update in rows.items():
            self._failed = uuid
            if len(_interned) > INTERN_LIMIT:
                _interned.clear()
            if type(update) is tuple:
                # Only a stager makes tuples (JSON has none), and only
                # ours knows this replica's columns.
                if not staged:
                    raise UpdateError('%s row %s: staged for another '
                                      'replica' % (table, _uuid_text(uuid)))
                stored[uuid] = update
            else:
                new = update.get('initial') if type(update) is dict and \
                    len(update) == 1 else None
                if type(new) is dict and decode_row is not None:
                    stored[uuid] = decode_row(new)
                else:
                    slow(table, uuid, update)
            if consume:
                rows[uuid] = None

    def _row_update2(self, table: str, uuid: str, update: Any) -> None:
        if not isinstance(update, dict) or len(update) != 1:
            raise UpdateError('%s row %s: malformed row update %s'
                              % (table, _uuid_text(uuid), _short(update)))
        (op, row), = update.items()
        rows = self.tables[table]
        if op == 'modify':
            self._modify(table, rows, uuid, row)
        elif op in ('initial', 'insert'):
            rows[uuid] = self._new_row(table, row)
        elif op == 'delete':
            if rows.pop(uuid, None) is None:
                raise UpdateError('%s row %s: delete of an unknown row'
                                  % (table, _uuid_text(uuid)))
        else:
            raise UpdateError('%s row %s: unknown row update %s'
                              % (table, _uuid_text(uuid), _short(op)))

    def _row_update1(self, table: str, uuid: str, update: Any) -> None:
        if not isinstance(update, dict):
            raise UpdateError('%s row %s: malformed row update %s'
                              % (table, _uuid_text(uuid), _short(update)))
        rows = self.tables[table]
        new = update.get('new')
        if new is None:
            rows.pop(uuid, None)
            return
        old = rows.get(uuid)
        rows[uuid] = self._new_row(table, new, base=old)

    def _new_row(self, table: str, row: Any,
                 base: Optional[tuple] = None) -> tuple:
        if not isinstance(row, dict):
            raise UpdateError('%s: malformed row %s' % (table, _short(row)))
        values = list(base if base is not None else self._defaults[table])
        positions = self.positions[table]
        decoders = self._decoders[table]
        for column, datum in row.items():
            index = positions.get(column)
            if index is not None:
                values[index] = decoders[index](datum)
        return tuple(values)

    def _modify(self, table: str, rows: dict, uuid: str, diff: Any) -> None:
        old = rows.get(uuid)
        if old is None:
            raise UpdateError('%s row %s: modify of an unknown row'
                              % (table, _uuid_text(uuid)))
        if not isinstance(diff, dict):
            raise UpdateError('%s row %s: malformed diff %s'
                              % (table, _uuid_text(uuid), _short(diff)))
        new = list(old)
        positions = self.positions[table]
        ctypes = self._ctypes[table]
        for column, datum in diff.items():
            index = positions.get(column)
            if index is not None:
                new[index] = ctypes[index].apply_diff(old[index], datum)
        rows[uuid] = tuple(new)

    def rows(self, table: str) -> Rows:
        """uuid -> {column: value} of one table (a read-only view)."""
        return Rows(self.tables[table], self.positions[table])
