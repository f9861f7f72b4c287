"""Compatibility entry points that run under eventlet.

The ``df-ovsdb-agent`` console script runs on native threads
(:mod:`df_ovsdb_agent.cmd.agent`).  ``python -m
df_ovsdb_agent.cmd.eventlet.agent`` still runs the same daemon after
eventlet monkey-patching, for deployments that relied on it; it needs the
``eventlet`` extra (``pip install 'df-ovsdb-agent[eventlet]'``) and brings
back eventlet's cost: decoding a monitor reply and applying it to the
replica is computation that never yields, so a large resync stalls every
other greenthread (see doc/source/library.rst).

Monkey-patching happens here and nowhere else, before anything imports
threading or socket.
"""

import df_ovsdb_agent  # noqa: F401  (silences eventlet's own warning)

import eventlet

eventlet.monkey_patch()
