"""Memory cost of one big OVSDB message through the agent's read path.

::

    .venv/bin/python -m benchmarks.message_memory
    .venv/bin/python -m benchmarks.message_memory --sizes 10000 --junk-mib 8

Each case runs the agent (library API: the daemon's read path -- framing,
``json`` parsing, replica, classification, state) in a fresh child
process against one server, and reports the child's peak RSS growth
during the first sync (``VmHWM`` at the end minus ``VmRSS`` before it
connected), the largest message it read, and their ratio:

``dump-N``
    a real ovsdb-server (standalone, 127.0.0.1) holding N VM ports filled
    as ovs-vswitchd fills them (:mod:`benchmarks.dataset`): the initial
    dump is one message.  The growth includes the agent's state, which
    stays.
``junk-objects-M``
    a fake peer whose monitor reply carries M MiB of empty objects
    (``{},{},...``) in a table the agent does not monitor: the worst
    common shape for a JSON parser (3 bytes -> one Python dict).
``junk-string-M``
    the same with one M MiB string.

The worst factor bounds what one message up to ``[ovsdb]
max_message_size`` can cost: ``max_message_size x factor + baseline``
(doc/source/operations.rst).
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from typing import Optional

from df_ovsdb_agent.ovsdb.monitor import OvsdbSettings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20


def _status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError('no %s in /proc/self/status' % field)


# -- the child: one agent, one sync ----------------------------------------

def child(remote: str, max_mib: int) -> None:
    from df_ovsdb_agent.agent import Agent
    from df_ovsdb_agent.ovsdb import jsonrpc

    largest = [0]
    decode = jsonrpc.Framer._decode
    parse_whole = jsonrpc.Framer._parse_whole

    # The largest message framed, by either of the framer's two paths: a
    # message the scanner delimits, and a big one the parser delimits
    # (its bytes are all in the buffer when it parses).
    def measured(self, end):
        largest[0] = max(largest[0], end - self._start)
        return decode(self, end)

    def measured_whole(self, drained):
        size = len(self._buf) - self._start
        value = parse_whole(self, drained)
        if value is not jsonrpc._NOT_YET:
            largest[0] = max(largest[0], size)
        return value

    jsonrpc.Framer._decode = measured  # type: ignore[method-assign]
    jsonrpc.Framer._parse_whole = (  # type: ignore[method-assign]
        measured_whole)
    gc.collect()
    base = _status_kib('VmRSS')
    settings = OvsdbSettings(connection=remote, max_message_size=max_mib * MIB,
                             sync_timeout=1200, probe_interval=0)
    agent = Agent(settings=settings)
    began = time.monotonic()
    agent.start()
    took = time.monotonic() - began
    peak = _status_kib('VmHWM')
    online = len(agent.interfaces())
    gc.collect()
    after = _status_kib('VmRSS')
    agent.stop()
    print(json.dumps({'base_mib': base / 1024, 'peak_mib': peak / 1024,
                      'growth_mib': (peak - base) / 1024,
                      'after_mib': after / 1024,
                      'message_mib': largest[0] / MIB,
                      'seconds': took, 'online': online}))


def run_child(remote: str, max_mib: int) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    out = subprocess.run([sys.executable, '-m', 'benchmarks.message_memory',
                          '--child', remote, '--max-mib', str(max_mib)],
                         capture_output=True, text=True, env=env,
                         timeout=3600)
    if out.returncode != 0:
        raise RuntimeError('child failed: %s' % out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result['factor'] = (result['growth_mib'] / result['message_mib']
                        if result['message_mib'] else None)
    return result


def junk_objects(mib: int) -> bytes:
    count = mib * MIB // 3
    return b'[' + b'{},' * (count - 1) + b'{}]'


def junk_string(mib: int) -> bytes:
    return b'"' + b'x' * (mib * MIB) + b'"'


# -- the parent ---------------------------------------------------------------

def measure_dump(ports: int, max_mib: int) -> dict:
    from benchmarks import scenarios
    with scenarios.Database(ports) as db:
        return run_child(db.box.unix_remote, max_mib)


def measure_junk(shape: str, mib: int, max_mib: int) -> dict:
    # Imported here, not in the measured child.
    from df_ovsdb_agent.testing.fake_ovsdb import FakeOvsdb
    junk = junk_objects(mib) if shape == 'objects' else junk_string(mib)
    # The real schema, then a monitor reply padded with junk in a table
    # the agent does not monitor.
    with FakeOvsdb(b'{"Interface":{},"Junk":%s}' % junk) as peer:
        return run_child(peer.remote, max_mib)


def _row(name: str, result: dict) -> str:
    factor = result['factor']
    return ('| %s | %.1f | %.0f | %.0f | %s | %.0f | %d | %.1f |'
            % (name, result['message_mib'], result['base_mib'],
               result['growth_mib'],
               '%.1f' % factor if factor is not None else '-',
               result['after_mib'], result['online'], result['seconds']))


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='10000,100000',
                        help='VM ports in the real dumps')
    parser.add_argument('--junk-mib', default='8,32',
                        help='sizes of the pathological messages, MiB')
    parser.add_argument('--max-mib', type=int,
                        default=OvsdbSettings.max_message_size // MIB,
                        help='[ovsdb] max_message_size for the runs '
                             '(default: the agent\'s)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.max_mib)
        return 0
    with open('/proc/loadavg') as f:
        load_before = f.read().split()[:3]
    print('| case | message MiB | baseline RSS MiB | peak growth MiB '
          '| factor | RSS after sync MiB | online | sync s |')
    print('|---|---|---|---|---|---|---|---|')
    for ports in [int(n) for n in args.sizes.split(',') if n]:
        print(_row('dump-%d' % ports, measure_dump(ports, args.max_mib)),
              flush=True)
    for mib in [int(n) for n in args.junk_mib.split(',') if n]:
        for shape in ('objects', 'string'):
            print(_row('junk-%s-%d' % (shape, mib),
                       measure_junk(shape, mib, args.max_mib)), flush=True)
    with open('/proc/loadavg') as f:
        print('\nload average before %s, after %s'
              % (' '.join(load_before), ' '.join(f.read().split()[:3])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
