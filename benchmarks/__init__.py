"""Benchmarks: the agent against its baselines on a real ovsdb-server.

Run ``python -m benchmarks.run --help``; see ``benchmarks/README.md``.
"""
