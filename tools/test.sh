#!/usr/bin/env bash
# Set everything up, then run the whole test suite: unit, functional (real
# ovsdb-server / ovs-vswitchd / etcd / redis-server on 127.0.0.1), DevStack
# plugin harness and the docs build. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/python -m pytest -p no:cacheprovider -q -ra "$@"
