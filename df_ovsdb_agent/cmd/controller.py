"""``df-ovsdb-controller``: run os-ken apps together with the agent app.

    df-ovsdb-controller [--config-file F]... APP_MODULE...

What ``osken-manager`` did (os-ken 4.x ships none), on os-ken's public
pieces: ``AppManager.run_apps`` cannot be used on os-ken's native hub (its
cleanup calls ``HubThread.kill()``, which does not exist, and os-ken's
server threads are not daemons).  os-ken's own options
(``ofp_listen_host``, ``ofp_tcp_listen_port``, ...) come from the files or
the command line, the agent's from the same files.  Native hub by default;
with ``OSKEN_HUB_TYPE=eventlet`` everything is monkey-patched before
anything else is imported.  SIGTERM/SIGINT stop the agent first, then the
apps, and the process exits 0 within ``[agent] shutdown_timeout``.
"""

import os
import sys
from typing import Optional

PROG = 'df-ovsdb-controller'


def main(argv: Optional[list] = None) -> int:
    """Run the controller; the process ends here, with its exit status."""
    if os.environ.get('OSKEN_HUB_TYPE') == 'eventlet':
        # Before os-ken, threading or socket are imported (not only
        # os_ken.lib.hub.patch(), which comes too late to green the
        # agent's monitor).
        import eventlet
        eventlet.monkey_patch()
    from df_ovsdb_agent.cmd import common
    from df_ovsdb_agent.os_ken import manager
    # os-ken's OpenFlow server and connection threads are not daemons and
    # cannot be killed: after the orderly shutdown, exit at once.
    common.exit_now(common.run(lambda: manager.run(argv, PROG), PROG))


if __name__ == '__main__':
    sys.exit(main())
