"""os-ken events for the agent's interface events and sync markers.

An os-ken app receives them with ``@set_ev_cls(EventInterfaceOnline)``
and so on; consuming any of them loads the agent app
(:mod:`df_ovsdb_agent.os_ken.app`) with it, as consuming OpenFlow events
loads os-ken's ``ofp_handler``.  Every event is delivered in the order the
agent published it, with the semantics of :doc:`events` (offline first
within a transaction, ``updated`` only while online, sync markers around
every resync).
"""

from typing import Iterable, Mapping, Optional

from os_ken.controller import event
from os_ken.controller import handler

from df_ovsdb_agent.events import Interface

# The name of the agent app, to address requests to it.
APP_NAME = 'df_ovsdb_agent'

# Consumers of these events get the app that emits them loaded too.
handler.register_service('df_ovsdb_agent.os_ken.app')


class EventInterfaceBase(event.EventBase):
    """An interface event.

    :ivar interface: the :class:`~df_ovsdb_agent.events.Interface` (for
        offline: its last published attributes).
    :ivar datapath_id: the OpenFlow datapath id of ``interface.bridge``
        when the event was handed to os-ken (None while unknown), to find
        the ``Datapath`` that programs it.
    """

    def __init__(self, interface: Interface,
                 datapath_id: Optional[int] = None) -> None:
        super().__init__()
        self.interface = interface
        self.datapath_id = datapath_id

    def __str__(self) -> str:
        return '%s<%s on %s>' % (type(self).__name__, self.interface.name,
                                 self.interface.bridge)


class EventInterfaceOnline(EventInterfaceBase):
    """The interface came online."""


class EventInterfaceOffline(EventInterfaceBase):
    """The interface went offline; undo what was set up for it."""


class EventInterfaceUpdated(EventInterfaceBase):
    """An online interface changed.

    :ivar changed: the names of the attributes that differ from the
        previous event of this interface (e.g. ``{'ofport'}``).
    """

    def __init__(self, interface: Interface,
                 datapath_id: Optional[int] = None,
                 changed: frozenset = frozenset()) -> None:
        super().__init__(interface, datapath_id)
        self.changed = changed


class EventSyncStarted(event.EventBase):
    """A (re)sync with ovsdb-server began; events until
    :class:`EventSyncFinished` bring observers to the database's state.
    """


class EventSyncFinished(event.EventBase):
    """Observers' view now equals the database's."""


class EventInterfacesRequest(event.EventRequestBase):
    """Ask the agent app for the interfaces online now::

        reply = self.send_request(EventInterfacesRequest(kind='vm'))
        for interface in reply.interfaces: ...

    The answer is the state as handed to os-ken so far: events still in
    the asking app's queue may follow, and apply on top of it.
    """

    def __init__(self, kind: Optional[str] = None,
                 bridge: Optional[str] = None) -> None:
        super().__init__()
        self.dst = APP_NAME
        self.kind = kind
        self.bridge = bridge


class EventInterfacesReply(event.EventReplyBase):
    """:ivar interfaces: list of :class:`~df_ovsdb_agent.events.Interface`.
    :ivar synced: whether they are the database's complete state.
    :ivar datapath_ids: bridge name -> OpenFlow datapath id, as known now.
    """

    def __init__(self, dst: str, interfaces: Iterable[Interface],
                 synced: bool,
                 datapath_ids: Optional[Mapping[str, int]] = None) -> None:
        super().__init__(dst)
        self.interfaces = list(interfaces)
        self.synced = synced
        self.datapath_ids = dict(datapath_ids or {})


EVENTS = [EventInterfaceOnline, EventInterfaceOffline, EventInterfaceUpdated,
          EventSyncStarted, EventSyncFinished, EventInterfacesReply]
