"""The replica and its transaction id on disk, for ``monitor_cond_since``.

A clustered database or a relay keeps a history of transactions: given the
id of the last transaction the agent applied, it answers with only what
changed since.  Saving the replica with that id -- always the two together,
a consistent pair -- lets a restarted agent ask from there, so only the
diff crosses the wire instead of the whole dump.  A standalone ovsdb-server
keeps no history and sends everything again, exactly as without the file.

The file also keeps the highest ``_Server.Database`` index seen (see
:mod:`.serverdb`), so that a restarted agent refuses a cluster member
older than what its predecessor saw; it is read even when the replica
itself does not fit.

Sets are stored as ``{"set": [...]}`` and maps as ``{"map": [[k, v]]}``,
with the column types the replica was built for: a file made for another
schema or declaration is not used.
"""

import json
import logging
from typing import Any, Mapping, NamedTuple, Optional

from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.ovsdb.replica import Replica
from df_ovsdb_agent.ovsdb import serverdb
from df_ovsdb_agent import persist

LOG = logging.getLogger(__name__)

FORMAT = 1


def _types_key(types) -> list:
    return sorted([table, column, repr(ctype)]
                  for table, columns in types.items()
                  for column, ctype in columns.items())


def _encode(value: Any) -> Any:
    if isinstance(value, frozenset):
        return {'set': sorted(value, key=repr)}
    if isinstance(value, dict):
        return {'map': sorted(([k, v] for k, v in value.items()),
                              key=repr)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if 'set' in value:
            return frozenset(value['set'])
        return {k: v for k, v in value['map']}
    return value


class Cut(NamedTuple):
    """The replica at one transaction: what a save writes."""

    txn_id: str
    types: Mapping
    tables: dict
    seen: Optional[serverdb.Seen] = None


class Saved(NamedTuple):
    """What :func:`read` found: the replica (None if unusable) and the
    highest server index seen (None if none).
    """

    replica: Optional[Replica]
    seen: Optional[serverdb.Seen]


def cut(replica: Replica, seen: Optional[serverdb.Seen] = None) -> Cut:
    """A consistent copy of ``replica`` (with a transaction id), cheap
    enough for the monitor thread: rows are never changed in place, so
    copying each table's uuid -> row mapping is enough (each row a tuple
    in the order of its table's columns in ``types``).
    """
    assert replica.txn_id is not None
    return Cut(replica.txn_id, replica.types,
               {table: dict(rows) for table, rows in replica.tables.items()},
               seen)


def encode(saved: Cut) -> bytes:
    """The file's bytes for ``saved`` (done on the writer's thread)."""
    body = {'format': FORMAT, 'txn_id': saved.txn_id,
            'types': _types_key(saved.types),
            'tables': {table: {uuid: {c: _encode(v)
                                      for c, v in zip(saved.types[table],
                                                      row)}
                               for uuid, row in rows.items()}
                       for table, rows in saved.tables.items()}}
    if saved.seen is not None:
        body['seen_index'] = serverdb.seen_to_json(saved.seen)
    return json.dumps(body).encode()


def load(path: str, types) -> Optional[Replica]:
    """The replica saved at ``path`` for these column ``types``, or None.

    Anything unusable -- no file, another format, other types, no
    transaction id to resume from -- means a full dump, as without it.
    """
    return read(path, types).replica


def read(path: str, types) -> Saved:
    """The replica (as :func:`load`) and the server index saved at
    ``path``.
    """
    seen = None
    try:
        body = json.loads(persist.read_regular(path))
        if isinstance(body, dict) and body.get('format') == FORMAT:
            seen = serverdb.seen_from_json(body.get('seen_index'))
        if (body.get('format') != FORMAT or not body.get('txn_id') or
                body.get('types') != _types_key(types)):
            LOG.info('Saved OVSDB replica %s does not fit; full dump', path)
            return Saved(None, seen)
        replica = Replica(types)
        for table, rows in body['tables'].items():
            # Every column, in the replica's order (KeyError: unusable).
            columns = replica.columns[table]
            replica.tables[table] = {
                uuid: tuple(_decode(row[c]) for c in columns)
                for uuid, row in rows.items()}
        replica.txn_id = body['txn_id']
    except FileNotFoundError:
        return Saved(None, None)
    except OSError as exc:
        LOG.warning('Saved OVSDB replica %s %s; full dump', path,
                    persist.problem_text(exc))
        return Saved(None, seen)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = safe(str(exc), 120)
        LOG.warning('Saved OVSDB replica %s is unusable (%s); full dump',
                    path, problem)
        return Saved(None, seen)
    LOG.info('Resuming OVSDB from the saved replica (%d rows, transaction '
             '%s)', sum(len(r) for r in replica.tables.values()),
             safe(replica.txn_id, 40))
    return Saved(replica, seen)
