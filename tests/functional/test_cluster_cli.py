"""``df-ovsdb-cluster-events`` as a process, against real stores."""

import json
import os
import signal
import subprocess
import sys

import pytest

from df_ovsdb_agent.testing import sandbox
from tests.functional.stores import etcd_server_fixture  # noqa: F401
from tests.functional.stores import make_publisher_fixture  # noqa: F401
from tests.functional.stores import redis_server_fixture  # noqa: F401
from tests.helpers import json_lines

pytestmark = [pytest.mark.functional, pytest.mark.timeout(60)]

CLI = os.path.join(os.path.dirname(sys.executable), 'df-ovsdb-cluster-events')


class Lines:
    """A running CLI whose stdout lines are parsed as they arrive."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([CLI] + list(args),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.output = json_lines(self.proc.stdout)
        self.lines = self.output.lines

    def wait_for(self, predicate, timeout=10.0):
        """Collect lines until ``predicate(lines)``; fail on timeout."""
        return self.output.wait_all(
            predicate, timeout, lambda: '\nstderr: %s' % self._stderr())

    def _stderr(self):
        if self.proc.poll() is None:
            return '(still running)'
        return self.proc.stderr.read()

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10)
        self.output.join(5)
        return rc


def states(lines, host=None):
    """The host markers' states, of ``host`` or of all hosts."""
    return [line['state'] for line in lines if 'state' in line and
            (host is None or line['host'] == host)]


def summary(lines):
    return [(line['host'], line['action'], line['name']) for line in lines
            if 'action' in line]


def start(make_agent, make_publisher, box, name, url, host):
    agent = make_agent(box.remote)
    publisher = make_publisher(name, agent, host, url=url)
    agent.start()
    assert publisher.wait_flushed(10)
    return agent


@pytest.fixture
def second_ovs(tmp_path):
    box = sandbox.OvsSandbox(base_dir=str(tmp_path / 'ovs2'))
    os.makedirs(box.dir)
    box.start()
    yield box
    box.stop()


def test_etcd_tail_shows_two_agents(ovs, second_ovs, etcd_server,
                                    make_agent, make_publisher):
    start(make_agent, make_publisher, ovs, 'etcd', etcd_server.url, 'hv1')
    start(make_agent, make_publisher, second_ovs, 'etcd', etcd_server.url,
          'hv2')
    ovs.vsctl('add-br', 'br-int')
    tail = Lines('--etcd', etcd_server.url)
    try:
        tail.wait_for(lambda lines: {'sync': 'finished'} in lines)
        second_ovs.vsctl('add-br', 'br-int')
        second_ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set',
                         'Interface', 'tap1', 'external_ids:iface-id=p1')
        ovs.vsctl('add-port', 'br-int', 'vxlan1', '--', 'set', 'Interface',
                  'vxlan1', 'type=vxlan', 'options:remote_ip=192.0.2.2')
        second_ovs.vsctl('del-port', 'tap1')
        want = [('hv1', 'online', 'br-int'), ('hv2', 'online', 'br-int'),
                ('hv2', 'online', 'tap1'), ('hv1', 'online', 'vxlan1'),
                ('hv2', 'offline', 'tap1')]
        lines = tail.wait_for(lambda lines: len(summary(lines)) >= 5 and
                              states(lines).count('synced') == 2)
    finally:
        assert tail.terminate() == 0
    assert lines[0] == {'sync': 'started'}
    assert sorted(summary(lines)) == sorted(want)
    # Host markers beside the events: both agents are up, then synced.
    for host in ('hv1', 'hv2'):
        assert states(lines, host) == ['up', 'synced']
    [tunnel] = [line for line in lines if line.get('name') == 'vxlan1']
    assert (tunnel['kind'], tunnel['remote_ip']) == ('tunnel', '192.0.2.2')

    once = subprocess.run([CLI, '--etcd', etcd_server.url, '--once'],
                          capture_output=True, text=True, timeout=20)
    assert once.returncode == 0, once.stderr
    lines = [json.loads(line) for line in once.stdout.splitlines()]
    assert lines[0] == {'sync': 'started'} and lines[-1] == {
        'sync': 'finished'}
    assert summary(lines) == [('hv1', 'online', 'br-int'),
                              ('hv1', 'online', 'vxlan1'),
                              ('hv2', 'online', 'br-int')]


def test_redis_tail_and_resume(ovs, redis_server, make_agent,
                               make_publisher):
    start(make_agent, make_publisher, ovs, 'redis', redis_server.url, 'hv1')
    ovs.vsctl('add-br', 'br-int')
    tail = Lines('--redis', redis_server.url)
    try:
        lines = tail.wait_for(
            lambda lines: ('hv1', 'online', 'br-int') in summary(lines) and
            {'sync': 'finished', 'host': 'hv1'} in lines)
        ovs.vsctl('add-port', 'br-int', 'tap1', '--', 'set', 'Interface',
                  'tap1', 'external_ids:iface-id=p1')
        lines = tail.wait_for(
            lambda lines: ('hv1', 'online', 'tap1') in summary(lines))
    finally:
        assert tail.terminate() == 0
    position = lines[-1]['id']
    ovs.vsctl('del-port', 'tap1')
    resumed = Lines('--redis', redis_server.url,
                    '--resume', 'hv1=%s' % position)
    try:
        lines = resumed.wait_for(lambda lines: summary(lines))
    finally:
        assert resumed.terminate() == 0
    assert summary(lines) == [('hv1', 'offline', 'tap1')]
    # A resumed tail learns the host's liveness; its state is not re-read.
    assert lines[:2] == [{'host': 'hv1', 'state': 'up'},
                         {'host': 'hv1', 'state': 'synced'}]


@pytest.mark.parametrize('args, message', [
    ([], 'give exactly one of --etcd URL or --redis URL'),
    (['--etcd', 'http://127.0.0.1:1', '--redis', 'redis://127.0.0.1:1'],
     'give exactly one'),
    (['--etcd', 'ftp://127.0.0.1:1'], 'bad etcd url'),
    (['--redis', 'redis://:hunter2@127.0.0.1:1', '--once'],
     'redis redis://:***@127.0.0.1:1: ConnectionError'),
    (['--etcd', 'http://127.0.0.1:1', '--resume', 'hv1=1-0'],
     '--resume applies to --redis only'),
    (['--redis', 'redis://127.0.0.1:1', '--resume', 'hv1'],
     "bad --resume 'hv1'"),
    (['--redis', 'redis://127.0.0.1:1', '--resume', 'hv1=latest'],
     "bad stream ID 'latest' for host hv1"),
])
def test_bad_input_is_one_line(args, message):
    result = subprocess.run([CLI] + args, capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ''
    assert result.stderr.count('\n') == 1, result.stderr
    assert result.stderr.startswith('df-ovsdb-cluster-events: error: ')
    assert message in result.stderr
    assert 'hunter2' not in result.stderr
