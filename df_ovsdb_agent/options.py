"""Reading an oslo.config option group with one clear error.

Shared by :mod:`df_ovsdb_agent.conf` (the agent's own groups) and
:mod:`df_ovsdb_agent.plugins` (each plugin's group), so that the plugin
loader needs no import of the configuration module.
"""

from oslo_config import cfg

from df_ovsdb_agent.exceptions import ConfigError


def read_group(conf: cfg.ConfigOpts, name: str, opts: list) -> dict:
    """Read every option of a group now, so a bad value fails in one place.

    :raises ConfigError: naming the option, the file and the reason.
    """
    values = {}
    for opt in opts:
        try:
            values[opt.dest] = conf[name][opt.dest]
        except (cfg.ConfigFileValueError, ValueError) as exc:
            # oslo's text embeds a LocationInfo repr; keep only the reason.
            text = str(exc)
            reason = text.rpartition('is not valid: ')[2]
            detail = text.partition("detail='")[2].partition("'")[0]
            where = ' in %s' % detail if detail else ''
            raise ConfigError('invalid value for [%s] %s%s: %s'
                              % (name, opt.dest, where, reason)) from None
    return values
