#!/usr/bin/env bash
# Set everything up, then run the agent: against the OVSDB at
# tcp:127.0.0.1:6640 if one answers (read-only), otherwise against its own
# sandboxed ovsdb-server + ovs-vswitchd, showing live events.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/df-ovsdb-demo "$@"
