"""What a consumer accepts from a store: the record schema, checked.

Anyone who can write under the prefix can put any bytes in a key or a
value, so everything read is hostile until checked.  These pure functions
turn raw store data into a clean record or raise :class:`BadRecord` with a
short reason, so that the reader skips that one record and goes on.  The
records and limits: doc/source/publishers.rst, "What the readers accept".
"""

import itertools
import json
import operator
import re
from typing import Any, Optional, Sequence, Union

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import COMMON_ATTRIBUTES
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import KIND_ATTRIBUTES
from df_ovsdb_agent.events import Sync

#: Bytes of one stored JSON value (etcd's own default request limit is
#: 1.5 MiB; a record is a few hundred bytes).
MAX_VALUE_BYTES = 256 * 1024
#: Nesting of a stored JSON value: records are flat objects.
MAX_DEPTH = 4
#: Characters of one string field of a record.
MAX_STRING = 64 * 1024
#: Characters of a host or interface name (in a key or a record).
MAX_NAME = 1024
#: Keys of one record (the schema's own plus fields of newer publishers).
MAX_FIELDS = 64

_EXTRA_FIELD = re.compile(r'^[a-z_][a-z0-9_]{0,63}$')
_STRING_FIELDS = frozenset(
    ('uuid', 'bridge') + tuple(a for attrs in KIND_ATTRIBUTES.values()
                               for a in attrs))
_OFPORT_MAX = 2 ** 31 - 1

# The fast path of check_record (see _fast_record): a record made only of
# the schema's own fields, scalar values and strings already known to be
# clean is checked in a few C-level operations; anything else takes the
# field-by-field path, which alone decides what is refused and why.
_KNOWN_FIELDS = frozenset(
    f for f in COMMON_ATTRIBUTES + ('host', 'action') +
    tuple(_STRING_FIELDS) if _EXTRA_FIELD.match(f))
_STRING_FIELD_LIST = tuple(sorted(_STRING_FIELDS))
_SCALARS = frozenset((str, int, float, bool, type(None)))
_STRING_OR_NONE = frozenset((str, type(None)))
_KINDS = {kind.value: kind for kind in Kind}
_ACTIONS = {action.value: action for action in Action}
# json.loads without its wrapper (two regular expressions per call).
_raw_decode = json.JSONDecoder().raw_decode
# loads_many's separator: a newline, which strict JSON refuses inside a
# string, so that a string cannot run from one value into the next.
_SEPARATOR = ',\n'
_repeat = itertools.repeat
_JUST_STR = {str}
_JUST_DICT = {dict}


class BadRecord(ValueError):
    """A key or value that is not a record; ``str()`` says why."""


def decode_key(raw: Union[bytes, str]) -> str:
    """A key read from a store as text; never raises.

    Invalid UTF-8 bytes become lone surrogates (``surrogateescape``), which
    :func:`check_name` refuses: such a key is logged (escaped) and skipped,
    never decoded into something it is not.
    """
    if isinstance(raw, str):
        return raw
    return raw.decode('utf-8', 'surrogateescape')


def printable(value: object) -> str:
    """``value`` for a log line: undecodable bytes (lone surrogates) shown
    as ``\\udcff`` escapes; then escape and bound it with logsafe.
    """
    text = value if isinstance(value, str) else str(value)
    return text.encode('utf-8', 'backslashreplace').decode('utf-8')


def _is_text(value: str) -> bool:
    """Whether ``value`` encodes to UTF-8 (no lone surrogates)."""
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def check_name(value: object, what: str = 'name') -> str:
    """A host or interface name: non-empty text of at most MAX_NAME."""
    # Fast path, per record: ASCII text cannot hold a lone surrogate.
    if type(value) is str and 0 < len(value) <= MAX_NAME and (
            value.isascii()):
        return value
    if not isinstance(value, str) or not value:
        raise BadRecord('%s is not a non-empty string' % what)
    if len(value) > MAX_NAME:
        raise BadRecord('%s is longer than %d characters' % (what, MAX_NAME))
    if not _is_text(value):
        raise BadRecord('%s is not valid UTF-8' % what)
    return value


def plain_names(names: list) -> bool:
    """Whether every one of ``names`` passes :func:`check_name` (its fast
    path, ASCII text: checked on all of them at once).
    """
    return bool(names) and set(map(type, names)) == _JUST_STR and (
        0 < min(map(len, names)) and max(map(len, names)) <= MAX_NAME and
        ''.join(names).isascii())


def _nesting(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets
    inside strings do not count), in linear time and without recursing.
    """
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == '\\':
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in '[{':
            depth += 1
            deepest = max(deepest, depth)
        elif char in ']}':
            depth -= 1
    return deepest


def loads(value: Union[bytes, str, None]) -> Any:
    """A stored JSON value, bounded in size and nesting.

    :raises BadRecord: too large, too deep, not UTF-8 or not JSON.
    """
    return _loads(value)[0]


def _loads(value: Union[bytes, str, None]) -> tuple[Any, bool]:
    """:func:`loads`, and whether every string in the value is known to
    be valid text of at most MAX_STRING characters (so that
    :func:`check_record` need not look at each).
    """
    if value is None:
        raise BadRecord('no value')
    if isinstance(value, (bytes, bytearray)):
        if len(value) > MAX_VALUE_BYTES:
            raise BadRecord('value of %d bytes, over %d'
                            % (len(value), MAX_VALUE_BYTES))
        try:
            value = value.decode('utf-8')
        except UnicodeDecodeError:
            raise BadRecord('value is not valid UTF-8') from None
    elif not isinstance(value, str):
        raise BadRecord('value is not text')
    if len(value) > MAX_VALUE_BYTES:
        raise BadRecord('value of %d characters, over %d'
                        % (len(value), MAX_VALUE_BYTES))
    # json.loads recurses once per level: 100,000 nested arrays raise
    # RecursionError.  Refuse deep values before parsing them.
    # (Only a value with that many brackets at all is scanned.)
    if (value.count('[') + value.count('{') > MAX_DEPTH and
            _nesting(value) > MAX_DEPTH):
        raise BadRecord('value nested deeper than %d' % MAX_DEPTH)
    try:
        data, end = _raw_decode(value)
    except (ValueError, RecursionError):
        end = -1
    if end != len(value):
        # Not one JSON value from the first character to the last:
        # json.loads decides (leading or trailing whitespace is fine).
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            raise BadRecord('value is not JSON') from None
    # No string of the value is longer than the value; a string holds a
    # lone surrogate only if the text does or a \\u escape makes one.
    clean = (len(value) <= MAX_STRING and '\\u' not in value and
             (value.isascii() or _is_text(value)))
    return data, clean


def _check_string(field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise BadRecord('%s is not a string' % field)
    if len(value) > MAX_STRING:
        raise BadRecord('%s is longer than %d characters'
                        % (field, MAX_STRING))
    if not _is_text(value):
        raise BadRecord('%s is not valid UTF-8' % field)


def _check_fields(data: dict) -> None:
    if len(data) > MAX_FIELDS:
        raise BadRecord('%d fields, over %d' % (len(data), MAX_FIELDS))
    for field, value in data.items():
        if not isinstance(field, str) or not _EXTRA_FIELD.match(field):
            raise BadRecord('bad field name')
        if field in _STRING_FIELDS:
            _check_string(field, value)
        elif isinstance(value, str):
            _check_string(field, value)
        elif value is not None and not isinstance(value, (bool, int,
                                                          float)):
            # Flat records only: a list or an object is no field of ours.
            raise BadRecord('%s is not a scalar' % field)


def _fast_record(data: object, host: str, name: str,
                 checked: bool = False) -> Optional[dict]:
    """:func:`check_record` of ``data`` whose strings are all known to be
    clean (see :func:`_loads`), if it is a plain record of the schema's
    own fields; None if it needs the field-by-field check (which may
    still accept it).  Accepts only what that check accepts, and returns
    the same record: ``data`` itself, completed (callers pass a value
    they just parsed and do not keep).  ``checked``: ``host`` and
    ``name`` passed :func:`check_name` already.
    """
    if (type(data) is not dict or not data.keys() <= _KNOWN_FIELDS or
            not _SCALARS.issuperset(map(type, data.values()))):
        return None
    # Every value is a scalar now: hashable.
    kind = _KINDS.get(data.get('kind'))  # type: ignore[arg-type]
    uuid = data.get('uuid')
    ofport = data.get('ofport')
    if (kind is None or data.get('name', name) != name or
            data.get('host', host) != host or
            type(uuid) is not str or not uuid or
            (ofport is not None and (type(ofport) is not int or
                                     not -1 <= ofport <= _OFPORT_MAX)) or
            not _STRING_OR_NONE.issuperset(
                map(type, map(data.get, _STRING_FIELD_LIST)))):
        return None
    if not checked:
        check_name(host, 'host')
        check_name(name)
    # Fresh from json and nobody else's: completed in place, not copied.
    record = data
    if 'action' in record:
        del record['action']
    # "kind" is there already, as kind.value.
    record['host'] = host
    record['name'] = name
    return record


def parse_record(value: Union[bytes, str, None], host: str,
                 name: str, checked: bool = False) -> dict:
    """:func:`check_record` of a stored JSON value, after
    :func:`check_name` of ``name``.

    :param checked: ``host`` and ``name`` passed :func:`check_name`
        already (the caller parsed them from a key).
    """
    if not checked:
        check_name(name)
    data, clean = _loads(value)
    if clean:
        record = _fast_record(data, host, name, checked)
        if record is not None:
            return record
    return check_record(data, host, name)


def _plain(value: bytes) -> bool:
    """Whether ``value`` may join :func:`loads_many`'s one parse: one flat
    JSON object of ASCII text without ``\\u`` escapes, no larger than
    MAX_STRING (so :func:`_loads` would call it clean), its only ``{``
    the first character and its last one ``}``, no ``[`` at all.
    """
    return (type(value) is bytes and len(value) <= MAX_STRING and
            value[:1] == b'{' and value[-1:] == b'}' and
            value.count(b'{') == 1 and b'[' not in value and
            value.isascii() and b'\\u' not in value)


def loads_many(values: list) -> list:
    """:func:`loads` of each of ``values`` (bytes), with one JSON parse for
    all of those that are plain (see :func:`_plain`); None in the place of
    the others, or of all if that parse fails: parse those one by one.

    Why the one parse splits exactly as the values: joined by ``,\\n``,
    a parse that succeeds has every newline outside a string (strict JSON
    refuses a raw one inside), so each value's leading ``{`` opens a
    top-level object; with no other ``{`` or ``[`` in it, the first ``}``
    outside a string closes it, and anything between that and the value's
    last ``}`` would be a syntax error.  The count is checked anyway.
    """
    plain = [i for i, value in enumerate(values) if _plain(value)]
    if not plain:
        return [None] * len(values)
    return _split(b',\n'.join([values[i] for i in plain]), plain,
                  len(values))


def _plain_text(value: object) -> bool:
    """:func:`_plain` of a value a Redis client decoded: the same
    conditions on text (a lone surrogate, from undecodable bytes, is not
    ASCII).
    """
    return (type(value) is str and len(value) <= MAX_STRING and
            value[:1] == '{' and value[-1:] == '}' and
            value.count('{') == 1 and '[' not in value and
            value.isascii() and '\\u' not in value)


def loads_many_text(values: list) -> list:
    """:func:`loads_many` of text ``values`` (a Redis hash's, as the
    reader's client decodes them): the same one parse for the plain ones
    (see :func:`_plain_text`), the same None for the others.

    All of a host's values are usually plain: that is checked on the
    joined text and the values' lengths and ends, a few C-level scans
    instead of :func:`_plain_text` per value (the joined text is ASCII,
    holds no ``\\u`` and no ``[`` exactly when every value does; with as
    many ``{`` as values, each one starting with ``{``, each holds only
    that one).  Otherwise each value is looked at.
    """
    count = len(values)
    if not count:
        return []
    plain: Sequence[int] = range(count)
    joined = ''
    if set(map(type, values)) == _JUST_STR:
        joined = _SEPARATOR.join(values)
    # (A backslash, one character, is looked for faster than "\\u".)
    if not (joined.isascii() and
            ('\\' not in joined or '\\u' not in joined) and
            '[' not in joined and joined.count('{') == count and
            max(map(len, values)) <= MAX_STRING and
            all(map(str.startswith, values, _repeat('{'))) and
            all(map(str.endswith, values, _repeat('}')))):
        plain = [i for i, value in enumerate(values) if _plain_text(value)]
        if not plain:
            return [None] * count
        joined = _SEPARATOR.join([values[i] for i in plain])
    return _split(joined, plain, count)


def _split(joined: Union[bytes, str], plain: Sequence[int],
           count: int) -> list:
    """The values at indexes ``plain`` of ``count``, parsed from their
    ``joined`` text (see :func:`loads_many`); None where there is none.
    """
    out: list = [None] * count
    text = (b'[' + joined + b']' if isinstance(joined, bytes)
            else '[' + joined + ']')
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return out
    if type(data) is not list or len(data) != len(plain):
        return out
    if len(plain) == count and set(map(type, data)) == _JUST_DICT:
        return data  # all of them (the usual case)
    for i, item in zip(plain, data):
        if type(item) is dict:
            out[i] = item
    return out


_KIND_VALUES = frozenset(_KINDS)
_OFPORT_TYPES = frozenset((int, type(None)))
_NEEDED = frozenset(('kind', 'uuid'))
_chain = itertools.chain.from_iterable


def check_plain_records(items: list, host: str,
                        names: list) -> Optional[list]:
    """:func:`_fast_record` of each of ``items`` (dicts that
    :func:`loads_many_text` parsed, so their strings are clean) and its
    ``names`` (passed :func:`check_name`, as ``host`` did): the records,
    completed in place, if every one of them takes that fast path; None
    if any does not (nothing is changed then: check each on its own).

    The same checks, a field at a time over all the items (C-level
    passes) instead of an item at a time.
    """
    count = len(items)
    if not count or set(map(type, items)) != _JUST_DICT:
        return None
    fields = set().union(*items)
    if not _NEEDED <= fields <= _KNOWN_FIELDS:
        return None
    get = dict.get
    try:
        # Every field of the schema is checked below: each value is a
        # scalar of the type its field allows.
        strings = sorted(fields & _STRING_FIELDS)
        if len(strings) > 1:
            try:
                # One pass for all the string fields if every item has
                # them all (a publisher writes every field).
                types = set(map(type, _chain(map(
                    operator.itemgetter(*strings), items))))
            except KeyError:
                types = set(map(type, _chain(
                    map(get, items, _repeat(field)) for field in strings)))
        else:
            types = set(map(type, map(get, items, _repeat(strings[0]))))
        # (Types of the list, not of a set: 1, 1.0 and True are equal.)
        ofports = list(map(get, items, _repeat('ofport')))
        if not (types <= _STRING_OR_NONE and
                set(map(get, items, _repeat('kind'))) <= _KIND_VALUES and
                all(map(get, items, _repeat('uuid'))) and
                set(map(type, ofports)) <= _OFPORT_TYPES):
            return None
    except TypeError:  # unhashable: not a scalar
        return None
    ports: set[Any] = set(ofports)  # ints and None, checked just above
    ports.discard(None)
    if ports and not (-1 <= min(ports) and max(ports) <= _OFPORT_MAX):
        return None
    if 'name' in fields and list(map(
            get, items, _repeat('name'), names)) != names:
        return None
    if 'host' in fields and list(map(
            get, items, _repeat('host'), _repeat(host))).count(host) != count:
        return None
    if 'action' in fields:
        if not set(map(type, map(get, items, _repeat('action')))) <= (
                _SCALARS):
            return None
        for data in items:
            data.pop('action', None)
    for data, name in zip(items, names):
        data['host'] = host
        data['name'] = name
    return items


def check_plain_record(data: dict, host: str, name: str,
                       checked: bool = False) -> dict:
    """:func:`parse_record`'s check of a value :func:`loads_many` parsed
    (its strings are known to be clean): the same record or BadRecord.
    """
    if not checked:
        check_name(name)
    record = _fast_record(data, host, name, checked)
    if record is not None:
        return record
    return check_record(data, host, name)


def check_record(data: object, host: str, name: str) -> dict:
    """The interface state record stored for ``host``'s ``name``.

    Returns a clean copy with ``host`` and ``name`` set (``action``, which
    old records carry, dropped).

    :raises BadRecord: if ``data`` is not such a record.
    """
    if not isinstance(data, dict):
        raise BadRecord('not a JSON object')
    check_name(host, 'host')
    check_name(name)
    try:
        kind = Kind(data.get('kind'))
    except (ValueError, TypeError):
        raise BadRecord('no valid kind') from None
    for field, want in (('name', name), ('host', host)):
        if field in data and data[field] != want:
            raise BadRecord('%s in the record differs from the key\'s'
                            % field)
    if not isinstance(data.get('uuid'), str) or not data['uuid']:
        raise BadRecord('no uuid')
    ofport = data.get('ofport')
    if ofport is not None and (type(ofport) is not int or
                               not -1 <= ofport <= _OFPORT_MAX):
        raise BadRecord('ofport is not an OpenFlow port number')
    record = {k: v for k, v in data.items() if k != 'action'}
    _check_fields(record)
    for field in COMMON_ATTRIBUTES + KIND_ATTRIBUTES[kind]:
        if field not in ('kind', 'name', 'ofport'):
            _check_string(field, record.get(field))
    record.update(kind=kind.value, host=host, name=name)
    return record


def parse_entry(value: Union[bytes, str, None],
                host: str) -> Union[Sync, tuple[Action, dict]]:
    """:func:`check_entry` of a stored JSON value."""
    data, clean = _loads(value)
    if clean and type(data) is dict and 'sync' not in data:
        action = data.get('action')
        name = data.get('name')
        if type(action) is str and action in _ACTIONS and (
                type(name) is str):
            check_name(name)
            check_name(host, 'host')
            record = _fast_record(data, host, name, True)
            if record is not None:
                return _ACTIONS[action], record
    return check_entry(data, host)


def check_entry(data: object, host: str) -> Union[Sync, tuple[Action, dict]]:
    """A Redis stream entry of ``host``: a sync marker, or (action, record).

    :raises BadRecord: if ``data`` is neither.
    """
    if not isinstance(data, dict):
        raise BadRecord('not a JSON object')
    if 'sync' in data:
        if set(data) - {'sync', 'host'}:
            raise BadRecord('a sync marker with other fields')
        if data.get('host', host) != host:
            raise BadRecord('host in the marker differs from the key\'s')
        try:
            return Sync(data['sync'])
        except (ValueError, TypeError):
            raise BadRecord('unknown sync marker') from None
    try:
        action = Action(data.get('action'))
    except (ValueError, TypeError):
        raise BadRecord('no valid action') from None
    name = data.get('name')
    check_name(name)
    assert isinstance(name, str)
    return action, check_record(data, host, name)


def check_alive(data: object, host: Optional[str] = None) -> dict:
    """A host's liveness record (see ``stores.alive_record``).

    :raises BadRecord: if ``data`` is not one.
    """
    if not isinstance(data, dict):
        raise BadRecord('not a JSON object')
    _check_fields(data)
    owner = data.get('owner')
    if not isinstance(owner, str) or not owner or len(owner) > MAX_NAME:
        raise BadRecord('no valid owner')
    if host is not None and data.get('host', host) != host:
        raise BadRecord('host in the record differs from the key\'s')
    for field, types in (('pid', (int,)), ('started', (int, float)),
                         ('interfaces', (int,)), ('ttl', (int, float))):
        value = data.get(field)
        if value is not None and (isinstance(value, bool) or
                                  not isinstance(value, types)):
            raise BadRecord('%s is not a number' % field)
    if not isinstance(data.get('synced', False), bool):
        raise BadRecord('synced is not a boolean')
    return dict(data)


def parse_alive(value: Union[bytes, str, None],
                host: Optional[str] = None) -> dict:
    """:func:`check_alive` of a stored JSON value."""
    return check_alive(loads(value), host)


def grace(alive: Optional[dict], default: float,
          maximum: float = 3600.0) -> float:
    """Seconds after which a host whose store was reset counts as dead if
    it has not written again: its liveness record's ``ttl`` (it would have
    expired by then), else ``default``; at least 1, at most ``maximum``.
    """
    ttl = (alive or {}).get('ttl')
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (
            ttl > 0):
        ttl = default
    return float(min(max(ttl, 1.0), maximum))
