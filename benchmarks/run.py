"""Run the benchmark: ``python -m benchmarks.run [--quick|--tiny] ...``.

Prints the tables, writes ``benchmarks/out/results.json`` and, unless
``--no-publish``, regenerates ``benchmarks/results.md`` and
``benchmarks/sync_time.png`` (or removes the latter when matplotlib is
missing, so no plot of another run sits next to the new tables).
"""

import argparse
import dataclasses
import datetime
import logging
import os
import platform
import shlex
import subprocess
import sys
import time

from benchmarks import contenders
from benchmarks import machine
from benchmarks import report
from benchmarks import scenarios

HERE = os.path.dirname(os.path.abspath(__file__))

PRESETS = {
    'full': {},
    'quick': dict(sizes=(1000, 10000), repeats=1, latency_rows=1000,
                  latency_changes=200, bursts=(1000,), idle_rows=1000,
                  idle_seconds=20, quiet_seconds=5, churn_interval=2,
                  resync_rows=1000, sync_budget=30, settle=30,
                  huge_sizes=(1 << 18, 16 << 20)),
    # tiny: 50 rows cannot feed a burst of 100 other ports: 10 of them
    # (200 changes/s).
    'tiny': dict(sizes=(50,), repeats=1, latency_rows=50, latency_changes=5,
                 latency_noise=10,
                 burst_base=20, bursts=(50,), idle_rows=50, idle_seconds=2,
                 quiet_seconds=1, churn_interval=1, resync_rows=50,
                 timeout=60, huge_sizes=(), settle=0),
}


def _ints(text: str) -> tuple:
    try:
        return tuple(int(v) for v in text.split(',') if v)
    except ValueError:
        raise argparse.ArgumentTypeError('expected comma-separated integers, '
                                         'got %r' % text) from None


def _names(allowed):
    def parse(text: str) -> tuple:
        names = tuple(v for v in text.split(',') if v)
        bad = [n for n in names if n not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(
                'unknown: %s (choose from %s)' % (', '.join(bad),
                                                  ', '.join(allowed)))
        return names
    return parse


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.run',
        description='df-ovsdb-agent against its baselines on a real '
                    'ovsdb-server (127.0.0.1 only).')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_true',
                      help='smaller sizes, one repeat (~3 min)')
    mode.add_argument('--tiny', action='store_true',
                      help='50 interfaces, one repeat: proves it works')
    parser.add_argument('--sizes', type=_ints,
                        help='initial-sync sizes, e.g. 1000,10000,50000')
    parser.add_argument('--repeats', type=int, help='runs per figure')
    parser.add_argument('--scenarios', type=_names(tuple(
        scenarios.SCENARIOS)), default=tuple(scenarios.SCENARIOS),
        help='comma-separated subset of: %s' % ','.join(scenarios.SCENARIOS))
    parser.add_argument('--contenders', type=_names(scenarios.ALL),
                        help='comma-separated subset of: %s'
                        % ','.join(scenarios.ALL))
    parser.add_argument('--settle', type=float,
                        help='before each sample, wait up to this many '
                             'seconds for the load average to fall to '
                             '%.1f (default 60; quick 30, tiny 0)'
                        % machine.LIMITS.load)
    parser.add_argument('--out', default=os.path.join(HERE, 'out'),
                        help='directory for results.json')
    parser.add_argument('--no-publish', action='store_true',
                        help='do not rewrite benchmarks/results.md and '
                             'sync_time.png')
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error('--repeats must be at least 1')
    if args.settle is not None and not 0 <= args.settle <= 3600:
        parser.error('--settle must be between 0 and 3600 seconds')
    return args


def config(args) -> scenarios.Config:
    preset = 'tiny' if args.tiny else 'quick' if args.quick else 'full'
    cfg = scenarios.Config(**PRESETS[preset])
    if args.sizes:
        cfg.sizes = args.sizes
    if args.repeats:
        cfg.repeats = args.repeats
    if args.contenders:
        cfg.contenders = args.contenders
    if args.settle is not None:
        cfg.settle = args.settle
    return cfg


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as info:
            for line in info:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
        with open('/proc/meminfo') as info:
            mem = int(info.readline().split()[1]) // 1024
    except OSError:
        mem = 0
    return '%s, %d cores, %d MB RAM, %s' % (
        cpu, os.cpu_count() or 0, mem, platform.platform())


def _software() -> str:
    import ovs.version
    import ovsdbapp
    try:
        ovsdb = subprocess.run(['ovsdb-server', '--version'],
                               capture_output=True, text=True
                               ).stdout.split('\n')[0]
    except OSError:
        ovsdb = 'ovsdb-server ?'
    try:
        from importlib import metadata
        ovsdbapp_version = metadata.version('ovsdbapp')
    except Exception:
        ovsdbapp_version = getattr(ovsdbapp, '__version__', '?')
    return '%s; python-ovs %s; ovsdbapp %s; Python %s' % (
        ovsdb, ovs.version.VERSION, ovsdbapp_version,
        platform.python_version())


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    cfg = config(args)
    import ovs.json
    began = time.monotonic()
    results = {'meta': {
        'command': 'python -m benchmarks.run ' + ' '.join(
            shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                     else argv)),
        'date': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'),
        'machine': _machine(), 'software': _software(),
        # The agent parses with the stdlib; the raw IDL with python-ovs.
        'parser': 'agent: stdlib json; raw IDL: python-ovs %s' % (
            ovs.json.PARSER),
        'load_before': os.getloadavg(),
        'limits': dataclasses.asdict(machine.LIMITS),
        # What the floor monitors: one ovsdb-client per table.
        'floor': contenders.agent_tables(),
        'cores': os.cpu_count(),
        'config': dataclasses.asdict(cfg)}}

    def progress(line: str) -> None:
        print('  ' + line, flush=True)

    for name in args.scenarios:
        print('== %s' % name, flush=True)
        settled = machine.settle(machine.LIMITS, cfg.settle,
                                 lambda: [os.getpid()], progress)
        before = os.getloadavg()
        results[name] = scenarios.SCENARIOS[name](cfg, progress)
        results[name]['_machine'] = {'load_before': before,
                                     'load_after': os.getloadavg(),
                                     'settled': settled}
        # Partial results survive a later scenario's failure.
        report.write_json(results, os.path.join(args.out, 'partial.json'))
    results['meta']['wall_seconds'] = time.monotonic() - began
    results['meta']['load_after'] = os.getloadavg()
    results['meta']['plot'] = False
    if not args.no_publish:
        png = os.path.join(HERE, 'sync_time.png')
        why_not = report.plot(results, png)
        if why_not:
            # A plot of another run must not sit next to these tables.
            if os.path.exists(png):
                os.unlink(png)
            print('sync_time.png not drawn: %s' % why_not)
        results['meta']['plot'] = why_not is None
    report.write_json(results, os.path.join(args.out, 'results.json'))
    print()
    print(report.tables(results))
    if not args.no_publish:
        report.write_markdown(results, os.path.join(HERE, 'results.md'))
    print('wrote %s' % os.path.join(args.out, 'results.json'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
