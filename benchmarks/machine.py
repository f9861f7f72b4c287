"""What else the machine did while a sample ran, and when that spoils it.

A ratio against the C floor is only worth reporting when nothing but the
benchmark used the CPU: the floor is four ``ovsdb-client`` processes on
two cores, and other processes slow it by a different amount than the
one-process agent.  So every sample is a :class:`Window` that records

- the 1-minute load average before and after it (``/proc/loadavg``);
- the CPU used by *other* processes: the machine's busy time from
  ``/proc/stat`` (user, nice, system and steal, all CPUs) minus the
  user+system time of the processes the sample measures (contender and its
  children, ovsdb-server, the harness, a background writer);
- the measured processes' CPU and the wall time;

and :func:`reasons` (pure, unit-tested) says why a sample is not
comparable.  The rule is written out in ``benchmarks/README.md``
("Comparable or not").
"""

import dataclasses
import os
import time
from typing import Callable, Iterable, Optional

_TICK = float(os.sysconf('SC_CLK_TCK'))


@dataclasses.dataclass(frozen=True)
class Limits:
    """When a sample is not comparable; scaled to the number of cores."""

    #: 1-minute load average before the sample, at most (1.0 on 2 cores).
    load: float
    #: Other processes' CPU during the sample, in cores on average, at
    #: most (0.2 on 2 cores: a tenth of the machine, the size of the
    #: 10% margin of the sync target).
    others: float
    #: Share of the wall time in which neither the contender nor
    #: ovsdb-server was on a CPU, at most (sync samples only).
    unexplained: float = 0.25
    #: CPU times count in ticks of 10 ms: neither the others' CPU nor the
    #: time off CPU is held against a sample below this many seconds (a
    #: 20 ms sample must not be judged on two ticks; its load still is).
    floor: float = 0.05

    @classmethod
    def for_cores(cls, cores: int) -> 'Limits':
        return cls(load=0.5 * cores, others=0.1 * cores)


LIMITS = Limits.for_cores(os.cpu_count() or 1)


def _exceeded(sample: dict, limits: Limits) -> dict:
    """The figures of ``sample`` that break a limit, by kind."""
    out = {}
    load = sample.get('load_before')
    if load is not None and load > limits.load:
        out['load'] = load
    wall = sample.get('wall') or 0.0
    others = sample.get('others')
    if (wall > 0 and others is not None
            and others > max(limits.others * wall, limits.floor)):
        out['others'] = others / wall
    contender = sample.get('contender_cpu')
    server = sample.get('server_cpu')
    if wall > 0 and contender is not None and server is not None:
        idle = wall - contender - server
        if idle > max(limits.unexplained * wall, limits.floor):
            out['off_cpu'] = idle / wall
    return out


def reasons(sample: dict, limits: Limits = LIMITS) -> list[str]:
    """Why ``sample`` is not comparable; empty when it is.

    ``sample`` holds ``load_before`` (1-minute load average), ``wall`` and
    ``others`` (seconds), and for sync samples ``contender_cpu`` and
    ``server_cpu`` (seconds).  A missing figure is not held against it.
    """
    return [_FORMAT[kind](value, limits)
            for kind, value in _exceeded(sample, limits).items()]


_FORMAT = {
    'load': lambda v, lim: 'load %.1f > %.1f' % (v, lim.load),
    'others': lambda v, lim: 'other processes %.2f cores > %.2f' % (
        v, lim.others),
    'off_cpu': lambda v, lim: '%.0f%% of the wall time off CPU > %.0f%%' % (
        100 * v, 100 * lim.unexplained),
}
_WORST = {
    'load': lambda v: 'load up to %.1f' % v,
    'others': lambda v: 'others up to %.2f cores' % v,
    'off_cpu': lambda v: 'up to %.0f%% off CPU' % (100 * v),
}


def summary(samples: list[dict], limits: Limits = LIMITS) -> Optional[str]:
    """One line for a set of samples: None when every one is comparable,
    else how many were not and the worst figure of each kind.
    """
    worst: dict = {}
    bad = 0
    for sample in samples:
        exceeded = _exceeded(sample, limits)
        bad += bool(exceeded)
        for kind, value in exceeded.items():
            worst[kind] = max(value, worst.get(kind, value))
    if not bad:
        return None
    return '%d of %d samples: %s' % (bad, len(samples), ', '.join(
        _WORST[kind](worst[kind]) for kind in _WORST if kind in worst))


# -- reading /proc ------------------------------------------------------------

def load1() -> float:
    return os.getloadavg()[0]


def busy_seconds() -> tuple[float, float]:
    """(busy, irq) CPU seconds of the whole machine since boot.

    Busy is user + nice + system + steal (guest time is inside user; steal
    is time the hypervisor gave to someone else).  irq + softirq are kept
    apart: mostly this benchmark's own loopback traffic, and not charged
    to any process.
    """
    with open('/proc/stat') as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    fields += [0] * (8 - len(fields))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + steal) / _TICK, (irq + softirq) / _TICK


def process_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds of ``pid`` (all threads); None if gone."""
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat_seconds(stat.read())
    except OSError:
        return None


def stat_seconds(text: str) -> Optional[float]:
    """utime + stime of one ``/proc/PID/stat`` line, in seconds."""
    # The command name may hold spaces and parentheses: split after it.
    fields = text[text.rfind(')') + 2:].split()
    try:
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (IndexError, ValueError):
        return None


class Window:
    """One sample's view of the machine: ``start()``, then ``stop()``.

    ``pids`` returns the processes the sample measures; it is called at
    both ends, so processes started inside the window (``ovsdb-client``
    children) count from zero.  A measured process that exits inside the
    window has its CPU counted as another's: that errs towards "not
    comparable", never towards a flattering verdict.
    """

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self._pids = pids
        self._began = 0.0
        self._busy = self._irq = 0.0
        self._cpu: dict[int, float] = {}
        self.load_before = 0.0

    def start(self) -> 'Window':
        self.load_before = load1()
        self._cpu = self._read(self._pids())
        self._busy, self._irq = busy_seconds()
        self._began = time.monotonic()
        return self

    def stop(self) -> dict:
        wall = time.monotonic() - self._began
        busy, irq = busy_seconds()
        after = self._read(set(self._pids()) | set(self._cpu))
        measured = sum(after.get(pid, before) - before
                       for pid, before in self._cpu.items())
        measured += sum(cpu for pid, cpu in after.items()
                        if pid not in self._cpu)
        return {'load_before': self.load_before, 'load_after': load1(),
                'wall': wall, 'measured': measured,
                'others': max(0.0, busy - self._busy - measured),
                'irq': irq - self._irq}

    @staticmethod
    def _read(pids: Iterable[int]) -> dict[int, float]:
        out = {}
        for pid in pids:
            cpu = process_seconds(pid)
            if cpu is not None:
                out[pid] = cpu
        return out


def settle(limits: Limits, timeout: float,
           quiet_pids: Callable[[], Iterable[int]],
           progress: Optional[Callable[[str], None]] = None) -> float:
    """Wait until the load average is at most ``limits.load``.

    The load average lags: after a long sample of this benchmark's own it
    stays high for a minute although nothing else runs.  Waiting is only
    worth it while the machine is otherwise quiet, so this gives up as
    soon as other processes (all but ``quiet_pids``) use more than
    ``limits.others`` cores over a second, and after ``timeout`` seconds.
    Returns the seconds waited.
    """
    began = time.monotonic()
    told = False
    while load1() > limits.load and time.monotonic() - began < timeout:
        window = Window(quiet_pids).start()
        time.sleep(1.0)
        seen = window.stop()
        if seen['others'] / seen['wall'] > limits.others:
            break
        if progress and not told:
            progress('waiting for the load average (%.2f) to fall to %.1f'
                     % (load1(), limits.load))
            told = True
    return time.monotonic() - began
