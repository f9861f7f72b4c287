"""Validation of OVSDB remote strings, at start-up.

The monitor retries a remote forever; an operator deserves to hear at
start-up that ``tpc:127.0.0.1:6640`` is a typo.
"""

import ipaddress
import os

from df_ovsdb_agent.exceptions import ConfigError

ACTIVE_METHODS = ('tcp', 'ssl', 'unix')
PASSIVE_METHODS = ('ptcp', 'pssl', 'punix')


def split_remotes(connection: str) -> list[str]:
    """Split a comma-separated list of remotes and validate each one."""
    remotes = [r.strip() for r in (connection or '').split(',')]
    if not any(remotes):
        raise ConfigError('OVSDB connection is empty; expected e.g. '
                          'tcp:127.0.0.1:6640')
    for remote in remotes:
        validate_remote(remote)
    return remotes


def validate_remote(remote: str) -> None:
    """Raise :class:`ConfigError` unless ``remote`` is an active remote."""
    method, sep, rest = remote.partition(':')
    if method in PASSIVE_METHODS:
        raise ConfigError('OVSDB remote %r is passive (%s:); the agent '
                          'connects to ovsdb-server, use %s: instead'
                          % (remote, method, method[1:]))
    if not sep or method not in ACTIVE_METHODS:
        raise ConfigError('OVSDB remote %r is not valid; expected '
                          'tcp:IP:PORT, ssl:IP:PORT or unix:PATH' % remote)
    if method == 'unix':
        if not rest:
            raise ConfigError('OVSDB remote %r has no socket path' % remote)
        return
    _validate_host_port(remote, rest)


def _validate_host_port(remote: str, rest: str) -> None:
    if rest.startswith('['):
        host, bracket, tail = rest[1:].partition(']')
        if not bracket:
            raise ConfigError('OVSDB remote %r has an unclosed [' % remote)
        port = tail[1:] if tail.startswith(':') else None
        if tail and port is None:
            raise ConfigError('OVSDB remote %r is not valid' % remote)
    else:
        host, _, port = rest.partition(':')
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # The agent resolves no names (no DNS lookup at start-up or on a
        # reconnect): it needs an IP address.
        raise ConfigError('OVSDB remote %r needs an IP address, not %r'
                          % (remote, host)) from None
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError('OVSDB remote %r has an invalid port %r'
                          % (remote, port))


def check_readable(path: str, what: str) -> None:
    """Raise :class:`ConfigError` if ``path`` cannot be read."""
    if not path:
        raise ConfigError('%s is required for ssl: remotes' % what)
    if not os.access(path, os.R_OK) or not os.path.isfile(path):
        raise ConfigError('%s %s is missing or unreadable' % (what, path))
