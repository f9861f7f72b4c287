"""Tables of the fleet benchmark (``fleet_results.md``) from its JSON.

``python -m benchmarks.fleet_report [JSON [MD]]`` regenerates the tables
from a results file (default: ``benchmarks/fleet_results.json`` into
``benchmarks/fleet_results.md``) without running anything.
"""

import json
import os
import sys

TITLES = {
    'cold': 'cold start',
    'idle': 'idle (steady state)',
    'churn': '1% of hosts churning',
    'rolling': 'rolling restart, every agent',
    'restart-kept': 'store restarted, data kept',
    'restart-wiped': 'store restarted, data wiped',
}


def _ms(value) -> str:
    return '-' if value is None else '%.1f' % (value * 1000)


def _num(value, fmt='%.0f') -> str:
    return '-' if value is None else fmt % value


def seen_vs_real(result: dict) -> str:
    ev = result['events']
    text = '%d / %d' % (ev['seen'], ev['real'])
    flaws = []
    if ev['extra']:
        flaws.append('%d extra %s' % (ev['extra'], ev['extra_by_action']))
    if ev['missing']:
        flaws.append('%d missing' % ev['missing'])
    if ev['coalesced']:
        flaws.append('%d coalesced' % ev['coalesced'])
    if not result['view_exact']:
        flaws.append('final view off by %d' % result['view_differences'])
    return text + (' (%s)' % '; '.join(flaws) if flaws else ' exact')


def one_line(result: dict) -> str:
    return ('converge %ss, events %s, lag p50/p99 %s/%s ms, writes %s/s, '
            'keepalives %s/s, store CPU %s%%' % (
                _num(result['converge_s'], '%.2f'), seen_vs_real(result),
                _ms(result['events']['lag_p50']),
                _ms(result['events']['lag_p99']),
                _num(result['writes_per_s']),
                _num(result['keepalives_per_s'], '%.1f'),
                _num(result['procs']['store']['cpu_pct']))
            + cpu_split(result))


def cpu_split(result: dict) -> str:
    """', workers' CPU per host ...' of a cold start, or ''."""
    split = result.get('worker_cpu_ms_per_host')
    if not split:
        return ''
    return (', worker CPU/host %.2f ms (synthetic agents %.2f + publisher '
            'start %.2f + writers %.2f; ports made up before: %.2f)' % (
                split['total'], split['sync'], split['launch'],
                split['writers'], split['ports']))


def load(result: dict) -> str:
    """'before -> after' 1-minute load, marked when not comparable."""
    if 'loadavg_before' not in result:
        return '-'
    text = '%.2f -> %.2f' % (result['loadavg_before'][0],
                             result['loadavg_after'][0])
    if not result.get('comparable', True):
        text += ' **not comparable**'
    return text


def flaps(result: dict) -> int:
    """Consumer events that were no real change, and host ``down``
    markers (no agent died in any scenario but a wiped store's).
    """
    return result['events']['extra'] + result['markers'].get('host_down', 0)


def flaps_text(result: dict) -> str:
    """The flaps, and the consumer's down holds when there were any (a
    host held for ``down_grace`` and back in time costs no flap).
    """
    text = '%d' % flaps(result)
    holds = result.get('down_holds') or {}
    if holds.get('held'):
        text += ' (%d held, %d ridden out)' % (
            holds['held'], holds.get('ridden', 0))
    return text


def table(store: str, results: dict) -> list:
    lines = [
        '| scenario | converge s | consumer events seen / real | lag p50 '
        'ms | lag p99 ms | writes/s | txns/s | keepalives/s | store CPU % '
        '| store RSS MB | connections | workers CPU % | consumer CPU % '
        '| load before -> after |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for name, result in results.items():
        if name.startswith('_') or name not in TITLES:
            continue
        procs = result['procs']
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                     '| %s | %s | %s | %s |' % (
                         TITLES[name], _num(result['converge_s'], '%.2f'),
                         seen_vs_real(result),
                         _ms(result['events']['lag_p50']),
                         _ms(result['events']['lag_p99']),
                         _num(result['writes_per_s']),
                         _num(result['txns_per_s']),
                         _num(result['keepalives_per_s'], '%.1f'),
                         _num(procs['store']['cpu_pct']),
                         _num(procs['store']['rss_mb']),
                         result['connections'],
                         _num(procs['workers']['cpu_pct']),
                         _num(procs['consumer']['cpu_pct']),
                         load(result)))
    return lines


def size_summary(sizes: dict) -> list:
    """One line per size and store: the cold start, what limits it."""
    lines = [
        '| hosts | store | interfaces | start rate /s (start took s) '
        '| converge s | after last start s | consumer events seen / real '
        '| flaps | lag p50 ms | lag p99 ms | store CPU % | workers CPU % '
        '(busiest worker) | others CPU % | WAL fsync ms | load before -> '
        'after |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for size, stores in sizes.items():
        for store, results in stores.items():
            cold = results.get('cold')
            if not cold:
                lines.append('| %s | %s | failed: %s |' % (
                    size, store, results.get('error', 'no cold start')))
                continue
            started = cold.get('started_s')
            after = (cold['converge_s'] - started
                     if cold['converge_s'] is not None and started
                     else None)
            procs = cold['procs']
            lines.append(
                '| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s '
                '| %s (%s) | %s | %s | %s |' % (
                    size, store, cold['interfaces'],
                    _num(cold.get('start_rate'), '%.0f') if cold.get(
                        'start_rate') else 'all at once',
                    _num(started, '%.1f'),
                    _num(cold['converge_s'], '%.1f')
                    if cold['converged'] else 'did not converge',
                    _num(after, '%.1f'), seen_vs_real(cold), flaps_text(cold),
                    _ms(cold['events']['lag_p50']),
                    _ms(cold['events']['lag_p99']),
                    _num(procs['store']['cpu_pct']),
                    _num(procs['workers']['cpu_pct']),
                    _num(cold.get('worker_max_cpu_pct')),
                    _num(cold.get('others_cpu_pct')),
                    _num(cold.get('fsync_ms_mean'), '%.1f'),
                    load(cold)))
    return lines


def details(store: str, results: dict) -> list:
    lines = []
    for name, result in results.items():
        if name.startswith('_') or name not in TITLES:
            continue
        bits = ['window %.1fs' % result['window_s'],
                'publishers flushed after %s s' % _num(
                    result.get('flushed_s'), '%.2f'),
                'markers %s' % (result['markers'] or 'none'),
                'consumer down holds %s' % result.get('down_holds', '-'),
                'store requests %s' % {k: int(v) for k, v in
                                       result['requests'].items() if v}]
        if result.get('fsync_ms_mean') is not None:
            bits.append('WAL fsync %.2f ms mean' % result['fsync_ms_mean'])
        workers = result['procs']['workers']
        if workers.get('threads') is not None:
            bits.append('workers: %d OS threads, %.0f context switches/s '
                        '(store %.0f/s)' % (
                            workers['threads'], workers['switches_per_s'],
                            result['procs']['store']['switches_per_s']))
        if 'durations_s' in result:
            d = result['durations_s']
            bits.append('per-host restart p50 %.3fs, max %.3fs (%d hosts, '
                        'one at a time per worker)' % (
                            d['per_host_p50'], d['per_host_max'],
                            d['hosts']))
        if result.get('settle_s'):
            bits.append('watched %.0fs more after the restart' %
                        result['settle_s'])
        if 'changes' in result:
            bits.append('%d changes in %d transactions on %d hosts' % (
                result['changes'], result['transactions'],
                result.get('churn_hosts', 0)))
        if 'publishers' in result:
            bits.append('publisher writers %s' % result['publishers'])
        if 'others_cpu_pct' in result:
            bits.append('load average %s before, %s after; other processes '
                        'used %.0f%% of a core%s' % (
                            ' '.join('%.2f' % v
                                     for v in result['loadavg_before']),
                            ' '.join('%.2f' % v
                                     for v in result['loadavg_after']),
                            result['others_cpu_pct'],
                            '' if result.get('comparable') else
                            ': NOT COMPARABLE (load > 1.0 before the '
                            'first scenario, or other processes busy)'))
        if result.get('late'):
            bits.append('NOT FLUSHED in time: %d hosts' % len(
                result['late']))
        if not result['converged']:
            bits.append('DID NOT CONVERGE within the timeout')
        lines.append('- **%s**: %s.' % (TITLES[name], '; '.join(bits)))
    return lines


def fleet_sizes(p: dict) -> str:
    """'1000 hosts x 50 interfaces (cold, rolling), ...' of the params."""
    runs = p.get('runs') or [(n, p['interfaces'], None, None)
                             for n in p.get('sizes') or [p['hosts']]]
    many = len(runs) > 1
    return ', '.join('%d hosts x %d interfaces%s%s' % (
        run[0], run[1],
        ' (%s)' % ', '.join(run[2]) if run[2] and many else '',
        (' started at %g/s' % run[3] if run[3] else ' started at once')
        if many and run[3] is not None else '') for run in runs)


def markdown(results: dict) -> str:
    m = results['machine']
    p = results['params']
    out = [
        '# Fleet benchmark results',
        '',
        'Made by `%s` on %s, in %.0f s.' % (results['command'],
                                            results['date'],
                                            results.get('elapsed_s', 0)),
        '',
        'Machine: %s, %s cores, %.1f GB RAM, kernel %s, Python %s; %s; %s. '
        'Load average at start %s, at end %s.' % (
            m['cpu'] or 'unknown CPU', m['cores'], m['mem_gb'], m['kernel'],
            m['python'], m['stores'].get('etcd'), m['stores'].get('redis'),
            ' '.join('%.2f' % v for v in m['loadavg']),
            ' '.join('%.2f' % v for v in m.get('loadavg_end', ()))),
        '',
        '%s, %d worker processes%s; cold start %s; '
        'agent events reach the publishers %s; publisher options: %s. Lag '
        'is from the commit at the synthetic agent to the event at the '
        'consumer; rates and CPU are over each scenario\'s window. See '
        '`benchmarks/README.md` ("Fleet benchmark") for what each column '
        'means.' % (
            fleet_sizes(p), p['workers'],
            ' of greenthreads (eventlet)' if p.get('runtime') == 'green'
            else ' of native threads' if p.get('runtime') else '',
            'as each size says' if len(p.get('runs') or ()) > 1
            else '%g hosts/s' % p['start_rate'] if p.get('start_rate')
            else 'all hosts at once',
            'from a bus thread per host' if p.get('bus') == 'threads'
            else 'in the publishing thread',
            p['set'] or 'the defaults'),
        '',
        'Store data in %s.' % (
            '`%s` (tmpfs: no disk fsync)' % p['workdir']
            if str(p.get('workdir') or '').startswith('/dev/shm')
            else '`%s`' % p['workdir'] if p.get('workdir')
            else 'the system temp dir (on disk)'),
    ]
    sizes = results.get('sizes') or {str(p['hosts']): results['stores']}
    if len(sizes) > 1:
        out += ['', '## Cold start by size', '',
                'Flaps: consumer events that were no real change plus host '
                '`down` markers (0 expected). Not comparable: the 1-minute '
                'load average was above 1.0 before the run\'s first '
                'scenario, or other processes used more than 20% of a core '
                'during this one.', '']
        out += size_summary(sizes)
    for size, stores_of in sizes.items():
        for store, results_of in stores_of.items():
            title = store if len(sizes) == 1 else '%s hosts, %s' % (
                size, store)
            out += ['', '## %s' % title, '']
            if 'error' in results_of:
                out.append('Failed: %s' % results_of['error'])
                continue
            out.append('Lease / liveness TTL: %ss.' % results_of.get('_ttl'))
            out.append('')
            out += table(store, results_of)
            out.append('')
            out += details(store, results_of)
    return '\n'.join(out) + '\n'


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    here = os.path.dirname(os.path.abspath(__file__))
    source = argv[0] if argv else os.path.join(here, 'fleet_results.json')
    target = argv[1] if len(argv) > 1 else os.path.splitext(source)[0] + (
        '.md')
    try:
        with open(source) as f:
            results = json.load(f)
    except (OSError, ValueError) as exc:
        print('cannot read %s: %s' % (source, exc), file=sys.stderr)
        return 1
    with open(target, 'w') as f:
        f.write(markdown(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
