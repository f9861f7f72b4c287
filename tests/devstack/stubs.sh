# shellcheck shell=bash
#
# Stand-ins for the DevStack functions the df-ovsdb-agent plugin calls.
#
# Every call is appended to $STUB_LOG as one line: the function name and
# its arguments, separated by tabs.  The stubs keep DevStack's semantics
# where the plugin depends on them (service lists, trueorfalse, die
# exiting, iniset editing a real file, run_process starting the command,
# stop_process stopping it) and do nothing else.  Nothing is touched outside
# $HARNESS_ROOT: ``sudo`` runs only ovs-vsctl (against the harness's own
# ovsdb-server, through OVS_RUNDIR) and file commands on paths under it.
#
# Needs: HARNESS_ROOT, STUB_LOG, HARNESS_PYTHON, HARNESS_BIN_DIR, and
# STUB_RUN_PROCESS=exec to really start processes (default: record only).

STUBS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

function _stub_record {
    local IFS=$'\t'
    printf '%s\n' "$*" >> "$STUB_LOG"
}

# _stub_under_root PATH: is PATH inside the harness's directory?
function _stub_under_root {
    [[ $1 == "$HARNESS_ROOT"/* ]]
}

# Service lists, as in DevStack's functions-common: comma-separated
# ENABLED_SERVICES, and DISABLED_SERVICES that enable_service respects.
function is_service_enabled {
    _stub_record is_service_enabled "$@"
    local service
    for service in "$@"; do
        if [[ ,$ENABLED_SERVICES, == *",$service,"* ]]; then
            return 0
        fi
    done
    return 1
}

function enable_service {
    _stub_record enable_service "$@"
    local service
    for service in "$@"; do
        if [[ ,$DISABLED_SERVICES, == *",$service,"* ]]; then
            echo "WARNING: attempt to enable_service $service when it has been disabled" >&2
            continue
        fi
        if [[ ,$ENABLED_SERVICES, != *",$service,"* ]]; then
            ENABLED_SERVICES=${ENABLED_SERVICES:+$ENABLED_SERVICES,}$service
        fi
    done
}

function disable_service {
    _stub_record disable_service "$@"
    local service list
    for service in "$@"; do
        list=",$ENABLED_SERVICES,"
        list=${list//,$service,/,}
        list=${list#,}
        ENABLED_SERVICES=${list%,}
        DISABLED_SERVICES=${DISABLED_SERVICES:+$DISABLED_SERVICES,}$service
    done
}

# trueorfalse DEFAULT VARNAME, as DevStack normalises booleans.
function trueorfalse {
    local default=$1 name=$2 value
    value=${!name:-}
    case ${value,,} in
        "") echo "$default" ;;
        1|yes|true|on) echo True ;;
        0|no|false|off) echo False ;;
        *) die $LINENO "Argument '$value' for $name is not True or False" ;;
    esac
}

# die exits the shell that sourced the plugin, as DevStack's does.
function die {
    local line=$1
    shift
    _stub_record die "$*"
    echo "[ERROR] line $line: $*" >&2
    exit 1
}

function warn {
    local line=$1
    shift
    _stub_record warn "$*"
    echo "WARNING: line $line: $*" >&2
}

function echo_summary {
    _stub_record echo_summary "$@"
    echo "$@"
}

function get_python_exec_prefix {
    echo "$HARNESS_BIN_DIR"
}

function is_ubuntu {
    return 0
}

# Installing packages is recorded, never done.
function setup_develop { _stub_record setup_develop "$@"; }
function pip_install { _stub_record pip_install "$@"; }
function install_package { _stub_record install_package "$@"; }
function start_service { _stub_record start_service "$@"; }
function restart_service { _stub_record restart_service "$@"; }
function setup_logging { _stub_record setup_logging "$@"; }

# iniset [-sudo] FILE SECTION OPTION VALUE edits a real file.
function iniset {
    _stub_record iniset "$@"
    if [[ $1 == -sudo ]]; then
        shift
    fi
    if ! _stub_under_root "$1"; then
        echo "stub iniset: refusing to write $1 outside $HARNESS_ROOT" >&2
        return 1
    fi
    "$HARNESS_PYTHON" "$STUBS_DIR/ini.py" "$@"
}

function sudo {
    _stub_record sudo "$@"
    local arg
    case $1 in
        ovs-vsctl)
            if [[ -z ${OVS_RUNDIR:-} ]] || ! _stub_under_root "$OVS_RUNDIR"; then
                echo "stub sudo: OVS_RUNDIR must point into $HARNESS_ROOT" >&2
                return 1
            fi
            ;;
        install|mkdir|rm|chown|chmod)
            for arg in "${@:2}"; do
                if [[ $arg == */* ]] && ! _stub_under_root "$arg"; then
                    echo "stub sudo: refusing $1 on $arg outside $HARNESS_ROOT" >&2
                    return 1
                fi
            done
            ;;
        *)
            echo "stub sudo: refusing to run $*" >&2
            return 1
            ;;
    esac
    "$@"
}

# run_process SERVICE COMMAND [GROUP] [USER]: DevStack starts COMMAND (split
# on whitespace, as systemd's ExecStart is) when SERVICE is enabled, as USER
# (default STACK_USER, which is never root: systemd's User=, with the
# user's groups).  With STUB_RUN_PROCESS=exec so does this (setpriv when
# USER is not the harness's own user), recording the process's PID, output
# and exit status under $HARNESS_ROOT/run/SERVICE.
function run_process {
    _stub_record run_process "$@"
    local service=$1 command=$2 user=${4:-$STACK_USER} dir
    local -a argv
    is_service_enabled "$service" || return 0
    [[ ${STUB_RUN_PROCESS:-record} == exec ]] || return 0
    dir=$HARNESS_ROOT/run/$service
    mkdir -p "$dir"
    rm -f "$dir/pid" "$dir/rc"
    read -r -a argv <<< "$command"
    if [[ $user != "$(id -un)" ]]; then
        if [[ $(id -u) != 0 ]]; then
            echo "stub run_process: only root can run $service as $user" >&2
            return 1
        fi
        argv=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")"
              --init-groups -- "${argv[@]}")
    fi
    # The wrapper waits for the command so its exit status is kept; its
    # own output goes to files so it never holds the harness's stdout.
    (
        "${argv[@]}" < /dev/null > "$dir/output" 2>&1 &
        echo $! > "$dir/pid.tmp"
        mv "$dir/pid.tmp" "$dir/pid"
        # Not "wait; echo $?": errexit would end the wrapper on a failure.
        rc=0
        wait $! || rc=$?
        echo "$rc" > "$dir/rc"
    ) < /dev/null > /dev/null 2>&1 &
    wait_until 10 test -s "$dir/pid"
}

# curl: the real one once run_process really starts services; otherwise
# nothing runs, and the readiness check is answered as a healthy agent's.
function curl {
    _stub_record curl "$@"
    if [[ ${STUB_RUN_PROCESS:-record} == exec ]]; then
        command curl "$@"
    else
        printf 'ok: connected, synced\n\n200'
    fi
}

# stop_process SERVICE: SIGTERM, as systemctl stop sends, then wait for the
# exit (bounded).
function stop_process {
    _stub_record stop_process "$@"
    local dir=$HARNESS_ROOT/run/$1
    [[ -s $dir/pid ]] || return 0
    kill -TERM "$(cat "$dir/pid")" 2> /dev/null || true
    wait_until 30 test -s "$dir/rc"
    rm -f "$dir/pid"
}

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds; fail when
# SECONDS pass first.  For conditions of other processes only.
function wait_until {
    local timeout=$1 start=$EPOCHREALTIME
    shift
    until "$@"; do
        if (( $(_elapsed_ms "$start") > timeout * 1000 )); then
            echo "timed out after ${timeout}s waiting for: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

function _elapsed_ms {
    local now=$EPOCHREALTIME
    echo $(( (${now/./} - ${1/./}) / 1000 ))
}
