"""Turn the results dict into tables (markdown), JSON and a PNG plot."""

import json
import os
from typing import Optional

from benchmarks.scenarios import POLLING_NOTE

LABELS = {
    'agent': 'df-ovsdb-agent',
    'agent_pyjson': 'df-ovsdb-agent (python-ovs parser forced: unused)',
    'c_floor': 'ovsdb-client monitor (C floor)',
    'raw_idl': 'raw python-ovs IDL',
    'raw_idl_pyjson': 'raw python-ovs IDL, pure-Python JSON',
    'ovsdbapp_naive': 'ovsdbapp Connection+RowEvent, register_all',
    'neutron_json': 'neutron: ovsdb-client --format=json + json.loads',
    'polling': 'polling: full Interface fetch every 2 s',
}


def _contenders(res: dict) -> list:
    return [(n, v) for n, v in res.items() if not n.startswith('_')]


def errors(res: dict) -> list[str]:
    """One line per contender that failed in a scenario."""
    lines = ['- %s failed: %s' % (LABELS.get(n, n), e)
             for n, e in res.get('_errors', {}).items()]
    return lines + [''] if lines else []


def _f(value: Optional[float], fmt: str = '%.3f') -> str:
    return '-' if value is None else fmt % value


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    if a is None or b is None or b == 0:
        return '-'
    return '%.2fx' % (a / b)


def sync_table(res: dict, sizes: list[str]) -> list[str]:
    agent = res.get('agent', {})
    mid = '10000' if '10000' in sizes else sizes[-1]
    lines = ['| contender | ' + ' | '.join('%s rows (s)' % s for s in sizes)
             + ' | peak RSS @%s (MB) | time / agent @%s |' % (mid, mid),
             '|---|' + '---|' * (len(sizes) + 2)]
    for name, cells in _contenders(res):
        row = []
        for size in sizes:
            cell = cells.get(size, {})
            if cell.get('median') is not None:
                row.append(_f(cell['median']))
            elif cell.get('extrapolated'):
                row.append('~%.0f (extrapolated)' % cell['extrapolated'])
            else:
                row.append('-')
        at = cells.get(mid, {})
        rss = at.get('rss_median')
        lines.append('| %s | %s | %s | %s |' % (
            LABELS.get(name, name), ' | '.join(row),
            _f(rss / 1e6 if rss else None, '%.0f'),
            _ratio(at.get('median'), agent.get(mid, {}).get('median'))))
    return lines


def latency_table(res: dict) -> list[str]:
    agent = res.get('agent', {})
    lines = ['| contender | idle p50 (ms) | idle p99 (ms) | burst p50 (ms) '
             '| burst p99 (ms) | idle p50 / agent | lost |',
             '|---|---|---|---|---|---|---|']
    for name, phases in _contenders(res):
        idle, busy = phases['idle'], phases['burst']
        lines.append('| %s | %s | %s | %s | %s | %s | %d |' % (
            LABELS.get(name, name), _ms(idle['p50']), _ms(idle['p99']),
            _ms(busy['p50']), _ms(busy['p99']),
            _ratio(idle['p50'], agent.get('idle', {}).get('p50')),
            idle['lost'] + busy['lost']))
    return lines


def _ms(value: Optional[float]) -> str:
    return _f(value * 1000 if value is not None else None, '%.2f')


def burst_table(res: dict, bursts: list[str]) -> list[str]:
    agent = res.get('agent', {})
    lines = ['| contender | ' + ' | '.join('%s adds (s)' % b for b in bursts)
             + ' | ' + ' | '.join('%s / agent' % b for b in bursts) + ' |',
             '|---|' + '---|' * (2 * len(bursts))]
    for name, cells in _contenders(res):
        times = [cells.get(b, {}).get('median') for b in bursts]
        ratios = [_ratio(t, agent.get(b, {}).get('median'))
                  for t, b in zip(times, bursts)]
        lines.append('| %s | %s | %s |' % (
            LABELS.get(name, name), ' | '.join(_f(t) for t in times),
            ' | '.join(ratios)))
    return lines


def idle_table(res: dict, seconds: float) -> list[str]:
    lines = ['| contender | CPU s / %.0f s, stats churn | CPU s / %.0f s, '
             'quiet | CPU s / hour, churn | MB read / hour, churn |'
             % (seconds, seconds),
             '|---|---|---|---|---|']
    for name, cell in res.items():
        if name.startswith('_'):
            continue
        churn, quiet = cell['churn'], cell['quiet']
        quiet_scaled = quiet['cpu'] * seconds / quiet['seconds']
        lines.append('| %s | %.3f | %.3f | %.0f | %.1f |' % (
            LABELS.get(name, name), churn['cpu'], quiet_scaled,
            churn['cpu_per_hour'], churn['bytes_per_hour'] / 1e6))
    server = res.get('_server')
    if server:
        quiet = server['quiet']['cpu'] * seconds / server['quiet']['seconds']
        lines.append('| (ovsdb-server, serving all of the above) | %.3f | '
                     '%.3f | | |' % (server['churn']['cpu'], quiet))
    return lines


def resync_table(res: dict) -> list[str]:
    lines = ['| contender | server accepting -> resync started (s) '
             '| restart -> re-synced (s) | events emitted |',
             '|---|---|---|---|']
    for name, cell in _contenders(res):
        lines.append('| %s | %s | %s | %s |' % (
            LABELS.get(name, name), _f(cell.get('started_median')),
            _f(cell.get('median')),
            ', '.join(str(e) for e in cell['events'])))
    return lines


def huge_table(res: dict, sizes: list[str]) -> list[str]:
    heads = ['%.2f MiB (s)' % (int(s) / 2**20) for s in sizes]
    lines = ['| contender | ' + ' | '.join(heads)
             + ' | peak RSS @%.0f MiB (MB) |' % (int(sizes[-1]) / 2**20),
             '|---|' + '---|' * (len(sizes) + 1)]
    for name, cells in _contenders(res):
        row = []
        for size in sizes:
            cell = cells.get(size, {})
            if cell.get('median') is not None:
                row.append(_f(cell['median']))
            elif cell.get('extrapolated'):
                row.append('> %.0f (extrapolated, not run)'
                           % cell['extrapolated'])
            else:
                row.append('-')
        rss = [r for r in cells.get(sizes[-1], {}).get('rss', []) if r]
        lines.append('| %s | %s | %s |' % (
            LABELS.get(name, name), ' | '.join(row),
            _f(max(rss) / 1e6 if rss else None, '%.0f')))
    return lines


def targets(results: dict) -> list[str]:
    """The issue's targets, as measured in this run."""
    out = []
    sync = results.get('sync', {})
    size = '10000' if '10000' in sync.get('agent', {}) else None
    if size is None and sync.get('agent'):
        size = max(sync['agent'], key=int)

    def sync_of(name):
        return sync.get(name, {}).get(size, {})

    def add(what, value, limit, ok):
        out.append('| %s | %s | %s | %s |' % (
            what, value, limit,
            '-' if ok is None else ('met' if ok else 'missed')))

    agent = sync_of('agent').get('median')
    floor = sync_of('c_floor').get('median')
    naive = sync_of('ovsdbapp_naive').get('median')
    if agent and floor:
        add('initial sync @%s, agent / C floor' % size,
            '%.2fx' % (agent / floor), '<= 1.5x (aim 1.0x)',
            agent / floor <= 1.5)
    big = sync.get('agent', {}).get('100000', {}).get('median')
    big_floor = sync.get('c_floor', {}).get('100000', {}).get('median')
    if big and big_floor:
        add('initial sync @100000, agent / C floor',
            '%.2fx' % (big / big_floor), '<= 1.5x (aim 1.0x)',
            big / big_floor <= 1.5)
    if big and agent and size == '10000':
        add('initial sync growth 10k -> 100k, agent (linear: 10x)',
            '%.1fx' % (big / agent), '~10x', big / agent <= 12)
    if agent and naive:
        add('initial sync @%s, ovsdbapp naive / agent' % size,
            '%.1fx' % (naive / agent), '>= 3x', naive / agent >= 3)
    lat = results.get('latency', {})
    a50 = lat.get('agent', {}).get('idle', {}).get('p50')
    r50 = lat.get('raw_idl', {}).get('idle', {}).get('p50')
    if a50 and r50:
        add('commit -> subscriber p50, agent / raw IDL',
            '%.2fx' % (a50 / r50), '<= 1.0x (aim 0.8x)', a50 / r50 <= 1.0)
    idle = results.get('idle', {})
    a_cpu = idle.get('agent', {}).get('churn', {}).get('cpu')
    n_cpu = idle.get('ovsdbapp_naive', {}).get('churn', {}).get('cpu')
    if a_cpu is not None and n_cpu:
        add('CPU with statistics churn, agent / ovsdbapp naive',
            '%.4f' % (a_cpu / n_cpu), '<= 0.1', a_cpu / n_cpu <= 0.1)
    if a_cpu is not None:
        add('agent CPU with statistics churn (nothing relevant changes)',
            '%.3f s / %.0f s' % (a_cpu, idle['agent']['churn']['seconds']),
            '~0', None)
    a_rss = sync_of('agent').get('rss_median')
    r_rss = sync_of('raw_idl').get('rss_median')
    if a_rss and r_rss:
        add('peak RSS @%s, agent / raw IDL' % size,
            '%.2fx' % (a_rss / r_rss), '<= 0.7x (aim 0.5x)',
            a_rss / r_rss <= 0.7)
    started = results.get('resync', {}).get('agent', {}).get(
        'started_median')
    if started is not None:
        add('ovsdb-server back -> resync started, agent',
            '%.3f s' % started, '<= 0.3 s (aim 0.1 s)', started <= 0.3)
    huge_cells = results.get('huge', {}).get('agent', {})
    if str(16 << 20) in huge_cells:
        value = huge_cells[str(16 << 20)].get('median')
        add('one 16 MiB string value: commit -> subscriber, agent',
            _f(value) + ' s', '< 1 s (aim 0.2 s)',
            None if value is None else value < 1.0)
    events = results.get('resync', {}).get('agent', {}).get('events')
    if events:
        add('resync events emitted by the agent', ', '.join(map(str, events)),
            'exactly 10', all(e == 10 for e in events))
    if not out:
        return []
    return ['| target | measured | goal | |', '|---|---|---|---|'] + out


def tables(results: dict) -> str:
    """All tables as markdown."""
    meta = results['meta']
    parts = []
    if 'targets' not in meta.get('skip', []):
        lines = targets(results)
        if lines:
            parts += ['### Targets (ratios from this run)', ''] + lines + ['']
    if 'sync' in results:
        sizes = [str(s) for s in meta['config']['sizes']]
        parts += ['### Initial sync: start -> every `online` delivered '
                  '(median of %d)' % meta['config']['repeats'], '']
        parts += sync_table(results['sync'], sizes) + ['']
        parts += errors(results['sync'])
    if 'latency' in results:
        parts += ['### Commit -> subscriber callback (%d changes x %d, '
                  '%d rows; burst: %d relevant changes every 50 ms)'
                  % (meta['config']['latency_changes'],
                     meta['config']['repeats'],
                     meta['config']['latency_rows'],
                     meta['config'].get('latency_noise', 100)), '']
        parts += latency_table(results['latency'])
        parts += ['', POLLING_NOTE, ''] + errors(results['latency'])
    if 'burst' in results:
        bursts = [str(b) for b in meta['config']['bursts']]
        parts += ['### Burst: N port adds in one transaction -> last event '
                  'delivered (median of %d)' % meta['config']['repeats'], '']
        parts += burst_table(results['burst'], bursts) + ['']
        parts += errors(results['burst'])
    if 'idle' in results:
        seconds = meta['config']['idle_seconds']
        parts += ['### Idle cost @%d rows: statistics/status of every row '
                  'rewritten every %.0f s (side by side, one server)'
                  % (meta['config']['idle_rows'],
                     meta['config']['churn_interval']), '']
        parts += idle_table(results['idle'], seconds) + ['']
    if 'resync' in results:
        parts += ['### Resync: ovsdb-server restart @%d rows, 10 changes '
                  'made while down (median of %d)'
                  % (meta['config']['resync_rows'],
                     meta['config']['repeats']), '']
        parts += resync_table(results['resync']) + ['']
        parts += errors(results['resync'])
    sizes = [str(s) for s in meta['config'].get('huge_sizes', ())]
    if 'huge' in results and sizes:
        parts += ['### One huge value: a string of N bytes in one row\'s '
                  '`external_ids` -> subscriber (commit -> callback, %d '
                  'rows; includes ovsdb-server\'s own time, see the C '
                  'floor)' % meta['config']['huge_rows'], '']
        parts += huge_table(results['huge'], sizes) + ['']
        parse = results['huge'].get('_parse', {})
        if parse:
            shares = ['%.2f MiB %s s' % (int(s) / 2**20, _f(parse.get(s)))
                      for s in sizes]
            parts += ['The agent\'s own share (in process: framing and '
                      'parsing one such update, fed in 64 KiB reads): '
                      + ', '.join(shares) + '.', '']
        parts += errors(results['huge'])
    return '\n'.join(parts)


def write_json(results: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as out:
        json.dump(results, out, indent=1, sort_keys=True)


def write_markdown(results: dict, path: str) -> None:
    meta = results['meta']
    head = ['# Benchmark results', '',
            'Generated by `%s` on %s.' % (
                meta['command'].strip(), meta['date']), '',
            '- Machine: %s' % meta['machine'],
            '- Software: %s' % meta['software'],
            '- JSON parser of python-ovs: %s' % meta['parser'],
            '- Wall time of the run: %.0f s; load average (1/5/15 min) '
            'before %s, after %s (the machine is shared)' % (
                meta['wall_seconds'],
                '/'.join('%.1f' % v for v in meta['load_before']),
                '/'.join('%.1f' % v for v in meta['load_after'])), '',
            'How to read and reproduce this: `benchmarks/README.md`.', '']
    with open(path, 'w') as out:
        out.write('\n'.join(head) + tables(results) + '\n')


def plot(results: dict, path: str) -> bool:
    """Sync time vs interface count, one line per contender."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        from matplotlib import pyplot
    except ImportError:
        return False
    fig, axis = pyplot.subplots(figsize=(8, 5))
    for name, cells in results.get('sync', {}).items():
        points = sorted((int(s), c['median']) for s, c in cells.items()
                        if c.get('median') is not None)
        if points:
            xs, ys = zip(*points)
            axis.plot(xs, ys, marker='o', label=LABELS.get(name, name),
                      linewidth=2.5 if name == 'agent' else 1.2)
    axis.set_xscale('log')
    axis.set_yscale('log')
    axis.set_xlabel('Interface rows')
    axis.set_ylabel('initial sync, start -> all delivered (s)')
    axis.set_title('Initial sync time (median), %s'
                   % results['meta']['date'][:10])
    axis.grid(True, which='both', alpha=0.3)
    axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
    return True
