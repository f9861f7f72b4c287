"""``df-ovsdb-agent`` under eventlet: a compatibility entry point.

Run it as ``python -m df_ovsdb_agent.cmd.eventlet.agent``; see
:mod:`df_ovsdb_agent.cmd.eventlet`.
"""

import sys

from df_ovsdb_agent.cmd import agent


def main() -> int:
    return agent.main()


if __name__ == '__main__':
    sys.exit(main())
