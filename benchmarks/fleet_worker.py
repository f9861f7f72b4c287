"""One fleet worker process: many simulated hosts, each a synthetic agent
and a real publisher, driven by the coordinator (``benchmarks.fleet``).

Commands arrive on stdin and replies leave on stdout, one JSON object per
line.  Every change a synthetic agent publishes is appended to the
``--changes`` file, one JSON line per commit ``{"t", "h", "c"}``
(monotonic commit time, host, ``[[action, record], ...]``; each record as
stored but for its ``host``, which is ``h``), flushed before each reply.

Commands (``{"op": ...}``):

- ``start``: every host starts (agent, then publisher, then the first sync
  of ``interfaces`` VM ports), all at once or, given ``rate``, one host
  every 1/``rate`` seconds (as a fleet boots); the reply comes when every
  publisher is flushed;
- ``restart``: rolling restart of every host, one at a time: stop the
  agent and its publisher, start new ones for the same host with the same
  owner id and the same state (restored, as from a state file), sync,
  wait until flushed;
- ``churn``: ``hosts`` (indices into this worker's hosts) add, delete and
  update ports at ``rate`` changes per second per host for ``seconds``;
  a port changed less than ``cooldown`` seconds ago is left alone, so
  that the publisher's (correct) coalescing does not hide changes;
- ``flushed``: wait until every publisher is flushed;
- ``status``: the publishers' counters;
- ``stop``: stop everything and exit.
"""

import argparse
import json
import logging
import os
import random
import resource
import select
import sys
import threading
import time
from typing import Optional
import uuid as uuidlib

from oslo_config import cfg

from benchmarks.fleet_agent import SyntheticAgent
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind

LOG = logging.getLogger('fleet.worker')

GROUPS = {'etcd': 'publisher_etcd', 'redis': 'publisher_redis'}


def publisher_class(store: str):
    """The real publisher plugin of ``store``."""
    if store == 'etcd':
        from df_ovsdb_agent.publishers.etcd import EtcdPublisher
        return EtcdPublisher
    from df_ovsdb_agent.publishers.redis import RedisPublisher
    return RedisPublisher


def publisher_config(store: str, url: str, overrides: dict):
    """The publisher's option group, built as the plugin loader builds it:
    its own CONFIG_OPTS in its own group, defaults untouched unless
    overridden.
    """
    cls = publisher_class(store)
    group = GROUPS[store]
    conf = cfg.ConfigOpts()
    conf.register_opts(cls.CONFIG_OPTS, group=group)
    conf([], project='df-ovsdb-agent', default_config_files=[])
    conf.set_override('url', url, group=group)
    for key, value in overrides.items():
        conf.set_override(key, value, group=group)
    return conf[group]


def mac(n: int) -> str:
    return 'fa:16:3e:%02x:%02x:%02x' % ((n >> 16) & 255, (n >> 8) & 255,
                                        n & 255)


def vm_port(name: str, ofport: int, rng: random.Random) -> Interface:
    uuid = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
    return Interface(Kind.VM, name, uuid, ofport, iface_id=uuid,
                     attached_mac=mac(rng.getrandbits(24)))


#: A directory: the worker holding the fleet's first host profiles its
#: ``start`` command (cProfile) into ``start-PID.prof`` there.
PROFILE_ENV = 'FLEET_PROFILE'


def profiler(hosts: list):
    """A running cProfile.Profile if this worker is to be profiled."""
    if not os.environ.get(PROFILE_ENV) or not any(
            host.name.endswith('00000') for host in hosts):
        return None
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    return profile


#: Publisher writer counters reported by ``status``.
COUNTERS = ('connected', 'failures', 'reconciles', 'refusals')


def writer_counters(publisher) -> dict:
    """The publisher's writer counters, for diagnostics only (zeros when
    the publisher has no such writer).
    """
    writer = getattr(publisher, 'writer', None)
    return {key: int(getattr(writer, key, 0) or 0) for key in COUNTERS}


_ENCODER = json.JSONEncoder(separators=(',', ':'))


class Recorder:
    """Buffers the agents' changes; written out before each reply."""

    def __init__(self, path: str) -> None:
        self._file = open(path, 'a')
        self._lines: list = []
        self._lock = threading.Lock()

    def __call__(self, host: str, t: float, events: list) -> None:
        # One line per commit, not per event: the synthetic fleet's own
        # CPU (half of it was this) is not the publishers'.
        line = _ENCODER.encode({'t': t, 'h': host, 'c': [
            [e.action.value, e.interface.to_dict()] for e in events]})
        with self._lock:
            self._lines.append(line)

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._file.write('\n'.join(lines) + '\n')
        self._file.flush()


class Host:
    """One simulated host: a synthetic agent and its publisher."""

    def __init__(self, name: str, owner: str, worker: 'Worker') -> None:
        self.name = name
        self.owner = owner
        self.worker = worker
        self.agent: Optional[SyntheticAgent] = None
        self.publisher = None
        self.last_change: dict = {}  # uuid -> monotonic time
        self.retired: dict = {}  # counters of stopped publishers
        self.next_port = 0

    def launch(self, restored: Optional[dict]) -> None:
        """A new agent (from ``restored`` state, if any) and publisher,
        started as the daemon starts them: publisher first, then the
        agent's first sync.
        """
        worker = self.worker
        self.agent = SyntheticAgent(
            self.name, self.owner, restored,
            lambda t, events: worker.recorder(self.name, t, events),
            inline=worker.args.bus == 'inline')
        self.publisher = worker.cls(self.agent, worker.config, self.name)
        self.publisher.start()

    def shutdown(self) -> None:
        """As the daemon stops: the agent, then its plugins."""
        self.agent.stop()
        self.publisher.stop()
        # Counters of a stopped publisher still count for the host.
        for key, value in writer_counters(self.publisher).items():
            self.retired[key] = self.retired.get(key, 0) + value

    def flushed(self, timeout: float) -> bool:
        return self.publisher.wait_flushed(timeout)


class Worker:
    """The hosts of this process and the commands that drive them."""

    def __init__(self, args) -> None:
        self.args = args
        self.cls = publisher_class(args.store)
        overrides = dict(item.split('=', 1) for item in args.set or ())
        self.config = publisher_config(args.store, args.url, overrides)
        self.recorder = Recorder(args.changes)
        self.rng = random.Random(args.seed)
        self.hosts = [Host(name, 'fleet-owner-%s' % name, self)
                      for name in args.hosts.split(',')]
        # The ports each host has when its agent starts: on a real host
        # they are in OVSDB already, so making them up is the simulation's
        # cost, paid here, before any scenario's window.
        cpu = time.process_time()
        self.initial = {host.name: self.initial_state(host)
                        for host in self.hosts}
        self.cpu_ports = time.process_time() - cpu

    def initial_state(self, host: Host) -> dict:
        ports = {}
        for _ in range(self.args.interfaces):
            port = self.new_port(host)
            ports[port.uuid] = port
        return ports

    def new_port(self, host: Host) -> Interface:
        host.next_port += 1
        return vm_port('tap%05d' % host.next_port, host.next_port, self.rng)

    def wait_flushed(self, hosts: list, timeout: float) -> list:
        """Names of the hosts not flushed within ``timeout``."""
        deadline = time.monotonic() + timeout
        late = []
        for host in hosts:
            if not host.flushed(max(0.0, deadline - time.monotonic())):
                late.append(host.name)
        return late

    # -- commands ---------------------------------------------------------

    def op_start(self, cmd: dict) -> dict:
        profile = profiler(self.hosts)
        try:
            return self._start(cmd)
        finally:
            if profile is not None:
                profile.disable()
                profile.dump_stats(os.path.join(
                    os.environ[PROFILE_ENV], 'start-%d.prof' % os.getpid()))

    def _start(self, cmd: dict) -> dict:
        rate = cmd.get('rate') or 0.0
        cpu = time.process_time()
        if rate > 0:
            # Paced: host i starts (publisher, then its first sync) at
            # i / rate seconds, as hosts of a fleet boot one by one.
            begin = time.monotonic() + cmd.get('offset', 0.0) / rate
            for index, host in enumerate(self.hosts):
                delay = begin + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                host.launch(None)
                host.agent.sync(self.initial.pop(host.name))
            t_launched = t_synced = time.monotonic()
            cpu_launch = cpu_sync = None
        else:
            for host in self.hosts:
                host.launch(None)
            t_launched = time.monotonic()
            cpu_launch = time.process_time() - cpu
            cpu_sync = 0.0
            for host in self.hosts:
                began = time.process_time()
                host.agent.sync(self.initial.pop(host.name))
                cpu_sync += time.process_time() - began
                # Its publisher may write now, as on its own machine,
                # not only once every other agent of this process has
                # synced (greenthreads switch only where one waits).
                time.sleep(0)
            t_synced = time.monotonic()
        late = self.wait_flushed(self.hosts, cmd.get('timeout', 600))
        # Where this process's CPU went (all at once only: paced starts
        # interleave the phases): starting the publishers, the agents'
        # syncs (the synthetic agent, the real bus delivery and the
        # publishers' callbacks), and the rest, which is the publishers'
        # writers until every host is flushed; and, outside the total,
        # making up the ports before the scenario.
        split = {}
        if cpu_sync is not None:
            split = {'cpu_launch': cpu_launch, 'cpu_ports': self.cpu_ports,
                     'cpu_sync': cpu_sync,
                     'cpu_total': time.process_time() - cpu}
        return dict(split, t_launched=t_launched, t_synced=t_synced,
                    t_flushed=time.monotonic(), late=late)

    def op_restart(self, cmd: dict) -> dict:
        durations = []
        late = []
        for host in self.hosts:
            began = time.monotonic()
            state = host.agent.state()
            host.shutdown()
            host.launch(state)
            host.agent.sync(state)
            if not host.flushed(cmd.get('timeout', 120)):
                late.append(host.name)
            durations.append(time.monotonic() - began)
        return {'durations': durations, 'late': late,
                't_flushed': time.monotonic()}

    def op_churn(self, cmd: dict) -> dict:
        hosts = [self.hosts[i] for i in cmd['hosts']]
        if not hosts:
            return {'changes': 0, 'transactions': 0}
        interval = 1.0 / (cmd['rate'] * len(hosts))
        end = time.monotonic() + cmd['seconds']
        tick = time.monotonic()
        changes = transactions = 0
        while tick < end:
            now = time.monotonic()
            if now < tick:
                time.sleep(tick - now)
            tick += interval
            events = self.churn_once(self.rng.choice(hosts),
                                     cmd.get('cooldown', 1.0))
            changes += len(events)
            transactions += bool(events)
        late = self.wait_flushed(hosts, cmd.get('timeout', 120))
        return {'changes': changes, 'transactions': transactions,
                'late': late, 't_flushed': time.monotonic()}

    def churn_once(self, host: Host, cooldown: float) -> list:
        """One OVSDB transaction on ``host``: add, delete or update a
        port (one not changed within ``cooldown`` seconds).
        """
        now = time.monotonic()
        state = host.agent.state()
        idle = [u for u in state
                if now - host.last_change.get(u, -cooldown) >= cooldown]
        base = self.args.interfaces
        op = self.rng.choice(('add', 'delete', 'update'))
        if len(state) <= base - 5:
            op = 'add'
        elif len(state) >= base + 5:
            op = 'delete'
        if op != 'add' and not idle:
            op = 'add'
        if op == 'add':
            port = self.new_port(host)
            rows = {port.uuid: port}
            uuid = port.uuid
        else:
            uuid = self.rng.choice(sorted(idle))
            if op == 'delete':
                rows = {uuid: None}
            else:
                old = state[uuid]
                rows = {uuid: Interface(
                    old.kind, old.name, old.uuid, old.ofport,
                    iface_id=old.iface_id,
                    attached_mac=mac(self.rng.getrandbits(24)))}
        host.last_change[uuid] = now
        return host.agent.batch(rows)

    def op_flushed(self, cmd: dict) -> dict:
        late = self.wait_flushed(self.hosts, cmd.get('timeout', 600))
        return {'late': late, 't_flushed': time.monotonic()}

    def op_status(self, cmd: dict) -> dict:
        totals = dict.fromkeys(COUNTERS, 0)
        for host in self.hosts:
            current = writer_counters(host.publisher)
            for key in COUNTERS:
                totals[key] += current[key] + (
                    host.retired.get(key, 0) if key != 'connected' else 0)
        return totals

    def op_stop(self, cmd: dict) -> dict:
        for host in self.hosts:
            host.shutdown()
        return {}

    def serve(self) -> None:
        reply({'ready': True})
        for line in commands(sys.stdin.fileno()):
            cmd = json.loads(line)
            try:
                result = getattr(self, 'op_' + cmd['op'])(cmd)
                result['ok'] = True
            except Exception as exc:
                LOG.exception('command %s failed', cmd['op'])
                result = {'ok': False, 'error': '%s: %s' % (
                    type(exc).__name__, exc)}
            self.recorder.flush()
            reply(result)
            if cmd['op'] == 'stop':
                return


#: Whether the hosts are greenthreads (set by :mod:`benchmarks.fleet_green`
#: after monkey-patching).
GREEN = False

#: Stack size of the worker's threads, bytes.
THREAD_STACK = 512 * 1024


def raise_fd_limit() -> int:
    """Raise the open files limit to its hard limit (a connection per
    simulated host); the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def wait_readable(fd: int) -> None:
    """Block until ``fd`` can be read (:mod:`benchmarks.fleet_green`
    replaces it with eventlet's, which lets the other greenthreads run).
    """
    select.select([fd], [], [])


def commands(fd: int):
    """The lines that arrive on ``fd`` until it closes.

    It waits with :func:`wait_readable` before each read: under eventlet
    (``--runtime green``) a plain blocking read would stop every host's
    greenthread while the worker waits for a command.
    """
    buffered = b''
    while True:
        wait_readable(fd)
        data = os.read(fd, 65536)
        if not data:
            return
        buffered += data
        *lines, buffered = buffered.split(b'\n')
        for line in lines:
            if line.strip():
                yield line.decode()


def reply(data: dict) -> None:
    sys.stdout.write(json.dumps(data) + '\n')
    sys.stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--store', choices=sorted(GROUPS), required=True)
    parser.add_argument('--url', required=True)
    parser.add_argument('--hosts', required=True,
                        help='comma-separated host ids')
    parser.add_argument('--interfaces', type=int, default=50)
    parser.add_argument('--changes', required=True)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--set', action='append', metavar='OPT=VALUE',
                        help='override a publisher option')
    parser.add_argument('--bus', choices=('inline', 'threads'),
                        default='inline',
                        help='deliver agent events in the publishing thread '
                             '(default) or from a bus thread per host')
    args = parser.parse_args(argv)
    raise_fd_limit()
    if not GREEN:
        # Thousands of writer threads: a smaller stack (Python's default
        # is the OS's, 8 MiB) keeps the address space small; their code
        # is the publisher's, which needs far less.  (Greenthreads have
        # no OS stack of their own.)
        threading.stack_size(THREAD_STACK)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='%(asctime)s %(process)d %(levelname)s '
                               '%(name)s %(message)s')
    Worker(args).serve()
    return 0


if __name__ == '__main__':
    sys.exit(main())
