"""The console scripts as child processes: where they are, a config file
for them, and :class:`Proc`, a child whose output lines can be waited for
and which is stopped by signal.
"""

import os
import signal
import subprocess
import sys

from tests.helpers import OutputLines

BIN = os.path.dirname(sys.executable)


def script(name):
    return os.path.join(BIN, name)


def write_conf(tmp_path, text):
    path = tmp_path / 'agent.conf'
    path.write_text(text)
    return str(path)


class Proc:
    """A child process whose output lines can be waited for."""

    def __init__(self, args, **kwargs):
        # A child that does not exit when told to is killed with SIGABRT,
        # which makes faulthandler print every thread's stack: the failure
        # then says where it hung.
        env = dict(kwargs.pop('env', None) or os.environ)
        env.setdefault('PYTHONFAULTHANDLER', '1')
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     **kwargs)
        self.output = OutputLines(self.proc.stdout)

    @property
    def lines(self):
        """Every output line so far (the list itself: a test may clear
        it to look at what comes next).
        """
        return self.output.lines

    def wait_line(self, needle, timeout=15):
        return self.output.wait_line(needle, timeout)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            self.proc.wait(10)
            self.output.drain()
            raise AssertionError(
                'no exit %.0f s after signal %d; output and stacks:\n%s'
                % (timeout, sig, '\n'.join(self.lines)))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
