"""Who serves a local remote: /proc/net/tcp parsing and the trust decision.

The pure parts are fed lines as the kernel prints them; the look-ups run
against this machine's own kernel with sockets made here (loopback only).
"""

import ipaddress
import os
import socket
import time

import pytest

from df_ovsdb_agent.ovsdb import peer

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address

HEADER = ('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when '
          'retrnsmt   uid  timeout inode')
# A nobody listener on 127.0.0.1:6640, its accepted end and root's client
# end (little-endian, as x86 and arm64 print them).
LISTEN = ('   0: 0100007F:19F0 00000000:0000 0A 00000000:00000000 '
          '00:00000000 00000000 65534        0 17303 1 00000000cb643237 '
          '100 0 0 10 0')
SERVER = ('   1: 0100007F:19F0 0100007F:BA2C 01 00000000:00000000 '
          '00:00000000 00000000 65534        0 17304 1 00000000d6877357 '
          '20 0 0 10 -1')
CLIENT = ('   2: 0100007F:BA2C 0100007F:19F0 01 00000000:00000000 '
          '00:00000000 00000000     0        0 18848 2 00000000b39272a3 '
          '20 0 0 10 -1')
TABLE = '\n'.join([HEADER, LISTEN, SERVER, CLIENT]) + '\n'
US = (V4('127.0.0.1'), 0xBA2C)
THEM = (V4('127.0.0.1'), 6640)


@pytest.mark.parametrize('text,byteorder,expected', [
    ('0100007F:19F0', 'little', (V4('127.0.0.1'), 6640)),
    ('7F000001:19F0', 'big', (V4('127.0.0.1'), 6640)),
    ('0200007F:0050', 'little', (V4('127.0.0.2'), 80)),
    ('00000000000000000000000001000000:19F0', 'little', (V6('::1'), 6640)),
    ('00000000000000000000000000000001:19F0', 'big', (V6('::1'), 6640)),
    # IPv4-mapped: a dual-stack server's end of an IPv4 connection.
    ('0000000000000000FFFF00000100007F:B013', 'little',
     (V4('127.0.0.1'), 0xB013)),
])
def test_decode_address(text, byteorder, expected):
    assert peer.decode_address(text, byteorder) == expected


@pytest.mark.parametrize('text', [
    '', '0100007F', '0100007F:19F', '100007F:19F0', 'ZZ00007F:19F0',
    '0100007F:ZZZZ', '01000000000000000000000000000000000007F:19F0'])
def test_decode_address_refuses_garbage(text):
    with pytest.raises(ValueError):
        peer.decode_address(text)


def test_parse_line():
    entry = peer.parse_line(SERVER, 'little')
    assert entry == peer.SocketEntry(THEM, US, peer.TCP_ESTABLISHED, 65534,
                                     17304)
    assert peer.parse_line(HEADER, 'little') is None
    assert peer.parse_line('', 'little') is None
    assert peer.parse_line('   0: garbage here 0A 1 2 3 4 5 6 7', 'little') \
        is None
    # Bounded: a line far longer than any real one is not parsed.
    assert peer.parse_line(SERVER + ' ' * 1000, 'little') is None


def test_parse_table_filters_by_port_and_skips_bad_lines():
    text = TABLE + 'garbage\n   9: 0100007F:19F0 nonsense\n'
    assert len(list(peer.parse_table(text, 'little'))) == 3
    mine = list(peer.parse_table(text, 'little', port=6640))
    assert [e.inode for e in mine] == [17303, 17304]


def test_the_server_end_of_our_connection_not_the_listener_or_ours():
    entries = list(peer.parse_table(TABLE, 'little'))
    found = peer.server_end(entries, US, THEM)
    assert found is not None and found.inode == 17304
    assert peer.owner(found) == 65534
    # Some other client's connection to the same server is not ours.
    assert peer.server_end(entries, (V4('127.0.0.1'), 1), THEM) is None


@pytest.mark.parametrize('state,inode,expected', [
    (0x01, 17304, 65534),
    (0x06, 0, None),      # time-wait: the kernel prints uid 0
    (0x01, 0, 65534),     # not accepted yet: the listener's owner
    (0x03, 0, None),      # syn-recv: the handshake is not over
    (0x08, 17304, None),  # close-wait: the server is going away
    (0x0A, 17304, None),  # a listener is not a connection
])
def test_owner_only_of_an_established_held_socket(state, inode, expected):
    entry = peer.SocketEntry(THEM, US, state, 65534, inode)
    assert peer.owner(entry) == expected
    assert peer.owner(None) is None


def test_a_server_end_not_established_yet_is_looked_at_again():
    pending = TABLE.replace('0100007F:19F0 0100007F:BA2C 01',
                            '0100007F:19F0 0100007F:BA2C 03')
    reads = []

    def read():
        reads.append(1)
        return [[HEADER], [pending], [TABLE]][len(reads) - 1]
    assert peer.tcp_server_uid(US, THEM, time.monotonic() + 10, read,
                               sleep=lambda s: None) == 65534
    assert len(reads) == 3


def test_cannot_tell_by_the_deadline_is_none():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    assert peer.tcp_server_uid(US, THEM, 1.0, lambda: [HEADER], lambda:
                               now[0], sleep) is None
    assert now[0] >= 1.0


def test_verdict():
    assert peer.verdict('tcp:127.0.0.1:6640', 0, {0}, ('root',), '/proc') \
        is None
    line = peer.verdict('tcp:127.0.0.1:6640', 65534, {0, 990},
                        ('root', 'openvswitch'), '/proc')
    assert line == ('OVSDB at tcp:127.0.0.1:6640 is run by uid 65534 '
                    '(nobody), not by a trusted user (root, openvswitch); '
                    'refused')
    assert 'run by uid 4000000, not' in peer.verdict('unix:/x', 4000000,
                                                     {0}, (), 'x')
    unknown = peer.verdict('tcp:127.0.0.1:6640', None, {0}, ('root',),
                           '/proc/net/tcp')
    assert 'cannot tell which user serves it' in unknown
    assert unknown.endswith('refused')


def test_resolve_users_skips_unknown_names():
    uids = peer.resolve_users(['root', ' nobody ', 'no-such-user-xyz',
                               '4242', ''])
    assert uids == {0: 'root', 65534: 'nobody', 4242: '4242'}


def test_trust_always_includes_the_agent_itself():
    trust = peer.PeerTrust(['no-such-user-xyz'])
    assert trust.uids == {os.geteuid()}
    assert trust.names == ('no-such-user-xyz',)


# -- against this kernel ------------------------------------------------------

def _pair(family, listen, connect):
    listener = socket.socket(family)
    if family == socket.AF_INET6:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind((listen, 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection((connect, port), timeout=5)
    return listener, client


@pytest.mark.parametrize('family,listen,connect', [
    (socket.AF_INET, '127.0.0.1', '127.0.0.1'),
    (socket.AF_INET6, '::1', '::1'),
    # A dual-stack listener: its end of an IPv4 connection is in tcp6.
    (socket.AF_INET6, '::ffff:127.0.0.1', '127.0.0.1'),
], ids=['ipv4', 'ipv6', 'ipv4-mapped'])
def test_owner_of_a_real_loopback_connection(family, listen, connect):
    try:
        listener, client = _pair(family, listen, connect)
    except OSError as exc:
        pytest.skip('no IPv6 loopback here: %s' % exc)
    try:
        deadline = time.monotonic() + 0.2
        local, remote = client.getsockname(), client.getpeername()
        us = (ipaddress.ip_address(local[0]), local[1])
        them = (ipaddress.ip_address(remote[0]), remote[1])
        # Not accepted yet: the listener's owner, already.
        assert peer.tcp_server_uid(us, them, deadline) == os.geteuid()
        server, _ = listener.accept()
        try:
            assert peer.tcp_server_uid(us, them, time.monotonic() + 5) == \
                os.geteuid()
            peer.PeerTrust().check('tcp:%s' % connect, client,
                                   time.monotonic() + 5)
        finally:
            server.close()
    finally:
        client.close()
        listener.close()


def test_sock_diag_finds_exactly_the_server_end():
    listener, client = _pair(socket.AF_INET, '127.0.0.1', '127.0.0.1')
    server, _ = listener.accept()
    try:
        local, remote = client.getsockname(), client.getpeername()
        us = (ipaddress.ip_address(local[0]), local[1])
        them = (ipaddress.ip_address(remote[0]), remote[1])
        entry = peer.diag_server_entry(us, them)
        if entry is None:
            pytest.skip('no NETLINK_SOCK_DIAG for TCP here')
        assert entry == peer.SocketEntry(them, us, peer.TCP_ESTABLISHED,
                                         os.geteuid(),
                                         os.fstat(server.fileno()).st_ino)
        # /proc says the same.
        found = peer.server_end(peer.parse_table(
            next(iter(peer.read_tables()))), us, them)
        assert found == entry
        # A connection that does not exist: the kernel answers with the
        # listener, which is not taken for it.
        assert peer.diag_server_entry((us[0], 1), them) is None
        assert peer.diag_server_entry(them, us) != entry  # our own end
        # IPv6 is left to /proc.
        six = (ipaddress.ip_address('::1'), us[1])
        assert peer.diag_server_entry(six, them) is None
    finally:
        server.close()
        client.close()
        listener.close()


def test_proc_that_cannot_tell_means_refused():
    listener, client = _pair(socket.AF_INET, '127.0.0.1', '127.0.0.1')
    server, _ = listener.accept()
    try:
        trust = peer.PeerTrust(read=lambda: [HEADER])
        with pytest.raises(peer.UntrustedPeer, match='cannot tell'):
            trust.check('tcp:127.0.0.1:1', client, time.monotonic() + 0.05)
        # Turned off, nothing is looked at.
        peer.PeerTrust(enabled=False, read=lambda: 1 / 0).check(
            'tcp:127.0.0.1:1', client, time.monotonic())
        # ssl: remotes keep their own rule (the certificate).
        peer.PeerTrust(read=lambda: 1 / 0).check(
            'ssl:127.0.0.1:1', client, time.monotonic())
    finally:
        for sock in (server, client, listener):
            sock.close()


def test_unix_peer_credentials():
    one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert peer.unix_peer_uid(one) == os.geteuid()
        peer.PeerTrust([]).check('unix:/x', one, time.monotonic())
    finally:
        one.close()
        two.close()
