"""Security: ssl: remotes end to end, refused certificates, no secrets in
logs, and nothing listening beyond 127.0.0.1 by default.

Certificates are made per test with the openssl CLI; ovsdb-server serves
``pssl:`` on a free 127.0.0.1 port.
"""

import logging
import os
import re
import subprocess
import sys

import pytest

from df_ovsdb_agent import metrics
from df_ovsdb_agent.testing.ovsdb_server import create_db
from df_ovsdb_agent.testing.ovsdb_server import OvsdbProcess
from df_ovsdb_agent.testing.pki import make_ca
from df_ovsdb_agent.testing.pki import make_cert
from df_ovsdb_agent.testing.rpc import Client as Rpc
from df_ovsdb_agent.testing import sandbox
from tests.functional.ovsdb_ops import add_bridge_ops
from tests.functional.ovsdb_ops import add_ports_ops
from tests.functional.ovsdb_ops import set_ofport_op
from tests.recorder import Recorder

BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


class Pki:
    """A CA with server and client certificates, and an unrelated CA."""

    def __init__(self, workdir):
        self.ca = make_ca(workdir, 'ca')
        self.server = make_cert(workdir, 'server', self.ca)
        self.client = make_cert(workdir, 'client', self.ca)
        self.other_ca = make_ca(workdir, 'other-ca')
        self.stranger = make_cert(workdir, 'stranger', self.other_ca)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp('pki')))


@pytest.fixture
def ssl_server(tmp_path, pki):
    db = str(tmp_path / 'conf.db')
    create_db(db)
    server = OvsdbProcess(
        str(tmp_path), 'ssl', [db], passive='pssl',
        extra_args=['--private-key=%s' % pki.server[1],
                    '--certificate=%s' % pki.server[0],
                    '--ca-cert=%s' % pki.ca[0]])
    server.start()
    with Rpc(server.unix_remote) as rpc:
        rpc.transact({'op': 'insert', 'table': 'Open_vSwitch', 'row': {}})
        rpc.transact(*add_bridge_ops('br-int'))
        rpc.transact(*add_ports_ops(
            'br-int', ['tap%d' % i for i in range(3)], lambda i: i + 1))
    yield server
    server.stop()


def _ssl_settings(cert_key, ca):
    return {'ssl_cert_file': cert_key[0], 'ssl_key_file': cert_key[1],
            'ssl_ca_cert_file': ca[0]}


def test_ssl_end_to_end_and_no_secret_in_logs(ssl_server, pki, make_agent,
                                              caplog):
    caplog.set_level(logging.DEBUG)
    assert ssl_server.remote.startswith('ssl:127.0.0.1:')
    agent = make_agent(ssl_server.remote, timeout=5,
                       **_ssl_settings(pki.client, pki.ca))
    rec = Recorder()
    agent.subscribe(rec)
    agent.start()
    rec.wait_for(lambda evs: len(rec.summary(evs)) == 3)
    with Rpc(ssl_server.unix_remote) as rpc:
        rpc.transact(set_ofport_op('tap1', -1))
    rec.wait_event(name='tap1', action='offline')
    assert agent.monitor.remote_name == ssl_server.remote

    with open(pki.client[1]) as key:
        body = [line for line in key.read().splitlines()
                if line and not line.startswith('-----')]
    logged = '\n'.join(r.getMessage() for r in caplog.records)
    assert 'Monitoring' in logged  # the log was captured at all
    assert not [line for line in body if line in logged]
    assert 'PRIVATE KEY' not in logged


def _refused(tmp_path, remote, settings):
    conf = tmp_path / 'agent.conf'
    conf.write_text('[ovsdb]\nconnection = %s\ntimeout = 2\n%s'
                    % (remote, ''.join('%s = %s\n' % kv
                                       for kv in settings.items())))
    out = subprocess.run([os.path.join(BIN, 'df-ovsdb-events'), '--once',
                          '--config-file', str(conf)],
                         capture_output=True, text=True, timeout=60)
    err = out.stderr.strip()
    assert out.returncode == 1, out
    assert out.stdout == ''
    assert 'Traceback' not in err and len(err.splitlines()) == 1, err
    assert 'PRIVATE KEY' not in err
    return err


def _stranger_key(pki, tmp_path):
    return pki.stranger[1]


def _unreadable_key(pki, tmp_path):
    key = tmp_path / 'key.pem'
    key.write_text(open(pki.client[1]).read())
    key.chmod(0)
    if os.access(str(key), os.R_OK):
        # root reads mode 000 files; a directory is unreadable as a key
        # file for everybody and takes the same check.
        key.unlink()
        key.mkdir()
    return str(key)


def _garbage_certificate(pki, tmp_path):
    bogus = tmp_path / 'bogus.pem'
    bogus.write_text('-----BEGIN CERTIFICATE-----\nnot base64\n'
                     '-----END CERTIFICATE-----\n')
    return str(bogus)


# These settings -> this line.  (cert_key, ca) name the Pki's pairs; a
# change sets one option to what make(pki, tmp_path) returns, the
# ``{path}`` of the expected pattern.
@pytest.mark.parametrize('cert_key,ca,change,expected', [
    ('client', 'other_ca', None,
     r'cannot connect to OVSDB at ssl:127\.0\.0\.1:\d+ within 2\.0s'),
    ('stranger', 'ca', None, r'ssl:127\.0\.0\.1:'),
    ('client', 'ca', ('ssl_key_file', _stranger_key),
     r'are not a matching certificate and key'),
    ('client', 'ca', ('ssl_key_file', _unreadable_key),
     r'ssl_key_file {path} is missing or unreadable'),
    ('client', 'ca', ('ssl_ca_cert_file', _garbage_certificate),
     r'bogus\.pem is not a usable CA certificate'),
], ids=['server-signed-by-another-ca', 'client-signed-by-another-ca',
        'key-not-matching-certificate', 'unreadable-key',
        'garbage-in-certificate-file'])
def test_refused_settings_are_one_clear_line(ssl_server, pki, tmp_path,
                                             cert_key, ca, change, expected):
    settings = _ssl_settings(getattr(pki, cert_key), getattr(pki, ca))
    path = ''
    if change is not None:
        option, make = change
        path = settings[option] = make(pki, tmp_path)
    err = _refused(tmp_path, ssl_server.remote, settings)
    assert re.search(expected.format(path=re.escape(path)), err), err


# -- nothing beyond 127.0.0.1 by default --------------------------------------

def _listening(pid):
    """Local addresses of the TCP sockets ``pid`` listens on."""
    inodes = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    found = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == '0A' and fields[9] in inodes:  # LISTEN
                    found.append(fields[1])
    return found


def test_sandbox_and_demo_listen_on_loopback_only():
    with sandbox.OvsSandbox(vswitchd=True) as box:
        addresses = (_listening(box.ovsdb.pid) +
                     _listening(box.vswitchd.pid))
    assert addresses
    # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex.
    assert all(a.startswith('0100007F:') for a in addresses), addresses


def test_default_connections_stay_on_loopback():
    with open(os.path.join(ROOT, 'devstack', 'settings')) as settings:
        text = settings.read()
    default = re.search(r'DF_OVSDB_AGENT_CONNECTION=\$\{'
                        r'DF_OVSDB_AGENT_CONNECTION:-([^}]*)\}', text)
    assert default and default.group(1) == 'tcp:127.0.0.1:6640'
    from df_ovsdb_agent.ovsdb import monitor
    # Loopback TCP first, then the local unix socket of a stock OVS.
    assert monitor.DEFAULT_CONNECTION.split(',') == [
        'tcp:127.0.0.1:6640', 'unix:/var/run/openvswitch/db.sock']
    assert metrics.DEFAULT_HOST == '127.0.0.1'
