"""sd_notify against a real AF_UNIX datagram socket bound by the test."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid

import pytest

from df_ovsdb_agent import systemd
from tests.helpers import Clock


class Receiver:
    """What systemd does: a bound SOCK_DGRAM socket and its address."""

    def __init__(self, abstract):
        self.dir = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = 'df-ovsdb-agent-test-%s' % uuid.uuid4().hex
            self.sock.bind('\0' + name)
            self.env = '@' + name
        else:
            # Short: sun_path holds 108 bytes, pytest's tmp_path may not fit.
            self.dir = tempfile.mkdtemp(prefix='sd')
            self.env = os.path.join(self.dir, 'notify')
            self.sock.bind(self.env)
        self.sock.settimeout(10)

    def recv(self):
        """The next datagram; notify sends synchronously, so it is here."""
        return self.sock.recv(65536).decode()

    def pending(self):
        """Datagrams queued now (sendto has returned for all of them)."""
        got = []
        self.sock.setblocking(False)
        try:
            while True:
                got.append(self.sock.recv(65536).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(10)
        return got

    def close(self):
        self.sock.close()
        if self.dir:
            shutil.rmtree(self.dir)
            self.dir = None


@pytest.fixture(params=['path', 'abstract'])
def receiver(request):
    rec = Receiver(abstract=request.param == 'abstract')
    yield rec
    rec.close()


@pytest.fixture
def notifier(receiver):
    n = systemd.Notifier(receiver.env)
    yield n
    n.close()


def test_messages_are_the_exact_datagrams(receiver, notifier):
    assert notifier.enabled
    assert notifier.ready('synced, 3 interfaces online')
    assert receiver.recv() == 'READY=1\nSTATUS=synced, 3 interfaces online'
    assert notifier.ready()
    assert receiver.recv() == 'READY=1'
    assert notifier.status('connected, syncing')
    assert receiver.recv() == 'STATUS=connected, syncing'
    assert notifier.watchdog()
    assert receiver.recv() == 'WATCHDOG=1'
    assert notifier.stopping()
    assert receiver.recv() == 'STOPPING=1'
    assert receiver.pending() == []


def test_status_cannot_forge_another_assignment(receiver, notifier):
    notifier.status('a\nREADY=1\r\nb')
    assert receiver.recv() == 'STATUS=a READY=1 b'


def test_no_socket_is_a_no_op(monkeypatch):
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    n = systemd.Notifier()
    assert not n.enabled
    assert not n.ready('x')
    assert not n.watchdog()
    assert systemd.Watchdog.from_env(n, {'WATCHDOG_USEC': '30000000'}) is None


def test_unsupported_address_is_ignored():
    assert not systemd.Notifier('vsock:2:1234').enabled


def test_vanished_socket_does_not_raise(receiver, notifier, caplog):
    receiver.close()
    assert notifier.watchdog() is False
    assert notifier.watchdog() is False
    # One warning per outage, not one per keep-alive.
    assert len([r for r in caplog.records
                if 'Cannot notify systemd' in r.getMessage()]) == 1


def test_module_functions_read_notify_socket_of_the_process(receiver):
    """A fresh process, as systemd starts it, with NOTIFY_SOCKET set."""
    code = textwrap.dedent('''
        from df_ovsdb_agent import systemd
        assert systemd.status('syncing')
        assert systemd.ready('synced')
        assert systemd.watchdog()
        assert systemd.stopping()
    ''')
    env = dict(os.environ, NOTIFY_SOCKET=receiver.env)
    subprocess.run([sys.executable, '-c', code], env=env, check=True,
                   timeout=60)
    assert [receiver.recv() for _ in range(4)] == [
        'STATUS=syncing', 'READY=1\nSTATUS=synced', 'WATCHDOG=1',
        'STOPPING=1']


@pytest.mark.parametrize('env, expected', [
    ({}, None),
    ({'WATCHDOG_USEC': '30000000'}, 30.0),
    ({'WATCHDOG_USEC': '500000', 'WATCHDOG_PID': str(os.getpid())}, 0.5),
    ({'WATCHDOG_USEC': '30000000', 'WATCHDOG_PID': '1'}, None),
    ({'WATCHDOG_USEC': '30000000', 'WATCHDOG_PID': 'x'}, None),
    ({'WATCHDOG_USEC': '0'}, None),
    ({'WATCHDOG_USEC': 'soon'}, None),
])
def test_watchdog_interval(env, expected):
    assert systemd.watchdog_interval(env) == expected


def test_watchdog_sends_at_most_every_half_interval(receiver, notifier):
    clock = Clock(1000.0)
    dog = systemd.Watchdog(notifier, 10.0, clock=clock)
    assert dog.period == 5.0
    assert dog.kick()                     # the first kick always sends
    for _ in range(3):
        clock.now += 1.0
        assert not dog.kick()
    clock.now += 2.0                      # 5 s after the first send
    assert dog.kick()
    assert receiver.pending() == ['WATCHDOG=1', 'WATCHDOG=1']


def test_watchdog_stays_silent_when_kicks_stop(receiver, notifier):
    clock = Clock(1000.0)
    dog = systemd.Watchdog(notifier, 10.0, clock=clock)
    dog.kick()
    assert receiver.pending() == ['WATCHDOG=1']
    # A wedged loop: time passes, nobody kicks, nothing is sent.
    clock.now += 60.0
    assert receiver.pending() == []
    # The loop recovers: the next kick sends at once.
    assert dog.kick()
    assert receiver.pending() == ['WATCHDOG=1']


def test_watchdog_from_env(receiver, notifier):
    dog = systemd.Watchdog.from_env(notifier, {'WATCHDOG_USEC': '30000000'})
    assert dog is not None and dog.period == 15.0
    assert systemd.Watchdog.from_env(notifier, {}) is None
    with pytest.raises(ValueError):
        systemd.Watchdog(notifier, 0)
