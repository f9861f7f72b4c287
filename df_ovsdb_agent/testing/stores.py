"""Real etcd and redis-server on free 127.0.0.1 ports.

Each server runs as a foreground child in a directory of its own and is
stopped by PID (:class:`~df_ovsdb_agent.testing.sandbox.ChildServer`).
:meth:`restart` keeps or wipes the data: etcd restarts on the same data dir
(or an emptied one); redis-server runs without persistence and is shut down
with ``SHUTDOWN SAVE`` (an RDB file, loaded at the next start) or
``SHUTDOWN NOSAVE`` and its files removed.  Clients need the ``etcd`` and
``redis`` extras.
"""

import os
import shutil
import subprocess
from typing import Optional

from df_ovsdb_agent.testing.sandbox import ChildServer
from df_ovsdb_agent.testing.sandbox import free_port
from df_ovsdb_agent.testing.sandbox import LOOPBACK
from df_ovsdb_agent.testing.sandbox import SandboxError


class EtcdServer(ChildServer):
    """A single-member etcd cluster; its data dir survives restarts."""

    name = 'etcd'

    def __init__(self, base_dir: str, extra_args: tuple = (),
                 scheme: str = 'http') -> None:
        super().__init__(base_dir)
        self.client_port = free_port()
        self.peer_port = free_port()
        while self.peer_port == self.client_port:  # both free a moment ago
            self.peer_port = free_port()
        self.data_dir = os.path.join(self.dir, 'data')
        self.extra_args = list(extra_args)
        self.scheme = scheme
        #: etcd3gw TLS arguments (ca_cert, cert_cert, cert_key) for client().
        self.tls: dict = {}

    @property
    def port(self) -> int:
        return self.client_port

    @property
    def url(self) -> str:
        return '%s://%s:%d' % (self.scheme, LOOPBACK, self.client_port)

    def command(self) -> list:
        peer = 'http://%s:%d' % (LOOPBACK, self.peer_port)
        return ['etcd', '--name', 't', '--data-dir', self.data_dir,
                '--listen-client-urls', self.url,
                '--advertise-client-urls', self.url,
                '--listen-peer-urls', peer,
                '--initial-advertise-peer-urls', peer,
                '--initial-cluster', 't=%s' % peer,
                '--initial-cluster-state', 'new'] + self.extra_args

    def client(self, **kwargs):
        """An etcd3gw client of this server (5 s timeout)."""
        import etcd3gw
        client = etcd3gw.Etcd3Client(
            host=LOOPBACK, port=self.client_port, protocol=self.scheme,
            timeout=5, **{**self.tls, **kwargs})
        client.session.trust_env = False  # see cluster.stores.etcd_client
        return client

    def ready(self) -> bool:
        self.client().status()
        return True

    def wipe(self) -> None:
        """Forget every key and lease (the server must be stopped)."""
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self, keep: bool = True) -> None:
        """Stop (SIGTERM), wipe unless ``keep``, start again."""
        self.stop()
        if not keep:
            self.wipe()
        self.start()


class RedisServer(ChildServer):
    """redis-server without periodic persistence (see the module doc)."""

    name = 'redis'

    def __init__(self, base_dir: str, password: Optional[str] = None,
                 extra_args: tuple = (), client_timeout: float = 5.0) -> None:
        super().__init__(base_dir)
        self.port = free_port()
        self.password = password
        self.extra_args = list(extra_args)
        self.client_timeout = client_timeout

    @property
    def url(self) -> str:
        return 'redis://%s:%d/0' % (LOOPBACK, self.port)

    def command(self) -> list:
        cmd = ['redis-server', '--port', str(self.port), '--bind', LOOPBACK,
               '--dir', self.dir, '--save', '', '--appendonly', 'no',
               '--logfile', '']
        if self.password:
            cmd += ['--requirepass', self.password]
        return cmd + self.extra_args

    def client(self):
        """A redis-py client of this server (strings, not bytes)."""
        import redis
        return redis.Redis(host=LOOPBACK, port=self.port,
                           password=self.password,
                           socket_timeout=self.client_timeout,
                           decode_responses=True)

    def ready(self) -> bool:
        with self.client() as client:
            return client.ping()

    def info(self, section: str) -> dict:
        with self.client() as client:
            return client.info(section)

    def restart(self, keep: bool = True) -> None:
        """SHUTDOWN SAVE (``keep``) or NOSAVE and remove its files; start."""
        import redis
        assert self.proc is not None
        with self.client() as client:
            try:
                client.shutdown(save=keep, nosave=not keep)
            except redis.ConnectionError:
                pass  # the server closes the connection as it exits
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise SandboxError('redis-server did not shut down') from None
        if not keep:
            for name in os.listdir(self.dir):
                if name.endswith(('.rdb', '.aof')):
                    os.unlink(os.path.join(self.dir, name))
        self.start()
