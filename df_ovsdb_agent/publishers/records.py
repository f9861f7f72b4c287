"""The published record: its form, its limits and why one is set aside.

Pure functions, no I/O.  A record is what a publisher stores under one
interface name: the interface's fields plus ``host``, no ``action``.  One
over the limits (:func:`check_record`) is *set aside* whole, never
truncated; whatever a store holds is parsed as hostile input
(:func:`parse_stored`, :func:`stored_form`).
"""

import dataclasses
import json
from typing import Mapping, Optional, Union

from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.state import Change

#: Largest string value, in UTF-8 bytes, a published record may carry.
#: Real values are far smaller (uuids, MACs, names of at most 15 bytes on
#: Linux); a larger one is an error or an attack, and a record carrying it
#: is set aside whole: it is never truncated, because a cut iface-id or
#: name would be another port's identity.
MAX_VALUE_BYTES = 4096

#: Largest published record, in bytes of its JSON: far below what etcd
#: (1.5 MiB per request by default) and Redis accept, so that a batch of
#: good records is never refused for its size.
MAX_RECORD_BYTES = 16384

#: Stands for a stored value that is not a record of ours: it is
#: overwritten or deleted, and no event is owed for it.
UNREADABLE: dict = {'__unreadable__': True}


@dataclasses.dataclass(frozen=True)
class Aside:
    """Why a record is set aside: a short ``code`` (a metric label) and
    one line of ``text`` (the log line and /healthz).
    """

    code: str
    text: str


def printable(value: str, limit: int = 64) -> str:
    """``value`` escaped and bounded for a log line, a metric label or
    /healthz: control characters and lone surrogates (which no UTF-8
    output can carry) become backslash escapes.
    """
    return safe(value.encode('utf-8', 'backslashreplace').decode('utf-8'),
                limit)


def record_of(interface: Interface, host: str) -> Record:
    """The stored state record of an interface: no ``action``."""
    record = interface.to_dict()  # a new dict: no copy of it needed
    record['host'] = host
    return record


def event_of(change: Change) -> dict:
    """The JSON event of one change (record plus ``action``)."""
    return dict(change.value, action=change.action.value)


def event_text(change: Change, record_text: Optional[str] = None) -> str:
    """``stores.dumps(event_of(change))``, made from ``record_text`` (the
    record's own ``stores.dumps``, when the caller has it) without
    serialising the record a second time: ``action`` sorts before every
    key of an interface record, so it only goes in front.
    """
    record = change.value
    if record_text is not None and record and min(record) > 'action':
        return _ACTION_HEADS[change.action] + record_text[1:]
    return stores.dumps(event_of(change))


#: '{"action":"<action>",' per action: what event_text puts in front.
_ACTION_HEADS = {action: '{"action":%s,' % json.dumps(action.value)
                 for action in Action}


def check_record(record: Mapping) -> Optional[Aside]:
    """Why ``record`` may not be published, or None if it may.

    Every string value must be valid Unicode (a lone surrogate from a
    hostile peer cannot be stored as UTF-8) of at most
    :data:`MAX_VALUE_BYTES`, the name non-empty, every other value a
    number, a boolean or None, and the JSON record at most
    :data:`MAX_RECORD_BYTES`.
    """
    # The common case in one pass, no sorting (runs per record): every
    # string ASCII (its size its length) and under the limit, every other
    # value None, an int, a bool or a float, the name set, and the same
    # bound as below under the record limit: None, as the full check
    # would say.  Anything else: the full check, which names the first
    # problem in key order.
    size = 0
    for value in record.values():
        kind = value.__class__
        if kind is str:
            if len(value) > MAX_VALUE_BYTES or not value.isascii():
                return _check_record(record)
            size += len(value)
        elif value is not None and kind not in _NUMBERS:
            return _check_record(record)
    if (not record.get('name') or 16 + 6 * size + 32 * len(record) +
            sum(map(len, record)) > MAX_RECORD_BYTES):
        return _check_record(record)
    return None


#: The exact types check_record takes for a value besides str and None.
_NUMBERS = (int, float, bool)


def _check_record(record: Mapping) -> Optional[Aside]:
    """:func:`check_record`, every case: the first problem in key order."""
    # JSON escapes make a value at most 6 times its UTF-8 size: encode the
    # record only when that bound is over the limit.
    bound = 16
    for key, value in sorted(record.items()):
        bound += len(key) + 32
        if isinstance(value, str):
            if value.isascii():
                # Its UTF-8 size, without encoding it (most values).
                size = len(value)
            else:
                try:
                    size = len(value.encode('utf-8'))
                except UnicodeEncodeError:
                    return Aside('not_unicode',
                                 '%s is not valid Unicode' % key)
            bound += 6 * size
            if size > MAX_VALUE_BYTES:
                return Aside('too_large', '%s is %d bytes, over the %d-byte '
                             'limit per value' % (key, size,
                                                  MAX_VALUE_BYTES))
        elif value is not None and type(value) not in _NUMBERS:
            return Aside('bad_type',
                         '%s is a %s' % (key, type(value).__name__))
    if not record.get('name'):
        return Aside('bad_name', 'the name is empty')
    size = bound if bound <= MAX_RECORD_BYTES else len(
        stores.dumps(dict(record)))
    if size > MAX_RECORD_BYTES:
        return Aside('too_large', 'the record is %d bytes, over the %d-byte '
                     'limit per record' % (size, MAX_RECORD_BYTES))
    return None


def parse_stored(value: Union[str, bytes]) -> Optional[dict]:
    """A state record from a store's raw value, or None if it is not one.

    Whatever is in the store is untrusted: anything over
    :data:`MAX_RECORD_BYTES`, not UTF-8, not a JSON object (nested
    100,000 deep, say), or without a well-typed interface in it is None,
    never an exception.  An older version's event form (with ``action``)
    passes: see :func:`stored_form`.
    """
    if len(value) > MAX_RECORD_BYTES:
        return None
    try:
        text = (value.decode('utf-8') if isinstance(value, bytes)
                else value)
        record = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError included
        return None
    if not isinstance(record, dict):
        return None
    try:
        Interface.from_dict(record)
    except ValueError:
        return None
    return record if isinstance(record.get('host'), str) else None


def stored_form(value: Union[str, bytes]) -> tuple[dict, bool]:
    """(the record a store's raw value stands for, whether to rewrite it):
    :data:`UNREADABLE` for garbage, the record without ``action`` for an
    older version's event form; both are rewritten.
    """
    record = parse_stored(value)
    if record is None:
        return UNREADABLE, True
    if 'action' in record:
        return {k: v for k, v in record.items() if k != 'action'}, True
    return record, False
