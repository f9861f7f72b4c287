"""Shared start-up for the console scripts: config, logging, errors.

Start-up time matters (``--help``, a daemon restart): this module and
:mod:`df_ovsdb_agent.conf` import only oslo.config at module level.
oslo.log is imported by the commands that log through it, when they
register its options; the agent, python-ovs and the publishers by each
command once its arguments are parsed.
"""

import functools
import logging as std_logging
import os
import sys
from typing import Callable, NoReturn, Optional

from oslo_config import cfg

import df_ovsdb_agent
from df_ovsdb_agent import conf as conf_lib
from df_ovsdb_agent.exceptions import AgentError
from df_ovsdb_agent import logsafe


def load_config(argv: Optional[list], prog: str,
                cli_opts: tuple = (), log: bool = True) -> cfg.ConfigOpts:
    """Parse ``argv`` and config files into a fresh ConfigOpts.

    :param log: register oslo.log's options (they are part of ``--help``)
        and set logging up from them.
    """
    conf = cfg.ConfigOpts()
    conf_lib.register_opts(conf)
    if log:
        from oslo_log import log as logging
        logging.register_options(conf)
    conf.register_cli_opts(list(cli_opts))
    args = argv if argv is not None else sys.argv[1:]
    conf(args, project='df-ovsdb-agent', prog=prog, default_config_files=[],
         version=version_for(args))
    if log:
        setup_logging(conf)
    return conf


# What ``--version`` would print when no argument can be that option: it
# is never shown (``ConfigOpts.version`` holds it too; nothing reads it).
VERSION_NOT_LOOKED_UP = '(not looked up)'


def version_for(args: list) -> str:
    """The package version for oslo.config's ``--version``, looked up
    only when an argument may be that option.

    The look-up imports importlib.metadata and scans the installed
    distributions, about a third of a command's start-up.  argparse takes
    any unambiguous prefix (``--vers``), so any argument before ``--``
    that starts with ``--v`` counts.
    """
    for arg in args:
        if arg == '--':
            break
        if arg.startswith('--v'):
            return df_ovsdb_agent.__version__
    return VERSION_NOT_LOOKED_UP


def setup_logging(conf: cfg.ConfigOpts) -> None:
    """oslo.log's setup, without terminal colour codes in the output.

    oslo.log before 5.1 (Debian 12 ships 5.0.1) ends every console line
    with an ANSI reset code, whatever the format: journald and log files
    would keep them.  Later versions only colour with ``log_color``.
    """
    from oslo_log import handlers as oslo_handlers
    from oslo_log import log as logging
    logging.setup(conf, 'df-ovsdb-agent')
    if 'log_color' in conf:
        return
    for handler in std_logging.getLogger().handlers:
        if type(handler) is oslo_handlers.ColorHandler:
            handler.__class__ = _plain_handler_class()


@functools.lru_cache(maxsize=None)
def _plain_handler_class() -> type:
    """oslo.log's console handler, minus the colour codes.

    Made on first use (one class per process) so that importing this
    module does not import oslo.log.
    """
    from oslo_log import handlers as oslo_handlers

    class PlainHandler(oslo_handlers.ColorHandler):
        def format(self, record: std_logging.LogRecord) -> str:
            # A format string naming %(color)s still finds the keys.
            record.color = record.reset_color = ''
            return std_logging.StreamHandler.format(self, record)

    return PlainHandler


def run(main: Callable[[], int], prog: str) -> int:
    """Run ``main``, turning expected failures into one line and exit 1."""
    try:
        return main()
    except AgentError as exc:
        # The text may quote a peer (an OVSDB error, a store's answer):
        # one line, escaped, whatever it holds.
        print('%s: error: %s' % (prog, logsafe.one_line(str(exc))),
              file=sys.stderr)
        return 1
    except (cfg.Error, ValueError) as exc:
        print('%s: error: %s' % (prog, _one_line(exc)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def exit_now(code: int) -> NoReturn:
    """Flush stdout and stderr and end the process with ``code`` at once.

    ``os._exit``, not the interpreter's finalisation: that waits on
    threads and locks a wedged store client, subscriber or os-ken's
    non-daemon server threads may hold, and "exit within
    shutdown_timeout" must not depend on them.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _one_line(exc: Exception) -> str:
    return ' '.join(str(exc).split())
