"""``df-ovsdb-agent`` under eventlet (see :mod:`df_ovsdb_agent.cmd.agent`)."""

import sys

from df_ovsdb_agent.cmd import agent


def main() -> int:
    return agent.main()


if __name__ == '__main__':
    sys.exit(main())
