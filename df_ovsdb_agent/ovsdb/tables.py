"""What the read path monitors: tables and columns, as a declaration.

The replica, the monitor requests and the schema checks are all driven by
:data:`TABLES`; monitoring one more column or one more small table is one
line here.  A ``required`` table whose columns are missing from the
server's schema stops the agent with a one-line error; an optional one is
simply not monitored.
"""

from typing import NamedTuple

INTERFACE = 'Interface'
SYSTEM = 'Open_vSwitch'


class Table(NamedTuple):
    """One monitored table: its name, columns and whether it must exist."""

    name: str
    columns: tuple
    required: bool = True


TABLES = (
    Table(INTERFACE, ('name', 'type', 'ofport', 'external_ids', 'options')),
    Table(SYSTEM, ('external_ids',), required=False),
)

BY_NAME = {table.name: table for table in TABLES}
