"""``listening.py PID``: the TCP addresses process PID listens on.

Prints one ``ADDRESS:PORT`` per listening socket (``127.0.0.1:6640``,
``[::1]:6640``, ``0.0.0.0:6640``), read from /proc, so the harness needs no
iproute2.
"""

import ipaddress
import os
import socket
import struct
import sys

LISTEN = '0A'


def socket_inodes(pid: str) -> set:
    """Inodes of the sockets process ``pid`` has open."""
    fd_dir = '/proc/%s/fd' % pid
    inodes = set()
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    return inodes


def decode(hex_address: str, family: int) -> str:
    """/proc/net/tcp{,6} ``HEXADDR:HEXPORT`` to ``ADDRESS:PORT``."""
    address, port = hex_address.split(':')
    # The kernel prints each 32-bit word in host (little-endian) order.
    raw = b''.join(struct.pack('<I', int(address[i:i + 8], 16))
                   for i in range(0, len(address), 8))
    host = str(ipaddress.ip_address(raw))
    if family == socket.AF_INET6:
        host = '[%s]' % host
    return '%s:%d' % (host, int(port, 16))


def listening(pid: str) -> list:
    inodes = socket_inodes(pid)
    found = []
    for table, family in (('/proc/net/tcp', socket.AF_INET),
                          ('/proc/net/tcp6', socket.AF_INET6)):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            next(f)  # header
            for line in f:
                fields = line.split()
                if fields[3] == LISTEN and fields[9] in inodes:
                    found.append(decode(fields[1], family))
    return sorted(found)


def main(argv: list) -> int:
    if len(argv) != 1:
        print('usage: listening.py PID', file=sys.stderr)
        return 2
    for address in listening(argv[0]):
        print(address)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
