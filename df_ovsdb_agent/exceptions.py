"""Errors an operator can act on; their text is the one line we print."""


class AgentError(Exception):
    """Base class for expected, user-facing failures."""


class ConfigError(AgentError):
    """An option value or a remote string is unusable."""


class OvsdbUnreachable(AgentError):
    """No OVSDB server answered at the configured remote(s)."""


class SchemaError(AgentError):
    """The server answered, but not with a usable Open_vSwitch schema."""
