"""Start-up time of the console scripts: ``python -m benchmarks.startup``.

Measured from outside, on the installed scripts (their wrappers included),
N runs each, interleaved run by run so that a burst of load elsewhere hits
every case alike:

* ``--help`` of every console script: exec to exit;
* ``df-ovsdb-agent`` and ``df-ovsdb-events --once``: exec to the first TCP
  connection accepted by a socket this benchmark listens on (a free
  127.0.0.1 port, the command's ``[ovsdb] connection``); the process is
  killed right after, nothing is answered;
* ``python -X importtime`` of ``df-ovsdb-events --help`` and
  ``df-ovsdb-agent --help``: the top import costs by package.

The scripts are those next to this interpreter (``.venv/bin`` when run as
``.venv/bin/python -m benchmarks.startup``, an editable install) and, with
``--wheel``, those of a wheel of this checkout installed without extras in
a fresh venv (what a user gets from ``pip install``; no eventlet, which
python-ovs imports when it is installed).

The load average is recorded before and after; above 1.0 (this 2-core
machine) the run is marked "not comparable" instead of reporting targets
met.  Figures, not assertions.  Writes ``benchmarks/startup_results.md``
unless ``--no-publish``.
"""

import argparse
import collections
import datetime
import os
import platform
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, 'benchmarks', 'startup_results.md')
SCRIPTS = ('df-ovsdb-agent', 'df-ovsdb-events', 'df-ovsdb-cluster-events',
           'df-ovsdb-controller', 'df-ovsdb-demo',
           'df-ovsdb-agent-systemd-unit')
TARGET = 0.15  # seconds, issue 19 item 3
LOAD_LIMIT = 1.0  # 1-minute load average above which nothing is comparable
CONNECT_TIMEOUT = 30.0
PIP = ('-m', 'pip', '-q', '--disable-pip-version-check')


def load_average() -> float:
    with open('/proc/loadavg') as f:
        return float(f.read().split()[0])


def percentile(values: list, fraction: float) -> float:
    """Nearest-rank percentile (p90 of 20 runs is the 18th fastest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def child_env(source: Optional[str] = None) -> dict:
    """The children's environment: with the bytecode cache, as an
    installed package runs (the test suite sets PYTHONDONTWRITEBYTECODE,
    which would make every run compile the package's sources again).
    ``source``: a tree whose df_ovsdb_agent is imported instead of the
    installed one (``--baseline``).
    """
    env = dict(os.environ)
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    env.pop('PYTHONPATH', None)
    if source:
        env['PYTHONPATH'] = source
    return env


def time_help(script: str, source: Optional[str] = None) -> tuple:
    """(wall seconds, CPU seconds) of ``script --help``, exec to exit."""
    began = time.perf_counter()
    proc = subprocess.Popen([script, '--help'], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env(source))
    # wait4 gives this child's own CPU time (user + system).
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    error = proc.stderr.read().decode(errors='replace')
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError('exit %d: %s' % (proc.returncode,
                                            _last_line(error)))
    return elapsed, usage.ru_utime + usage.ru_stime


def _last_line(text: str) -> str:
    """The last line of a child's stderr (a traceback's exception), for
    one table cell.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else '(nothing on stderr)')[:200]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (clock-tick grain)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def time_to_connect(argv: Callable[[int], list],
                    source: Optional[str] = None) -> tuple:
    """(wall seconds, CPU seconds) from exec of ``argv(port)`` to its
    first accepted connection on 127.0.0.1:port.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        began = time.perf_counter()
        proc = subprocess.Popen(argv(port), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE,
                                env=child_env(source))
        assert proc.stderr is not None
        try:
            deadline = began + CONNECT_TIMEOUT
            while True:
                # Wake on the connection itself; the short timeout only
                # notices a process that died before connecting.
                ready, _, _ = select.select([listener], [], [], 0.05)
                if ready:
                    conn, _ = listener.accept()
                    elapsed = time.perf_counter() - began
                    cpu = _cpu_seconds(proc.pid)
                    conn.close()
                    return elapsed, cpu
                if proc.poll() is not None:
                    raise RuntimeError('exit %d before connecting: %s' % (
                        proc.returncode, _last_line(proc.stderr.read().decode(
                            errors='replace'))))
                if time.perf_counter() > deadline:
                    raise RuntimeError('no connection within %ss'
                                       % CONNECT_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()
    finally:
        listener.close()


def import_costs(bin_dir: str, script: str, source: Optional[str] = None,
                 top: int = 8) -> tuple:
    """(modules imported, self-time ms per top-level package, top ``top``)
    of ``python -X importtime script --help``.
    """
    python = os.path.join(bin_dir, 'python')
    result = subprocess.run([python, '-X', 'importtime',
                             os.path.join(bin_dir, script), '--help'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, timeout=120, env=child_env(source))
    costs: collections.Counter = collections.Counter()
    modules = 0
    for line in result.stderr.splitlines():
        if not line.startswith('import time:') or 'self [us]' in line:
            continue
        self_us, _, name = line[len('import time:'):].split('|')
        costs[name.strip().split('.')[0]] += int(self_us)
        modules += 1
    return modules, [(name, us / 1000) for name, us in
                     costs.most_common(top)]


def build_wheel_venv(path: str) -> str:
    """A fresh venv at ``path`` with a wheel of this checkout (its
    uncommitted changes included) and its dependencies, no extras.
    """
    work = tempfile.mkdtemp(prefix='startup-wheel-')
    try:
        tree = os.path.join(work, 'tree')
        # A clone, so that the build writes its egg-info there (pbr needs
        # the git history for the version).
        subprocess.run(['git', 'clone', '-q', '--no-hardlinks', ROOT, tree],
                       check=True)
        names = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT,
                               check=True, capture_output=True,
                               text=True).stdout.split('\0')
        for name in filter(None, names):
            if os.path.isfile(os.path.join(ROOT, name)):
                shutil.copy2(os.path.join(ROOT, name),
                             os.path.join(tree, name))
        dist = os.path.join(work, 'dist')
        subprocess.run([sys.executable, *PIP, 'wheel', '--no-deps', '-w',
                        dist, tree], check=True)
        wheel = [n for n in os.listdir(dist) if n.endswith('.whl')][0]
        subprocess.run([sys.executable, '-m', 'venv', path], check=True)
        subprocess.run([os.path.join(path, 'bin', 'python'), *PIP,
                        'install', os.path.join(dist, wheel)], check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return os.path.join(path, 'bin')


def cases(label: str, bin_dir: str, source: Optional[str],
          work: str) -> list:
    """(install label, what, measure) for every case of one install."""
    found: list = []
    for script in SCRIPTS:
        path = os.path.join(bin_dir, script)
        if os.path.exists(path):
            found.append((label, '%s --help' % script,
                          lambda path=path: time_help(path, source)))
    conf = os.path.join(work, '%s.conf' % label)
    state = os.path.join(work, '%s-state' % label)

    def agent_argv(port: int) -> list:
        with open(conf, 'w') as f:
            f.write('[ovsdb]\nconnection = tcp:127.0.0.1:%d\n'
                    '[agent]\nstate_dir = %s\n' % (port, state))
        return [os.path.join(bin_dir, 'df-ovsdb-agent'),
                '--config-file', conf]

    def events_argv(port: int) -> list:
        return [os.path.join(bin_dir, 'df-ovsdb-events'), '--once',
                '--connection', 'tcp:127.0.0.1:%d' % port]

    found.append((label, 'df-ovsdb-agent: exec to first connection',
                  lambda: time_to_connect(agent_argv, source)))
    found.append((label, 'df-ovsdb-events --once: exec to first '
                  'connection', lambda: time_to_connect(events_argv,
                                                        source)))
    return found


def run(installs: list, runs: int) -> dict:
    work = tempfile.mkdtemp(prefix='startup-bench-')
    try:
        todo = [case for label, bin_dir, source in installs
                for case in cases(label, bin_dir, source, work)]
        samples: dict = {(label, what): [] for label, what, _ in todo}
        errors: dict = {}
        # One run of each first, not counted: it writes the bytecode
        # cache of an editable install and warms the page cache.
        for _, _, measure in todo:
            try:
                measure()
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                pass  # reported by the counted runs
        load_before = load_average()
        started = time.time()
        for _ in range(runs):
            for label, what, measure in todo:
                if (label, what) in errors:
                    continue
                try:
                    samples[(label, what)].append(measure())
                except (RuntimeError, OSError,
                        subprocess.TimeoutExpired) as exc:
                    errors[(label, what)] = str(exc)
        load_after = load_average()
        imports = {label: {s: import_costs(bin_dir, s, source) for s in
                           ('df-ovsdb-events', 'df-ovsdb-agent')}
                   for label, bin_dir, source in installs}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {'samples': samples, 'errors': errors, 'runs': runs,
            'load': (load_before, load_after), 'imports': imports,
            'seconds': time.time() - started, 'installs': installs}


def _target(what: str) -> bool:
    return what in ('df-ovsdb-events --help',
                    'df-ovsdb-agent: exec to first connection')


def report(results: dict, command: str) -> str:
    before, after = results['load']
    comparable = max(before, after) <= LOAD_LIMIT
    lines = [
        '# Start-up times', '',
        'Generated by `%s` on %s (UTC); %d runs per case, interleaved, '
        '%.0f s.' % (command, datetime.datetime.now(datetime.timezone.utc)
                     .strftime('%Y-%m-%d %H:%M'), results['runs'],
                     results['seconds']),
        'Machine: %d CPUs, Python %s, %s.' % (
            os.cpu_count() or 0, platform.python_version(),
            platform.platform()),
        'Load average (1 min) before %.2f, after %.2f: %s' % (
            before, after, 'quiet, figures comparable' if comparable else
            '**not comparable** (above %.1f: other processes used the CPU; '
            'rerun on a quiet machine)' % LOAD_LIMIT), '',
        'Installs: ' + '; '.join(
            '`%s` = %s%s' % (label, bin_dir, ' with PYTHONPATH=%s' % source
                             if source else '')
            for label, bin_dir, source in results['installs']),
        '', 'Target (issue 19): `df-ovsdb-events --help` and the daemon\'s '
        'exec to first connection <= %.2f s (median).' % TARGET, '',
        'Wall time is what a user waits; CPU time (user + system of the '
        'command\'s own process, clock-tick grain for the connection '
        'cases) is what it costs, and far below the wall time it says '
        'that something else had the CPU.', '',
        '| install | what | median s | p90 s | min s | CPU median s '
        '| target |',
        '|---|---|---|---|---|---|---|']
    for (label, what), pairs in results['samples'].items():
        error = results['errors'].get((label, what))
        if error and not pairs:
            lines.append('| %s | %s | failed: %s | | | | |'
                         % (label, what, error.replace('|', '/')))
            continue
        values = [wall for wall, _ in pairs]
        median = statistics.median(values)
        verdict = ''
        if _target(what):
            verdict = ('not comparable' if not comparable else
                       'met' if median <= TARGET else 'not met')
        lines.append('| %s | %s | %.3f | %.3f | %.3f | %.3f | %s |' % (
            label, what, median, percentile(values, 0.9), min(values),
            statistics.median(cpu for _, cpu in pairs), verdict))
    lines += ['', '## Top import costs (`python -X importtime SCRIPT '
              '--help`, self time by package, one run)', '']
    for label, scripts in results['imports'].items():
        for script, (modules, costs) in scripts.items():
            lines.append('- %s `%s --help`: %d modules; %s' % (
                label, script, modules, ', '.join(
                    '%s %.1f ms' % cost for cost in costs)))
    return '\n'.join(lines) + '\n'


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.startup', description=__doc__.split(
            '\n\n')[0])
    parser.add_argument('--runs', type=int, default=20,
                        help='runs per case (default: %(default)s)')
    parser.add_argument('--wheel', action='store_true',
                        help='also measure a wheel of this checkout in a '
                             'fresh venv (built once, ~1-2 min)')
    parser.add_argument('--wheel-venv', metavar='DIR',
                        help='with --wheel: build the venv here and keep '
                             'it; an existing one is reused')
    parser.add_argument('--baseline', metavar='TREE',
                        help='also measure the editable scripts with the '
                             'df_ovsdb_agent of TREE (e.g. `git archive '
                             'REV df_ovsdb_agent | tar -x -C TREE`), '
                             'interleaved with the others: before/after '
                             'in one run')
    parser.add_argument('--no-publish', action='store_true',
                        help='print only; do not write %s'
                        % os.path.relpath(RESULTS, ROOT))
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error('--runs must be at least 1')
    bin_dir = os.path.dirname(sys.executable)
    installs: list = [('editable', bin_dir, None)]
    if args.baseline:
        if not os.path.isdir(os.path.join(args.baseline, 'df_ovsdb_agent')):
            parser.error('--baseline %s has no df_ovsdb_agent'
                         % args.baseline)
        installs.insert(0, ('baseline', bin_dir,
                            os.path.abspath(args.baseline)))
    scratch = None
    if args.wheel:
        venv = args.wheel_venv
        if venv is None:
            scratch = venv = tempfile.mkdtemp(prefix='startup-venv-')
            venv = os.path.join(venv, 'venv')
        if not os.path.exists(os.path.join(venv, 'bin', 'df-ovsdb-agent')):
            build_wheel_venv(venv)
        installs.append(('wheel', os.path.join(venv, 'bin'), None))
    try:
        results = run(installs, args.runs)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    # The interpreter as run (the editable install measured is its venv).
    python = os.path.relpath(sys.executable) if sys.executable.startswith(
        os.getcwd() + os.sep) else sys.executable
    command = python + ' -m benchmarks.startup' + ''.join(
        ' ' + a for a in (argv if argv is not None else sys.argv[1:]))
    text = report(results, command)
    print(text)
    if not args.no_publish:
        with open(RESULTS, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
