"""Entry points that run under eventlet.

Monkey-patching happens here and nowhere else, before anything imports
threading or socket; the core stays eventlet-optional.
"""

import df_ovsdb_agent  # noqa: F401  (silences eventlet's own warning)

import eventlet

eventlet.monkey_patch()
