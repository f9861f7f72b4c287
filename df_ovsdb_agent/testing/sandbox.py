"""A throw-away Open vSwitch on 127.0.0.1: real ovsdb-server and vswitchd.

Used by the demo, the functional tests and the benchmarks.  Processes run
as foreground children and are stopped by PID (a ``--detach``ed daemon is
re-parented to PID 1, which reaps slowly in containers).  Needs Debian's
``openvswitch-switch``; no kernel module: ovs-vswitchd runs with the dummy
datapath and still assigns real OpenFlow ports.
"""

import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional

LOG = logging.getLogger(__name__)

SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
LOOPBACK = '127.0.0.1'


class SandboxError(RuntimeError):
    """The sandbox could not be set up."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str,
             interval: float = 0.01) -> None:
    """Poll ``predicate`` until true; for external processes only."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SandboxError('timed out after %ss waiting for %s'
                               % (timeout, what))
        time.sleep(interval)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def unix_listening(path: str) -> bool:
    """Whether a unix socket at ``path`` accepts connections."""
    # The socket file appears at bind(), before listen(): connect to it.
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(path) == 0


def stop_process(proc: Optional[subprocess.Popen], sig: int) -> None:
    """Signal a child by PID (waking it if stopped) and reap it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(sig)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class ChildServer:
    """A server run as a foreground child in a directory of its own.

    Stopped and killed by PID (never detached: see shared notes), its
    output in ``<dir>/<name>.log``.  Subclasses say how to run it
    (:meth:`command`) and when it answers (:meth:`ready`); used for etcd
    and redis-server by the tests and the fleet benchmark.
    """

    name = 'server'

    def __init__(self, base_dir: str) -> None:
        self.dir = base_dir
        os.makedirs(self.dir, exist_ok=True)
        self.proc: Optional[subprocess.Popen] = None
        self.log = os.path.join(self.dir, '%s.log' % self.name)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise SandboxError('%s is not running' % self.name)
        return self.proc.pid

    def command(self) -> list:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 15.0) -> None:
        """Start it and wait until :meth:`ready` (or raise SandboxError)."""
        binary = self.command()[0]
        if shutil.which(binary) is None:
            raise SandboxError('%s is not installed; run tools/setup.sh'
                               % binary)
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen(self.command(), stdout=log,
                                         stderr=subprocess.STDOUT,
                                         cwd=self.dir)
        wait_for(self._ready, timeout, '%s in %s' % (self.name, self.dir),
                 interval=0.05)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SandboxError('%s exited with %s; see %s' % (
                self.name, self.proc.returncode, self.log))
        try:
            return self.ready()
        except Exception:  # not answering yet, whatever the client says
            return False

    def kill(self) -> None:
        """kill -9 the server and reap it."""
        stop_process(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM)


class OvsSandbox:
    """ovsdb-server (+ optional ovs-vswitchd) in a temporary directory."""

    def __init__(self, base_dir: Optional[str] = None, vswitchd: bool = True,
                 port: Optional[int] = None,
                 schema: str = SCHEMA) -> None:
        self._own_dir = base_dir is None
        self.dir = base_dir or tempfile.mkdtemp(prefix='df-ovsdb-sandbox-')
        self.want_vswitchd = vswitchd
        self.port = port or free_port()
        self.schema = schema
        self.db = os.path.join(self.dir, 'conf.db')
        self.sock = os.path.join(self.dir, 'db.sock')
        self.ovsdb: Optional[subprocess.Popen] = None
        self.vswitchd: Optional[subprocess.Popen] = None
        self.extra_remotes: list[str] = []
        self._api = None
        self._api_conn = None

    @property
    def remote(self) -> str:
        return 'tcp:%s:%d' % (LOOPBACK, self.port)

    @property
    def unix_remote(self) -> str:
        return 'unix:%s' % self.sock

    def __enter__(self) -> 'OvsSandbox':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        for tool in ('ovsdb-tool', 'ovsdb-server', 'ovs-vsctl'):
            if shutil.which(tool) is None:
                raise SandboxError('%s not found; install Debian package '
                                   'openvswitch-switch' % tool)
        if not os.path.exists(self.db):
            subprocess.run(['ovsdb-tool', 'create', self.db, self.schema],
                           check=True, capture_output=True)
        self.start_ovsdb()
        if self.schema == SCHEMA:
            self.vsctl('init')
        if self.want_vswitchd:
            self.start_vswitchd()

    def start_ovsdb(self) -> None:
        """(Re)start ovsdb-server on the same port and database."""
        cmd = ['ovsdb-server', self.db,
               '--remote=ptcp:%d:%s' % (self.port, LOOPBACK),
               '--remote=punix:%s' % self.sock,
               '--unixctl=%s' % os.path.join(self.dir, 'ovsdb-server.ctl'),
               '--pidfile=%s' % os.path.join(self.dir, 'ovsdb-server.pid'),
               '--log-file=%s' % os.path.join(self.dir, 'ovsdb-server.log'),
               '--no-chdir']
        cmd += ['--remote=%s' % r for r in self.extra_remotes]
        self.ovsdb = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        wait_for(lambda: self._ovsdb_ready(), 10, 'ovsdb-server on port %d'
                 % self.port)

    def _ovsdb_ready(self) -> bool:
        assert self.ovsdb is not None  # started by start_ovsdb()
        if self.ovsdb.poll() is not None:
            raise SandboxError('ovsdb-server exited with %s; see %s'
                               % (self.ovsdb.returncode, self.dir))
        return _listening(self.port) and unix_listening(self.sock)

    def start_vswitchd(self) -> None:
        env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir,
                   OVS_DBDIR=self.dir)
        self.vswitchd = subprocess.Popen(
            ['ovs-vswitchd', 'unix:%s' % self.sock,
             '--enable-dummy=override', '--disable-system',
             '--pidfile=%s' % os.path.join(self.dir, 'ovs-vswitchd.pid'),
             '--unixctl=%s' % os.path.join(self.dir, 'ovs-vswitchd.ctl'),
             '--log-file=%s' % os.path.join(self.dir, 'ovs-vswitchd.log'),
             '--no-chdir'],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # vswitchd is up once it has acknowledged the configuration.
        self.vsctl('--timeout=10', 'set', 'Open_vSwitch', '.',
                   'external_ids:sandbox=1', wait=True)

    def signal_vswitchd(self, sig: int) -> None:
        """Send ``sig`` to ovs-vswitchd (e.g. SIGSTOP, SIGCONT)."""
        if self.vswitchd is None or self.vswitchd.poll() is not None:
            raise SandboxError('ovs-vswitchd is not running')
        self.vswitchd.send_signal(sig)

    def stop_vswitchd(self, sig: int = signal.SIGTERM) -> None:
        """Stop ovs-vswitchd with ``sig`` and reap it; start_vswitchd()
        brings it back on the same database.
        """
        stop_process(self.vswitchd, sig)

    def vsctl(self, *args: str, wait: Optional[bool] = None) -> str:
        """Run ovs-vsctl against the sandbox and return its stdout.

        Waits for ovs-vswitchd to apply the change when it runs, so ofports
        are assigned by the time this returns.
        """
        if wait is None:
            wait = self.vswitchd is not None and self.vswitchd.poll() is None
        cmd = ['ovs-vsctl', '--db=%s' % self.unix_remote, '--timeout=20']
        if not wait:
            cmd.append('--no-wait')
        result = subprocess.run(cmd + list(args), capture_output=True,
                                text=True)
        if result.returncode:
            raise SandboxError('ovs-vsctl %s failed: %s'
                               % (' '.join(args), result.stderr.strip()))
        return result.stdout

    # -- the write side through ovsdbapp -------------------------------------

    def ovs_api(self):
        """ovsdbapp's Open_vSwitch API on this sandbox (connected on first
        use, closed by :meth:`stop`).

        Like ``ovs-vsctl``, a commit waits for ovs-vswitchd to apply it
        when vswitchd runs (so ofports are assigned on return), and does
        not wait when it does not.
        """
        if self._api is None:
            # ovsdbapp is the optional `demo` extra, not a requirement.
            try:
                from ovsdbapp.backend.ovs_idl import connection
                from ovsdbapp.schema.open_vswitch import impl_idl
            except ImportError:
                raise SandboxError(
                    "the sandbox's write API needs ovsdbapp: pip install "
                    "'df-ovsdb-agent[demo]'") from None
            box = self

            class NoWait(impl_idl.OvsVsctlTransaction):
                def do_post_commit(self, txn):
                    """ovs-vsctl --no-wait: nobody bumps cur_cfg."""

            class Api(impl_idl.OvsdbIdl):
                def create_transaction(self, check_error=False,
                                       log_errors=True, **kwargs):
                    if box.vswitchd is not None and \
                            box.vswitchd.poll() is None:
                        return super().create_transaction(
                            check_error, log_errors, **kwargs)
                    return NoWait(self, self.ovsdb_connection,
                                  check_error=check_error,
                                  log_errors=log_errors)

            idl = connection.OvsdbIdl.from_server(self.unix_remote,
                                                  'Open_vSwitch')
            self._api_conn = connection.Connection(idl, timeout=20)
            self._api = Api(self._api_conn)
        return self._api

    def add_bridge(self, name: str) -> None:
        """Add a bridge (and its internal interface) if it is missing."""
        self.ovs_api().add_br(name).execute(check_error=True)

    def add_port(self, bridge: str, name: str, **interface) -> None:
        """Add a port with one interface of the same name.

        ``interface``: Interface columns, e.g. ``type='vxlan'``,
        ``options={'remote_ip': ...}``, ``external_ids={'iface-id': ...}``,
        ``ofport=5`` (without ovs-vswitchd).
        """
        api = self.ovs_api()
        # One transaction; the columns by db_set, as ovsdbapp before 2.2
        # takes no Interface columns in add_port.
        with api.transaction(check_error=True) as txn:
            txn.add(api.add_port(bridge, name))
            if interface:
                txn.add(api.db_set('Interface', name, *interface.items()))

    def del_port(self, name: str) -> None:
        """Remove a port (and its interfaces) from whichever bridge."""
        self.ovs_api().del_port(name).execute(check_error=True)

    def offline_vsctl(self, *args: str) -> str:
        """Change the database while the main ovsdb-server is down.

        Serves the database file from a private socket nobody else knows,
        so the change is made exactly as if it happened during an outage.
        """
        if self.ovsdb is not None and self.ovsdb.poll() is None:
            raise SandboxError('offline_vsctl needs ovsdb-server stopped')
        sock = os.path.join(self.dir, 'offline.sock')
        proc = subprocess.Popen(
            ['ovsdb-server', self.db, '--remote=punix:%s' % sock,
             '--unixctl=%s' % os.path.join(self.dir, 'offline.ctl'),
             '--no-chdir'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: os.path.exists(sock), 10, 'offline ovsdb-server')
            result = subprocess.run(
                ['ovs-vsctl', '--db=unix:%s' % sock, '--no-wait',
                 '--timeout=20'] + list(args), capture_output=True, text=True)
        finally:
            stop_process(proc, signal.SIGTERM)
        if result.returncode:
            raise SandboxError('ovs-vsctl %s failed: %s'
                               % (' '.join(args), result.stderr.strip()))
        return result.stdout

    def signal_ovsdb(self, sig: int) -> None:
        if self.ovsdb is None:
            raise SandboxError('ovsdb-server is not running')
        self.ovsdb.send_signal(sig)

    def kill_ovsdb(self, sig: int = signal.SIGKILL) -> None:
        """kill -9 (or another ``sig``) ovsdb-server and reap it."""
        stop_process(self.ovsdb, sig)

    def restart_ovsdb(self) -> None:
        self.kill_ovsdb()
        self.start_ovsdb()

    def stop(self) -> None:
        """Stop every process by PID and remove the directory we made."""
        if self._api_conn is not None:
            self._api_conn.stop(timeout=5)
            self._api_conn = self._api = None
        stop_process(self.vswitchd, signal.SIGTERM)
        stop_process(self.ovsdb, signal.SIGTERM)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
