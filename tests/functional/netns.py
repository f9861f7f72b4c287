"""Run a command in a private network namespace with a server on the
real, well-known remote ``127.0.0.1:6640`` -- without touching the
machine's own port 6640.

Usage (as root)::

    unshare -n -m --propagation private \\
        python -m tests.functional.netns DIR [--impostor REMOTE] [--ovsdb] \\
        -- COMMAND...

``--impostor REMOTE``: :mod:`tests.functional.impostor` as ``nobody``
(``setpriv``) on REMOTE.  ``--ovsdb``: a real ovsdb-server, run by this
(root) process, on ``127.0.0.1:6640`` with a bridge ``br-int``.  A real
switch's socket directory (``/run/openvswitch``) is hidden under a tmpfs so
that the default remote list cannot reach it.  COMMAND runs with this
process's stdout and stderr; its exit code is ours.  Everything started is
stopped by PID on the way out (the namespace goes with it).
"""

import argparse
import os
import signal
import subprocess
import sys

from df_ovsdb_agent.testing import sandbox

NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def start_impostor(remote: str) -> subprocess.Popen:
    """The impostor as nobody; returns once it accepts connections."""
    proc = subprocess.Popen(NOBODY + [sys.executable, '-m',
                                      'tests.functional.impostor', remote],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # 'listening', or '' if it died
    if line.strip() != 'listening':
        sandbox.stop_process(proc, signal.SIGKILL)
        raise SystemExit('impostor on %s did not start' % remote)
    return proc


def main(argv: list) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('dir')
    parser.add_argument('--impostor')
    parser.add_argument('--ovsdb', action='store_true')
    parser.add_argument('command', nargs='+')
    args = parser.parse_args(argv)
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    if os.path.isdir('/run/openvswitch'):
        subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', '/run/openvswitch'],
                       check=True)
    impostor = box = None
    try:
        if args.impostor:
            impostor = start_impostor(args.impostor)
        if args.ovsdb:
            box = sandbox.OvsSandbox(base_dir=args.dir, vswitchd=False,
                                     port=6640)
            box.start()
            box.vsctl('add-br', 'br-int', '--', 'set', 'Interface',
                      'br-int', 'ofport=1')
        return subprocess.run(args.command, timeout=120).returncode
    finally:
        if impostor is not None:
            sandbox.stop_process(impostor, signal.SIGTERM)
        if box is not None:
            box.stop()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
