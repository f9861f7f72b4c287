"""The documentation builds warning-free and its library example runs.

The example is run as a user would run it, against a real ovsdb-server and
ovs-vswitchd (dummy datapath) on a free 127.0.0.1 port.
"""

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from df_ovsdb_agent import sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, 'doc', 'source')
EXAMPLE = os.path.join(ROOT, 'doc', 'examples', 'embed_agent.py')
BUILD_TIMEOUT = 60


@pytest.mark.timeout(BUILD_TIMEOUT + 10)
def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / 'html'
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q',
         '-b', 'html', '-d', str(tmp_path / 'doctrees'), SOURCE, str(out)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'WARNING' not in result.stderr, result.stderr
    assert time.monotonic() - started < BUILD_TIMEOUT
    # The configuration reference is generated from the options themselves.
    config = (out / 'configuration.html').read_text()
    for needle in ('sync_timeout', 'require_ofport', 'app_state_file'):
        assert needle in config, needle


class Lines:
    """Collects a child's stdout lines so the test can wait on them."""

    def __init__(self, stream):
        self.seen = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,),
                                        daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in stream:
            self._queue.put(line.rstrip('\n'))

    def wait_for(self, predicate, timeout=15.0):
        """Return the first new line matching ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail('no matching line within %ss; got:\n%s'
                            % (timeout, '\n'.join(self.seen)))
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                return line

    def drain(self):
        self._thread.join(10)
        while not self._queue.empty():
            self.seen.append(self._queue.get())
        return self.seen


@pytest.fixture
def ovs(tmp_path):
    if shutil.which('ovsdb-server') is None:
        pytest.fail('ovsdb-server is not installed; run tools/setup.sh')
    box = sandbox.OvsSandbox(base_dir=str(tmp_path), vswitchd=True)
    box.start()
    yield box
    box.stop()


def _vm_port(name, iface_id):
    return ['add-port', 'br-int', name, '--', 'set', 'Interface', name,
            'external_ids:iface-id=%s' % iface_id,
            'external_ids:attached-mac=fa:16:3e:00:00:01']


@pytest.mark.functional
@pytest.mark.timeout(90)
def test_library_example_runs_against_real_ovsdb(ovs):
    ovs.vsctl('add-br', 'br-int')
    ovs.vsctl(*_vm_port('tap-a', 'port-a'))
    proc = subprocess.Popen([sys.executable, EXAMPLE, ovs.remote],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        lines = Lines(proc.stdout)
        # br-int and tap-a are online; only tap-a is a VM port.
        lines.wait_for(lambda l: l == '2 interfaces online, 1 of them VM '
                                         'ports')
        replayed = lines.wait_for(lambda l: l.startswith('vm online tap-a'))
        assert 'iface_id=port-a' in replayed
        assert 'attached_mac=fa:16:3e:00:00:01' in replayed

        ovs.vsctl(*_vm_port('tap-b', 'port-b'))
        plugged = lines.wait_for(lambda l: l.startswith('vm online tap-b'))
        ofport = int(plugged.split('ofport=')[1].split()[0])
        assert ofport > 0  # assigned by ovs-vswitchd, not by the test

        # Filtered out by kinds=[Kind.VM]; its event is published before
        # tap-a's offline, so it would show up before that line.
        ovs.vsctl('add-port', 'br-int', 'vxlan0', '--', 'set', 'Interface',
                  'vxlan0', 'type=vxlan', 'options:remote_ip=192.0.2.9')
        ovs.vsctl('del-port', 'tap-a')
        lines.wait_for(lambda l: l.startswith('vm offline tap-a'))

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    output = lines.drain()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert not [l for l in output if l.split()[0] in ('tunnel', 'bridge')]
    assert 'Traceback' not in stderr and 'Warning' not in stderr, stderr


@pytest.mark.timeout(30)
def test_library_example_reports_a_bad_remote_in_one_line():
    result = subprocess.run([sys.executable, EXAMPLE, 'tpc:127.0.0.1:6640'],
                            capture_output=True, text=True, timeout=20,
                            cwd=ROOT)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.strip().splitlines() == [
        "embed_agent: error: OVSDB remote 'tpc:127.0.0.1:6640' is not "
        "valid; expected tcp:IP:PORT, ssl:IP:PORT or unix:PATH"]
