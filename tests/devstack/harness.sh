#!/bin/bash
#
# Runs the df-ovsdb-agent DevStack plugin the way DevStack does, without
# DevStack: devstack/settings then every phase of devstack/plugin.sh, with
# DevStack's functions replaced by the recording stubs of stubs.sh, against
# a private ovsdb-server on 127.0.0.1.  Checks the calls made, the
# configuration written (validated by the agent's own option parsing), the
# OVSDB listener, and, in some scenarios, the agent really started by
# run_process, syncing, and stopped by stop_process.
#
# Usage: harness.sh [--list] [SCENARIO...]     (no SCENARIO: all of them)
# Output: one "ok N - ..." / "not ok N - ..." line per check ("# SKIP"
# marks a check that could not run); exit status 0 when no check failed.
# HARNESS_PYTHON: the Python with df-ovsdb-agent installed (default: the
# repository's .venv); HARNESS_KEEP=1 keeps each scenario's directory.

# shellcheck source-path=SCRIPTDIR
set -o errexit -o nounset -o pipefail
export LC_ALL=C

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS_DIR/../.." && pwd)
HARNESS_PYTHON=${HARNESS_PYTHON:-$REPO/.venv/bin/python}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
SERVICE=df-ovsdb-agent
STACK_PHASES=(pre-install install post-config extra test-config)

SCENARIOS=(settings-defaults disabled stack-defaults stack-custom
           unix-connection connection-forms existing-manager
           wildcard-manager wildcard-connection remote-connection restack
           ipv6 start-failure)

# shellcheck source=stubs.sh
source "$HARNESS_DIR/stubs.sh"


# Checks
# ------

CHECKS=0
FAILURES=0

function _report {
    local status=$1 description=$2 details=${3:-} line
    CHECKS=$((CHECKS + 1))
    echo "$status $CHECKS - $description"
    if [[ $status == "not ok" ]]; then
        FAILURES=$((FAILURES + 1))
        if [[ -n $details ]]; then
            while IFS= read -r line; do
                echo "#   $line"
            done <<< "$details"
        fi
    fi
}

# check DESCRIPTION COMMAND...: one check, passing when COMMAND succeeds.
function check {
    local description=$1 output
    shift
    if output=$("$@" 2>&1); then
        _report ok "$description"
    else
        _report "not ok" "$description" "$output"
    fi
}

function skip {
    _report ok "$1 # SKIP $2"
}

# called FUNCTION ARG...: the stubs recorded exactly this call.
function called {
    local IFS=$'\t'
    grep -Fxq -- "$*" "$STUB_LOG" || {
        echo "no call: $*"
        echo "calls recorded:"
        cat "$STUB_LOG"
        return 1
    }
}

# not_called PATTERN: no recorded call matches this extended regexp.
function not_called {
    if grep -Eq -- "$1" "$STUB_LOG"; then
        echo "unexpected calls:"
        grep -E -- "$1" "$STUB_LOG"
        return 1
    fi
}

# err_has FIXED-STRING / err_matches REGEXP: in the last DevStack run's stderr.
function err_has {
    grep -Fq -- "$1" "$ROOT/devstack.err" || {
        echo "not in stderr: $1"
        cat "$ROOT/devstack.err"
        return 1
    }
}

function err_matches {
    grep -Eq -- "$1" "$ROOT/devstack.err" || {
        echo "nothing in stderr matches: $1"
        cat "$ROOT/devstack.err"
        return 1
    }
}

function equals {
    [[ $1 == "$2" ]] || {
        printf 'expected: %q\n     got: %q\n' "$2" "$1"
        return 1
    }
}

function contains {
    [[ $1 == *"$2"* ]] || {
        printf '%q\ndoes not contain %q\n' "$1" "$2"
        return 1
    }
}

function not_contains {
    [[ $1 != *"$2"* ]] || {
        printf '%q\ncontains %q\n' "$1" "$2"
        return 1
    }
}

function absent {
    [[ ! -e $1 ]] || {
        echo "$1 still exists"
        return 1
    }
}

# config_has SECTION.OPTION=VALUE: so the agent parsed the config file.
function config_has {
    grep -Fxq -- "$1" "$ROOT/config.values" || {
        echo "not in the parsed configuration: $1"
        cat "$ROOT/config.values"
        return 1
    }
}

# check_config: the file the plugin wrote is one df-ovsdb-agent accepts.
function check_config {
    local rc=0
    "$HARNESS_PYTHON" "$HARNESS_DIR/check_config.py" "$CONF" \
        > "$ROOT/config.values" 2> "$ROOT/config.err" || rc=$?
    if [[ $rc == 0 ]]; then
        _report ok "df-ovsdb-agent accepts the configuration written"
    elif [[ $rc == 3 ]]; then
        skip "df-ovsdb-agent accepts the configuration written" \
            "$(grep '^skip:' "$ROOT/config.values" | tr '\n' ' ')"
    else
        _report "not ok" "df-ovsdb-agent accepts the configuration written" \
            "$(cat "$ROOT/config.values" "$ROOT/config.err")"
    fi
}

function managers {
    ovs-vsctl --timeout=10 --no-wait get-manager
}

function our_manager_rows {
    ovs-vsctl --timeout=10 --no-wait --bare --columns=target \
        find Manager external_ids:df-ovsdb-agent=true
}

# listening: the TCP addresses the private ovsdb-server listens on.
function listening {
    "$HARNESS_PYTHON" "$HARNESS_DIR/listening.py" "$OVSDB_PID"
}

function listens_on {
    listening | grep -Fxq -- "$1"
}

function not_listens_on {
    ! listens_on "$1"
}

# no_wildcard: nothing the plugin produced names or binds 0.0.0.0 / [::].
function no_wildcard {
    local where
    for where in "$STUB_LOG" "$ROOT/etc"; do
        if [[ -e $where ]] && grep -rEq '0\.0\.0\.0|\[::\]' "$where"; then
            echo "wildcard address in $where:"
            grep -rE '0\.0\.0\.0|\[::\]' "$where"
            return 1
        fi
    done
    if listening | grep -Ev '^(127\.|\[::1\]:)'; then
        echo "ovsdb-server listens beyond loopback"
        return 1
    fi
}

# state_file_lists NAME...: the state_file app wrote a synced state naming
# these interfaces for this host.
function state_file_lists {
    "$HARNESS_PYTHON" - "$STATE_FILE" "$EXPECTED_HOST" "$@" <<'EOF'
import json, sys
path, host, names = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    with open(path) as f:
        state = json.load(f)
except (OSError, ValueError):
    sys.exit(1)
listed = {i['name'] for i in state['interfaces']}
sys.exit(0 if state['synced'] and state['host'] == host
         and listed >= set(names) else 1)
EOF
}

function agent_pid {
    cat "$ROOT/run/$SERVICE/pid"
}

function agent_running {
    [[ -s $ROOT/run/$SERVICE/pid ]] && kill -0 "$(agent_pid)" 2> /dev/null
}

function agent_exit_status {
    cat "$ROOT/run/$SERVICE/rc" 2> /dev/null || echo "none: not stopped"
}

# agent_user: the user the agent started by run_process runs as.
function agent_user {
    ps -o user= -p "$(agent_pid)"
}

# owned_by USER PATH...: each PATH exists and belongs to USER.
function owned_by {
    local user=$1 path
    shift
    for path in "$@"; do
        [[ -e $path && $(stat -c %U "$path") == "$user" ]] || {
            echo "$path: $(stat -c %U "$path" 2>&1), not $user"
            return 1
        }
    done
}

# healthz: the agent's /healthz status code, on the port the plugin set.
function healthz {
    command curl -s -o /dev/null -m 2 -w '%{http_code}' \
        "http://127.0.0.1:$METRICS_PORT/healthz"
}

function agent_output_clean {
    if grep -E 'Traceback|ERROR|CRITICAL' "$ROOT/run/$SERVICE/output"; then
        return 1
    fi
}


# DevStack, emulated
# ------------------

# devstack stack|unstack|clean: what stack.sh, unstack.sh and clean.sh do
# with a plugin, each in a shell of its own that first sources settings.
# clean.sh runs unstack.sh first.  Sets DEVSTACK_RC; each run overwrites
# $ROOT/devstack.out and $ROOT/devstack.err with its output.
function devstack {
    local script=$1
    if [[ $script == clean ]]; then
        devstack unstack
        [[ $DEVSTACK_RC == 0 ]] || return 0
    fi
    # Not in a condition, or errexit would be off inside the subshell.
    set +o errexit
    (
        set -o errexit
        # shellcheck source=../../devstack/settings
        source "$PLUGIN_DIR/settings"
        if [[ $script == stack ]]; then
            for phase in "${STACK_PHASES[@]}"; do
                # shellcheck source=../../devstack/plugin.sh
                source "$PLUGIN_DIR/plugin.sh" stack "$phase"
            done
        else
            # shellcheck source=../../devstack/plugin.sh
            source "$PLUGIN_DIR/plugin.sh" "$script"
        fi
    ) > "$ROOT/devstack.out" 2> "$ROOT/devstack.err"
    DEVSTACK_RC=$?
    set -o errexit
}

function devstack_ok {
    [[ $DEVSTACK_RC == 0 ]] || {
        echo "exit status $DEVSTACK_RC"
        cat "$ROOT/devstack.out" "$ROOT/devstack.err"
        return 1
    }
}

function free_port {
    "$HARNESS_PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_ovsdb [--no-managers]: a private ovsdb-server, on a unix socket in
# $OVS_RUNDIR (where ovs-vsctl looks by default) and, unless told not to,
# on the listeners configured in its Manager table, as the system one does.
function start_ovsdb {
    local remotes=(--remote="punix:$OVS_RUNDIR/db.sock")
    if [[ ${1:-} != --no-managers ]]; then
        remotes+=("--remote=db:Open_vSwitch,Open_vSwitch,manager_options")
    fi
    mkdir -p "$OVS_RUNDIR"
    ovsdb-tool create "$OVS_RUNDIR/conf.db" "$SCHEMA"
    ovsdb-server "$OVS_RUNDIR/conf.db" "${remotes[@]}" \
        --unixctl="$OVS_RUNDIR/ovsdb-server.ctl" \
        --log-file="$OVS_RUNDIR/ovsdb-server.log" --no-chdir \
        < /dev/null > /dev/null 2>&1 &
    OVSDB_PID=$!
    wait_until 10 test -S "$OVS_RUNDIR/db.sock"
    ovs-vsctl --timeout=10 --no-wait init
}

# setup: a fresh DevStack-like environment under a temporary directory.
function setup {
    local tool
    for tool in ovsdb-tool ovsdb-server ovs-vsctl; do
        command -v "$tool" > /dev/null || {
            echo "harness: $tool not found; run tools/setup.sh" >&2
            exit 2
        }
    done
    HARNESS_BIN_DIR=$(dirname "$HARNESS_PYTHON")
    [[ -x $HARNESS_BIN_DIR/df-ovsdb-agent ]] || {
        echo "harness: no df-ovsdb-agent next to $HARNESS_PYTHON" >&2
        exit 2
    }
    # A DevStack service's environment has no oslo.config overrides (the
    # test suite sets OS_AGENT__STATE_DIR for its own daemons).
    local name
    for name in $(compgen -e OS_ || true); do
        unset "$name"
    done
    ROOT=$(mktemp -d "${TMPDIR:-/tmp}/df-devstack-harness.XXXXXX")
    # The service runs as STACK_USER, who must reach what lives in here.
    chmod 0755 "$ROOT"
    HARNESS_ROOT=$ROOT
    OVSDB_PID=""
    trap teardown EXIT
    STUB_LOG=$ROOT/calls.log
    : > "$STUB_LOG"
    export OVS_RUNDIR=$ROOT/ovs

    # What stackrc and local.conf would provide.
    DEST=$ROOT/opt/stack
    DATA_DIR=$DEST/data
    mkdir -p "$DEST" "$DATA_DIR"
    ln -s "$REPO" "$DEST/df-ovsdb-agent"    # enable_plugin clones it here
    PLUGIN_DIR=$DEST/df-ovsdb-agent/devstack
    # DevStack refuses to run as root: its services run as STACK_USER
    # (systemd User=).  As root (CI), the harness does the same with an
    # unprivileged user; otherwise it is that user.
    if [[ $(id -u) == 0 ]]; then
        STACK_USER=nobody
    else
        STACK_USER=$(id -un)
    fi
    SERVICE_HOST=127.0.0.1
    ENABLED_SERVICES=key,n-cpu,q-svc,q-agt
    DISABLED_SERVICES=""
    # Everything written lands under $ROOT; the default is /etc.
    CONF_DIR=$ROOT/etc/df-ovsdb-agent
    DF_OVSDB_AGENT_CONF_DIR=$CONF_DIR

    # Never the default (9464) on the machine: a free loopback port.
    METRICS_PORT=$(free_port)
    DF_OVSDB_AGENT_METRICS_PORT=$METRICS_PORT

    CONF=$CONF_DIR/df-ovsdb-agent.conf
    STATE_FILE=$DATA_DIR/df-ovsdb-agent/interfaces.json
    EXPECTED_HOST=$(hostname)
    DEVSTACK_RC=""
}

function teardown {
    local status=$? command=$BASH_COMMAND pidfile
    if [[ -z ${SCENARIO_DONE:-} ]]; then
        _report "not ok" "scenario aborted (status $status) at: $command" \
            "$(cat "$ROOT/devstack.out" "$ROOT/devstack.err" 2> /dev/null)"
    fi
    for pidfile in "$ROOT"/run/*/pid; do
        if [[ -s $pidfile ]]; then
            kill -KILL "$(cat "$pidfile")" 2> /dev/null || true
        fi
    done
    if [[ -n $OVSDB_PID ]]; then
        kill "$OVSDB_PID" 2> /dev/null || true
        wait "$OVSDB_PID" 2> /dev/null || true
    fi
    if [[ ${HARNESS_KEEP:-0} == 1 ]]; then
        echo "# kept $ROOT"
    else
        rm -rf "$ROOT"
    fi
}


# Scenarios
# ---------

# settings_values [NAME...]: NAME=value for each variable (default: every
# DF_OVSDB_AGENT_* and ENABLED_SERVICES) after sourcing settings, in a
# subshell: nothing leaks into the scenario.
function settings_values {
    (
        # shellcheck source=../../devstack/settings
        source "$PLUGIN_DIR/settings"
        local name names=("$@")
        if [[ $# == 0 ]]; then
            mapfile -t names < <(compgen -v DF_OVSDB_AGENT_)
            names+=(ENABLED_SERVICES)
        fi
        for name in "${names[@]}"; do
            echo "$name=${!name}"
        done
    )
}

function scenario_settings_defaults {
    unset DF_OVSDB_AGENT_CONF_DIR
    local values line
    # Empty is unset for settings (${VAR:-default}).
    values=$(DF_OVSDB_AGENT_METRICS_PORT="" settings_values)
    local expected=(
        "DF_OVSDB_AGENT_DIR=$DEST/df-ovsdb-agent"
        "DF_OVSDB_AGENT_BIN=$HARNESS_BIN_DIR/df-ovsdb-agent"
        "DF_OVSDB_AGENT_CONF_DIR=/etc/df-ovsdb-agent"
        "DF_OVSDB_AGENT_CONF=/etc/df-ovsdb-agent/df-ovsdb-agent.conf"
        "DF_OVSDB_AGENT_DATA_DIR=$DATA_DIR/df-ovsdb-agent"
        "DF_OVSDB_AGENT_USER=$STACK_USER"
        "DF_OVSDB_AGENT_EXTRAS="
        "DF_OVSDB_AGENT_CONNECTION=tcp:127.0.0.1:6640"
        "DF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER=True"
        "DF_OVSDB_AGENT_HOST=$EXPECTED_HOST"
        "DF_OVSDB_AGENT_BRIDGES=br-int,br-ex,br-tun"
        "DF_OVSDB_AGENT_APPS=state_file"
        "DF_OVSDB_AGENT_STATE_FILE=$DATA_DIR/df-ovsdb-agent/interfaces.json"
        "DF_OVSDB_AGENT_PUBLISHERS="
        "DF_OVSDB_AGENT_ETCD_URL=http://127.0.0.1:2379"
        "DF_OVSDB_AGENT_REDIS_URL=redis://127.0.0.1:6379/0"
        "DF_OVSDB_AGENT_INSTALL_REDIS=True"
        "DF_OVSDB_AGENT_METRICS_PORT=9464"
        "DF_OVSDB_AGENT_START_TIMEOUT=60"
        "DF_OVSDB_AGENT_DEBUG=True"
        "DF_OVSDB_AGENT_LOG_FILE="
    )
    check "settings sets exactly the documented variables" \
        equals "$(grep ^DF_ <<< "$values" | cut -d= -f1 | sort)" \
        "$(printf '%s\n' "${expected[@]}" | cut -d= -f1 | sort)"
    for line in "${expected[@]}"; do
        check "default ${line%%=*} is '${line#*=}'" \
            grep -Fxq -- "$line" <<< "$values"
    done
    check "settings enables the service" called enable_service "$SERVICE"
    check "the service is in ENABLED_SERVICES" grep -Fxq \
        "ENABLED_SERVICES=key,n-cpu,q-svc,q-agt,$SERVICE" <<< "$values"

    check "debug follows ENABLE_DEBUG_LOG_LEVEL; an empty app list stays empty" \
        equals "$(ENABLE_DEBUG_LOG_LEVEL=False DF_OVSDB_AGENT_APPS="" \
                  settings_values DF_OVSDB_AGENT_DEBUG DF_OVSDB_AGENT_APPS)" \
        $'DF_OVSDB_AGENT_DEBUG=False\nDF_OVSDB_AGENT_APPS='
    check "an IPv6 SERVICE_HOST is bracketed in the etcd URL" \
        equals "$(SERVICE_HOST=::1 settings_values DF_OVSDB_AGENT_ETCD_URL)" \
        "DF_OVSDB_AGENT_ETCD_URL=http://[::1]:2379"
    check "DevStack's bracketed IPv6 SERVICE_HOST is not bracketed twice" \
        equals "$(SERVICE_HOST='[2001:db8::1]' settings_values DF_OVSDB_AGENT_ETCD_URL)" \
        "DF_OVSDB_AGENT_ETCD_URL=http://[2001:db8::1]:2379"
    check "the start timeout follows DevStack's SERVICE_TIMEOUT" \
        equals "$(SERVICE_TIMEOUT=90 settings_values DF_OVSDB_AGENT_START_TIMEOUT)" \
        "DF_OVSDB_AGENT_START_TIMEOUT=90"
    check "settings leaves no helper variable behind" settings_leave_no_helper
    check "booleans are normalised as DevStack does" \
        equals "$(DF_OVSDB_AGENT_DEBUG=yes DF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER=off \
                  settings_values DF_OVSDB_AGENT_DEBUG DF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER)" \
        $'DF_OVSDB_AGENT_DEBUG=True\nDF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER=False'
}

function settings_leave_no_helper {
    (
        # shellcheck source=../../devstack/settings
        source "$PLUGIN_DIR/settings"
        [[ -z ${_DF_OVSDB_AGENT_HOST+set} ]]
    )
}

function scenario_disabled {
    start_ovsdb
    disable_service "$SERVICE"    # as local.conf would
    devstack stack
    check "stack.sh succeeds" devstack_ok
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "settings does not re-enable a disabled service" \
        err_has "attempt to enable_service $SERVICE"
    check "no phase does anything" not_called \
        '^(setup_develop|pip_install|install_package|iniset|sudo|run_process|stop_process|setup_logging)'
    check "no configuration is written" absent "$CONF_DIR"
    check "no OVSDB listener is added" equals "$(managers)" ""
}

function scenario_stack_defaults {
    local port
    port=$(free_port)
    start_ovsdb
    ovs-vsctl --timeout=10 --no-wait add-br br-int -- \
        set Interface br-int ofport=65534
    DF_OVSDB_AGENT_CONNECTION=tcp:127.0.0.1:$port
    STUB_RUN_PROCESS="exec"

    devstack stack
    check "stack.sh succeeds" devstack_ok
    check "install: setup_develop of the plugin's repository, no extras" \
        called setup_develop "$DEST/df-ovsdb-agent" ""
    check "install: no distribution package" not_called '^install_package'
    check "post-config: the configuration file is written" test -s "$CONF"
    check_config
    check "[DEFAULT] host" config_has "DEFAULT.host=$EXPECTED_HOST"
    check "[DEFAULT] debug" config_has "DEFAULT.debug=True"
    check "[ovsdb] connection" config_has "ovsdb.connection=tcp:127.0.0.1:$port"
    check "[agent] bridge_names" config_has "agent.bridge_names=br-int,br-ex,br-tun"
    check "[agent] apps" config_has "agent.apps=state_file"
    check "[agent] publishers" config_has "agent.publishers="
    check "[app_state_file] path" config_has "app_state_file.path=$STATE_FILE"
    check "[agent] state_dir is the data directory" \
        config_has "agent.state_dir=$DATA_DIR/df-ovsdb-agent"
    check "[metrics] on loopback, for the readiness check" \
        config_has "metrics.enabled=True"
    check "[metrics] host" config_has "metrics.host=127.0.0.1"
    check "[metrics] port" config_has "metrics.port=$METRICS_PORT"
    check "no publisher section" not_called $'^iniset\t[^\t]*\tpublisher_'
    check "post-config: DevStack's logging setup" called setup_logging "$CONF"
    check "extra: ovsdb-server gets a loopback listener on the port" \
        equals "$(managers)" "ptcp:$port:127.0.0.1"
    check "extra: the listener is marked as the plugin's" \
        equals "$(our_manager_rows)" "ptcp:$port:127.0.0.1"
    check "ovsdb-server listens on 127.0.0.1:$port" \
        wait_until 10 listens_on "127.0.0.1:$port"
    check "extra: run_process with the documented command" called run_process \
        "$SERVICE" "$HARNESS_BIN_DIR/df-ovsdb-agent --config-file $CONF"

    check "the agent started by run_process is running" agent_running
    check "stack.sh waited for /healthz" called curl -s --noproxy '*' -m 2 \
        -w '\n%{http_code}' \
        "http://127.0.0.1:$METRICS_PORT/healthz"
    check "stack.sh said it is ready" grep -Fxq "df-ovsdb-agent is ready" \
        "$ROOT/devstack.out"
    check "so it was ready when stack.sh ended" equals "$(healthz)" 200
    check "it runs as STACK_USER ($STACK_USER), as DevStack runs services" \
        equals "$(agent_user)" "$STACK_USER"
    check "its state directory and files are STACK_USER's" owned_by \
        "$STACK_USER" "$DATA_DIR/df-ovsdb-agent" \
        "$DATA_DIR/df-ovsdb-agent/lock" "$DATA_DIR/df-ovsdb-agent/owner-id" \
        "$STATE_FILE"
    check "it syncs through the listener and the state_file app lists br-int" \
        wait_until 30 state_file_lists br-int
    ovs-vsctl --timeout=10 --no-wait add-port br-int tap0 -- \
        set Interface tap0 ofport=7 external_ids:iface-id=port-0 \
        external_ids:attached-mac=fa:16:3e:00:00:07
    check "it reports a port plugged afterwards" \
        wait_until 30 state_file_lists br-int tap0
    check "nothing listens beyond loopback; no wildcard anywhere" no_wildcard

    devstack unstack
    check "unstack.sh succeeds" devstack_ok
    check "unstack: stop_process" called stop_process "$SERVICE"
    check "the agent stopped cleanly on SIGTERM" equals "$(agent_exit_status)" 0
    check "its log has no error or traceback" agent_output_clean
    check "unstack keeps the configuration" test -s "$CONF"

    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "clean: the configuration directory is removed" \
        absent "$CONF_DIR"
    check "clean: the state directory is removed" \
        absent "$DATA_DIR/df-ovsdb-agent"
    check "clean: the plugin's OVSDB listener is removed" equals "$(managers)" ""
    check "clean: ovsdb-server no longer listens on the port" \
        wait_until 10 not_listens_on "127.0.0.1:$port"
}

function scenario_stack_custom {
    local port etcd_port redis_port user=daemon
    port=$(free_port)
    etcd_port=$(free_port)
    redis_port=$(free_port)
    start_ovsdb
    DF_OVSDB_AGENT_CONNECTION=unix:$OVS_RUNDIR/db.sock,tcp:127.0.0.1:$port
    DF_OVSDB_AGENT_PUBLISHERS="etcd, redis"
    DF_OVSDB_AGENT_ETCD_URL=http://127.0.0.1:$etcd_port
    DF_OVSDB_AGENT_REDIS_URL=redis://127.0.0.1:$redis_port/3
    DF_OVSDB_AGENT_BRIDGES=br-int,br-provider
    DF_OVSDB_AGENT_APPS=""
    DF_OVSDB_AGENT_HOST=compute-7
    # shellcheck disable=SC2034  # settings reads it by name (trueorfalse)
    DF_OVSDB_AGENT_DEBUG=False
    DF_OVSDB_AGENT_LOG_FILE=$ROOT/log/df-ovsdb-agent.log
    DF_OVSDB_AGENT_EXTRAS=redis,site-extra
    if [[ $(id -u) != 0 ]]; then
        user=$STACK_USER    # only root may chown to another user
    fi
    DF_OVSDB_AGENT_USER=$user

    devstack stack
    check "stack.sh succeeds" devstack_ok
    check "install: the publishers' extras, then DF_OVSDB_AGENT_EXTRAS" \
        called setup_develop "$DEST/df-ovsdb-agent" "etcd,redis,site-extra"
    check "the publishers' extras are declared in setup.cfg" "$HARNESS_PYTHON" -c '
import configparser, sys
cfg = configparser.ConfigParser()
cfg.read(sys.argv[1])
missing = {"etcd", "redis"} - set(cfg["extras"])
sys.exit("not in [extras]: %s" % missing if missing else 0)' "$REPO/setup.cfg"
    check "install: Redis for the redis publisher" \
        called install_package redis-server
    check "extra: Redis is started" called start_service redis-server
    check_config
    check "[DEFAULT] host" config_has "DEFAULT.host=compute-7"
    check "[DEFAULT] debug" config_has "DEFAULT.debug=False"
    check "[DEFAULT] log_file" config_has "DEFAULT.log_file=$DF_OVSDB_AGENT_LOG_FILE"
    check "[ovsdb] connection" config_has "ovsdb.connection=$DF_OVSDB_AGENT_CONNECTION"
    check "[agent] bridge_names" config_has "agent.bridge_names=br-int,br-provider"
    check "[agent] apps (none)" config_has "agent.apps="
    check "[agent] publishers, spaces dropped" config_has "agent.publishers=etcd,redis"
    check "[publisher_etcd] url" config_has "publisher_etcd.url=$DF_OVSDB_AGENT_ETCD_URL"
    check "[publisher_redis] url" config_has "publisher_redis.url=$DF_OVSDB_AGENT_REDIS_URL"
    check "no [app_state_file] without the app" not_called $'^iniset\t[^\t]*\tapp_state_file'
    check "extra: a listener for the tcp: remote only" \
        equals "$(managers)" "ptcp:$port:127.0.0.1"
    if [[ $user == "$STACK_USER" ]]; then
        skip "run_process names DF_OVSDB_AGENT_USER" "needs root to chown to another user"
    else
        check "run_process names DF_OVSDB_AGENT_USER" called run_process "$SERVICE" \
            "$HARNESS_BIN_DIR/df-ovsdb-agent --config-file $CONF" "" "$user"
        check "the state directory belongs to that user" \
            equals "$(stat -c %U "$DATA_DIR/df-ovsdb-agent")" "$user"
    fi
    check "no wildcard anywhere" no_wildcard
}

function scenario_unix_connection {
    start_ovsdb
    ovs-vsctl --timeout=10 --no-wait add-br br-int -- \
        set Interface br-int ofport=65534
    DF_OVSDB_AGENT_CONNECTION=unix:$OVS_RUNDIR/db.sock
    STUB_RUN_PROCESS="exec"
    # The socket of a root ovsdb-server is root's: the documented way is
    # to run the agent as root (a stack user is refused: start-failure).
    DF_OVSDB_AGENT_USER=$(id -un)

    devstack stack
    check "stack.sh succeeds" devstack_ok
    check_config
    check "[ovsdb] connection" config_has "ovsdb.connection=$DF_OVSDB_AGENT_CONNECTION"
    check "no OVSDB listener for a unix: socket" equals "$(managers)" ""
    check "ovs-vsctl only reads" not_called $'^sudo\tovs-vsctl.*\tcreate\t'
    check "the agent syncs over the unix socket" \
        wait_until 30 state_file_lists br-int
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "the agent stopped cleanly" equals "$(agent_exit_status)" 0
    check "no wildcard anywhere" no_wildcard
}

function scenario_connection_forms {
    local port
    port=$(free_port)
    # Manager rows as data only: port 6640 is not bound on this machine.
    start_ovsdb --no-managers
    DF_OVSDB_AGENT_CONNECTION="tcp:127.0.0.2,tcp:[::1]:$port,ssl:127.0.0.1:$port,unix:$OVS_RUNDIR/db.sock"
    devstack stack
    check "stack.sh succeeds" devstack_ok
    check_config
    check "[ovsdb] connection" config_has "ovsdb.connection=$DF_OVSDB_AGENT_CONNECTION"
    check "one listener per loopback tcp: remote, OVSDB's port by default" \
        equals "$(managers | sort)" \
        "$(printf '%s\n' "ptcp:$port:[::1]" "ptcp:6640:127.0.0.2" | sort)"
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "clean removes both" equals "$(managers)" ""
    check "no wildcard anywhere" no_wildcard
}

function scenario_existing_manager {
    local port
    port=$(free_port)
    start_ovsdb
    # As Neutron's OVN or OVS support leaves it.
    ovs-vsctl --timeout=10 --no-wait set-manager "ptcp:$port:127.0.0.1"
    DF_OVSDB_AGENT_CONNECTION=tcp:127.0.0.1:$port

    devstack stack
    check "stack.sh succeeds" devstack_ok
    check "the existing listener is used, not duplicated" \
        equals "$(managers)" "ptcp:$port:127.0.0.1"
    check "nothing is created" not_called $'^sudo\tovs-vsctl.*\tcreate\t'
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "clean leaves a listener the plugin did not add" \
        equals "$(managers)" "ptcp:$port:127.0.0.1"
    check "no wildcard anywhere" no_wildcard
}

function scenario_wildcard_manager {
    local port
    port=$(free_port)
    # This ovsdb-server does not apply its Manager table, so the wildcard
    # row below is data only: nothing listens beyond loopback.
    start_ovsdb --no-managers
    ovs-vsctl --timeout=10 --no-wait set-manager "ptcp:$port"
    DF_OVSDB_AGENT_CONNECTION=tcp:127.0.0.1:$port

    devstack stack
    check "stack.sh succeeds" devstack_ok
    check "a warning names the wildcard listener" \
        err_matches "^WARNING: .*ptcp:$port listens on every address"
    check "it is left alone and nothing is added" equals "$(managers)" "ptcp:$port"
    check "nothing is created" not_called $'^sudo\tovs-vsctl.*\tcreate\t'
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "clean leaves it too" equals "$(managers)" "ptcp:$port"
}

function scenario_wildcard_connection {
    local port case connection suggested
    port=$(free_port)
    start_ovsdb
    # connection|the port the error suggests using on 127.0.0.1
    for case in "tcp:0.0.0.0:$port|$port" "tcp:[::]:$port|$port" \
            "tcp:0.0.0.0|6640"; do
        connection=${case%|*}
        suggested=${case#*|}
        DF_OVSDB_AGENT_CONNECTION=$connection
        devstack stack
        check "$connection: stack.sh fails" test "$DEVSTACK_RC" != 0
        check "$connection: with one error line naming the problem" equals \
            "$(grep -c '^\[ERROR\]' "$ROOT/devstack.err")" 1
        check "$connection: the error says why and what to use" err_has \
            "$connection is a wildcard address; use tcp:127.0.0.1:$suggested"
        check "$connection: no configuration is written" absent "$CONF"
        check "$connection: no listener is added" equals "$(managers)" ""
        check "$connection: nothing is started" not_called '^run_process'
    done
    check "ovsdb-server listens on nothing" equals "$(listening)" ""
}

function scenario_remote_connection {
    start_ovsdb
    # TEST-NET-1: never connected to, only written into the configuration.
    DF_OVSDB_AGENT_CONNECTION=tcp:192.0.2.10:6640
    devstack stack
    check "stack.sh refuses to manage a listener off loopback" \
        test "$DEVSTACK_RC" != 0
    check "the error names the way out" err_matches \
        "not a loopback address.*DF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER=False"
    check "no configuration is written" absent "$CONF"

    # shellcheck disable=SC2034  # settings reads it by name (trueorfalse)
    DF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER=False
    devstack stack
    check "with DF_OVSDB_AGENT_MANAGE_OVSDB_MANAGER=False stack.sh succeeds" \
        devstack_ok
    check_config
    check "[ovsdb] connection" config_has "ovsdb.connection=tcp:192.0.2.10:6640"
    check "no OVSDB listener is added" equals "$(managers)" ""
    check "nothing is created" not_called $'^sudo\tovs-vsctl.*\tcreate\t'
    check "no wildcard anywhere" no_wildcard
}

function scenario_restack {
    local port first
    port=$(free_port)
    start_ovsdb
    DF_OVSDB_AGENT_CONNECTION=tcp:127.0.0.1:$port
    DF_OVSDB_AGENT_PUBLISHERS=etcd
    devstack stack
    check "first stack.sh succeeds" devstack_ok
    first=$(cat "$CONF")
    check "[publisher_etcd] is written" contains "$first" "[publisher_etcd]"

    DF_OVSDB_AGENT_PUBLISHERS=""
    devstack stack
    check "second stack.sh succeeds" devstack_ok
    check_config
    check "the configuration is rewritten: no stale [publisher_etcd]" \
        config_has "agent.publishers="
    check "no stale section in the file" \
        not_contains "$(cat "$CONF")" publisher_etcd
    check "still exactly one listener" equals "$(managers)" "ptcp:$port:127.0.0.1"
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "clean removes it" equals "$(managers)" ""
    check "no wildcard anywhere" no_wildcard
}

function scenario_ipv6 {
    local port
    port=$(free_port)
    start_ovsdb
    ovs-vsctl --timeout=10 --no-wait add-br br-int -- \
        set Interface br-int ofport=65534

    # An IPv6 DevStack: SERVICE_HOST comes bracketed from stackrc.
    SERVICE_HOST='[2001:db8::1]'
    DF_OVSDB_AGENT_PUBLISHERS=etcd
    devstack stack
    check "with SERVICE_HOST=[2001:db8::1] stack.sh succeeds" devstack_ok
    check_config
    check "[publisher_etcd] url is bracketed once" \
        config_has "publisher_etcd.url=http://[2001:db8::1]:2379"
    devstack clean
    check "clean.sh succeeds" devstack_ok

    # The agent over IPv6 loopback, as STACK_USER.
    SERVICE_HOST='[::1]'
    DF_OVSDB_AGENT_PUBLISHERS=""
    DF_OVSDB_AGENT_CONNECTION="tcp:[::1]:$port"
    STUB_RUN_PROCESS="exec"
    devstack stack
    check "over tcp:[::1]:$port stack.sh succeeds" devstack_ok
    check "ovsdb-server gets a listener on [::1]" \
        equals "$(managers)" "ptcp:$port:[::1]"
    check "stack.sh said it is ready" grep -Fxq "df-ovsdb-agent is ready" \
        "$ROOT/devstack.out"
    check "the agent runs as STACK_USER" equals "$(agent_user)" "$STACK_USER"
    check "it syncs over IPv6 and lists br-int" \
        wait_until 30 state_file_lists br-int
    devstack clean
    check "clean.sh succeeds" devstack_ok
    check "the agent stopped cleanly on SIGTERM" equals "$(agent_exit_status)" 0
    check "its log has no error or traceback" agent_output_clean
    check "clean removes the listener" equals "$(managers)" ""
    check "no wildcard anywhere" no_wildcard
}

function scenario_start_failure {
    local port
    port=$(free_port)
    start_ovsdb
    STUB_RUN_PROCESS="exec"
    DF_OVSDB_AGENT_CONNECTION=tcp:127.0.0.1:$port
    DF_OVSDB_AGENT_START_TIMEOUT=3

    # A service that dies at start (as the agent did with an unusable
    # state_dir) must fail stack.sh, not leave a dead service behind.
    mkdir -p "$ROOT/bin"
    printf '#!/bin/sh\necho "df-ovsdb-agent: error: cannot start" >&2\nexit 1\n' \
        > "$ROOT/bin/dead-agent"
    chmod 0755 "$ROOT/bin/dead-agent"
    DF_OVSDB_AGENT_BIN=$ROOT/bin/dead-agent
    devstack stack
    check "a service that exits at start fails stack.sh" \
        test "$DEVSTACK_RC" != 0
    check "with one error line" \
        equals "$(grep -c '^\[ERROR\]' "$ROOT/devstack.err")" 1
    check "naming the timeout, the cause and where to look" err_has \
        "df-ovsdb-agent is not ready after 3s (no answer: the service is not running); see: sudo journalctl -u devstack@$SERVICE"
    check "the service did exit" equals "$(agent_exit_status)" 1
    unset DF_OVSDB_AGENT_BIN

    # A running agent that cannot reach OVSDB: the root-only unix socket
    # of a root ovsdb-server, as STACK_USER.
    if [[ $STACK_USER == "$(id -un)" ]]; then
        skip "an agent that cannot open the socket fails stack.sh" \
            "needs root to run the agent as another user"
        return 0
    fi
    DF_OVSDB_AGENT_CONNECTION=unix:$OVS_RUNDIR/db.sock
    # Long enough for the agent to be up and answering 503 even on a
    # loaded machine: it never gets ready, so stack.sh takes all of it.
    DF_OVSDB_AGENT_START_TIMEOUT=20
    devstack stack
    check "an agent that cannot open the socket fails stack.sh" \
        test "$DEVSTACK_RC" != 0
    check "the error gives /healthz's reason" err_has \
        "df-ovsdb-agent is not ready after 20s (/healthz 503: not connected to OVSDB"
    check "the agent says why, once, as ERROR: permission denied, and as whom" \
        equals "$(grep -c 'ERROR.*unix:.*permission denied.*user '"$STACK_USER" \
                  "$ROOT/run/$SERVICE/output")" 1
    check "it is still running, waiting for access" agent_running
    devstack unstack
    check "unstack.sh stops it" equals "$(agent_exit_status)" 0
}


# Main
# ----

# run_scenario NAME: run one scenario in a shell of its own, so each starts
# from the same environment.  Sets SCENARIO_RC.  Never call it in a
# condition: errexit would then be off inside the scenario too.
function run_scenario {
    local name=$1
    echo "# scenario $name"
    set +o errexit
    (
        set -o errexit
        setup
        "scenario_${name//-/_}"
        SCENARIO_DONE=1
        echo "# $name: $CHECKS checks, $FAILURES failed"
        [[ $FAILURES == 0 ]]
    )
    SCENARIO_RC=$?
    set -o errexit
}

function main {
    local name failed=0
    if [[ ${1:-} == --list ]]; then
        printf '%s\n' "${SCENARIOS[@]}"
        return 0
    fi
    if [[ $# == 0 ]]; then
        set -- "${SCENARIOS[@]}"
    fi
    for name in "$@"; do
        if ! declare -F "scenario_${name//-/_}" > /dev/null; then
            echo "harness: unknown scenario $name (see --list)" >&2
            return 2
        fi
    done
    for name in "$@"; do
        run_scenario "$name"
        if [[ $SCENARIO_RC != 0 ]]; then
            failed=1
        fi
    done
    return $failed
}

main "$@"
