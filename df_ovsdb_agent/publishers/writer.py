"""The write side: desired state plus the one thread that mirrors it into
a store -- ownership, liveness, jittered backoff and reconcile.

The bus callback only records the desired state (name -> interface) and
marks names dirty, so it never blocks and holds at most one entry per
interface.  The writer thread keeps what it believes the store holds and
writes the difference: nothing before the agent's first complete sync, then
a claim of the host id, a reconcile, the net change of dirty names.  A
failure means reconnect and reconcile, never giving up; a record the store
cannot take is set aside (:meth:`Writer.set_aside`) and never holds the
others.  The rules as users see them: doc/source/publishers.rst.
"""

import dataclasses
import enum
import logging
import random
import threading
import time
from typing import Collection, Mapping, Optional, Union

from df_ovsdb_agent.backoff import Backoff
from df_ovsdb_agent.backoff import jittered
from df_ovsdb_agent.cluster import Record
from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.cluster.stores import describe_error
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import identity
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.logsafe import safe
from df_ovsdb_agent.publishers.plan import plan
from df_ovsdb_agent.publishers.plan import Write
from df_ovsdb_agent.publishers.records import Aside
from df_ovsdb_agent.publishers.records import check_record
from df_ovsdb_agent.publishers.records import printable
from df_ovsdb_agent.publishers.records import record_of
from df_ovsdb_agent.publishers.store import Instance
from df_ovsdb_agent.publishers.store import NotOwner
from df_ovsdb_agent.publishers.store import State
from df_ovsdb_agent.publishers.store import Store
from df_ovsdb_agent.state import KeyedState

LOG = logging.getLogger(__name__)

#: Seconds a change of the liveness record waits, so that a burst of
#: interface changes costs one liveness write, not one per event.
ALIVE_COALESCE = 1.0

#: While the liveness is at risk, a failed attempt is retried after at
#: most this fraction of the time it has left (see :meth:`Writer._delay`).
RETRY_FRACTION = 0.25

#: The shortest delay between two attempts, in seconds.
MIN_RETRY = 0.05

#: After a failed request that took ``s`` seconds (a timeout, a slow
#: reply; timed from when it was sent, not from the start of the attempt
#: that made it), the next attempt waits at least ``s`` times a factor
#: drawn from this range, doubled for every failure in a row before it
#: (see :meth:`Writer._delay`).  Under 1: a host that timed out once in a
#: cold-start storm is not held back as long as its request took.
SLOW_FACTOR = (0.25, 0.5)


class Step(enum.Enum):
    """A work item of the writer thread that carries nothing."""

    #: Connect, claim the host id, reconcile, write the liveness record.
    ESTABLISH = 'establish'
    #: The store's periodic upkeep (:meth:`Store.tick`).
    TICK = 'tick'
    #: Make the store hold exactly the desired state.
    RECONCILE = 'reconcile'
    #: Write the liveness record (its synced state or count changed).
    ALIVE = 'alive'


@dataclasses.dataclass(frozen=True)
class Push:
    """A work item: write the net change of the names that changed
    (name -> desired interface, None: gone).
    """

    interfaces: Mapping[str, Optional[Interface]]


#: What the writer thread does next: one step, or a push of dirty names.
Work = Union[Step, Push]


class Writer:
    """Desired state plus the one thread that mirrors it into a store."""

    def __init__(self, store: Store, identify, max_backoff: float,
                 resync_interval: float = 0.0,
                 revoke_on_stop: bool = False) -> None:
        """:param identify: returns the :class:`Instance` to write as;
            called once, at the first write (after the first sync).
        """
        self.store = store
        self._identify = identify
        self.max_backoff = max_backoff
        self.resync_interval = resync_interval
        self.revoke_on_stop = revoke_on_stop
        self._backoff = Backoff.decorrelated_jitter(max_backoff)
        self._cond = threading.Condition()
        # name -> Interface; bus thread writes, writer thread reads.
        self._desired: KeyedState[str, Interface] = KeyedState(identity)
        self._dirty: set[str] = set()
        self._ready = False          # the agent's first sync finished
        self._agent_synced = False
        self._reconcile = True
        self._closing = False
        self._stopped = False
        self._busy = False
        # What the writer believes the store holds; writer thread only.
        self._stored: KeyedState[str, Record] = KeyedState(
            stores.record_identity)
        self._alive_written: Optional[tuple] = None
        self._alive_due: Optional[float] = None
        self._next_tick = 0.0
        # When the last refresh of the lease / liveness TTL was sent
        # (monotonic): the store's liveness lasts until this + its TTL.
        self._refreshed: Optional[float] = None
        self._next_resync: Optional[float] = None
        self._refused_by: Optional[tuple] = None
        # Records set aside, name -> why: the writer thread changes it
        # under _cond, /healthz and metrics read copies.
        self._aside: dict[str, Aside] = {}
        # name -> the record the store refused: not offered again until
        # its interface changes.  Writer thread only.
        self._refused: dict[str, Record] = {}
        self.set_aside_total = 0
        self.instance: Optional[Instance] = None
        self.connected = False
        self.failures = 0
        # Failures in a row (the writer's current outage), for _delay.
        self._streak = 0
        self.refusals = 0
        self.reconciles = 0
        #: Successful refreshes of the liveness (ticks and connections).
        self.refreshes = 0
        #: The least time, in seconds, the liveness had left when a
        #: refresh was sent (None before the second refresh): how close
        #: to losing its lease the publisher came.
        self.min_margin: Optional[float] = None
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name='df-ovsdb-publisher-%s' % type(store).__name__)

    # -- bus side: never blocks -------------------------------------------

    def offer(self, event) -> None:
        """Record an agent event in the desired state (bus callback)."""
        with self._cond:
            if isinstance(event, InterfaceEvent):
                if event.action is not Action.OFFLINE:
                    name = event.name
                    self._desired.set(name, event.interface)
                    self._dirty.add(name)
                else:
                    self._offer_offline(event)
                if not self._ready:
                    # Nobody waits for this: the writer thread waits for
                    # the first sync, and no flush can be complete yet.
                    return
            elif event.sync is Sync.FINISHED:
                # The agent's view was just rebuilt from OVSDB: make the
                # store match it exactly, whatever happened to the store.
                self._ready = True
                self._agent_synced = True
                self._reconcile = True
            else:
                self._agent_synced = False
            self._cond.notify_all()

    def _offer_offline(self, event: InterfaceEvent) -> None:
        name = event.name
        current = self._desired.get(name)
        # A name reused by a newer interface stays with the newer one.
        if current is None or current.uuid != event.uuid:
            return
        self._desired.set(name, None)
        self._dirty.add(name)

    # -- life cycle -------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Flush pending writes for up to ``timeout`` seconds, then stop.

        The keys stay (see ``revoke_on_stop``).
        """
        if not self._thread.is_alive():
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def wait_flushed(self, timeout: Optional[float] = None) -> bool:
        """Wait until the store holds the desired state as of now."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._stopped or (
                    self.connected and not self._busy and
                    not self._dirty and not self._reconcile), timeout)

    @property
    def ready(self) -> bool:
        """Whether the agent's first sync is in (writing has begun)."""
        return self._ready

    @property
    def refused(self) -> bool:
        """Whether another live agent holds our host id right now."""
        return self._refused_by is not None

    @property
    def refused_by(self) -> Optional[tuple]:
        """(owner, pid, started) of the live agent holding our host id,
        or None.
        """
        return self._refused_by

    def desired(self) -> dict[str, Interface]:
        with self._cond:
            return self._desired.copy()

    def set_aside(self) -> dict[str, Aside]:
        """name -> why, of the records not published now."""
        with self._cond:
            return dict(self._aside)

    # -- writer thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            work = self._next_work()
            if work is None:
                break
            began = time.monotonic()
            try:
                self._do(work)
                self._backoff.reset()
                self._streak = 0
            except NotOwner as exc:
                self._not_owner(exc)
            except Exception as exc:
                self._failed(exc, time.monotonic() - self._request_began(
                    began))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        self._finish()

    def _request_began(self, began: float) -> float:
        """When the request that ended the attempt begun at ``began`` was
        sent (the store's :attr:`~Store.sent`), else ``began``: a slow
        failure is timed alone, not with the connection, read and writes
        that went well before it.
        """
        sent = self.store.sent
        return sent if sent is not None and sent >= began else began

    def _do(self, work: Work) -> None:
        if isinstance(work, Push):
            self._push(work.interfaces)
        elif work is Step.ESTABLISH:
            self._establish()
        elif work is Step.TICK:
            began = time.monotonic()
            with self._cond:
                key, alive = self._alive_key(), self._alive()
            if self.store.tick(alive):
                self._alive_written = key
                self._alive_due = None
            self._refreshed_at(began)
        elif work is Step.RECONCILE:
            self._do_reconcile()
        else:  # Step.ALIVE
            self._put_alive()

    def _next_work(self) -> Optional[Work]:
        """Wait for something to do; None to exit."""
        with self._cond:
            while True:
                if self._stopped:
                    return None
                idle = not (self._dirty or self._reconcile)
                if self._closing and (idle or not self.connected):
                    return None
                work, wait = self._pick()
                if work is not None:
                    self._busy = True
                    return work
                self._cond.wait(wait)

    def _pick(self) -> tuple[Optional[Work], Optional[float]]:
        """(work, None) or (None, seconds to wait or None); under _cond."""
        if not self._ready:
            return None, None
        if not self.connected:
            self._reconcile = False
            self._dirty.clear()  # the reconcile covers them
            return Step.ESTABLISH, None
        now = time.monotonic()
        timers = []
        if self.store.tick_interval is not None:
            if now >= self._next_tick:
                return Step.TICK, None
            timers.append(self._next_tick)
        if self._reconcile or (self._next_resync is not None and
                               now >= self._next_resync):
            self._reconcile = False
            self._dirty.clear()
            return Step.RECONCILE, None
        if self._dirty:
            push = Push({n: self._desired.get(n) for n in self._dirty})
            self._dirty.clear()
            return push, None
        if self._alive_key() != self._alive_written:
            if self._alive_due is None:
                self._alive_due = now + ALIVE_COALESCE
            if now >= self._alive_due:
                return Step.ALIVE, None
            timers.append(self._alive_due)
        if self._next_resync is not None:
            timers.append(self._next_resync)
        return None, (min(timers) - now if timers else None)

    def _identity(self) -> Instance:
        if self.instance is None:
            self.instance = self._identify()
            self.store.bind(self.instance)
        return self.instance

    def _establish(self) -> None:
        """Connect, claim the host id, reconcile, report synced: in one
        write with a store that :attr:`~Store.writes_alive`
        (:meth:`_connect_in_one_write`), else in steps
        (:meth:`_connect_in_steps`).
        """
        began = time.monotonic()
        self._identity()
        self.store.connect()
        self.store.claim(self._alive(synced=False))
        self._alive_written = None
        if self.store.writes_alive:
            self._connect_in_one_write()
        else:
            self._connect_in_steps()
        self._refreshed_at(began)

    def _connect_in_steps(self) -> None:
        """The claim is made (:meth:`Store.claim` wrote it): reconcile,
        then put the liveness record.
        """
        self._claimed()
        self._do_reconcile()
        with self._cond:
            self.connected = True
        self._put_alive()

    def _connect_in_one_write(self) -> None:
        """The claim, the reconcile's data and the ``synced`` liveness
        record in one write (the record after the data, as consumers
        holding a host after a store reset expect).  If the store refused
        part of the data, the record was left out: it is put on its own,
        and the claim is announced once that succeeded.
        """
        write = self._reconcile_write(with_alive=True)
        if write.alive is not None:
            self._claimed()
        self._reconciled(write)
        with self._cond:
            self.connected = True
        if write.alive is None:
            self._put_alive()
            self._claimed()

    def _claimed(self) -> None:
        """The host id is ours in the store now: say so."""
        instance = self._identity()
        if self._refused_by is not None:
            LOG.warning('Host %s is no longer held by owner %s; '
                        'publishing it to %s', safe(instance.host),
                        safe(self._refused_by[0]), self.store.target)
            self._refused_by = None
        LOG.info('Publisher connected to %s as host %s (owner %s)',
                 self.store.target, instance.host, instance.owner)

    def _alive_key(self, connected: Optional[bool] = None) -> tuple:
        """What the liveness record reports: (synced, count of the
        interfaces published, set-aside ones excluded), with the writer
        ``connected`` (default: as it is).
        """
        if connected is None:
            connected = self.connected
        aside = sum(1 for name in self._aside
                    if self._desired.get(name) is not None)
        return (self._agent_synced and connected,
                len(self._desired) - aside)

    def _alive(self, synced: Optional[bool] = None,
               key: Optional[tuple] = None) -> dict:
        instance = self._identity()
        key_synced, count = key or self._alive_key()
        return stores.alive_record(
            instance.host, instance.owner, instance.version, instance.pid,
            instance.started, key_synced if synced is None else synced,
            count, self.store.ttl)

    def _put_alive(self) -> None:
        with self._cond:
            key = self._alive_key()
            alive = self._alive()
        self.store.put_alive(alive)
        self._alive_written = key
        self._alive_due = None

    def _refreshed_at(self, began: float) -> None:
        """A refresh of the liveness sent at ``began`` succeeded: note
        how much time it had left, and schedule the next one.
        """
        if self._refreshed is not None and self.store.ttl:
            margin = self._refreshed + self.store.ttl - began
            if self.min_margin is None or margin < self.min_margin:
                self.min_margin = margin
        self._refreshed = began
        self.refreshes += 1
        if self.store.tick_interval is not None:
            # Counted from when this refresh was sent, never later than
            # the interval (a slow refresh must not push the next one
            # back), and jittered 10% earlier, so that hosts started
            # together do not refresh in lockstep for ever after.
            self._next_tick = began + self.store.tick_interval * (
                random.uniform(0.9, 1.0))

    def _delay(self, elapsed: float = 0.0) -> float:
        """The wait before the next attempt after a failure.

        The jittered backoff, but at least a quarter to a half of the
        time the failed request took (``elapsed``), doubled for every
        failure in a row before it: a store that answers slowly or not at
        all (timeouts) is not asked again by every writer at once within
        0.1-0.3 s, while a refused connection (which fails at once) is
        retried as soon as before.  Never over ``max_backoff``.  While
        the liveness still holds, at most a quarter of the time it has
        left: a store that comes back before the lease or liveness TTL
        runs out is met in time.
        """
        delay = self._backoff.next()
        if elapsed > 0:
            slow = elapsed * 2.0 ** min(max(self._streak - 1, 0), 16)
            delay = max(delay, min(self.max_backoff,
                                   slow * random.uniform(*SLOW_FACTOR)))
        expires = self.store.expires
        if expires is None and self._refreshed is not None:
            expires = self._refreshed + self.store.ttl
        if expires is not None and self.store.ttl:
            left = expires - time.monotonic()
            if left > 0:
                delay = min(delay, max(MIN_RETRY, left * RETRY_FRACTION))
        return delay

    def _do_reconcile(self) -> Write:
        """Make the store hold the desired state (the host id is ours
        already); the write.
        """
        write = self._reconcile_write()
        self._reconciled(write)
        return write

    def _reconcile_write(self, with_alive: bool = False) -> Write:
        """Read what the store holds, write the difference; the write.

        :param with_alive: write the liveness record (as after this
            reconcile, the writer connected) after the data, in the same
            write, if the store cannot refuse any of it (else it is
            ``None`` in the returned write: put it separately).  With a
            store that :attr:`~Store.writes_first`, a writer that knows of
            no key of its host (a cold start) writes without reading:
            :meth:`_write_first`.
        """
        with self._cond:
            interfaces = self._desired.copy()
            # Names that went away while nobody looked are not set aside.
            for name in [n for n in self._aside if n not in interfaces]:
                del self._aside[name]
        for name in [n for n in self._refused if n not in interfaces]:
            del self._refused[name]
        desired = self._records(interfaces)
        alive = key = None
        if with_alive:
            # After _records: what it set aside is not counted.
            with self._cond:
                key = self._alive_key(connected=True)
                alive = self._alive(key=key)
        actual: KeyedState[str, Record] = KeyedState(stores.record_identity)
        if (with_alive and self.store.writes_first and not self._stored and
                self._refused_by is None and self._streak == 0):
            write, found = self._write_first(actual, desired, alive)
        else:
            found = self.store.read_state()
        if found is not None:
            stored, rewrite = found
            actual = KeyedState(stores.record_identity, stored)
            batch: dict[str, Optional[Record]] = dict.fromkeys(stored)
            batch.update(desired)
            write = self._sync(actual, batch, rewrite, resync=True,
                               alive=alive)
        if write.alive is not None:
            self._alive_written = key
            self._alive_due = None
        self._stored = actual
        return write

    def _write_first(self, actual: KeyedState,
                     desired: Mapping[str, Optional[Record]],
                     alive: Optional[dict]) -> tuple[Write, Optional[State]]:
        """Write ``desired`` as if the store held nothing (``actual`` is
        empty) with :meth:`Store.first_write`: (the write, None) if that
        was so and ``actual`` is now what the store holds, else (the write,
        what the store holds) -- nothing was written, plan again from it.
        Not for a host held by another (:attr:`refused`), one with keys
        the writer knows of, nor a retry after a failure (whose attempt
        may have written, to a store that is struggling): a read is
        cheaper than this write there.
        """
        write = plan(actual, desired, resync=True)
        write.alive = alive
        found = self.store.first_write(write)
        if found is None:
            self._settle(actual, desired)
        return write, found

    def _reconciled(self, write: Write) -> None:
        """Count and log the reconcile that made ``write``; schedule the
        next periodic one.
        """
        self.reconciles += 1
        if self.resync_interval > 0:
            self._next_resync = time.monotonic() + jittered(
                self.resync_interval)
        LOG.info('Reconciled %s for host %s: %d interfaces, %d changes, '
                 '%d keys written', self.store.target, self._identity().host,
                 len(self._stored), len(write.changes), len(write.state))

    def _push(self, dirty: Mapping[str, Optional[Interface]]) -> None:
        self._sync(self._stored, self._records(dict(sorted(dirty.items()))))

    # -- bad records ------------------------------------------------------

    def _records(self, interfaces: Mapping[str, Optional[Interface]]
                 ) -> dict[str, Optional[Record]]:
        """name -> the record to publish; None for an interface that is
        gone or whose record is set aside (:func:`check_record`, or the
        very record the store refused).
        """
        host = self._identity().host
        refused = self._refused
        records: dict[str, Optional[Record]] = {}
        for name, interface in interfaces.items():
            records[name] = None
            if interface is None:
                refused.pop(name, None)
                # Only this thread changes _aside: no lock to look.
                if name in self._aside:
                    with self._cond:
                        self._aside.pop(name, None)
                continue
            record = record_of(interface, host)
            aside = check_record(record)
            if aside is not None:
                self._set_aside(name, aside)
            elif not refused:  # the common case: nothing refused
                records[name] = record
            elif refused.get(name) != record:
                refused.pop(name, None)
                records[name] = record
        return records

    def _set_aside(self, name: str, aside: Aside) -> None:
        with self._cond:
            before = self._aside.get(name)
            self._aside[name] = aside
        if before != aside:
            self.set_aside_total += 1
            LOG.error('Publisher %s sets aside the record of interface %s: '
                      '%s; the host\'s other records are written, this one '
                      'once its interface changes into something storable',
                      self.store.target, printable(name), safe(aside.text))

    def _sync(self, current: KeyedState, batch: Mapping[str, Optional[Record]],
              rewrite: frozenset = frozenset(), resync: bool = False,
              alive: Optional[dict] = None) -> Write:
        """Write what takes ``current`` (what the store holds) to ``batch``
        and make ``current`` what the store then holds.

        A record the store refuses is set aside, and its older value, if
        the store has one, is deleted: a stale value must not stand for
        the interface's present state.  ``alive`` goes with the write
        unless part of it was refused (then the returned write's ``alive``
        is None).
        """
        write = plan(current, batch, rewrite, resync)
        write.alive = alive
        self._settle(current, batch, self._write(write))
        return write

    def _settle(self, current: KeyedState,
                batch: Mapping[str, Optional[Record]],
                refused: Collection[str] = frozenset()) -> None:
        """``batch`` was written but for the ``refused`` names: make
        ``current`` what the store holds now (deleting the stale values of
        the refused names) and note which set-aside records are published.
        """
        # put, not update: the changes were in the plan.
        if refused:
            current.put({n: v for n, v in batch.items() if n not in refused})
        else:
            current.put(batch)
        stale = {n: None for n in refused if current.get(n) is not None}
        if stale:
            self._write(plan(current, stale))
        current.put(dict.fromkeys(refused))
        if self._aside:  # only this thread changes it: no lock to look
            for name, record in batch.items():
                if (record is not None and name in self._aside and
                        name not in refused):
                    self._published(name)

    def _published(self, name: str) -> None:
        with self._cond:
            aside = self._aside.pop(name, None)
        if aside is not None:
            LOG.info('Publisher %s: interface %s, set aside before (%s), '
                     'is written now', self.store.target, printable(name),
                     safe(aside.text))

    def _write(self, write: Write) -> set[str]:
        """Apply ``write``; return the names whose records the store
        refused for their content (:meth:`Store.refuses`), found by
        bisection and set aside, so that one bad member never holds the
        others.  Any other error propagates (the writer reconnects).
        """
        if not write:
            return set()
        try:
            self.store.apply(write)
            return set()
        except Exception as exc:
            if not self.store.refuses(exc):
                raise
            error = exc
        # Not written: the halves go without it, and the caller puts the
        # liveness record once it knows what was published.
        write.alive = None
        names = sorted(write.state)
        if len(names) > 1:
            half = len(names) // 2
            return (self._write(write.subset(names[:half])) |
                    self._write(write.subset(names[half:])))
        why = 'refused by %s: %s' % (self.store.target,
                                     describe_error(error))
        refused = set()
        for name in names:
            record = write.state[name]
            if record is None:
                # Nothing to set aside: the next reconcile tries again.
                LOG.error('Publisher %s cannot delete the key of interface '
                          '%s: %s', self.store.target, printable(name),
                          safe(why))
                continue
            refused.add(name)
            self._refused[name] = record
            self._set_aside(name, Aside('refused', why))
        return refused

    def _not_owner(self, exc: NotOwner) -> None:
        self._close_store()
        with self._cond:
            self.connected = False
            self._reconcile = True
        if exc.alive is None:
            # Our liveness record vanished (TTL passed during a stall,
            # store data lost): claim the host again.
            delay = self._backoff.next()
            LOG.warning('Liveness record of host %s vanished from %s; '
                        'claiming the host again in %.1fs', exc.host,
                        self.store.target, delay)
            self._wait(delay)
            return
        alive = exc.alive
        who = (alive.get('owner'), alive.get('pid'), alive.get('started'))
        self.refusals += 1
        if who != self._refused_by:
            self._refused_by = who
            LOG.error(
                'Host id %s is held in %s by another agent (owner %s, pid '
                '%s, version %s): this agent (owner %s, pid %s) writes '
                'nothing there and checks again every ~%.0fs until that '
                'agent\'s liveness record expires; give each agent its own '
                '[DEFAULT] host', safe(exc.host), self.store.target,
                safe(alive.get('owner')), safe(alive.get('pid')),
                safe(alive.get('version')), self.store.me.owner,
                self.store.me.pid, self.max_backoff)
        self._wait(jittered(self.max_backoff))

    def _failed(self, exc: Exception, elapsed: float = 0.0) -> None:
        """The attempt failed, its last request after ``elapsed`` seconds:
        reconnect later.
        """
        self.failures += 1
        self._streak += 1
        delay = self._delay(elapsed)
        LOG.warning('Publisher cannot use %s (%s); retrying in %.1fs',
                    self.store.target, describe_error(exc), delay)
        self._close_store()
        with self._cond:
            # Whatever was taken is covered by the reconcile that follows
            # the reconnect: it writes the full desired state.
            self.connected = False
            self._reconcile = True
        self._wait(delay)

    def _wait(self, delay: float) -> None:
        with self._cond:
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._stopped or self._closing,
                                delay)

    def _finish(self) -> None:
        if self.revoke_on_stop and self.connected and not self._stopped:
            try:
                self.store.revoke()
                LOG.info('Removed host %s from %s (revoke_on_stop)',
                         self.store.host, self.store.target)
            except Exception as exc:
                LOG.warning('Could not remove host %s from %s: %s',
                            self.store.host, self.store.target,
                            describe_error(exc))
        self._close_store()

    def _close_store(self) -> None:
        try:
            self.store.close()
        except Exception as exc:
            LOG.debug('Closing %s failed: %s', self.store.target, exc)
