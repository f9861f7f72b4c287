"""The agent's own CPU per interface at the first sync, stage by stage,
without a server: from the Interface rows the monitor hands over to the
benchmark subscriber's callback.

    .venv/bin/python -m benchmarks.agent_cost [--rows 100000] [--repeats 3]
    .venv/bin/python -m benchmarks.agent_cost --profile   # both threads
    .venv/bin/python -m benchmarks.agent_cost --server --rows 100000

With ``--server`` the rows come from a real ovsdb-server filled by
``benchmarks/dataset.py``, and the thread CPU of the monitor (all of it,
and its time in ``Agent.on_synced``) and of the subscriber's worker are
reported per interface (the process's user and system time and minor
page faults too: memory first touched costs system time): what this
module's path costs beside the read path before it.

Rows are synthetic VM interfaces filled like ``benchmarks/dataset.py``
fills them (iface-id, attached-mac, mac_in_use, link_state, admin_state,
bridge ``br-int``).  ``total`` is the process CPU (every thread) of
``on_sync_started`` + ``on_synced`` until the subscriber has had every
event.  The stages are the same path cut in five, each timed on its own
(the output of one is the input of the next): online view (the
classification, in the agent's one loop), snapshot.adopt, conflicts,
bus (publish, chunks, events, with a subscriber that does nothing) and
the benchmark's subscriber alone; their sum comes close to ``total``
(which adds the collector's passes and the threads' hand-off).  Below
it, for reference only: ``classify()`` row by row (the general path, the
agent's loop takes a shorter one for VM ports), and the public
constructors ``Interface()`` and ``InterfaceEvent()``, which the path
does not call (it builds both as their mutable twins).  The collector is paused
during ``on_synced`` and each stage, as the monitor pauses it.  Figures,
not assertions.
"""

import argparse
import cProfile
import importlib
import io
import pstats
import resource
import threading
import time

from benchmarks import contenders
from df_ovsdb_agent.agent import Agent
from df_ovsdb_agent.bus import EventBus
from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import InterfaceRows
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.conflicts import IfaceIdIndex
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Sync
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent.ovsdb.gcpause import collector_paused
from df_ovsdb_agent.snapshot import Snapshot


def rows(n: int) -> InterfaceRows:
    """``n`` online VM interface rows (fresh objects every call), in the
    form a sync hands them over (the stored rows, not RowValues).
    """
    uuids = ['%08x-0000-4000-8000-%012x' % (i, i) for i in range(n)]
    values = [(
        'tap%d' % i, '', i + 1,
        {'iface-id': 'port-%d' % i, 'attached-mac': 'fa:16:3e:%06x' % i,
         'vm-uuid': 'vm-%d' % (i // 4), 'iface-status': 'active'},
        {}, 'fa:16:3e:%06x' % i, 'up', 'up') for i in range(n)]
    return InterfaceRows(uuids, values, ['br-int'] * n)


class _Counter:
    """The benchmark's subscriber (``benchmarks.contenders.AgentContender``),
    with its :class:`~benchmarks.contenders.Reporter` writing to memory.
    """

    def __init__(self) -> None:
        self.rep = contenders.Reporter(io.StringIO())
        self.finished = threading.Event()

    @property
    def count(self) -> int:
        return self.rep.count

    def __call__(self, event) -> None:
        rep = self.rep
        if isinstance(event, SyncEvent):
            if event.sync is Sync.FINISHED:
                rep.sync_finished()
                self.finished.set()
            else:
                rep.sync_started()
        else:
            rep.event(event.interface.name)


def _cpu(func) -> float:
    start = time.process_time()
    with collector_paused():
        func()
    return time.process_time() - start


def total(data: InterfaceRows, profile: bool = False) -> float:
    """Process CPU seconds of one first sync of ``data`` to the subscriber.

    With ``profile``, print the cProfile of the agent's thread and of the
    subscriber's.
    """
    agent = Agent('tcp:127.0.0.1:1')
    counter = _Counter()
    profiles: list = []
    sub_prof = cProfile.Profile()
    started = threading.local()

    def profiled(event) -> None:
        # cProfile follows the thread that enables it: the worker's.
        if not getattr(started, 'on', False):
            started.on = True
            sub_prof.enable()
        counter(event)
    if profile:
        profiles.append(('subscriber thread', sub_prof))
    agent.subscribe(profiled if profile else counter, name='bench')
    prof = cProfile.Profile()
    start = time.process_time()
    if profile:
        prof.enable()
    agent.on_sync_started()
    # As the monitor calls it.
    with collector_paused():
        agent.on_synced(data)
    if profile:
        prof.disable()
    counter.finished.wait()
    agent.bus.wait_idle()
    cpu = time.process_time() - start
    assert counter.count == len(data), counter.count
    if profile:
        profiles[0][1].disable()
        profiles.insert(0, ('agent thread', prof))
        for label, p in profiles:
            out = io.StringIO()
            pstats.Stats(p, stream=out).sort_stats('tottime').print_stats(18)
            print('==== %s' % label)
            print(out.getvalue())
    agent.bus.close(1)
    return cpu


class _Finish:
    """A subscriber that does nothing but notice ``sync finished``: the
    bus's own cost.
    """

    def __init__(self) -> None:
        self.finished = threading.Event()

    def __call__(self, event) -> None:
        if type(event) is SyncEvent:
            self.finished.set()


def stages(data: InterfaceRows) -> dict[str, float]:
    """CPU seconds of each stage of the path, run on its own, in order.

    The first five are the path, one after the other (their sum is what
    ``total`` should be, up to the collector and thread switches); the
    lines after ``=`` are references that are not on the path.
    """
    out = {}
    agent = Agent('tcp:127.0.0.1:1')
    current: dict = {}
    out['rows -> online view'] = _cpu(lambda: current.update(
        agent._online(data)))
    snap = Snapshot()
    changed: dict = {}
    out['snapshot.adopt'] = _cpu(lambda: changed.update(snap.adopt(current)))
    out['conflicts'] = _cpu(lambda: IfaceIdIndex().apply(changed, {}))
    bus = EventBus()
    finish = _Finish()
    bus.subscribe(finish, name='bench')

    def deliver() -> None:
        bus.publish_states(changed, Sync.FINISHED)
        finish.finished.wait()
        bus.wait_idle()
    out['bus (no-op subscriber)'] = _cpu(deliver)
    bus.close(1)
    classified = list(current.values())
    events = [InterfaceEvent(Action.ONLINE, i) for i in classified]
    alone = _Counter()
    out['benchmark subscriber'] = _cpu(lambda: [alone(e) for e in events])
    out['= sum of the path'] = sum(out.values())
    policy = Policy()
    out['classify() per row'] = _cpu(lambda: [
        classify(row, policy) for row in data])
    out['InterfaceEvent()'] = _cpu(lambda: [
        InterfaceEvent(Action.ONLINE, i) for i in classified])
    out['Interface()'] = _cpu(lambda: [
        Interface(i.kind, i.name, i.uuid, i.ofport, i.bridge, i.iface_id,
                  i.attached_mac, i.mac_in_use, i.link_state, i.admin_state)
        for i in classified])
    return out


def server_split(n: int, repeats: int) -> None:
    """Print the per-thread CPU of ``repeats`` first syncs of ``n`` ports
    from a real ovsdb-server.
    """
    from benchmarks.scenarios import Database
    from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings
    # Imported by the monitor once connected: an import, not sync work.
    importlib.import_module('ovs.db.schema')
    db = Database(n)
    try:
        for _ in range(repeats):
            agent = Agent(settings=OvsdbSettings(connection=db.remote,
                                                 sync_timeout=600))
            counter = _Counter()
            times: dict = {}

            def subscriber(event) -> None:
                if 'sub0' not in times:
                    times['sub0'] = time.thread_time()
                counter(event)
                if type(event) is SyncEvent and counter.finished.is_set():
                    times['sub1'] = time.thread_time()
            agent.subscribe(subscriber, name='bench')
            started, synced = agent.on_sync_started, agent.on_synced

            def on_sync_started() -> None:
                times['mon0'] = time.thread_time()
                started()

            def on_synced(data) -> None:
                begin = time.thread_time()
                synced(data)
                times['mon1'] = time.thread_time()
                times['sink'] = times['mon1'] - begin
            agent.on_sync_started = on_sync_started  # type: ignore
            agent.on_synced = on_synced  # type: ignore
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.process_time()
            agent.start()
            counter.finished.wait()
            agent.bus.wait_idle()
            cpu = time.process_time() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            print('%d rows: process %.2f us per interface (user %.2f, '
                  'system %.2f, %.2f minor page faults); monitor thread '
                  '%.2f, of which Agent.on_synced %.2f; subscriber thread '
                  '%.2f; peak RSS %.1f MB' % (
                      n, cpu / n * 1e6,
                      (after.ru_utime - before.ru_utime) / n * 1e6,
                      (after.ru_stime - before.ru_stime) / n * 1e6,
                      (after.ru_minflt - before.ru_minflt) / n,
                      (times['mon1'] - times['mon0']) / n * 1e6,
                      times['sink'] / n * 1e6,
                      (times['sub1'] - times['sub0']) / n * 1e6,
                      after.ru_maxrss / 1024))
            agent.stop(2)
    finally:
        db.box.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rows', type=int, default=100000)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--server', action='store_true')
    args = parser.parse_args()
    n = args.rows
    if args.server:
        server_split(n, args.repeats)
        return
    if args.profile:
        total(rows(n), profile=True)
        return
    totals = sorted(total(rows(n)) for _ in range(args.repeats))
    print('rows %d, total CPU per interface: median of %d %.2f us, '
          'min %.2f (all: %s)' % (
              n, args.repeats, totals[len(totals) // 2] / n * 1e6,
              totals[0] / n * 1e6,
              ', '.join('%.2f' % (t / n * 1e6) for t in totals)))
    for name, cpu in stages(rows(n)).items():
        print('  %-20s %6.2f us' % (name, cpu / n * 1e6))


if __name__ == '__main__':
    main()
