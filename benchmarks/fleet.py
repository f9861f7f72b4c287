"""The fleet benchmark: ``python -m benchmarks.fleet [options]``.

Simulated hosts (synthetic agents driving the real etcd and Redis
publishers, a few worker processes) against one real etcd and one real
redis-server on 127.0.0.1, with the real cluster consumer in its own
process.  Scenarios: cold start, an idle window, 1% of hosts churning
ports, a rolling restart of every agent, the store restarted with its data
kept and with it wiped.  Writes ``benchmarks/fleet_results.json`` and
regenerates ``benchmarks/fleet_results.md`` (see benchmarks/README.md).
"""

import argparse
import datetime
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional

import requests

from benchmarks.fleet_analysis import compare
from benchmarks.fleet_analysis import View
from benchmarks import fleet_consumer
from benchmarks import fleet_report
from benchmarks import fleet_stores
from benchmarks.fleet_worker import publisher_config
from benchmarks.fleet_worker import raise_fd_limit
from df_ovsdb_agent.cluster import stores

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCENARIOS = ('cold', 'idle', 'churn', 'rolling', 'restart-kept',
             'restart-wiped')
STORES = ('etcd', 'redis')
POLL = 0.2
#: Seconds between full parses of the consumer's lines while waiting
#: for it to converge (see StoreRun.poll).
FULL_PARSE_EVERY = 1.0


class Tail(fleet_consumer.Appended):
    """New complete JSON lines of a file that another process appends to."""

    def read(self) -> list:
        """The new complete lines, parsed (a partial last line waits)."""
        lines = self._new().split(b'\n')
        self._keep(lines.pop())
        return [json.loads(line) for line in lines if line.strip()]


class WorkerProc:
    """A fleet_worker child and its command pipe."""

    def __init__(self, index: int, args, store: str, url: str,
                 hosts: list, workdir: str) -> None:
        self.hosts = hosts
        self.changes = os.path.join(workdir, 'changes-%d.jsonl' % index)
        self.log = os.path.join(workdir, 'worker-%d.log' % index)
        module = ('benchmarks.fleet_green' if args.runtime == 'green'
                  else 'benchmarks.fleet_worker')
        cmd = [sys.executable, '-m', module,
               '--store', store, '--url', url, '--hosts', ','.join(hosts),
               '--interfaces', str(args.interfaces), '--changes',
               self.changes, '--seed', str(args.seed * 1000 + index),
               '--bus', args.bus]
        for item in args.set.get(store, []):
            cmd += ['--set', item]
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, text=True)
        self._expect_ready()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _expect_ready(self) -> None:
        if not self.receive().get('ready'):
            raise RuntimeError('worker did not start; see %s' % self.log)

    def send(self, op: str, **params) -> None:
        self.proc.stdin.write(json.dumps(dict(params, op=op)) + '\n')
        self.proc.stdin.flush()

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('worker %d exited (%s); see %s'
                               % (self.pid, self.proc.poll(), self.log))
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send('stop')
                self.receive()
                self.proc.wait(60)
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


def _cpu_split(replies: list, hosts: int) -> dict:
    """The workers' CPU milliseconds per host in a cold start, by phase
    (see :meth:`benchmarks.fleet_worker.Worker.op_start`); empty when a
    worker did not split it (a paced start).
    """
    keys = ('cpu_launch', 'cpu_ports', 'cpu_sync', 'cpu_total')
    if not hosts or not all(key in r for r in replies for key in keys):
        return {}
    ms = {key[4:]: 1000.0 * sum(r[key] for r in replies) / hosts
          for key in keys}
    # (The ports are made up before the window, outside the total.)
    ms['writers'] = ms['total'] - ms['launch'] - ms['sync']
    return {'worker_cpu_ms_per_host': {k: round(v, 3)
                                       for k, v in ms.items()}}


def command_all(workers: list, op: str, per_worker=None, **params) -> list:
    """Send ``op`` to every worker at once and collect the replies."""
    for index, worker in enumerate(workers):
        extra = per_worker(index) if per_worker else {}
        worker.send(op, **dict(params, **extra))
    replies = [worker.receive() for worker in workers]
    failed = [r.get('error') for r in replies if not r.get('ok')]
    if failed:
        raise RuntimeError('%s failed in a worker: %s' % (op, failed[0]))
    return replies


class StoreRun:
    """One store, its consumer and the workers, through the scenarios."""

    def __init__(self, store: str, args, workdir: str) -> None:
        self.store = store
        self.args = args
        self.size = args.hosts
        self.workdir = os.path.join(workdir, store)
        os.makedirs(self.workdir)
        self.server = fleet_stores.make_server(store, self.workdir)
        self.hosts = ['host%05d' % i for i in range(args.hosts)]
        self.workers: list = []
        self.consumer: Optional[subprocess.Popen] = None
        self.consumer_out = os.path.join(self.workdir, 'consumer.out')
        self.consumer_tail = fleet_consumer.Frames(self.consumer_out)
        self.change_tails: list = []
        self.expected = View()
        self.seen_view = View()
        self.real: list = []     # (t, key, action, record)
        self.seen: list = []
        # Consumer lines read but not parsed yet (see poll()).
        self._raw: list = []
        self._raw_events = 0
        self._parsed_at = 0.0
        self.markers: list = []  # (t, kind, host, state)
        # The consumer's down holds so far: (held, ridden out).
        self.downs = (0, 0)
        config = publisher_config(store, 'http://127.0.0.1:1', self.opts())
        self.ttl = int(getattr(config, 'lease_ttl', None) or
                       getattr(config, 'liveness_ttl'))
        # Publishers refresh leases / liveness every third of the TTL.
        self.tick = self.ttl / 3.0

    def opts(self) -> dict:
        return dict(item.split('=', 1)
                    for item in self.args.set.get(self.store, []))

    # -- processes --------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        log = open(os.path.join(self.workdir, 'consumer.log'), 'ab')
        self.consumer = subprocess.Popen(
            [sys.executable, '-m', 'benchmarks.fleet_consumer', '--store',
             self.store, '--url', self.server.url, '--out',
             self.consumer_out], cwd=ROOT, stderr=log,
            stdout=subprocess.DEVNULL)
        self._wait_consumer_ready()
        count = max(1, min(self.args.workers, len(self.hosts)))
        chunks = [self.hosts[i::count] for i in range(count)]
        for index, hosts in enumerate(chunks):
            self.workers.append(WorkerProc(index, self.args, self.store,
                                           self.server.url, hosts,
                                           self.workdir))
        self.change_tails = [Tail(w.changes) for w in self.workers]

    def _wait_consumer_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.consumer.poll() is not None:
                raise RuntimeError('consumer exited; see %s' % self.workdir)
            if self.store == 'etcd':
                # Its first (empty) list is done.
                if any(line.get('e') == 's' and line.get('s') == 'finished'
                       for line in fleet_consumer.Frames(
                           self.consumer_out).read()):
                    return
            elif self.server.connections() >= 2:  # the reader and INFO
                return
            time.sleep(0.05)
        raise RuntimeError('consumer not ready; see %s' % self.workdir)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.consumer is not None and self.consumer.poll() is None:
            self.consumer.send_signal(signal.SIGTERM)
            try:
                self.consumer.wait(30)
            except subprocess.TimeoutExpired:
                self.consumer.kill()
                self.consumer.wait(10)
        self.server.stop()

    # -- logs -------------------------------------------------------------

    def poll(self, need: int) -> bool:
        """Whether it is worth parsing the consumer's lines now: they hold
        at least ``need`` interface events, or the last full parse is
        older than FULL_PARSE_EVERY.  Each batch's header counts its
        events; parsing every line at every poll made this process, the
        observer, take a fifth of a core from the fleet it observes
        while the consumer caught up.
        """
        raw = self.consumer_tail.read_raw()
        self._raw.extend(raw)
        self._raw_events += sum(events for events, _ in raw)
        now = time.monotonic()
        return (len(self.seen) + self._raw_events >= need or
                now - self._parsed_at >= FULL_PARSE_EVERY)

    def collect(self) -> None:
        self._parsed_at = time.monotonic()
        self.collect_changes()
        raw, self._raw, self._raw_events = self._raw, [], 0
        raw.extend(self.consumer_tail.read_raw())
        for line in fleet_consumer.Frames.decode(raw):
            if line['e'] == 'd':
                self.downs = (line['held'], line['ridden'])
            elif line['e'] == 'i':
                key = (line['h'], line['n'])
                self.seen.append((line['t'], key, line['a'], line['r']))
                self.seen_view.apply(key, line['a'], line['r'])
            elif line['e'] in ('c', 'w'):
                continue  # the consumer's trace (DF_FLEET_TRACE=1)
            else:
                self.markers.append((line['t'], line['e'], line.get('h'),
                                     line.get('s'), line.get('reset')))

    def collect_changes(self) -> None:
        """The agents' changes the workers wrote so far."""
        for tail in self.change_tails:
            for line in tail.read():
                host = line['h']
                for action, record in line['c']:
                    record['host'] = host
                    key = (host, record['name'])
                    self.real.append((line['t'], key, action, record))
                    self.expected.apply(key, action, record)

    # -- figures ----------------------------------------------------------

    def usage(self, zero: bool = False) -> dict:
        """Store counters and CPU/RSS of every process, now."""
        counters = self.server.counters()
        if zero:  # a restarted server counts from 0
            counters = dict.fromkeys(counters, 0.0)
        procs = {'store': fleet_stores.proc_usage(self.server.pid)}
        if zero:
            procs['store'] = dict(procs['store'], cpu=0.0, switches=0)
        each = [fleet_stores.proc_usage(w.pid) for w in self.workers]
        procs['workers'] = _sum_usage(each)
        procs['consumer'] = fleet_stores.proc_usage(self.consumer.pid)
        procs['coordinator'] = fleet_stores.proc_usage(os.getpid())
        return {'t': time.monotonic(), 'counters': counters,
                'procs': procs, 'each_worker': [u['cpu'] for u in each],
                'machine_busy': machine_busy(),
                'loadavg': os.getloadavg()}

    def probe(self) -> bool:
        """Whether the store holds every host's liveness record and the
        expected number of interface keys (cheap, one request).
        """
        try:
            if self.store == 'etcd':
                top = stores.check_prefix(stores.ETCD_PREFIX) + '/'
                reply = requests.post(
                    self.server.url + '/v3/kv/range', timeout=10, json={
                        'key': stores.etcd_b64(top),
                        'range_end': stores.etcd_range_end(top),
                        'count_only': True}).json()
                want = len(self.expected.records) + len(self.hosts)
                return int(reply.get('count', 0)) == want
            with self.server.client() as client:
                keys = [stores.redis_alive_key(stores.REDIS_PREFIX, h)
                        for h in self.hosts]
                return client.exists(*keys) == len(self.hosts)
        except Exception:
            return False

    def measure(self, name: str, action, grace: float = 0.0,
                settle: float = 0.0, probe: bool = False,
                restart=None) -> dict:
        """Run ``action``, wait until the consumer's view equals the real
        state (and, with ``probe``, the store holds every host again, at
        least ``grace`` seconds after the action), then ``settle`` seconds
        more; figures over that window.
        """
        self.collect()
        real_from, seen_from = len(self.real), len(self.seen)
        markers_from = len(self.markers)
        downs_before = self.downs
        status_before = _sum_status(command_all(self.workers, 'status'))
        t0 = time.monotonic()
        if restart is not None:
            restart()
            before = self.usage(zero=True)
        else:
            before = self.usage()
        info = action() or {}
        acted = time.monotonic()
        connections = self.server.connections()
        deadline = acted + self.args.timeout
        probe_ok_at = None
        converged = False
        while time.monotonic() < deadline:
            # The changes are in (each worker writes them before its
            # reply): the consumer needs at least as many events for a
            # cold start; else the periodic full parse decides.
            self.collect_changes()
            parsed = self.poll(seen_from + len(self.real) - real_from)
            if parsed:
                self.collect()
            now = time.monotonic()
            if probe and probe_ok_at is None and self.probe():
                probe_ok_at = now
            if (parsed and now >= acted + grace and
                    self.seen_view == self.expected and
                    (not probe or probe_ok_at is not None)):
                converged = True
                break
            time.sleep(POLL)
        connections = max(connections, self.server.connections())
        real = self.real[real_from:]
        seen = self.seen[seen_from:]
        ends = [info.get('t_flushed') or acted] + [s[0] for s in seen]
        if probe_ok_at is not None:
            ends.append(probe_ok_at)
        converged_at = max(ends)
        after = self.usage()
        if settle:
            end = time.monotonic() + settle
            while time.monotonic() < end:
                time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            self.collect()
            seen = self.seen[seen_from:]
        comparison = compare(real, seen)
        status = _sum_status(command_all(self.workers, 'status'))
        result = {
            'converged': converged,
            'converge_s': converged_at - t0 if converged else None,
            # When the last publisher reported its store write done.
            'flushed_s': (info['t_flushed'] - t0
                          if info.get('t_flushed') else None),
            'window_s': after['t'] - before['t'],
            'events': comparison.summary(),
            'view_exact': self.seen_view == self.expected,
            'view_differences': self.seen_view.differences(self.expected),
            'interfaces': len(self.expected.records),
            'markers': _count_markers(self.markers[markers_from:]),
            # Hosts the consumer held after their liveness record vanished
            # (down_grace), and those that came back in time: lease blips
            # that cost no event.
            'down_holds': {
                'held': self.downs[0] - downs_before[0],
                'ridden': self.downs[1] - downs_before[1]},
            'connections': connections,
            'settle_s': settle,
            # Publisher writers: failed store requests (then jittered
            # backoff and a reconcile), reconciles, refusals; deltas.
            'publishers': {k: status[k] - status_before[k]
                           for k in status if k != 'connected'},
        }
        result.update(_rates(self.store, before, after))
        if self.args.load_first is None:
            # The run's first scenario: the load the machine had before
            # the fleet did anything (see NOISE_LOAD).
            self.args.load_first = before['loadavg'][0]
        result.update(_noise(before, after, self.args.load_first))
        result.update({k: v for k, v in info.items()
                       if k in ('changes', 'transactions', 'durations_s',
                                'late', 'started_s',
                                'worker_cpu_ms_per_host')})
        return result

    # -- scenarios --------------------------------------------------------

    def cold(self) -> dict:
        count = len(self.workers)
        rate = self.args.start_rate

        def action():
            t0 = time.monotonic()
            replies = command_all(
                self.workers, 'start', lambda i: {
                    'rate': rate / count, 'offset': i / count},
                timeout=self.args.timeout)
            info = _last_flush(replies)
            # When the last host was started (with a start rate, the
            # fleet's boot takes hosts / rate seconds).
            info['started_s'] = max(r['t_synced'] for r in replies) - t0
            info.update(_cpu_split(replies, len(self.hosts)))
            return info

        result = self.measure('cold', action)
        result['start_rate'] = rate or None
        return result

    def idle(self) -> dict:
        return self.measure('idle', lambda: time.sleep(self.args.idle))

    def churn(self) -> dict:
        count = max(1, round(len(self.hosts) * self.args.churn_fraction))
        step = len(self.hosts) / count
        chosen = {self.hosts[int(i * step)] for i in range(count)}
        plan = [[i for i, h in enumerate(w.hosts) if h in chosen]
                for w in self.workers]

        def action():
            replies = command_all(
                self.workers, 'churn', lambda i: {'hosts': plan[i]},
                seconds=self.args.churn_seconds, rate=self.args.churn_rate,
                cooldown=self.args.churn_cooldown,
                timeout=self.args.timeout)
            info = _last_flush(replies)
            info['changes'] = sum(r['changes'] for r in replies)
            info['transactions'] = sum(r['transactions'] for r in replies)
            return info

        result = self.measure('churn', action)
        result['churn_hosts'] = count
        return result

    def rolling(self) -> dict:
        def action():
            replies = command_all(self.workers, 'restart',
                                  timeout=self.args.timeout)
            info = _last_flush(replies)
            durations = sorted(d for r in replies for d in r['durations'])
            info['durations_s'] = {
                'per_host_p50': durations[len(durations) // 2],
                'per_host_max': durations[-1], 'hosts': len(durations)}
            return info

        settle = (self.args.settle if self.args.settle is not None
                  else self.ttl + 5.0)
        return self.measure('rolling', action, settle=settle)

    def restart(self, keep: bool) -> dict:
        grace = (self.args.settle if self.args.settle is not None
                 else self.tick * 1.1 + 5.0)
        result = self.measure(
            'restart-kept' if keep else 'restart-wiped',
            lambda: _last_flush(command_all(self.workers, 'flushed',
                                            timeout=self.args.timeout)),
            grace=grace, probe=True,
            restart=lambda: self.server.restart(keep))
        return result

    def run(self, names: tuple) -> dict:
        results = {}
        steps = {'cold': self.cold, 'idle': self.idle, 'churn': self.churn,
                 'rolling': self.rolling,
                 'restart-kept': lambda: self.restart(True),
                 'restart-wiped': lambda: self.restart(False)}
        for name in ('cold',) + tuple(n for n in SCENARIOS
                                      if n in names and n != 'cold'):
            print('[%s %d] %s ...' % (self.store, self.size, name),
                  file=sys.stderr, flush=True)
            results[name] = steps[name]()
            print('[%s %d] %s: %s' % (
                self.store, self.size, name,
                fleet_report.one_line(results[name])),
                file=sys.stderr, flush=True)
        results['_ttl'] = self.ttl
        return results


def _last_flush(replies: list) -> dict:
    late = [h for r in replies for h in r.get('late', [])]
    return {'t_flushed': max(r.get('t_flushed', 0) for r in replies),
            'late': late}


def _sum_usage(usages: list) -> dict:
    return {key: sum(u.get(key, 0) for u in usages)
            for key in ('cpu', 'rss', 'hwm', 'threads', 'switches')}


def _sum_status(replies: list) -> dict:
    keys = ('connected', 'failures', 'reconciles', 'refusals')
    return {key: sum(r.get(key, 0) for r in replies) for key in keys}


def _count_markers(markers: list) -> dict:
    counts: dict = {}
    for _, kind, _, state, reset in markers:
        name = ('host_%s' % state if kind == 'h' else
                'sync_%s%s' % (state, '_reset' if reset else ''))
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _rates(store: str, before: dict, after: dict) -> dict:
    seconds = max(1e-9, after['t'] - before['t'])
    delta = {k: after['counters'][k] - before['counters'].get(k, 0.0)
             for k in after['counters']}
    if store == 'etcd':
        rates = {'writes_per_s': (delta['puts'] + delta['deletes']) / seconds,
                 'txns_per_s': delta['txns'] / seconds,
                 'keepalives_per_s': delta['keepalives'] / seconds,
                 'requests': {k: delta[k] for k in (
                     'puts', 'deletes', 'txns', 'ranges', 'keepalives',
                     'leases_granted', 'proposals', 'fsyncs')},
                 'fsync_ms_mean': (1000.0 * delta['fsync_seconds'] /
                                   delta['fsyncs'] if delta['fsyncs']
                                   else None),
                 'store_bytes': after['counters']['db_bytes']}
    else:
        rates = {'writes_per_s': (delta['hset'] + delta['hdel'] +
                                  delta['xadd']) / seconds,
                 'txns_per_s': delta['evalsha'] / seconds,
                 'keepalives_per_s': delta['set'] / seconds,
                 'commands_per_s': delta['commands'] / seconds,
                 'requests': {k: delta[k] for k in fleet_stores.
                              REDIS_COMMANDS + ('commands',)},
                 'store_bytes': after['counters']['used_memory']}
    procs = {}
    for name, usage in after['procs'].items():
        cpu = usage['cpu'] - before['procs'][name]['cpu']
        switches = usage.get('switches', 0) - before['procs'][name].get(
            'switches', 0)
        procs[name] = {'cpu_pct': 100.0 * cpu / seconds,
                       'rss_mb': usage['rss'] / 2 ** 20,
                       'peak_rss_mb': usage['hwm'] / 2 ** 20,
                       'threads': usage.get('threads'),
                       'switches_per_s': max(0.0, switches) / seconds}
    rates['procs'] = procs
    return rates


#: A scenario is not comparable when other processes used more than
#: NOISE_CPU_PCT of one core during it, or when the 1-minute load average
#: before the run's *first* scenario was above NOISE_LOAD (2 cores: other
#: processes were running when the benchmark began).  The load before a
#: later scenario is not the rule: it still counts the fleet's own
#: previous scenario (a load average decays over minutes), so it would
#: mark every scenario after a heavy one whatever else ran.
NOISE_LOAD = 1.0
NOISE_CPU_PCT = 20.0


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy since boot (/proc/stat)."""
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / fleet_stores.CLK_TCK


def comparable(load_first: float, others_cpu_pct: float) -> bool:
    """Whether a scenario's figures say what this code does on a quiet
    machine: the load average before the run's first scenario was at most
    :data:`NOISE_LOAD` and other processes used at most
    :data:`NOISE_CPU_PCT` of a core during the scenario.
    """
    return load_first <= NOISE_LOAD and others_cpu_pct <= NOISE_CPU_PCT


def _noise(before: dict, after: dict,
           load_first: Optional[float] = None) -> dict:
    """Load averages around a scenario, the CPU other processes used
    during it, and whether its figures are comparable (see
    :func:`comparable`; ``load_first``: the 1-minute load average before
    the run's first scenario, default this scenario's).
    """
    seconds = max(1e-9, after['t'] - before['t'])
    busy = after['machine_busy'] - before['machine_busy']
    ours = sum(after['procs'][name]['cpu'] - before['procs'][name]['cpu']
               for name in after['procs'])
    others = max(0.0, 100.0 * (busy - ours) / seconds)
    if load_first is None:
        load_first = before['loadavg'][0]
    worker_cpu = [100.0 * (a - b) / seconds for a, b in zip(
        after['each_worker'], before['each_worker'])]
    return {'loadavg_before': list(before['loadavg']),
            'loadavg_after': list(after['loadavg']),
            'loadavg_first': load_first,
            'others_cpu_pct': others,
            'worker_max_cpu_pct': max(worker_cpu, default=0.0),
            'comparable': comparable(load_first, others)}


def machine() -> dict:
    cpu = ''
    try:
        with open('/proc/cpuinfo') as info:
            cpu = next((line.split(':', 1)[1].strip() for line in info
                        if line.startswith('model name')), '')
    except OSError:
        pass
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) * 1024
    versions = {}
    for name, cmd in (('etcd', ['etcd', '--version']),
                      ('redis', ['redis-server', '--version'])):
        try:
            versions[name] = subprocess.run(
                cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            versions[name] = 'unknown'
    return {'cpu': cpu, 'cores': os.cpu_count(), 'mem_gb': mem / 2 ** 30,
            'kernel': os.uname().release,
            'python': sys.version.split()[0], 'stores': versions,
            'loadavg': os.getloadavg()}


def parse_set(items: list) -> dict:
    """``store:OPT=VALUE`` items -> store -> [OPT=VALUE]."""
    found: dict = {}
    for item in items or ():
        store, sep, rest = item.partition(':')
        if not sep or store not in STORES or '=' not in rest:
            raise argparse.ArgumentTypeError(
                'bad --set %r: expected etcd:OPT=VALUE or redis:OPT=VALUE'
                % item)
        found.setdefault(store, []).append(rest)
    return found


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.fleet', description=__doc__.split(
            '\n\n')[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--sizes',
                        help='comma-separated fleet sizes to run one after '
                             'the other, each HOSTS[xINTERFACES][@START_RATE]'
                             '[:SCENARIO+SCENARIO...] (e.g. 1000x50@0:cold+'
                             'rolling,2500x20,10000x10; --interfaces, '
                             '--start-rate and --scenarios where not given); '
                             'overrides --hosts')
    parser.add_argument('--start-rate', type=float, default=0.0,
                        help='hosts started per second in the cold start, '
                             'as a fleet boots (default 0: all at once)')
    parser.add_argument('--bus', choices=('inline', 'threads'),
                        default='inline',
                        help='agent events reach each publisher in the '
                             'publishing thread (default) or from a bus '
                             'thread per host as in the agent')
    parser.add_argument('--runtime', choices=('green', 'native'),
                        default='green',
                        help='simulated hosts run as greenthreads of one '
                             'OS thread per worker (default; eventlet) or '
                             'as native threads')
    parser.add_argument('--interfaces', type=int, default=50)
    parser.add_argument('--workers', type=int, default=4,
                        help='worker processes the hosts are spread over')
    parser.add_argument('--stores', default='etcd,redis')
    parser.add_argument('--scenarios', default=','.join(SCENARIOS),
                        help='comma-separated, from: %s (cold always runs)'
                        % ', '.join(SCENARIOS))
    parser.add_argument('--idle', type=float, default=30.0,
                        help='seconds of the idle window')
    parser.add_argument('--churn-fraction', type=float, default=0.01)
    parser.add_argument('--churn-seconds', type=float, default=30.0)
    parser.add_argument('--churn-rate', type=float, default=2.0,
                        help='transactions per second per churning host')
    parser.add_argument('--churn-cooldown', type=float, default=2.0,
                        help='seconds before a port is changed again')
    parser.add_argument('--settle', type=float, default=None,
                        help='seconds to keep watching after a rolling '
                             'restart (default: the lease/liveness TTL + '
                             '5) and the least wait after a store restart '
                             '(default: the refresh interval x1.1 + 5)')
    parser.add_argument('--timeout', type=float, default=900.0,
                        help='seconds a scenario may take to converge')
    parser.add_argument('--set', action='append', metavar='STORE:OPT=VALUE',
                        help='override a publisher option (default: none; '
                             'the publishers\' own defaults)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--out', default=HERE,
                        help='directory for fleet_results.json (and .md)')
    parser.add_argument('--no-publish', action='store_true',
                        help='do not regenerate fleet_results.md')
    parser.add_argument('--workdir', metavar='DIR',
                        help='where the stores keep their data and the '
                             'logs go (default: the system\'s temp dir); '
                             '/dev/shm takes the disk\'s fsync out of '
                             'etcd\'s way')
    parser.add_argument('--keep', action='store_true',
                        help='keep the temp dir (store data, logs)')
    args = parser.parse_args(argv)
    try:
        args.set = parse_set(args.set)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    args.load_first = None  # set by the first scenario
    args.stores = tuple(s for s in args.stores.split(',') if s)
    args.scenarios = tuple(s for s in args.scenarios.split(',') if s)
    bad = ([s for s in args.stores if s not in STORES] +
           [s for s in args.scenarios if s not in SCENARIOS])
    if bad:
        parser.error('unknown store or scenario: %s' % ', '.join(bad))
    if args.hosts < 1 or args.interfaces < 1 or args.workers < 1:
        parser.error('--hosts, --interfaces and --workers must be >= 1')
    try:
        args.runs = [parse_size(item, args.interfaces, args.scenarios,
                                args.start_rate)
                     for item in args.sizes.split(',')] if args.sizes else [
            (args.hosts, args.interfaces, args.scenarios, args.start_rate)]
    except ValueError as exc:
        parser.error('bad --sizes %r: %s' % (args.sizes, exc))
    args.sizes = [run[0] for run in args.runs]
    if args.start_rate < 0:
        parser.error('--start-rate must be >= 0')
    return args


def parse_size(item: str, interfaces: int, scenarios: tuple,
               rate: float = 0.0) -> tuple[int, int, tuple, float]:
    """One ``--sizes`` item, ``HOSTS[xINTERFACES][@RATE][:SCENARIO+...]``
    -> (hosts, interfaces, scenarios, start rate), the defaults where not
    given.
    """
    spec, sep, names = item.strip().partition(':')
    spec, at, rate_text = spec.partition('@')
    hosts_text, x, count = spec.partition('x')
    try:
        hosts = int(hosts_text)
        if x:
            interfaces = int(count)
        if at:
            rate = float(rate_text)
    except ValueError:
        raise ValueError('expected HOSTS[xINTERFACES][@RATE][:SCENARIO+...]'
                         ', e.g. 1000,2500 or 1000x50@0:cold+rolling'
                         ) from None
    if hosts < 1 or interfaces < 1 or not rate >= 0:
        raise ValueError('hosts and interfaces must be >= 1, the rate >= 0')
    if sep:
        scenarios = tuple(n for n in names.split('+') if n)
        bad = [n for n in scenarios if n not in SCENARIOS]
        if bad:
            raise ValueError('unknown scenario %s' % ', '.join(bad))
    return hosts, interfaces, scenarios, rate


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.runtime == 'green' and importlib.util.find_spec(
            'eventlet') is None:
        # Else each worker would die on its import with a traceback.
        print('benchmarks.fleet: --runtime green needs eventlet (pip '
              'install "df-ovsdb-agent[eventlet]"), or use --runtime '
              'native', file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {
        'command': shlex.join(['python', '-m', 'benchmarks.fleet'] + argv),
        'date': started.strftime('%Y-%m-%d %H:%M UTC'),
        'machine': machine(),
        'params': {k: v for k, v in vars(args).items()
                   if k not in ('out', 'no_publish', 'keep', 'load_first')},
    }
    # etcd, redis-server and the workers inherit it: a connection each.
    raise_fd_limit()
    workdir = tempfile.mkdtemp(prefix='df-fleet-', dir=args.workdir)
    status = 0
    runs: dict = {}
    try:
        for size, interfaces, scenarios, rate in args.runs:
            args.hosts, args.interfaces, args.start_rate = (
                size, interfaces, rate)
            label = str(size) if str(size) not in runs else '%dx%d' % (
                size, interfaces)
            found = runs[label] = {}
            for store in args.stores:
                run = StoreRun(store, args, os.path.join(workdir, label))
                try:
                    run.start()
                    found[store] = run.run(scenarios)
                except Exception as exc:
                    print('[%s] failed: %s: %s (logs in %s)' % (
                        store, type(exc).__name__, exc, run.workdir),
                        file=sys.stderr)
                    found[store] = {'error': str(exc)}
                    args.keep = True
                    status = 1
                finally:
                    run.stop()
                # Every size and store as it finishes: a run cut short
                # keeps what it measured.
                save(results, runs, args, started)
    except KeyboardInterrupt:
        print('interrupted; results so far in %s' % args.out,
              file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print('logs and data kept in %s' % workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(save(results, runs, args, started, publish=not args.no_publish))
    return status


def save(results: dict, runs: dict, args, started,
         publish: bool = False) -> str:
    """Write fleet_results.json (and .md when ``publish``) with the runs
    so far; the markdown text.
    """
    results.pop('stores', None)
    results.pop('sizes', None)
    if len(runs) == 1 and len(args.runs) == 1:
        results['stores'] = next(iter(runs.values()))
    else:
        results['sizes'] = runs
    results['machine']['loadavg_end'] = os.getloadavg()
    results['elapsed_s'] = (datetime.datetime.now(datetime.timezone.utc) -
                            started).total_seconds()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'fleet_results.json'), 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    text = fleet_report.markdown(results)
    if publish:
        with open(os.path.join(args.out, 'fleet_results.md'), 'w') as f:
            f.write(text)
    return text


if __name__ == '__main__':
    sys.exit(main())
