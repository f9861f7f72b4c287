#!/usr/bin/env bash
# Install everything df-ovsdb-agent needs on Debian 12, idempotently:
# Open vSwitch (ovsdb-server, ovs-vswitchd), etcd, Redis and shellcheck from
# Debian, and the package with its Python dependencies in ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openvswitch-switch openvswitch-common etcd-server redis-server openssl
              shellcheck python3-venv)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.df-ovsdb-agent-installed
inputs=$(cat setup.cfg requirements.txt test-requirements.txt | sha1sum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/pip install -q --disable-pip-version-check \
        -e '.[etcd,redis,eventlet,demo,os-ken]' -r test-requirements.txt
    echo "$inputs" > "$stamp"
fi

# Earlier setups linked Debian's python-ovs C JSON parser into the venv; the
# agent parses with the stdlib now, and the raw-IDL benchmark contender and
# test oracle must run on the plain PyPI wheel as a user gets it.
find .venv -path '*/ovs/_json*.so' -type l -delete
