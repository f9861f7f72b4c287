"""The agent's published state on disk, so a restart diffs against it.

The daemon keeps its last published state in ``[agent] state_dir`` and
loads it on start, so the first sync after a restart gives exactly the
changes made while the agent was down.  Files are replaced atomically and
durably; writes run on a thread of their own, coalesced, never on the
monitor thread (costs and guarantees: doc/source/operations.rst).
"""

import errno
import fcntl
import json
import logging
import os
import re
import socket
import stat
import threading
import time
from typing import Any, Callable, Optional

from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.exceptions import ConfigError
from df_ovsdb_agent.logsafe import safe

LOG = logging.getLogger(__name__)

FORMAT = 1
# Seconds between two writes of the agent's snapshot at most.
SNAPSHOT_INTERVAL = 0.2
SNAPSHOT_FILE = 'snapshot.json'
OWNER_FILE = 'owner-id'
LOCK_FILE = 'lock'
# What owner_id() writes (str(uuid4())): accepted without the uuid module.
CANONICAL_UUID = re.compile(
    r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z')


# Files in the state directory are opened without following a symbolic
# link (a link planted there would make the agent read, lock or truncate
# whatever it points to) and only if they are regular files (a FIFO would
# block the open).  Writes never follow one either: write_atomic creates
# its temporary file with O_EXCL | O_NOFOLLOW (mkstemp) and rename()
# replaces a link at the target itself, not what it points to.
_NO_LINK_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def open_regular(path: str, flags: int = os.O_RDONLY,
                 mode: int = 0o640) -> int:
    """An fd for ``path``, never through a symbolic link.

    :raises OSError: ``ELOOP`` for a symbolic link, ``EINVAL`` for
        anything but a regular file, or what ``open`` raised.
    """
    fd = os.open(path, flags | _NO_LINK_FLAGS, mode)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, 'not a regular file', path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str) -> bytes:
    """The bytes of the regular file ``path``, not through a link."""
    with os.fdopen(open_regular(path), 'rb') as f:
        return f.read()


def problem_text(exc: OSError) -> str:
    """Why a file could not be opened, for one log or error line."""
    if exc.errno == errno.ELOOP:
        return 'is a symbolic link; not followed'
    if exc.errno == errno.EINVAL:
        return 'is not a regular file'
    return 'cannot be read (%s)' % (exc.strerror or exc)


def write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    # Imported here: tempfile (shutil, random) costs ~4 ms that the
    # daemon's start-up does not need before its first OVSDB connection.
    import tempfile
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory,
                               prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def snapshot_body(interfaces: dict[str, Interface],
                  host: Optional[str]) -> dict[str, Any]:
    """The saved form of a snapshot (uuid -> Interface)."""
    return {'format': FORMAT, 'host': host,
            'hostname': socket.gethostname(),
            'interfaces': [i.to_dict() for i in interfaces.values()]}


def load_snapshot(path: str, host: Optional[str]
                  ) -> Optional[dict[str, Interface]]:
    """The snapshot saved at ``path``, or None with one warning why not.

    :param host: the host id this agent runs as, when configured; a file
        saved by another host (or, with no host configured, on a machine
        of another hostname) is not used.
    """
    # Logged after the except blocks: inside one, oslo.log would append
    # the exception to the line.
    body, interfaces, problem = _read_saved_state(path)
    if problem is not None:
        LOG.warning('%s; the first sync reports every interface online',
                    problem)
        return None
    mismatch = _saved_by_another_host(body, host)
    if mismatch:
        LOG.warning('Saved state %s belongs to %s, not to this host; the '
                    'first sync reports every interface online', path,
                    mismatch)
        return None
    LOG.info('Loaded saved state of %d interfaces from %s',
             len(interfaces), path)
    return interfaces


def _read_saved_state(path: str
                      ) -> tuple[dict, dict[str, Interface], Optional[str]]:
    """(the file's body, uuid -> Interface, what is wrong with it)."""
    try:
        body = json.loads(read_regular(path))
        if not isinstance(body, dict) or body.get('format') != FORMAT:
            raise ValueError('unknown format')
        interfaces = {}
        for data in body['interfaces']:
            interface = Interface.from_dict(data)
            interfaces[interface.uuid] = interface
    except FileNotFoundError:
        return {}, {}, 'No saved state at %s' % path
    except OSError as exc:
        return {}, {}, 'Saved state %s %s' % (path, problem_text(exc))
    except (ValueError, KeyError, TypeError) as exc:
        return {}, {}, 'Saved state %s is corrupt (%s)' % (
            path, safe(str(exc)))
    return body, interfaces, None


def _saved_by_another_host(body: dict, host: Optional[str]) -> Optional[str]:
    if host is not None:
        saved = body.get('host')
        if saved is not None and saved != host:
            return 'host %s' % safe(str(saved), 64)
        return None
    hostname = body.get('hostname')
    if hostname is not None and hostname != socket.gethostname():
        return 'hostname %s' % safe(str(hostname), 64)
    return None


class StateDir:
    """``[agent] state_dir``: the saved snapshot, the owner id, a lock.

    The lock keeps two daemons from sharing one directory (they would
    overwrite each other's snapshot); the owner id, made once and kept,
    tells a store that a restarted agent is the same one as before.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock_fd: Optional[int] = None

    @property
    def snapshot_path(self) -> str:
        return os.path.join(self.path, SNAPSHOT_FILE)

    def open(self) -> None:
        """Create the directory if needed and lock it.

        :raises ConfigError: unusable, or locked by another process.
        """
        try:
            os.makedirs(self.path, mode=0o750, exist_ok=True)
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            raise ConfigError('[agent] state_dir %s is not usable: %s'
                              % (self.path, exc.strerror or exc)) from None
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            # Another user could plant or swap files in it (the sticky
            # bit does not stop them from creating new ones).
            raise ConfigError('[agent] state_dir %s is group- or '
                              'world-writable (mode %04o); make it '
                              'writable by its owner only'
                              % (self.path, stat.S_IMODE(mode)))
        lock = os.path.join(self.path, LOCK_FILE)
        try:
            fd = open_regular(lock, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise ConfigError('[agent] state_dir %s: %s %s'
                              % (self.path, LOCK_FILE, problem_text(exc))
                              if exc.errno in (errno.ELOOP, errno.EINVAL)
                              else '[agent] state_dir %s is not usable: %s'
                              % (self.path, exc.strerror or exc)) from None
        if not os.access(self.path, os.W_OK):
            os.close(fd)
            raise ConfigError('[agent] state_dir %s is not writable'
                              % self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise ConfigError('[agent] state_dir %s is in use by '
                                  'another df-ovsdb-agent' % self.path
                                  ) from None
            raise
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def owner_id(self) -> str:
        """This installation's stable owner id (made on first use)."""
        path = os.path.join(self.path, OWNER_FILE)
        try:
            owner = read_regular(path).decode().strip()
            if not CANONICAL_UUID.match(owner):
                # The form this method writes is checked without the uuid
                # module (~5 ms with platform, before the first OVSDB
                # connection); any other is checked as it always was.
                import uuid
                uuid.UUID(owner)
            return owner
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                # Replaced below: rename() replaces a link, not its target.
                LOG.warning('Owner id file %s %s; making a new one', path,
                            problem_text(exc))
        except ValueError:  # UnicodeDecodeError too
            pass
        import uuid
        owner = str(uuid.uuid4())
        write_atomic(path, (owner + '\n').encode())
        return owner


def _sorted_json(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True).encode()


class StateWriter:
    """Writes ``body()`` to ``path`` on its own thread whenever marked.

    Coalescing: marks that arrive while a write is in flight cause exactly
    one more write, of the state as it is then.
    """

    def __init__(self, path: str, body: Callable[[], Any],
                 name: str = 'state', min_interval: float = 0.0,
                 encode: Optional[Callable[[Any], bytes]] = None) -> None:
        """:param min_interval: seconds between the starts of two writes,
            so that sustained churn on a big host costs a bounded share
            of a core (a stop still writes at once).
        :param encode: turns ``body()`` into the file's bytes, on the
            writer thread (default: sorted JSON).
        """
        self.path = path
        self._make_body = body
        self._encode = encode or _sorted_json
        self.min_interval = min_interval
        self._next_write = 0.0
        self._cond = threading.Condition()
        self._dirty = False
        self._closing = False
        self._writing = False
        self.writes = 0
        self.failures = 0
        self.last_duration: Optional[float] = None
        self._failing = False
        self._written: Any = None  # the body last written
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='df-ovsdb-%s-writer' % name)

    def start(self) -> None:
        """Start the writer thread (again, after a :meth:`stop`)."""
        if self._thread.is_alive():
            return
        with self._cond:
            self._closing = False
        if self._thread.ident is not None:  # threads start only once
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=self._thread.name)
        self._thread.start()

    def mark(self) -> None:
        """The state changed: write it (soon, once)."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until the state as of now is on disk."""
        self.mark()
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._dirty or self._writing) or
                not self._thread.is_alive(), timeout)

    def stop(self, timeout: Optional[float] = None) -> None:
        """Write what is pending, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def write_now(self) -> None:
        """Write on the calling thread (the thread must be stopped)."""
        self._write()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._dirty or self._closing)
                if not self._dirty:
                    return
                # Marks arriving meanwhile are taken by this same write.
                while not self._closing:
                    wait = self._next_write - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                self._dirty = False
                self._writing = True
                self._next_write = time.monotonic() + self.min_interval
            try:
                self._write()
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def _write(self) -> None:
        began = time.monotonic()
        try:
            body = self._make_body()
            if body == self._written:
                return  # e.g. a second mark for an already written batch
            write_atomic(self.path, self._encode(body))
        except (OSError, TypeError, ValueError) as exc:
            self.failures += 1
            if not self._failing:  # one line per outage, not per write
                LOG.error('Cannot write %s: %s; will retry on the next '
                          'change', self.path,
                          getattr(exc, 'strerror', None) or exc)
            self._failing = True
            return
        if self._failing:
            LOG.info('Writing %s works again', self.path)
        self._failing = False
        self._written = body
        self.writes += 1
        self.last_duration = time.monotonic() - began
