"""A fleet worker whose simulated hosts are greenthreads:
``python -m benchmarks.fleet_green`` takes the arguments of
:mod:`benchmarks.fleet_worker`.

eventlet monkey-patches ``threading``, ``socket``, ``select`` and
``time`` first, so every host's publisher -- the real plugin code, its
writer thread, its store client -- runs unchanged as a greenthread of one
OS thread.  A real fleet has one agent per machine; packed into a few
processes, thousands of OS writer threads each turn a burst of store
replies into a GIL convoy (every thread waiting for the GIL wakes every
5 ms to ask for it), which starved the refreshes of the leases and
liveness records at 2,500 hosts on etcd and 10,000 on Redis.
Greenthreads switch only where a publisher waits (a store reply, a
timer), in the order they became ready: the CPU the hosts get is what
their code costs, not what contending for the GIL costs.  The price is
that one host's computation delays the others of its process, as one
slow step does on a shared scheduler; the library runs under eventlet
the same way (doc/source/library.rst).

The library is supported under eventlet (the ``eventlet`` extra that
``tools/setup.sh`` installs).
"""

import sys
import warnings

import df_ovsdb_agent  # noqa: F401  (silences eventlet's own warning)

# Before anything imports threading or socket.
warnings.simplefilter('ignore', DeprecationWarning)
import eventlet  # noqa: E402

eventlet.monkey_patch()

from eventlet.hubs import trampoline  # noqa: E402

from benchmarks import fleet_worker  # noqa: E402


def wait_readable(fd: int) -> None:
    """Let the other greenthreads run until ``fd`` can be read (eventlet's
    green ``select.select`` never returned for the worker's stdin pipe).
    """
    trampoline(fd, read=True)


fleet_worker.wait_readable = wait_readable
fleet_worker.GREEN = True

if __name__ == '__main__':
    sys.exit(fleet_worker.main())
