"""ovsdb-server processes the sandbox does not cover: SSL, clustered
databases and relays, with free-form arguments, on 127.0.0.1.

Each runs as a foreground child and is stopped by PID.
"""

import os
import signal
import socket
import subprocess
from typing import Iterable, Optional

from df_ovsdb_agent.testing.rpc import Client
from df_ovsdb_agent.testing.rpc import RpcError
from df_ovsdb_agent.testing.sandbox import free_port
from df_ovsdb_agent.testing.sandbox import LOOPBACK
from df_ovsdb_agent.testing.sandbox import SandboxError
from df_ovsdb_agent.testing.sandbox import SCHEMA
from df_ovsdb_agent.testing.sandbox import stop_process
from df_ovsdb_agent.testing.sandbox import unix_listening
from df_ovsdb_agent.testing.sandbox import wait_for


class OvsdbProcess:
    """One ovsdb-server with free-form arguments, run as a child by PID.

    The sandbox covers the usual standalone server; this one serves the
    cases it does not: SSL, clustered databases and relays.
    """

    def __init__(self, workdir: str, name: str, sources: list[str],
                 port: Optional[int] = None, passive: str = 'ptcp',
                 extra_args: Iterable[str] = ()) -> None:
        self.dir = workdir
        self.name = name
        self.sources = list(sources)
        self.port = port or free_port()
        self.passive = passive
        self.extra_args = list(extra_args)
        self.sock = os.path.join(workdir, '%s.sock' % name)
        self.ctl = os.path.join(workdir, '%s.ctl' % name)
        self.log = os.path.join(workdir, '%s.log' % name)
        self.proc: Optional[subprocess.Popen] = None

    @property
    def remote(self) -> str:
        method = self.passive[1:]
        return '%s:%s:%d' % (method, LOOPBACK, self.port)

    @property
    def unix_remote(self) -> str:
        return 'unix:%s' % self.sock

    def start(self, wait: bool = True) -> None:
        cmd = (['ovsdb-server'] + self.sources +
               ['--remote=%s:%d:%s' % (self.passive, self.port, LOOPBACK),
                '--remote=punix:%s' % self.sock,
                '--unixctl=%s' % self.ctl,
                '--pidfile=%s' % os.path.join(self.dir, '%s.pid' % self.name),
                '--log-file=%s' % self.log, '--no-chdir'] + self.extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if wait:
            wait_for(self._ready, 15, '%s on port %d' % (self.name,
                                                         self.port))

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SandboxError('%s exited with %s; see %s'
                               % (self.name, self.proc.returncode,
                                  self.log))
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((LOOPBACK, self.port)) != 0:
                return False
        # The socket file appears at bind(), before listen(): under load a
        # client can be refused in between, so connect to it too.
        return unix_listening(self.sock)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """kill -9 and reap."""
        stop_process(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM)

    def appctl(self, *args: str) -> str:
        return subprocess.run(['ovs-appctl', '-t', self.ctl] + list(args),
                              capture_output=True, text=True, timeout=10,
                              check=True).stdout


def wait_serving(remote: str, database: str = 'Open_vSwitch',
                 timeout: float = 20.0) -> None:
    """Wait until ``remote`` serves ``database``.

    Clusters and relays join their source some time after they listen.
    """
    def serving() -> bool:
        try:
            with Client(remote, timeout=2) as rpc:
                rpc.call('get_schema', [database])
                return True
        except (OSError, RpcError):
            return False
    wait_for(serving, timeout, '%s to serve %s' % (remote, database),
             interval=0.05)


def create_db(path: str, schema: str = SCHEMA) -> None:
    subprocess.run(['ovsdb-tool', 'create', path, schema], check=True,
                   capture_output=True)


def create_cluster(path: str, raft_port: int, schema: str = SCHEMA) -> None:
    """A single-member clustered database (keeps transaction history)."""
    subprocess.run(['ovsdb-tool', 'create-cluster', path, schema,
                    'tcp:%s:%d' % (LOOPBACK, raft_port)],
                   check=True, capture_output=True)


def join_cluster(path: str, raft_port: int, leader_port: int,
                 database: str = 'Open_vSwitch') -> None:
    """A member joining the cluster whose member listens on ``leader_port``."""
    subprocess.run(['ovsdb-tool', 'join-cluster', path, database,
                    'tcp:%s:%d' % (LOOPBACK, raft_port),
                    'tcp:%s:%d' % (LOOPBACK, leader_port)],
                   check=True, capture_output=True)
