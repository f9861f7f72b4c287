#!/usr/bin/env bash
# Give python-ovs in a venv its C JSON parser (ovs._json), idempotently.
#
# The PyPI "ovs" wheel parses JSON in pure Python, which costs ~2-5x in the
# initial sync.  Its sdist only builds ovs._json against an installed
# libopenvswitch, which Debian does not ship (building it from
# openvswitch-source needs the whole OVS build).  Debian's
# python3-openvswitch does ship ovs._json, built from the same _json.c
# (OVS 3.1; its Parser API is unchanged in python-ovs 4.0) against
# Debian's libopenvswitch, for CPython 3.11.  CPython keeps the extension
# ABI stable within a minor version, so when the venv's interpreter has the
# same extension suffix as the system python3, that module is linked into
# the venv's ovs package.  The link is kept only if
# `python -m df_ovsdb_agent.ovsdb.jsonparser --check` proves it parses like
# the pure-Python parser; otherwise, or on any other platform, python-ovs
# stays on its pure-Python parser (python-ovs falls back by itself when the
# module does not import, e.g. if the Debian package is later removed).
#
# Usage: tools/install-ovs-cjson.sh [VENV_PYTHON]   (default .venv/bin/python)
# Exit status is 0 whenever the venv is usable, with either parser.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${1:-.venv/bin/python}
DEB_PKG=python3-openvswitch
SYS_PY=/usr/bin/python3

say() { echo "install-ovs-cjson: $*"; }

if [ ! -x "$PY" ]; then
    say "no Python at $PY; run tools/setup.sh first" >&2
    exit 1
fi

check() { "$PY" -m df_ovsdb_agent.ovsdb.jsonparser --check >/dev/null 2>&1; }

ovs_dir=$("$PY" -c 'import os, ovs; print(os.path.dirname(ovs.__file__))')
suffix=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
link="$ovs_dir/_json$suffix"

if [ -L "$link" ] && check; then
    say "JSON parser: C (already linked: $link)"
    exit 0
fi
rm -f "$link"

if [ ! -x "$SYS_PY" ] || ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian system; JSON parser: PYTHON"
    exit 0
fi
sys_suffix=$("$SYS_PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
if [ "$suffix" != "$sys_suffix" ]; then
    say "venv Python ABI $suffix differs from the system's $sys_suffix;" \
        "JSON parser: PYTHON"
    exit 0
fi

if ! dpkg-query -W -f='${Status}' "$DEB_PKG" 2>/dev/null \
        | grep -q "ok installed"; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    say "installing Debian package $DEB_PKG"
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            --no-install-recommends "$DEB_PKG" >/dev/null; then
        say "could not install $DEB_PKG; JSON parser: PYTHON"
        exit 0
    fi
fi

so=$(dpkg-query -L "$DEB_PKG" | grep "/ovs/_json$suffix\$" | head -n1 || true)
if [ -z "$so" ] || [ ! -f "$so" ]; then
    say "$DEB_PKG has no _json$suffix; JSON parser: PYTHON"
    exit 0
fi

ln -s "$so" "$link"
if check; then
    say "JSON parser: C ($link -> $so)"
else
    rm -f "$link"
    say "the C parser failed its self-test; JSON parser: PYTHON"
fi
