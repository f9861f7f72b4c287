"""Parent side: start a contender process, talk to it, measure it.

CPU, peak RSS and bytes read come from ``/proc`` of the process under test
(and of its ``ovsdb-client`` child where there is one), so every contender
is measured the same way and in isolation.
"""

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from typing import Optional

import psutil

from benchmarks.contenders import now_ns

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Contenders whose cost is their ovsdb-client child's alone.
CHILD_ONLY = {'c_floor'}


class WorkerError(RuntimeError):
    """A contender did not answer as expected."""


class Worker:
    """One contender process."""

    def __init__(self, name: str) -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep +
                   os.environ.get('PYTHONPATH', ''))
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'benchmarks.worker', name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=env,
            text=True, bufsize=1)
        self._msgs: queue.Queue = queue.Queue()
        self.marks: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.parser = self.wait('ready', 60)['parser']

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            (self.marks if msg['ev'] == 'mark' else self._msgs).put(msg)
        self._msgs.put({'ev': 'eof'})

    def send(self, cmd: str, **args) -> None:
        self.proc.stdin.write(json.dumps(dict(args, cmd=cmd)) + '\n')
        self.proc.stdin.flush()

    def call(self, cmd: str, **args) -> None:
        """Send a command and wait until the worker has applied it."""
        self.send(cmd, **args)
        self.wait('ack', 30)

    def wait(self, ev: str, timeout: float) -> dict:
        """Next message of type ``ev`` (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerError('%s: no %r within %ss'
                                  % (self.name, ev, timeout))
            try:
                msg = self._msgs.get(timeout=remaining)
            except queue.Empty:
                continue
            if msg['ev'] == ev:
                return msg
            if msg['ev'] == 'eof':
                raise WorkerError('%s exited (rc=%s) waiting for %r'
                                  % (self.name, self.proc.poll(), ev))

    def start(self, remote: str, expect: int, timeout: float) -> dict:
        """Start monitoring; return the sync time (s) and event count."""
        self.send('start', remote=remote, expect=expect)
        started = self.wait('started', 30)['t']
        synced = self.wait('synced', timeout)
        return {'seconds': (synced['t'] - started) / 1e9,
                'events': synced['events']}

    def wait_mark(self, name: str, timeout: float) -> Optional[int]:
        """Time (ns) the subscriber saw ``name``; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                msg = self.marks.get(timeout=remaining)
            except queue.Empty:
                return None
            if msg['name'] == name:
                return msg['t']

    def drain_marks(self) -> None:
        while not self.marks.empty():
            self.marks.get_nowait()

    # -- measurements of the process under test ---------------------------

    def _processes(self) -> list[psutil.Process]:
        try:
            proc = psutil.Process(self.proc.pid)
            children = proc.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return children if self.name in CHILD_ONLY else [proc] + children

    def pids(self) -> list[int]:
        """Every process of this contender, the worker included: what a
        :class:`benchmarks.machine.Window` must not count as another's.
        """
        try:
            proc = psutil.Process(self.proc.pid)
            return [self.proc.pid] + [
                c.pid for c in proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> float:
        """User+system CPU seconds so far."""
        total = 0.0
        for proc in self._processes():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def peak_rss(self) -> int:
        """Peak resident set (VmHWM), bytes."""
        return self._status_sum('VmHWM:')

    def rss(self) -> int:
        """Resident set now (VmRSS), bytes."""
        return self._status_sum('VmRSS:')

    def _status_sum(self, key: str) -> int:
        total = 0
        for proc in self._processes():
            try:
                with open('/proc/%d/status' % proc.pid) as status:
                    for line in status:
                        if line.startswith(key):
                            total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def bytes_read(self, port: int) -> int:
        """Bytes received on its TCP connections to ``port`` (from ``ss``:
        python sockets use recv(2), which /proc/PID/io does not count).
        """
        pids = {p.pid for p in self._processes()}
        out = subprocess.run(
            ['ss', '-tinpH', 'dst', '127.0.0.1:%d' % port],
            capture_output=True, text=True).stdout
        total, owner = 0, None
        for line in out.splitlines():
            if not line[:1].isspace():
                match = re.search(r'pid=(\d+)', line)
                owner = int(match.group(1)) if match else None
                continue
            match = re.search(r'bytes_received:(\d+)', line)
            if match and owner in pids:
                total += int(match.group(1))
        return total

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send('stop')
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> 'Worker':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stamp() -> int:
    return now_ns()


class Noise:
    """A :mod:`benchmarks.noise` writer process; stopped by closing stdin."""

    def __init__(self, remote: str, ports: list, mode: str, pause: float,
                 batch: Optional[int] = None) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep +
                   os.environ.get('PYTHONPATH', ''))
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'benchmarks.noise'], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        args = {'remote': remote, 'mode': mode, 'pause': pause,
                'ports': [p.__dict__ for p in ports]}
        if batch:
            args['batch'] = batch
        self.proc.stdin.write(json.dumps(args) + '\n')
        self.proc.stdin.flush()
        self.proc.stdout.readline()  # first commit done

    def close(self) -> int:
        """Stop; return how many transactions it committed."""
        self.proc.stdin.close()
        lines = self.proc.stdout.read().split()
        self.proc.wait(30)
        return int(lines[-1]) if lines else 1

    def __enter__(self) -> 'Noise':
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.close()
