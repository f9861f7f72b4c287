"""``df-ovsdb-events``: print what the agent sees, one JSON object a line.

Events print as ``{"kind", "action", "name", "uuid", "ofport", ...}``,
sync markers as ``{"sync": "started", "chassis": ...}`` /
``{"sync": "finished", "chassis": ...}``.  With
``--once`` it prints the current state between the markers and exits.
With ``--state-file PATH`` the first sync is diffed against the state
recorded in PATH by an earlier run (everything is ``online`` when PATH does
not exist) and PATH is kept up to date: ``--once --state-file PATH`` prints
exactly what changed since the last run.
"""

import json
import logging
import signal
import sys
import threading
from typing import Optional, TextIO, TYPE_CHECKING

from oslo_config import cfg

from df_ovsdb_agent.cmd import common
from df_ovsdb_agent import conf as conf_lib
from df_ovsdb_agent.events import SYNC_FINISHED
from df_ovsdb_agent.events import SyncEvent
from df_ovsdb_agent import logsafe

if TYPE_CHECKING:  # pragma: no cover
    from df_ovsdb_agent.agent import Agent

PROG = 'df-ovsdb-events'

CLI_OPTS = (
    cfg.StrOpt('connection',
               help='OVSDB remote to watch; overrides [ovsdb] connection.'),
    cfg.BoolOpt('once', default=False,
                help='Print the interfaces online now, then exit.'),
    cfg.StrOpt('state-file', metavar='PATH',
               help='Report the first sync as changes since the state '
                    'recorded in PATH, and record the state there.'),
    cfg.BoolOpt('verbose', short='v', default=False,
                help='Log progress to stderr.'),
)


class JsonLinePrinter:
    """Bus subscriber writing one flushed JSON line per event.

    Sync markers carry ``chassis``: Open vSwitch's system-id (the OVN
    chassis name), null when it has none.
    """

    def __init__(self, out: TextIO, stop: threading.Event,
                 agent: Optional['Agent'] = None) -> None:
        self.out = out
        self.stop = stop
        self.agent = agent
        self.finished = threading.Event()

    def __call__(self, event) -> None:
        data = event.to_dict()
        if isinstance(event, SyncEvent) and self.agent is not None:
            data['chassis'] = self.agent.chassis.system_id
        try:
            self.out.write(json.dumps(data, sort_keys=True) + '\n')
            self.out.flush()
        except BrokenPipeError:  # e.g. piped into `head`
            self.stop.set()
        if event == SYNC_FINISHED:
            self.finished.set()


def _main(argv: Optional[list], out: TextIO) -> int:
    conf = common.load_config(argv, PROG, CLI_OPTS, log=False)
    logging.basicConfig(
        stream=sys.stderr, format='%(asctime)s %(levelname)s %(message)s',
        level=logging.INFO if conf.verbose else logging.WARNING)
    logsafe.install_escape_filter()
    # Only now: the agent brings in python-ovs, which --help and a bad
    # argument do not need (start-up time, see doc/source/cli.rst).
    from df_ovsdb_agent.agent import Agent
    agent = Agent(conf.connection, settings=conf_lib.ovsdb_settings(conf),
                  policy=conf_lib.policy(conf), state_file=conf.state_file,
                  host=conf.host)
    stop = threading.Event()
    printer = JsonLinePrinter(out, stop, agent)
    agent.subscribe(printer, name='json-lines')
    if not conf.once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    agent.start()
    try:
        if conf.once:
            # start() returned after publishing the first sync; wait until
            # this subscriber has printed all of it.
            printer.finished.wait()
        else:
            stop.wait()
    finally:
        agent.stop(conf.agent.shutdown_timeout)
    return 0


def main(argv: Optional[list] = None) -> int:
    return common.run(lambda: _main(argv, sys.stdout), PROG)


if __name__ == '__main__':
    sys.exit(main())
