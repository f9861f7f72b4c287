"""Test support: throw-away OVSDB, etcd and Redis servers, and their clients.

Used by the demo, the tests and the benchmarks; the agent, the daemon and
the library never import it.  The ovsdbapp write side needs the ``[demo]``
extra.
"""
