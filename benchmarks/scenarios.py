"""The five scenarios.  Each takes a :class:`Config`, returns plain data.

Contenders run one at a time (sync, latency, burst, resync) so none steals
the other's CPU; the idle scenario runs them side by side on one server
because it measures CPU time, which is per process.
"""

import contextlib
import dataclasses
import json
import logging
import os
import statistics
import time
from typing import Callable, Optional

from benchmarks.contenders import MARK_PREFIX
from benchmarks.contenders import POLL_INTERVAL
from benchmarks import dataset
from benchmarks import harness
from benchmarks import machine
from df_ovsdb_agent.testing import sandbox

LOG = logging.getLogger('benchmarks')

# The agent and the floor first: they run next to each other in every
# repeat (see order()).
ALL = ('agent', 'c_floor', 'agent_pyjson', 'raw_idl', 'raw_idl_pyjson',
       'ovsdbapp_naive', 'neutron_json', 'polling')
#: Contenders that get a notification per change (polling does not).
PUSH = tuple(c for c in ALL if c != 'polling')
RESYNC = ('agent', 'raw_idl', 'ovsdbapp_naive')
#: One huge value: the contenders whose parsers differ.
HUGE = ('agent', 'c_floor', 'raw_idl', 'neutron_json')


@dataclasses.dataclass
class Config:
    """How big and how long; see ``run.py`` for the presets."""

    sizes: tuple = (1000, 10000, 50000, 100000)
    repeats: int = 3
    contenders: tuple = ALL
    latency_rows: int = 10000
    latency_changes: int = 200
    # The background burst of the latency scenario: this many other ports
    # changed every 50 ms.
    latency_noise: int = 100
    burst_base: int = 1000
    bursts: tuple = (1000, 10000)
    idle_rows: int = 10000
    idle_seconds: float = 60.0
    quiet_seconds: float = 20.0
    churn_interval: float = 5.0
    resync_rows: int = 10000
    huge_rows: int = 100
    huge_sizes: tuple = (1 << 18, 1 << 20, 16 << 20)
    timeout: float = 600.0
    # Skip a contender at a size when its extrapolated sync time (from the
    # previous size) exceeds this many seconds; reported as extrapolated.
    sync_budget: float = 90.0
    # Before each sample, wait up to this many seconds for the load
    # average to fall to machine.LIMITS.load (see machine.settle).
    settle: float = 60.0

    def want(self, names) -> list[str]:
        return [c for c in names if c in self.contenders]


def median(values: list) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def order(names, rep: int) -> list:
    """Contenders in the order of repeat ``rep``: reversed every repeat
    (A B | B A | A B ...), so a drift of the machine during the run weighs
    on every contender alike instead of on the one that always runs last.
    """
    return list(names) if rep % 2 == 0 else list(reversed(names))


def percentile(values: list, pct: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    index = int(round(pct / 100.0 * (len(ordered) - 1)))
    return ordered[min(len(ordered) - 1, index)]


class Database:
    """An ovsdb-server sandbox filled with ``ports`` VM ports."""

    def __init__(self, ports: int) -> None:
        self.box = sandbox.OvsSandbox(vswitchd=False)
        self.box.start()
        self.client = dataset.connect(self.box.remote)
        self.pop = dataset.Population(self.client)
        if ports:
            self.pop.add('tap', ports)

    @property
    def remote(self) -> str:
        return self.box.remote

    def pids(self) -> list[int]:
        """The harness and ovsdb-server: measured, never "others"."""
        return [os.getpid(), self.box.ovsdb.pid]

    def settle(self, cfg: Config, progress: Callable) -> float:
        return machine.settle(machine.LIMITS, cfg.settle, self.pids,
                              progress)

    def server_cpu(self) -> float:
        import psutil
        times = psutil.Process(self.box.ovsdb.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        self.client.close()
        self.box.stop()

    def __enter__(self) -> 'Database':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def _guard(out: dict, name: str, progress: Callable, scenario: str):
    """Record a contender that fails or hangs, and carry on with the rest."""
    try:
        yield
    except harness.WorkerError as exc:
        out.setdefault('_errors', {})[name] = str(exc)
        progress('%s %-15s FAILED: %s' % (scenario, name, exc))


def _started(name: str, db: Database, timeout: float) -> tuple:
    worker = harness.Worker(name)
    try:
        sync = worker.start(db.remote, db.pop.rows, timeout)
    except Exception:
        worker.close()
        raise
    return worker, sync


# -- initial sync ------------------------------------------------------------

def sync(cfg: Config, progress: Callable) -> dict:
    """Start -> every row delivered, and peak RSS, per size and contender.

    Every sample is a fresh contender process; the order of the
    contenders is reversed every repeat (:func:`order`).
    """
    out: dict = {}
    for size in cfg.sizes:
        with Database(size) as db:
            for rep in range(cfg.repeats):
                for name in order(cfg.want(ALL), rep):
                    cell = out.setdefault(name, {}).setdefault(
                        str(size), {'seconds': [], 'rss': [], 'cpu': [],
                                    'events': [], 'sync_cpu': [],
                                    'rss_start': [], 'machine': []})
                    guess = _extrapolate(out[name], size)
                    if guess is not None and guess > cfg.sync_budget:
                        cell['extrapolated'] = guess
                        continue
                    with _guard(out, name, progress, 'sync'):
                        _sync_sample(cfg, db, name, cell, progress)
                        bad = machine.reasons(cell['machine'][-1])
                        progress('sync %6d %-15s #%d %.3fs%s' % (
                            size, name, rep + 1, cell['seconds'][-1],
                            '  NOT COMPARABLE: ' + '; '.join(bad)
                            if bad else ''))
    for name, cells in out.items():
        if name.startswith('_'):
            continue
        for cell in cells.values():
            cell['median'] = median(cell['seconds'])
            cell['rss_median'] = median(cell['rss'])
            cell['sync_cpu_median'] = median(cell['sync_cpu'])
    return out


def _sync_sample(cfg: Config, db: Database, name: str, cell: dict,
                 progress: Callable) -> None:
    """One initial sync of a fresh ``name`` process, with what else the
    machine did meanwhile (:class:`benchmarks.machine.Window`).
    """
    settled = db.settle(cfg, progress)
    worker = harness.Worker(name)
    try:
        # Interpreter start-up and imports are over ('ready'): the CPU
        # and memory counted from here are the sync's.
        cpu, server, rss = worker.cpu(), db.server_cpu(), worker.rss()
        window = machine.Window(
            lambda: db.pids() + worker.pids()).start()
        result = worker.start(db.remote, db.pop.rows, cfg.timeout)
        seen = window.stop()
        seen['contender_cpu'] = worker.cpu() - cpu
        seen['server_cpu'] = db.server_cpu() - server
        seen['settled'] = settled
        cell['seconds'].append(result['seconds'])
        cell['events'].append(result['events'])
        cell['rss'].append(worker.peak_rss())
        cell['rss_start'].append(rss)
        cell['cpu'].append(worker.cpu())
        cell['sync_cpu'].append(seen['contender_cpu'])
        cell['machine'].append(seen)
    finally:
        worker.close()


def _extrapolate(cells: dict, size: int) -> Optional[float]:
    """Linear guess from the largest measured smaller size."""
    done = [(int(s), c['seconds']) for s, c in cells.items()
            if c['seconds'] and int(s) < size]
    if not done:
        return None
    prev, seconds = max(done)
    return median(seconds) * size / prev


# -- latency ------------------------------------------------------------------

def latency(cfg: Config, progress: Callable) -> dict:
    """Commit -> subscriber callback, idle and under a background burst.

    One batch per phase per repeat; every repeat starts each contender
    afresh, in the order of :func:`order`.
    """
    out: dict = {}
    with Database(cfg.latency_rows) as db:
        probe = db.pop.add('lat', 1)[0]
        # Not the probe: a background change of it would be taken for
        # the probe's own (with fewer than 200 rows it was among them).
        noise_ports = [p for p in db.pop.ports
                       if not p.name.startswith(MARK_PREFIX)][:200]
        generation = [0]
        for rep in range(cfg.repeats):
            for name in order(cfg.want(PUSH), rep):
                if name in out.get('_errors', {}):
                    continue
                result = out.setdefault(name, {
                    phase: {'batches': [], 'noise_commits': 0}
                    for phase in ('idle', 'burst')})
                with _guard(out, name, progress, 'latency'):
                    _latency_one(cfg, db, name, probe, noise_ports,
                                 generation, result, progress)
    for name, result in out.items():
        if not name.startswith('_'):
            for phase in result.values():
                phase.update(_latency_summary(phase['batches']))
    return out


def _latency_one(cfg: Config, db: Database, name: str, probe, noise_ports,
                 generation: list, result: dict,
                 progress: Callable) -> None:
    settled = db.settle(cfg, progress)
    worker, _ = _started(name, db, cfg.timeout)
    try:
        for phase in ('idle', 'burst'):
            noise = (harness.Noise(db.remote, noise_ports, 'burst',
                                   pause=0.05, batch=cfg.latency_noise)
                     if phase == 'burst' else None)
            extra = [noise.proc.pid] if noise else []
            window = machine.Window(
                lambda: db.pids() + worker.pids() + extra).start()
            try:
                batch = _probe_batch(db, worker, probe, generation,
                                     cfg.latency_changes)
                # Before the writer stops: its exit would count its CPU
                # as another process's.
                batch['machine'] = window.stop()
                batch['machine']['settled'] = settled
            finally:
                result[phase]['noise_commits'] += (
                    noise.close() if noise else 0)
            result[phase]['batches'].append(batch)
            bad = machine.reasons(batch['machine'])
            progress('latency %-15s %-5s p50 %s ms  p99 %s ms%s' % (
                name, phase, _ms(batch['p50']), _ms(batch['p99']),
                '  NOT COMPARABLE: ' + '; '.join(bad) if bad else ''))
    finally:
        worker.close()


def _probe_batch(db: Database, worker: harness.Worker,
                 probe: dataset.Port, generation: list, count: int) -> dict:
    samples, lost = [], 0
    for _ in range(count):
        generation[0] += 1
        worker.drain_marks()
        began = harness.stamp()
        db.client.transact(*dataset.set_mac_ops([probe], generation[0]))
        seen = worker.wait_mark(probe.name, 5.0)
        if seen is None:
            lost += 1
            if lost >= 5:
                break
            continue
        samples.append((seen - began) / 1e9)
        time.sleep(0.002)
    return {'p50': percentile(samples, 50), 'p99': percentile(samples, 99),
            'n': len(samples), 'lost': lost}


def _latency_summary(batches: list[dict]) -> dict:
    return {'p50': median([b['p50'] for b in batches]),
            'p99': median([b['p99'] for b in batches]),
            'batches': batches,
            'n': sum(b['n'] for b in batches),
            'lost': sum(b['lost'] for b in batches)}


def _ms(seconds: Optional[float]) -> str:
    return '-' if seconds is None else '%.2f' % (seconds * 1000)


# -- burst --------------------------------------------------------------------

def burst(cfg: Config, progress: Callable) -> dict:
    """N port adds in one transaction -> last event delivered."""
    out: dict = {}
    with Database(cfg.burst_base) as db:
        for name in cfg.want(PUSH):
            with _guard(out, name, progress, 'burst'):
                _burst_one(cfg, db, name, out, progress)
    return out


def _burst_one(cfg: Config, db: Database, name: str, out: dict,
               progress: Callable) -> None:
    worker, _ = _started(name, db, cfg.timeout)
    timeout = min(cfg.timeout, 120.0)
    try:
        for size in cfg.bursts:
            cell = out.setdefault(name, {})[str(size)] = {'seconds': []}
            for rep in range(cfg.repeats):
                worker.call('expect', count=size)
                began = harness.stamp()
                ports = db.pop.add('b', size, chunk_size=size)
                try:
                    reached = worker.wait('reached', timeout)
                    cell['seconds'].append((reached['t'] - began) / 1e9)
                    worker.call('expect', count=size)
                finally:
                    db.pop.remove(ports, chunk_size=size)
                    cell['median'] = median(cell['seconds'])
                worker.wait('reached', timeout)
                progress('burst %6d %-15s #%d %.3fs' % (
                    size, name, rep + 1, cell['seconds'][-1]))
    finally:
        worker.close()


# -- idle cost ----------------------------------------------------------------

def idle(cfg: Config, progress: Callable) -> dict:
    """CPU and bytes read with nothing happening, then with vswitchd-like
    statistics churn; every contender connected to one server at once.
    """
    out: dict = {}
    with Database(cfg.idle_rows) as db:
        workers = {}
        try:
            for name in cfg.want(ALL):
                workers[name] = _started(name, db, cfg.timeout)[0]
            time.sleep(2.0)  # let the initial syncs' stragglers settle
            quiet = _window(db, workers, cfg.quiet_seconds)
            with harness.Noise(db.remote, db.pop.ports, 'churn',
                               pause=cfg.churn_interval) as noise:
                churn = _window(db, workers, cfg.idle_seconds)
                churn['churn_commits'] = noise.close()
        finally:
            for worker in workers.values():
                worker.close()
    for name in workers:
        out[name] = {'quiet': quiet[name], 'churn': churn[name]}
        progress('idle %-15s quiet %.3f cpu-s  churn %.3f cpu-s / %ds' % (
            name, quiet[name]['cpu'], churn[name]['cpu'], cfg.idle_seconds))
    out['_server'] = {'quiet': quiet['_server'], 'churn': churn['_server'],
                      'churn_commits': churn['churn_commits']}
    return out


def _window(db: Database, workers: dict, seconds: float) -> dict:
    port = db.box.port
    before = {n: (w.cpu(), w.bytes_read(port)) for n, w in workers.items()}
    server = db.server_cpu()
    time.sleep(seconds)
    result = {}
    for name, worker in workers.items():
        cpu0, read0 = before[name]
        cpu = worker.cpu() - cpu0
        read = worker.bytes_read(port) - read0
        result[name] = {'seconds': seconds, 'cpu': cpu, 'bytes': read,
                        'cpu_per_hour': cpu * 3600 / seconds,
                        'bytes_per_hour': read * 3600 / seconds}
    result['_server'] = {'cpu': db.server_cpu() - server,
                         'seconds': seconds}
    return result


# -- resync -------------------------------------------------------------------

def resync(cfg: Config, progress: Callable) -> dict:
    """ovsdb-server restart with 10 offline changes -> re-synced."""
    out: dict = {}
    with Database(cfg.resync_rows) as db:
        generation = 0
        for name in cfg.want(RESYNC):
            with _guard(out, name, progress, 'resync'):
                generation = _resync_one(cfg, db, name, generation, out,
                                         progress)
    return out


def _resync_one(cfg: Config, db: Database, name: str, generation: int,
                out: dict, progress: Callable) -> int:
    worker, _ = _started(name, db, cfg.timeout)
    try:
        cell = out[name] = {'seconds': [], 'events': []}
        for rep in range(cfg.repeats):
            generation += 1
            taps = [p for p in db.pop.ports if p.name.startswith('tap')]
            removed, modified = taps[:3], taps[3:5]
            worker.call('resync', count=None)
            db.client.close()
            db.box.kill_ovsdb()
            db.pop.offline_changes(db.box.db, 'r', 5, removed, modified,
                                   generation)
            worker.drain_marks()
            began = harness.stamp()
            db.box.start_ovsdb()
            # The sandbox has seen the server accept connections.
            back = harness.stamp()
            done = worker.wait('resynced', cfg.timeout)
            cell['seconds'].append((done['t'] - began) / 1e9)
            # Contenders that say when they reconnected (the agent does):
            # server accepting again -> resync started.
            connected = worker.wait_mark('connected', 0.5)
            if connected is not None:
                cell.setdefault('started', []).append(
                    (connected - back) / 1e9)
            cell['events'].append(done['events'])
            db.client = dataset.connect(db.remote)
            db.pop.client = db.client
            progress('resync %-15s #%d %.3fs %d events' % (
                name, rep + 1, cell['seconds'][-1], done['events']))
        cell['median'] = median(cell['seconds'])
        cell['events_median'] = median(cell['events'])
        cell['started_median'] = median(cell.get('started', []))
    finally:
        worker.close()
    return generation


# -- one huge value ----------------------------------------------------------

def huge(cfg: Config, progress: Callable) -> dict:
    """One string value of N bytes in one row -> the subscriber has it."""
    out: dict = {}
    with Database(cfg.huge_rows) as db:
        generation = [0]
        out['_parse'] = {str(size): _parse_seconds(size)
                         for size in cfg.huge_sizes}
        for name in cfg.want(HUGE):
            for size in cfg.huge_sizes:
                cell = out.setdefault(name, {}).setdefault(
                    str(size), {'seconds': [], 'rss': []})
                guess = _extrapolate(out[name], size)
                if guess is not None and guess > cfg.sync_budget:
                    cell['extrapolated'] = guess
                    continue
                with _guard(out, name, progress, 'huge'):
                    _huge_one(cfg, db, name, size, generation, cell)
                    progress('huge %9d %-15s %s' % (
                        size, name, '%.3fs' % cell['seconds'][-1]
                        if cell['seconds'] else 'timed out'))
                cell['median'] = median(cell['seconds'])
    return out


def _parse_seconds(size: int) -> Optional[float]:
    """The agent's own share, in process: frame and parse one update.

    The update carries a value of ``size`` bytes and is fed in 64 KiB
    reads; median of 3.
    """
    from df_ovsdb_agent.ovsdb.jsonrpc import Framer
    msg = json.dumps({'method': 'update3', 'id': None, 'params': [
        'm', 'x', {'Interface': {'u': {'modify': {'external_ids': [
            'map', [['huge', 'x' * size]]]}}}}]}).encode()
    times = []
    for _ in range(3):
        framer, began = Framer(1 << 30), time.perf_counter()
        for start in range(0, len(msg), 65536):
            framer.feed(msg[start:start + 65536])
        times.append(time.perf_counter() - began)
    return median(times)


def _huge_one(cfg: Config, db: Database, name: str, size: int,
              generation: list, cell: dict) -> None:
    # A fresh port per measurement, deleted afterwards, so no contender
    # starts on a database that still holds an earlier huge value.
    port = db.pop.add('lat', 1)[0]
    worker = None
    try:
        worker, _ = _started(name, db, cfg.timeout)
        generation[0] += 1
        ops = dataset.set_mac_ops([port], generation[0])
        # attached-mac changes too, so every contender reports the row.
        ops[0]['row']['external_ids'][1].append(['huge', 'x' * size])
        worker.drain_marks()
        began = harness.stamp()
        db.client.transact(*ops)
        seen = worker.wait_mark(port.name, max(cfg.sync_budget * 2, 60))
        if seen is not None:
            cell['seconds'].append((seen - began) / 1e9)
            cell['rss'].append(worker.peak_rss())
    finally:
        if worker is not None:
            worker.close()
        db.pop.remove([port])


SCENARIOS = {'sync': sync, 'latency': latency, 'burst': burst,
             'idle': idle, 'resync': resync, 'huge': huge}

#: Derived figures for polling, which gets no notifications: a change
#: waits on average half an interval, at most a whole one, plus the fetch.
POLLING_NOTE = ('polling: a change is seen after interval/2 on average '
                '(interval %.0fs) plus one full fetch' % POLL_INTERVAL)
