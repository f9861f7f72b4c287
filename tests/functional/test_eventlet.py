"""The library embedded in an eventlet-monkey-patched program.

Controllers in the os-ken / Dragonflow mould monkey-patch at start-up and
embed libraries in that process.  The agent uses only ``threading``
primitives, which then become green: these tests show that events are
delivered and start/stop work there, against a real ovsdb-server, and
measure (print, not assert) how long another green thread is stalled while
the agent syncs 2,000 rows: decoding and applying a monitor reply does not
yield, so under eventlet a sync blocks the whole process, on native threads
it does not.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from df_ovsdb_agent.testing.rpc import Client as Rpc
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops

ROWS = 2000

CHILD = textwrap.dedent('''
    import sys
    mode, remote, live = sys.argv[1:4]
    if mode == 'eventlet':
        import warnings
        warnings.simplefilter('ignore')
        import eventlet
        eventlet.monkey_patch()
    import json
    import threading
    import time

    from df_ovsdb_agent.agent import Agent

    def out(**kw):
        print(json.dumps(kw), flush=True)

    class Ticker:
        """Another (green) thread of the program: how late does it run?"""

        def __init__(self):
            self.worst = 0.0
            self.done = threading.Event()
            self.thread = threading.Thread(target=self.run, daemon=True)

        def run(self):
            last = time.monotonic()
            while not self.done.is_set():
                time.sleep(0.001)
                now = time.monotonic()
                self.worst = max(self.worst, now - last)
                last = now

    seen = []
    plugged = threading.Event()

    def on_event(event):
        seen.append(event)
        if getattr(event, 'name', None) == live:
            plugged.set()

    agent = Agent(remote)
    agent.subscribe(on_event, name='embedded')
    ticker = Ticker()
    ticker.thread.start()
    started = time.monotonic()
    agent.start()
    took = time.monotonic() - started
    ticker.done.set()
    ticker.thread.join(10)
    assert agent.bus.wait_idle(60)
    online = sum(1 for e in seen if getattr(e, 'action', None) is not None
                 and e.action.value == 'online')
    out(step='synced', online=online, interfaces=len(agent.interfaces()),
        start_s=round(took, 3), worst_stall_s=round(ticker.worst, 3))
    if not plugged.wait(60):
        out(step='no event for %s' % live)
        sys.exit(3)
    out(step='event', name=live)
    agent.stop(timeout=10)
    out(step='stopped', threads=sorted(t.name for t in threading.enumerate()
                                       if t.name.startswith('df-ovsdb')))
''')


def _fill(remote):
    with Rpc(remote, timeout=60) as rpc:
        rpc.transact(*add_bridge_ops('br-int'), timeout=60)
        names = ['tap%05d' % i for i in range(ROWS)]
        rpc.transact(*add_ports_ops('br-int', names,
                                    lambda i: i + 1), timeout=60)


def _next(proc):
    line = proc.stdout.readline()
    assert line, 'child exited: %s' % proc.stderr.read()
    return json.loads(line)


@pytest.mark.functional
@pytest.mark.timeout(180)
@pytest.mark.parametrize('mode', ['eventlet', 'threads'])
def test_embedded_agent(ovsdb, mode):
    if mode == 'eventlet':
        pytest.importorskip('eventlet')  # the `eventlet` extra
    _fill(ovsdb.remote)
    proc = subprocess.Popen(
        [sys.executable, '-c', CHILD, mode, ovsdb.remote, 'tap-live'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        synced = _next(proc)
        assert synced['step'] == 'synced', synced
        assert synced['online'] == synced['interfaces'] == ROWS
        print('\n%s: start() with %d rows took %.3f s; another thread was '
              'stalled up to %.3f s'
              % (mode, ROWS, synced['start_s'], synced['worst_stall_s']))

        # A change made after the sync reaches the embedded subscriber.
        ovsdb.vsctl('add-port', 'br-int', 'tap-live', '--', 'set',
                    'Interface', 'tap-live', 'ofport=9999',
                    'external_ids:iface-id=live')
        assert _next(proc) == {'step': 'event', 'name': 'tap-live'}
        # stop() ends the monitor and every subscriber worker.
        assert _next(proc) == {'step': 'stopped', 'threads': []}
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()
    assert 'Traceback' not in stderr, stderr
