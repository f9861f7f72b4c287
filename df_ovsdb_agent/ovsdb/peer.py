"""Who serves a local remote: only root or the Open vSwitch user is believed.

Any local user can listen on ``127.0.0.1:6640`` when ovsdb-server does not
(stock Open vSwitch listens only on its unix socket), or bind a socket file
in a directory it can write.  Before a single byte of a local peer is used,
the user that runs it is checked against a short list (``[ovsdb]
trusted_users``: root and ``openvswitch``, the user RHEL and Fedora run
Open vSwitch as), plus the agent's own user (it could change the agent
itself anyway):

* ``unix:`` -- the peer's credentials on the connected socket
  (``SO_PEERCRED``: the user that created the listening socket);
* ``tcp:`` to a loopback address (127.0.0.0/8, ``::1``, IPv4-mapped) --
  the owner of the server's end of this very connection, asked of the
  kernel for that one socket (``NETLINK_SOCK_DIAG``, IPv4), else read from
  ``/proc/net/tcp`` and ``/proc/net/tcp6``;
* ``ssl:`` remotes are checked by their certificate and ``tcp:`` remotes
  to other addresses are not checked here.

When ``/proc`` cannot tell, the peer is refused: never trusted by default.
The parsing and the decision are pure functions, tested on their own.
"""

import ipaddress
import logging
import os
import pwd
import socket
import struct
import sys
import time
from typing import Callable, Iterable, Iterator, NamedTuple, Optional, Union

from df_ovsdb_agent.exceptions import OvsdbUnreachable
from df_ovsdb_agent import logsafe

LOG = logging.getLogger(__name__)

DEFAULT_TRUSTED_USERS = ('root', 'openvswitch')
PROC_TABLES = ('/proc/net/tcp', '/proc/net/tcp6')
TCP_ESTABLISHED = 0x01
# A /proc/net/tcp line is ~150 characters; anything much longer is not one.
MAX_LINE = 512

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Endpoint = tuple  # (IPAddress, port)


class UntrustedPeer(OvsdbUnreachable):
    """A local peer is run by a user that is not trusted (or nobody can
    tell which); ``str()`` is the one line to log or print.
    """


class SocketEntry(NamedTuple):
    """One line of ``/proc/net/tcp`` or ``/proc/net/tcp6``."""

    local: Endpoint
    remote: Endpoint
    state: int
    uid: int
    inode: int


# -- /proc/net/tcp ----------------------------------------------------------

def decode_address(text: str, byteorder: str = sys.byteorder) -> Endpoint:
    """``0100007F:18E8`` -> (IPv4Address('127.0.0.1'), 6376).

    The kernel prints each 32-bit word of the address as a host-order
    number; IPv4-mapped IPv6 addresses come back as IPv4 addresses, so a
    dual-stack server's end compares equal to our IPv4 end.

    :raises ValueError: not an address of /proc/net/tcp or tcp6.
    """
    host, sep, port = text.partition(':')
    if not sep or len(port) != 4 or len(host) not in (8, 32):
        raise ValueError('not a /proc/net/tcp address: %r' % text[:80])
    order = '<' if byteorder == 'little' else '>'
    raw = b''.join(struct.pack(order + 'I', int(host[i:i + 8], 16))
                   for i in range(0, len(host), 8))
    address: IPAddress = ipaddress.ip_address(raw)
    return normal(address), int(port, 16)


def normal(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as the IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and \
            address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_line(line: str,
               byteorder: str = sys.byteorder) -> Optional[SocketEntry]:
    """One socket of /proc/net/tcp{,6}; None for the header or garbage."""
    if len(line) > MAX_LINE:
        return None
    fields = line.split()
    if len(fields) < 10 or not fields[0].endswith(':'):
        return None
    try:
        return SocketEntry(decode_address(fields[1], byteorder),
                           decode_address(fields[2], byteorder),
                           int(fields[3], 16), int(fields[7]),
                           int(fields[9]))
    except ValueError:
        return None


def parse_table(text: str, byteorder: str = sys.byteorder,
                port: Optional[int] = None) -> Iterator[SocketEntry]:
    """Every socket of a /proc/net/tcp{,6} text.

    :param port: only sockets whose local port is this one (cheaply
        filtered before parsing: a hypervisor may have many sockets).
    """
    tail = None if port is None else ':%04X' % port
    for line in text.splitlines():
        if tail is not None:
            fields = line.split(None, 2)
            if len(fields) < 2 or not fields[1].endswith(tail):
                continue
        entry = parse_line(line, byteorder)
        if entry is not None:
            yield entry


def server_end(entries: Iterable[SocketEntry], client: Endpoint,
               server: Endpoint) -> Optional[SocketEntry]:
    """The server's socket of the connection ``client`` -> ``server``."""
    for entry in entries:
        if entry.local == server and entry.remote == client:
            return entry
    return None


def owner(entry: Optional[SocketEntry]) -> Optional[int]:
    """The uid that owns the server's end, or None while it cannot tell.

    Only an established socket tells: the kernel prints uid 0 for a
    closing (time-wait) one.  A connection still in the accept queue (no
    inode yet, e.g. a SIGSTOPped server) carries its listener's owner
    (``sk_uid`` is copied to the child, Linux 4.10 and later), so it
    tells too.
    """
    if entry is None or entry.state != TCP_ESTABLISHED:
        return None
    return entry.uid


def read_tables(paths: Iterable[str] = PROC_TABLES) -> Iterator[str]:
    """The texts of /proc/net/tcp and tcp6 (of this network namespace),
    one by one: each read costs the kernel a walk of all its sockets, and
    the IPv4 table usually has the answer.
    """
    for path in paths:
        try:
            with open(path, encoding='ascii', errors='replace') as f:
                text = f.read()
        except FileNotFoundError:  # e.g. a kernel without IPv6
            continue
        yield text


# -- NETLINK_SOCK_DIAG: one socket, looked up by the kernel -----------------

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
_NLMSG = struct.Struct('=IHHII')          # struct nlmsghdr
_REQ = struct.Struct('=BBBBI')            # struct inet_diag_req_v2 head
_SOCKID = struct.Struct('!HH16s16s')      # inet_diag_sockid: ports, addrs
_NO_COOKIE = struct.pack('=III', 0, 0xffffffff, 0xffffffff)  # if, cookie
_MSG_HEAD = struct.Struct('=BB')          # inet_diag_msg: family, state
_MSG_UID = struct.Struct('=II')           # inet_diag_msg: uid, inode
_MSG_UID_AT = _NLMSG.size + 4 + 48 + 12
_MSG_SIZE = _NLMSG.size + 72


def diag_server_entry(client: Endpoint, server: Endpoint,
                      timeout: float = 1.0) -> Optional[SocketEntry]:
    """The server's end of our IPv4 connection ``client`` -> ``server``,
    asked of the kernel (``NETLINK_SOCK_DIAG``, an exact lookup, no
    ``NLM_F_DUMP``): reading /proc/net/tcp makes the kernel walk every
    TCP socket of the host (17 ms of CPU at 3,400 sockets, per
    connection), this looks up one (~0.04 ms).

    :returns: the entry, or None when this cannot tell (no sock_diag,
        not IPv4, no such connection; the kernel answers a lookup that
        misses with the listening socket, which is not the answer).
    """
    if client[0].version != 4 or server[0].version != 4:
        return None
    server_raw = server[0].packed + bytes(12)
    client_raw = client[0].packed + bytes(12)
    sockid = _SOCKID.pack(server[1], client[1], server_raw, client_raw)
    request = _REQ.pack(socket.AF_INET, socket.IPPROTO_TCP, 0, 0,
                        0xffffffff) + sockid + _NO_COOKIE
    header = _NLMSG.pack(_NLMSG.size + len(request), SOCK_DIAG_BY_FAMILY,
                         NLM_F_REQUEST, 1, 0)
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                           NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(timeout)
            nl.sendto(header + request, (0, 0))
            data = nl.recv(8192)
    except OSError as exc:  # no netlink or no inet_diag here
        LOG.debug('sock_diag lookup failed (%s); reading /proc', exc)
        return None
    if len(data) < _MSG_SIZE or \
            _NLMSG.unpack_from(data)[1] != SOCK_DIAG_BY_FAMILY:
        return None  # an error (ENOENT...) or not an inet_diag_msg
    family, state = _MSG_HEAD.unpack_from(data, _NLMSG.size)
    if family != socket.AF_INET or _SOCKID.unpack_from(
            data, _NLMSG.size + 4) != (server[1], client[1], server_raw,
                                       client_raw):
        return None
    uid, inode = _MSG_UID.unpack_from(data, _MSG_UID_AT)
    return SocketEntry(server, client, state, uid, inode)


def tcp_server_uid(client: Endpoint, server: Endpoint, deadline: float,
                   read: Callable[[], Iterable[str]] = read_tables,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep
                   ) -> Optional[int]:
    """The owner of the server's end of our loopback TCP connection.

    The exact established connection is looked up, not the listening
    socket of the port: it is the very socket that talks to us, so nothing
    can change between the look-up and the first byte (a listener found
    by port could have been closed and the port taken over meanwhile), and
    it is unique where listeners are not (a dual-stack ``[::]`` listener
    next to a ``127.0.0.1`` one, ``SO_REUSEPORT`` groups).  A server end
    not found or not established yet is looked for again until
    ``deadline``.

    :returns: the uid, or None if /proc could not tell by ``deadline``.
    """
    client = (normal(client[0]), client[1])
    server = (normal(server[0]), server[1])
    if read is read_tables:
        # The kernel's own look-up first; /proc (and its retries) when it
        # cannot tell.
        uid = owner(diag_server_entry(client, server))
        if uid is not None:
            return uid
    wait = 0.002
    while True:
        found = None
        for text in read():
            found = server_end(parse_table(text, port=server[1]), client,
                               server)
            if found is not None:
                break
        uid = owner(found)
        if uid is not None:
            return uid
        left = deadline - clock()
        if left <= 0:
            return None
        sleep(min(wait, left))
        wait = min(wait * 2, 0.1)


# -- the decision -----------------------------------------------------------

def is_loopback(address: IPAddress) -> bool:
    return normal(address).is_loopback


def resolve_users(names: Iterable[str]) -> dict[int, str]:
    """uid -> name for the names that exist here (digits are uids).

    A user that does not exist on this host is simply not trusted.
    """
    uids: dict[int, str] = {}
    for name in names:
        name = name.strip()
        if name.isdigit():
            uids[int(name)] = name
            continue
        try:
            uids[pwd.getpwnam(name).pw_uid] = name
        except KeyError:
            LOG.debug('Trusted user %s does not exist here', name)
    return uids


def describe_uid(uid: int) -> str:
    """``uid 65534 (nobody)``, or ``uid 1234`` for an unknown uid."""
    try:
        return 'uid %d (%s)' % (uid, logsafe.safe(pwd.getpwuid(uid).pw_name,
                                                  64))
    except KeyError:
        return 'uid %d' % uid


def verdict(remote: str, uid: Optional[int], trusted: Iterable[int],
            names: Iterable[str], source: str) -> Optional[str]:
    """None if ``uid`` is trusted, else the one line saying why not.

    :param source: where the uid was read, for the "cannot tell" line.
    """
    if uid is None:
        return ('OVSDB at %s: cannot tell which user serves it (no '
                'established server socket for this connection in %s); '
                'refused' % (remote, source))
    if uid in set(trusted):
        return None
    return ('OVSDB at %s is run by %s, not by a trusted user (%s); refused'
            % (remote, describe_uid(uid), ', '.join(names) or 'none'))


class PeerTrust:
    """Decides whether the peer of a freshly connected socket is believed.

    :meth:`check` runs right after ``connect()``, before anything is sent
    or read.
    """

    def __init__(self, users: Iterable[str] = DEFAULT_TRUSTED_USERS,
                 enabled: bool = True,
                 read: Callable[[], Iterable[str]] = read_tables) -> None:
        self.enabled = enabled
        self.names = tuple(u.strip() for u in users if u.strip())
        self.uids = set(resolve_users(self.names))
        # The agent's own user could change the agent itself: a peer it
        # runs is no less trusted than the agent.
        self.uids.add(os.geteuid())
        self._read = read

    def check(self, remote: str, sock: socket.socket,
              deadline: float) -> None:
        """Return if the peer may be believed.

        :raises UntrustedPeer: it is run by another user, or nobody can
            tell by ``deadline``.
        :raises OSError: the socket is no longer connected.
        """
        if not self.enabled or remote.startswith('ssl:'):
            return
        if sock.family == socket.AF_UNIX:
            uid: Optional[int] = unix_peer_uid(sock)
            source = 'SO_PEERCRED'
        elif sock.family in (socket.AF_INET, socket.AF_INET6):
            peer = sock.getpeername()
            server = (ipaddress.ip_address(peer[0].partition('%')[0]),
                      peer[1])
            if not is_loopback(server[0]):
                return  # not a local peer: not ours to judge
            local = sock.getsockname()
            client = (ipaddress.ip_address(local[0].partition('%')[0]),
                      local[1])
            uid = tcp_server_uid(client, server, deadline, self._read)
            source = '/proc/net/tcp and tcp6'
        else:
            return
        problem = verdict(remote, uid, self.uids, self.names, source)
        if problem is not None:
            raise UntrustedPeer(problem)
        LOG.debug('OVSDB at %s is run by trusted %s', remote,
                  describe_uid(uid) if uid is not None else '?')


def unix_peer_uid(sock: socket.socket) -> int:
    """The uid of the process that made the listening end of ``sock``."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                            struct.calcsize('iII'))
    return struct.unpack('iII', creds)[1]


__all__ = ['DEFAULT_TRUSTED_USERS', 'PeerTrust', 'SocketEntry',
           'UntrustedPeer', 'decode_address', 'owner', 'parse_line',
           'parse_table', 'server_end', 'tcp_server_uid', 'verdict']
