"""What the read path monitors: tables and columns, as a declaration.

The replica, the monitor requests and the schema checks are all driven by
:data:`TABLES`; monitoring one more column or one more small table is one
line here.  A ``required`` table whose columns are missing from the
server's schema stops the agent with a one-line error; an optional one is
simply not monitored.
"""

from typing import NamedTuple

INTERFACE = 'Interface'
BRIDGE = 'Bridge'
PORT = 'Port'
SYSTEM = 'Open_vSwitch'


class Table(NamedTuple):
    """One monitored table: its name, columns and whether it must exist.

    ``optional`` columns are monitored when the server's schema has them
    (their values are None otherwise).
    """

    name: str
    columns: tuple
    required: bool = True
    optional: tuple = ()


TABLES = (
    Table(INTERFACE, ('name', 'type', 'ofport', 'external_ids', 'options'),
          optional=('mac_in_use', 'link_state', 'admin_state')),
    # Bridge membership: Bridge.ports -> Port.interfaces (membership.py).
    # datapath_id: the OpenFlow datapath id, for controllers (os-ken apps)
    # that match a bridge to its switch connection.
    Table(BRIDGE, ('name', 'ports'), required=False,
          optional=('datapath_id',)),
    Table(PORT, ('interfaces',), required=False),
    Table(SYSTEM, ('external_ids',), required=False),
)

BY_NAME = {table.name: table for table in TABLES}
