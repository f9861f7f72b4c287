"""The store as the writer drives it, and who writes to it.

A :class:`Store` is the adapter to one kind of store (etcd, Redis: the
modules beside this one); :class:`Instance` is the process claiming a host
id there, :class:`NotOwner` what a store raises when the host id is held
by another.
"""

import abc
import dataclasses
from typing import Mapping, Optional

from df_ovsdb_agent.publishers.plan import Write

#: What a store holds for a host, as :meth:`Store.read_state` returns it:
#: (name -> record, names to rewrite even if their value is right).
State = tuple[dict, frozenset]


@dataclasses.dataclass(frozen=True)
class Instance:
    """Who writes: the host id, and the process claiming it."""

    host: str
    owner: str
    pid: int
    started: float
    version: str

    def is_self(self, alive: Mapping) -> bool:
        """Whether ``alive`` is the liveness record this process wrote."""
        return (alive.get('owner') == self.owner and
                alive.get('pid') == self.pid and
                alive.get('started') == self.started)

    def may_take_over(self, alive: Mapping) -> bool:
        """Whether this process may claim a host whose liveness record is
        ``alive``: its own, or an *older* process of the same owner (the
        agent restarted); never another owner, never a newer process of
        the same owner (which would make two live processes alternate).
        """
        if alive.get('owner') != self.owner:
            return False
        started = alive.get('started')
        return self.is_self(alive) or (
            isinstance(started, (int, float)) and started < self.started)


class NotOwner(Exception):
    """The store's liveness record for our host is not ours.

    ``alive`` is the record found (another agent's), or None when there is
    none any more (ours expired or was lost): claim again.
    """

    def __init__(self, host: str, alive: Optional[dict]) -> None:
        super().__init__('host %s is held by %s' % (host, alive))
        self.host = host
        self.alive = alive


class Store(abc.ABC):
    """A store as the writer thread drives it; called from that thread only.

    :class:`NotOwner` from :meth:`claim`, :meth:`apply`, :meth:`tick` or
    :meth:`put_alive` means the host id is not (or no longer) ours; any
    other exception means "the store is unusable": the writer calls
    :meth:`close`, backs off, then :meth:`connect`, claims and reconciles.
    """

    #: Seconds between :meth:`tick` calls, or None for no ticks.
    tick_interval: Optional[float] = None
    #: Seconds of the liveness TTL, written into the liveness record.
    ttl: int = 0
    #: Whether :meth:`apply` writes a :class:`Write`'s ``alive`` record
    #: after its data in the same atomic write, and :meth:`claim` may
    #: defer the claim to the next :meth:`apply` or :meth:`put_alive`
    #: (raising :class:`NotOwner` there): a (re)connection then costs one
    #: store write, not three.
    writes_alive: bool = False
    #: Whether :meth:`first_write` can write without reading first: a
    #: (re)connection to a store holding nothing of the host then costs
    #: no read.
    writes_first: bool = False

    def __init__(self) -> None:
        self.instance: Optional[Instance] = None
        #: When (``time.monotonic()``) the store's latest request was
        #: sent, or None: the writer times a failure from it, so that a
        #: timeout is measured alone, not with the requests that went
        #: well before it in the same attempt.
        self.sent: Optional[float] = None

    @property
    def me(self) -> Instance:
        """The :class:`Instance` given to :meth:`bind`."""
        if self.instance is None:
            raise RuntimeError('store used before bind()')
        return self.instance

    @property
    def host(self) -> str:
        return self.me.host

    @property
    @abc.abstractmethod
    def target(self) -> str:
        """Where the store is, safe to log (no credentials)."""

    def bind(self, instance: Instance) -> None:
        """Fix the host id and owner; before the first :meth:`connect`."""
        self.instance = instance

    @abc.abstractmethod
    def connect(self) -> None:
        """Make the store usable (connect, authenticate); writes nothing."""

    @staticmethod
    def refresh_timeout(timeout: float, left: float) -> float:
        """The timeout of a refresh when the liveness has ``left`` seconds:
        a quarter of that -- more than ``timeout`` for a long TTL, so that
        a slow store gets time to answer before the refresh is given up --
        but at least ``timeout`` while that is under half the time left.
        """
        return max(0.1, left / 4.0, min(timeout, left / 2.0))

    @property
    def expires(self) -> Optional[float]:
        """When (``time.monotonic()``) the liveness runs out unless it is
        refreshed, counted from when the last refresh the store answered
        was sent; None if unknown.
        """
        return None

    @abc.abstractmethod
    def claim(self, alive: dict) -> None:
        """Write the liveness record ``alive`` if the host id is free or
        :meth:`Instance.may_take_over` allows it, atomically in the store;
        raise :class:`NotOwner` with the other record otherwise.  With
        :attr:`writes_alive` the claim may be made by the next
        :meth:`apply` or :meth:`put_alive` instead.
        """

    @abc.abstractmethod
    def read_state(self) -> State:
        """(name -> record of what the store holds for this host, names
        to rewrite even if their value is right).
        """

    def first_write(self, write: Write) -> Optional[State]:
        """Apply ``write`` -- the whole desired state, planned as if the
        store held nothing of this host, with the pending claim -- only if
        the store holds nothing of the host; None when it was written.
        Otherwise write nothing and return what the store holds, as
        :meth:`read_state` would: the caller plans again from that.

        This default reads (see :attr:`writes_first`).
        """
        return self.read_state()

    @abc.abstractmethod
    def apply(self, write: Write) -> None:
        """Write ``write`` if the host id is still ours (else NotOwner)."""

    @abc.abstractmethod
    def put_alive(self, alive: dict) -> None:
        """Update our liveness record (NotOwner if it is not ours)."""

    def tick(self, alive: dict) -> bool:
        """Periodic upkeep: keep the lease or liveness TTL alive; whether
        that wrote ``alive`` (the current liveness record).
        """
        return False

    @abc.abstractmethod
    def revoke(self) -> None:
        """Remove this host's keys now, if the host id is ours."""

    def refuses(self, exc: Exception) -> bool:
        """Whether ``exc`` from :meth:`apply` refuses the *content* of the
        write (a value too large, not encodable) rather than saying that
        the store is unusable: then the writer finds the culprits and sets
        them aside instead of retrying the batch for ever.  Nothing was
        written.
        """
        return isinstance(exc, (UnicodeError, RecursionError))

    def close(self) -> None:
        """Drop connections; :meth:`connect` may follow."""
