"""Helpers the tests share: VM interfaces and ports, a settable clock and
a reader that waits for a child's output lines.

Fixtures live in the conftest.py files; servers, certificates and fake
peers in :mod:`df_ovsdb_agent.testing`.
"""

import json
import queue
import threading
import time
from typing import Any, Callable, IO, Optional

import pytest

from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind


def vm(name: str, uuid: Optional[str] = None,
       iface_id: Optional[str] = None, ofport: Optional[int] = 1,
       bridge: Optional[str] = None, mac: Optional[str] = None,
       **attributes: Any) -> Interface:
    """A VM interface as the agent reports it (uuid ``u-<name>`` unless
    given; ``mac`` is ``attached_mac``).
    """
    return Interface(Kind.VM, name, uuid or 'u-' + name, ofport,
                     bridge=bridge, iface_id=iface_id, attached_mac=mac,
                     **attributes)


def numbered_vm(i: int, ofport: Optional[int] = 1,
                mac: Optional[str] = None) -> Interface:
    """VM number ``i``: ``tap<i>``, uuid ``u<i>``, iface-id ``p<i>``."""
    return vm('tap%d' % i, 'u%d' % i, 'p%d' % i, ofport, mac=mac)


def uuid_vm(uuid: str, ofport: Optional[int] = 1, iface_id: str = 'x',
            **attributes: Any) -> Interface:
    """The VM with ``uuid``, named ``tap-<uuid>``."""
    return vm('tap-' + uuid, uuid, iface_id, ofport, **attributes)


def vsctl_vm(name: str, iface_id: Optional[str] = None, *,
             bridge: str = 'br-int', ofport: Optional[int] = None,
             mac: Optional[str] = None) -> list[str]:
    """``ovs-vsctl`` arguments adding VM port ``name`` to ``bridge``
    (iface-id ``p-<name>`` unless given).
    """
    args = ['add-port', bridge, name, '--', 'set', 'Interface', name]
    if ofport is not None:
        args.append('ofport=%d' % ofport)
    args.append('external_ids:iface-id=%s'
                % (iface_id if iface_id is not None else 'p-' + name))
    if mac is not None:
        args.append('external_ids:attached-mac=%s' % mac)
    return args


class Clock:
    """A monotonic clock the test moves by hand: ``clock.now += 10``."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class OutputLines:
    """A child's output, read by a thread, for the test to wait on.

    ``lines`` holds every line read so far (without its newline, parsed
    by ``parse`` if given); the end of the output ends any wait.
    """

    def __init__(self, stream: IO[str],
                 parse: Optional[Callable[[str], Any]] = None) -> None:
        self.lines: list = []
        self._parse = parse
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,),
                                        daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            line = line.rstrip('\n')
            self._queue.put(self._parse(line) if self._parse else line)
        self._queue.put(None)

    def next(self, deadline: float) -> Any:
        """The next line (kept in ``lines`` too), or None at the end of
        the output or at ``deadline`` (a ``time.monotonic()`` value).
        """
        try:
            line = self._queue.get(timeout=max(0, deadline -
                                               time.monotonic()))
        except queue.Empty:
            return None
        if line is not None:
            self.lines.append(line)
        return line

    def wait_line(self, needle: str, timeout: float = 15) -> str:
        """The first line, old or new, that contains ``needle``."""
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if needle in line:
                return line
        while True:
            line = self.next(deadline)
            if line is None:
                raise AssertionError('no line with %r; output:\n%s'
                                     % (needle, '\n'.join(self.lines)))
            if needle in line:
                return line

    def wait_new(self, predicate: Callable[[Any], bool],
                 timeout: float = 15.0) -> Any:
        """The first line from now on that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(deadline)
            if line is None:
                pytest.fail('no matching line within %ss; got:\n%s'
                            % (timeout, '\n'.join(map(str, self.lines))))
            if predicate(line):
                return line

    def wait_all(self, predicate: Callable[[list], bool],
                 timeout: float = 10.0,
                 context: Callable[[], str] = lambda: '') -> list:
        """Read lines until ``predicate(lines)`` holds; return ``lines``.
        ``context()`` adds to the failure (e.g. the child's stderr).
        """
        deadline = time.monotonic() + timeout
        while not predicate(self.lines):
            if self.next(deadline) is None:
                pytest.fail('no match; lines so far:\n%s%s' % (
                    '\n'.join(map(str, self.lines)), context()))
        return self.lines

    def drain(self, timeout: float = 5.0) -> list:
        """Read to the end of the output (or ``timeout``); ``lines``."""
        deadline = time.monotonic() + timeout
        while self.next(deadline) is not None:
            pass
        return self.lines

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def json_lines(stream: IO[str]) -> OutputLines:
    """:class:`OutputLines` of a child that writes one JSON value a line."""
    return OutputLines(stream, json.loads)
