"""Whether a server's data may be used: its ``_Server.Database`` row.

Every ovsdb-server (2.9 or later) describes its databases in the read-only
``_Server`` database (``ovsdb-server(5)``).  A clustered member that lost
its cluster (``connected`` false) still serves its last copy, possibly old;
a relay cut off from its source does the same.  And a member's ``index``
(the log entry it exposes) only grows: a member below the highest index a
client has seen serves data older than what that client already saw.
python-ovs (``Idl.__check_server_db``) and ovn-controller refuse such a
server and try another one; so does the agent, with the rules below.

The monitor request asks for the one row of the monitored database and
only the columns the rules read: the cost is one small reply per
connection and one small update per clustered transaction (the index).
"""

import dataclasses
from typing import Any, Mapping, Optional

from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.ovsdb.replica import ColumnType

DATABASE = '_Server'
TABLE = 'Database'
CLUSTERED = 'clustered'
RELAY = 'relay'

# The columns the rules read (not "schema": up to ~50 KB per row, and a
# member that has not joined its cluster yet fails get_schema anyway).
TYPES = {TABLE: {
    'name': ColumnType('string'),
    'model': ColumnType('string'),
    'connected': ColumnType('boolean'),
    'index': ColumnType('integer', n_min=0, n_max=1),
    'cid': ColumnType('uuid', n_min=0, n_max=1),
}}


@dataclasses.dataclass(frozen=True)
class Seen:
    """The highest ``index`` seen for the cluster ``cid``."""

    cid: Optional[str]
    index: int


def monitor_request(database: str, monitor_id: str, ident: Any) -> dict:
    """``monitor_cond`` of ``database``'s row in ``_Server.Database``."""
    return {'method': 'monitor_cond', 'id': ident,
            'params': [DATABASE, monitor_id, {TABLE: [{
                'columns': sorted(TYPES[TABLE]),
                'where': [['name', '==', database]]}]}]}


def find(rows: Mapping[str, Mapping], database: str) -> Optional[Mapping]:
    """The row of ``database`` among ``_Server.Database`` rows, or None."""
    for values in rows.values():
        if values['name'] == database:
            return values
    return None


def refusal(row: Optional[Mapping], seen: Optional[Seen]) -> Optional[str]:
    """Why a server with this ``_Server.Database`` row must not be used,
    or None if it may be.

    The reason completes "OVSDB at <remote> is not used: ...".

    :param row: the monitored database's row (None: the server does not
        list it).
    :param seen: the highest index already seen, if any.
    """
    if row is None:
        return 'its _Server database does not list the database'
    model = row['model']
    if not row['connected']:
        # A standalone database is always connected: only clustered and
        # relay databases can say false, and then their data may be stale.
        if model == CLUSTERED:
            return 'not connected to its cluster'
        if model == RELAY:
            return 'relay not connected to its source'
        return 'database %s is not connected to its storage' % safe(
            model, 40)
    index = row['index']
    if model == CLUSTERED and index is not None and seen is not None and \
            seen.cid == row['cid'] and index < seen.index:
        return 'index %d is behind %d already seen' % (index, seen.index)
    return None


def advance(seen: Optional[Seen], row: Optional[Mapping]) -> Optional[Seen]:
    """``seen`` after using a server with this row.

    Indexes compare only within one cluster: a row of another cluster
    (a different ``cid``, e.g. a cluster rebuilt from a backup) starts
    over from its own index.
    """
    if row is None or row['model'] != CLUSTERED or row['index'] is None:
        return seen
    cid, index = row['cid'], row['index']
    if seen is None or seen.cid != cid or index > seen.index:
        return Seen(cid, index)
    return seen


def seen_to_json(seen: Optional[Seen]) -> Optional[dict]:
    return None if seen is None else {'cid': seen.cid, 'index': seen.index}


def seen_from_json(value: Any) -> Optional[Seen]:
    """A :class:`Seen` saved by :func:`seen_to_json`; None if unusable."""
    if not isinstance(value, dict):
        return None
    cid, index = value.get('cid'), value.get('index')
    if not (cid is None or isinstance(cid, str)) or \
            not isinstance(index, int) or isinstance(index, bool):
        return None
    return Seen(cid, index)
