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
                _num(result['procs']['store']['cpu_pct'])))


def table(store: str, results: dict) -> list:
    lines = [
        '| scenario | converge s | consumer events seen / real | lag p50 '
        'ms | lag p99 ms | writes/s | txns/s | keepalives/s | store CPU % '
        '| store RSS MB | connections | workers CPU % | consumer CPU % |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for name, result in results.items():
        if name.startswith('_') or name not in TITLES:
            continue
        procs = result['procs']
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                     '| %s | %s | %s |' % (
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
                         _num(procs['consumer']['cpu_pct'])))
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
                'store requests %s' % {k: int(v) for k, v in
                                       result['requests'].items() if v}]
        if result.get('fsync_ms_mean') is not None:
            bits.append('WAL fsync %.2f ms mean' % result['fsync_ms_mean'])
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
        if result.get('late'):
            bits.append('NOT FLUSHED in time: %d hosts' % len(
                result['late']))
        if not result['converged']:
            bits.append('DID NOT CONVERGE within the timeout')
        lines.append('- **%s**: %s.' % (TITLES[name], '; '.join(bits)))
    return lines


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
        '%d hosts x %d interfaces, %d worker processes; publisher options: '
        '%s. Lag is from the commit at the synthetic agent to the event at '
        'the consumer; rates and CPU are over each scenario\'s window. See '
        '`benchmarks/README.md` ("Fleet benchmark") for what each column '
        'means.' % (p['hosts'], p['interfaces'], p['workers'],
                    p['set'] or 'the defaults'),
    ]
    for store, results_of in results['stores'].items():
        out += ['', '## %s' % store, '']
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
