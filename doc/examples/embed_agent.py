#!/usr/bin/env python3
"""Embed df-ovsdb-agent: print the VM ports of the local Open vSwitch.

    python doc/examples/embed_agent.py [REMOTE]   # default tcp:127.0.0.1:6640

Prints how many interfaces are online, then every VM port event (the ports
online now first, as ``online`` events), until Ctrl-C or SIGTERM.
"""

import signal
import sys
import threading
import warnings

# python-ovs imports eventlet when it is installed, and eventlet >= 0.41
# warns about its own deprecation on import: nothing to act on here.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from df_ovsdb_agent.agent import Agent  # noqa: E402
from df_ovsdb_agent.events import Kind  # noqa: E402
from df_ovsdb_agent.exceptions import AgentError  # noqa: E402


def on_event(event):
    """Runs in this subscriber's own thread, one event at a time, in order."""
    print(event, flush=True)


def main():
    remote = sys.argv[1] if len(sys.argv) > 1 else 'tcp:127.0.0.1:6640'
    agent = Agent(remote)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        agent.start()  # returns once the first full sync is published
    except AgentError as exc:
        print('embed_agent: error: %s' % exc, file=sys.stderr)
        return 1
    print('%d interfaces online, %d of them VM ports'
          % (len(agent.interfaces()), len(agent.interfaces(Kind.VM))),
          flush=True)
    # replay=True: first the VM ports online right now, then every change.
    agent.subscribe(on_event, kinds=[Kind.VM], replay=True)
    stop.wait()
    agent.stop()  # stops the monitor, then lets the subscriber drain
    return 0


if __name__ == '__main__':
    sys.exit(main())
