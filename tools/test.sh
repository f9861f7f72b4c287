#!/usr/bin/env bash
# Set everything up, then run the whole test suite: unit, functional (real
# ovsdb-server / ovs-vswitchd / etcd / redis-server on 127.0.0.1), DevStack
# plugin harness, docs build, release notes, flake8 and mypy -- with the
# newest python-ovs the requirements allow -- then the read path's tests
# again with the oldest one they allow, so CI tests both ends of the range.
# Extra arguments go to pytest instead (one run, newest python-ovs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
PYTEST=(.venv/bin/python -m pytest -p no:cacheprovider -q -ra)
if [ "$#" -gt 0 ]; then
    exec "${PYTEST[@]}" "$@"
fi
"${PYTEST[@]}"

oldest=$(sed -n 's/^ovs>=\([0-9.]*\).*/\1/p' requirements.txt)
echo "test: the read path again with the oldest python-ovs allowed, ${oldest}"
rm -rf .venv/ovs-oldest
.venv/bin/pip install -q --disable-pip-version-check --no-deps \
    --target .venv/ovs-oldest "ovs==${oldest}" sortedcontainers
PYTHONPATH=.venv/ovs-oldest .venv/bin/python -c \
    "import ovs.version, sys; sys.exit(ovs.version.VERSION != '${oldest}')"
PYTHONPATH=.venv/ovs-oldest "${PYTEST[@]}" tests/unit \
    tests/functional/test_read_path.py tests/functional/test_events.py \
    tests/functional/test_bad_input.py tests/functional/test_ssl.py \
    tests/functional/test_resync.py
