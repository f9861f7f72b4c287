"""Tell systemd how the service is doing: the sd_notify datagram protocol.

A few lines of stdlib, so no dependency is taken for it: ``sdnotify`` has
had no release since 2017 and no watchdog support, and ``systemd-python`` /
``cysystemd`` need libsystemd headers to build.  What the daemon sends and
when: doc/source/operations.rst.  Sending never raises: systemd being gone
must not take the daemon down.
"""

import logging
import os
import socket
import threading
import time
from typing import Callable, Mapping, Optional

LOG = logging.getLogger(__name__)


def _parse_notify_socket(value: Optional[str]) -> Optional[str]:
    """The socket address for a NOTIFY_SOCKET value, None if unusable."""
    if not value:
        return None
    if value.startswith('@'):
        # Abstract namespace: a leading NUL byte instead of '@'.
        return '\0' + value[1:]
    if value.startswith('/'):
        return value
    # systemd >= 254 also knows vsock:..., which a host daemon never gets.
    LOG.warning('Ignoring unsupported NOTIFY_SOCKET %r', value)
    return None


def _without_newlines(text: str) -> str:
    # A newline would start a new assignment (e.g. a forged READY=1).
    return ' '.join(str(text).splitlines())


class Notifier:
    """Sends sd_notify messages; every method is a no-op when disabled."""

    def __init__(self, notify_socket: Optional[str] = None) -> None:
        """Use ``notify_socket`` (a NOTIFY_SOCKET value), else the env."""
        if notify_socket is None:
            notify_socket = os.environ.get('NOTIFY_SOCKET')
        self._socket_address = _parse_notify_socket(notify_socket)
        self._sock: Optional[socket.socket] = None
        self._lock = threading.Lock()
        self._send_failing = False

    @property
    def enabled(self) -> bool:
        """True when systemd gave us a socket to notify."""
        return self._socket_address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` assignments in one datagram; True if sent."""
        if self._socket_address is None:
            return False
        data = '\n'.join(assignments).encode('utf-8', 'replace')
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX,
                        socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(data, self._socket_address)
            except OSError as exc:
                # Once per outage, not once per watchdog kick.
                if not self._send_failing:
                    LOG.warning('Cannot notify systemd: %s', exc)
                self._send_failing = True
                return False
            self._send_failing = False
        return True

    def ready(self, status: Optional[str] = None) -> bool:
        """``READY=1`` (and ``STATUS=``): the service is useful now."""
        if status is None:
            return self.notify('READY=1')
        return self.notify('READY=1',
                           'STATUS=%s' % _without_newlines(status))

    def status(self, text: str) -> bool:
        """``STATUS=``: one line for ``systemctl status``."""
        return self.notify('STATUS=%s' % _without_newlines(text))

    def stopping(self) -> bool:
        """``STOPPING=1``: the service is shutting down."""
        return self.notify('STOPPING=1')

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: keep-alive for ``WatchdogSec=``."""
        return self.notify('WATCHDOG=1')

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval(
        environ: Optional[Mapping[str, str]] = None) -> Optional[float]:
    """The watchdog timeout systemd expects, in seconds; None if not ours.

    From ``WATCHDOG_USEC``; ``WATCHDOG_PID``, when set, must be this
    process (otherwise the variables were inherited from a parent).
    """
    env = os.environ if environ is None else environ
    pid = env.get('WATCHDOG_PID')
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(env.get('WATCHDOG_USEC', ''))
    except ValueError:
        return None
    return usec / 1e6 if usec > 0 else None


class Watchdog:
    """Sends ``WATCHDOG=1`` while a loop keeps calling :meth:`kick`.

    There is no timer thread: a wedged loop stops kicking, so the
    keep-alives stop and systemd restarts the service.  Kicks send at most
    once per :attr:`period` (half the interval, as sd_watchdog_enabled(3)
    advises); the kicking loop must wake at least that often.
    """

    def __init__(self, notifier: Notifier, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval <= 0:
            raise ValueError('watchdog interval must be positive')
        self.notifier = notifier
        self.period = interval / 2.0
        self._clock = clock
        self._last_sent: Optional[float] = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, notifier: Notifier,
                 environ: Optional[Mapping[str, str]] = None
                 ) -> Optional['Watchdog']:
        """A Watchdog if systemd asked for one and can be notified."""
        interval = watchdog_interval(environ)
        if interval is None or not notifier.enabled:
            return None
        return cls(notifier, interval)

    def kick(self) -> bool:
        """Called by the loop that must stay alive; True if it sent."""
        now = self._clock()
        with self._lock:
            if (self._last_sent is not None and
                    now - self._last_sent < self.period):
                return False
            self._last_sent = now
        return self.notifier.watchdog()


_process_notifier: Optional[Notifier] = None
_process_notifier_lock = threading.Lock()


def _shared_notifier() -> Notifier:
    global _process_notifier
    with _process_notifier_lock:
        if _process_notifier is None:
            _process_notifier = Notifier()
        return _process_notifier


def ready(status: Optional[str] = None) -> bool:
    """``READY=1`` on the process's NOTIFY_SOCKET (no-op without one)."""
    return _shared_notifier().ready(status)


def status(text: str) -> bool:
    """``STATUS=text`` on the process's NOTIFY_SOCKET."""
    return _shared_notifier().status(text)


def stopping() -> bool:
    """``STOPPING=1`` on the process's NOTIFY_SOCKET."""
    return _shared_notifier().stopping()


def watchdog() -> bool:
    """``WATCHDOG=1`` on the process's NOTIFY_SOCKET."""
    return _shared_notifier().watchdog()
