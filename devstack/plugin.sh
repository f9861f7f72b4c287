#!/bin/bash
#
# DevStack plugin for df-ovsdb-agent.  stack.sh, unstack.sh and clean.sh
# source this file with the phase as arguments (``stack install``,
# ``unstack``, ...), after devstack/settings.
#
# Enable it in local.conf with:
#   enable_plugin df-ovsdb-agent <git URL of this repository> [branch]

# Tracing stays off in here: the configuration may carry publisher URLs
# with passwords, and xtrace would print them to the stack log.
_XTRACE_DF_OVSDB_AGENT=$(set +o | grep xtrace)
set +o xtrace

# shellcheck source-path=SCRIPTDIR source=lib/df-ovsdb-agent
source "$DF_OVSDB_AGENT_DIR/devstack/lib/df-ovsdb-agent"

if is_service_enabled df-ovsdb-agent; then
    if [[ "$1" == "stack" && "${2:-}" == "install" ]]; then
        install_df_ovsdb_agent
    elif [[ "$1" == "stack" && "${2:-}" == "post-config" ]]; then
        configure_df_ovsdb_agent
    elif [[ "$1" == "stack" && "${2:-}" == "extra" ]]; then
        # After every other service: Neutron has started Open vSwitch.
        start_df_ovsdb_agent
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_df_ovsdb_agent
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_df_ovsdb_agent
    fi
fi

# Restore xtrace
$_XTRACE_DF_OVSDB_AGENT
