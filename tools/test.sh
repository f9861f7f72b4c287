#!/usr/bin/env bash
# Set everything up, then run the whole test suite: unit, functional (real
# ovsdb-server / ovs-vswitchd / etcd / redis-server on 127.0.0.1), DevStack
# plugin harness, docs build, release notes, flake8 and mypy -- with the
# newest versions the requirements allow -- then the unit tests and a
# functional subset again with the oldest ones (lower-constraints.txt), so
# CI tests both ends of the ranges.  Extra arguments go to pytest instead
# (one run, newest versions).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
PYTEST=(.venv/bin/python -m pytest -p no:cacheprovider -q -ra)
if [ "$#" -gt 0 ]; then
    exec "${PYTEST[@]}" "$@"
fi
"${PYTEST[@]}"

echo "test: unit tests and a functional subset again at the minimum versions" \
    "of the requirements (lower-constraints.txt)"
lower=.venv/lower-constraints
rm -rf "$lower"
.venv/bin/pip install -q --disable-pip-version-check --no-deps \
    --target "$lower" -r lower-constraints.txt
# The pinned versions must be the ones imported, not the venv's newer ones.
PYTHONPATH=$lower .venv/bin/python tools/check_constraints.py
# The config sample is generated with the newest oslo.log's help texts.
PYTHONPATH=$lower "${PYTEST[@]}" tests/unit \
    --deselect tests/unit/test_config_sample.py::test_config_sample_is_up_to_date \
    tests/functional/test_read_path.py tests/functional/test_events.py \
    tests/functional/test_bad_input.py tests/functional/test_ssl.py \
    tests/functional/test_resync.py tests/functional/test_metrics.py \
    tests/functional/test_publisher_redis.py \
    tests/functional/test_redis_parser.py \
    tests/functional/test_publisher_bad_records.py \
    tests/functional/test_permissions.py \
    tests/functional/test_publisher_etcd.py \
    tests/functional/test_daemon.py::test_waits_for_ovsdb_at_boot_then_syncs
