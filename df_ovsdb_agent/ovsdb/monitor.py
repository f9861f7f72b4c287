"""The one persistent monitor session: settings, SSL, ovsdbapp Connection."""

import dataclasses
import logging
import ssl
from typing import Optional

import ovs.json
import ovs.stream
from ovsdbapp.backend.ovs_idl import connection as ovsdbapp_connection
from ovsdbapp.backend.ovs_idl import vlog as ovs_vlog
from ovsdbapp import exceptions as ovsdbapp_exceptions

from df_ovsdb_agent.classifier import COLUMNS
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent.ovsdb import remote as remote_lib
from df_ovsdb_agent.ovsdb import schema as schema_lib
from df_ovsdb_agent.ovsdb.idl import InterfaceIdl
from df_ovsdb_agent.ovsdb.sink import Sink

LOG = logging.getLogger(__name__)

DEFAULT_CONNECTION = 'tcp:127.0.0.1:6640'


@dataclasses.dataclass(frozen=True)
class OvsdbSettings:
    """How to reach ovsdb-server; mirrors the ``[ovsdb]`` option group."""

    connection: str = DEFAULT_CONNECTION
    timeout: float = 10.0
    sync_timeout: float = 300.0
    probe_interval: int = 5000
    max_backoff: int = 1000
    max_message_size: int = 256 << 20
    ssl_key_file: Optional[str] = None
    ssl_cert_file: Optional[str] = None
    ssl_ca_cert_file: Optional[str] = None

    def remotes(self) -> list[str]:
        return remote_lib.split_remotes(self.connection)


def json_parser() -> str:
    """Which JSON parser python-ovs uses: "C" (ovs._json) or "PYTHON"."""
    return ovs.json.PARSER


def configure_ssl(settings: OvsdbSettings, remotes: list[str]) -> None:
    """Hand key, certificate and CA to python-ovs for ``ssl:`` remotes.

    python-ovs keeps these process-wide, so they are set once, here.
    """
    if not any(r.startswith('ssl:') for r in remotes):
        return
    remote_lib.check_readable(settings.ssl_key_file, 'ssl_key_file')
    remote_lib.check_readable(settings.ssl_cert_file, 'ssl_cert_file')
    remote_lib.check_readable(settings.ssl_ca_cert_file, 'ssl_ca_cert_file')
    # python-ovs loads these lazily on every connection attempt, where a
    # bad file becomes a traceback per retry; load them once now.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(settings.ssl_ca_cert_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError('ssl_ca_cert_file %s is not a usable CA '
                          'certificate: %s' % (settings.ssl_ca_cert_file,
                                               _reason(exc))) from None
    try:
        context.load_cert_chain(settings.ssl_cert_file,
                                settings.ssl_key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError('ssl_cert_file %s and ssl_key_file %s are not a '
                          'matching certificate and key: %s'
                          % (settings.ssl_cert_file, settings.ssl_key_file,
                             _reason(exc))) from None
    ovs.stream.Stream.ssl_set_private_key_file(settings.ssl_key_file)
    ovs.stream.Stream.ssl_set_certificate_file(settings.ssl_cert_file)
    ovs.stream.Stream.ssl_set_ca_cert_file(settings.ssl_ca_cert_file)


def _reason(exc: Exception) -> str:
    return getattr(exc, 'reason', None) or getattr(exc, 'strerror',
                                                   None) or str(exc)


class Monitor:
    """Owns the IDL and the ovsdbapp thread that drives it."""

    def __init__(self, settings: OvsdbSettings, sink: Sink) -> None:
        self.settings = settings
        self._sink = sink
        self._connection: Optional[ovsdbapp_connection.Connection] = None
        self.idl: Optional[InterfaceIdl] = None

    @property
    def connected(self) -> bool:
        return self.idl is not None and self.idl.connected

    def start(self) -> None:
        """Connect, fetch and validate the schema, and sync once.

        Returns when the first dump has been handed to the sink.
        :raises AgentError: with a one-line reason when that is impossible.
        """
        settings = self.settings
        remotes = settings.remotes()
        if settings.timeout <= 0 or settings.sync_timeout <= 0:
            raise ConfigError('OVSDB timeouts must be positive')
        configure_ssl(settings, remotes)
        schema = schema_lib.fetch_schema(remotes, settings.timeout)
        helper = schema_lib.interface_schema_helper(schema)
        # From here on python-ovs's own reports (parse errors, unanswered
        # probes, failed connects) matter; vlog is silent unless routed to
        # logging.  Not earlier: start-up failures are our one-line errors.
        ovs_vlog.use_python_logger(max_level=ovs_vlog.WARN)
        self.idl = InterfaceIdl(','.join(remotes), helper, self._sink,
                                probe_interval=settings.probe_interval,
                                max_backoff=settings.max_backoff,
                                sync_timeout=settings.sync_timeout,
                                max_message_size=settings.max_message_size)
        self._connection = ovsdbapp_connection.Connection(
            self.idl, settings.sync_timeout)
        LOG.info('Monitoring %s.%s columns %s at %s (JSON parser: %s)',
                 schema_lib.DATABASE, schema_lib.TABLE,
                 ','.join(COLUMNS),
                 ','.join(remotes), json_parser())
        try:
            self._connection.start()
        except ovsdbapp_exceptions.TimeoutException:
            self._connection = None
            self.idl.close()
            raise OvsdbUnreachable(
                'OVSDB at %s did not complete the initial sync within %ss'
                % (','.join(remotes), settings.sync_timeout)) from None

    def stop(self, timeout: Optional[float] = 5.0) -> bool:
        """Stop the IDL thread and close the session."""
        if self._connection is None:
            return True
        stopped = self._connection.stop(timeout)
        self._connection = None
        return stopped
