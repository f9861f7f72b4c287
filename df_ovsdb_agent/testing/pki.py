"""Throw-away certificates for TLS tests: a CA and certificates it signs.

Keys are unencrypted RSA 2048 and valid for two days; made with the
``openssl`` command line tool in a directory the caller owns.
"""

import os
import subprocess
from typing import Iterable


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(('openssl',) + args, cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_ca(workdir: str, name: str) -> tuple[str, str]:
    """A self-signed CA; returns (cert, key) paths."""
    key = os.path.join(workdir, '%s-key.pem' % name)
    cert = os.path.join(workdir, '%s-cert.pem' % name)
    _openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
             '-subj', '/CN=%s' % name, '-keyout', key, '-out', cert,
             cwd=workdir)
    return cert, key


def make_cert(workdir: str, name: str, ca: tuple[str, str],
              extensions: Iterable[str] = ()) -> tuple[str, str]:
    """A certificate for CN ``name`` signed by ``ca``; returns (cert, key).

    ``extensions`` are X.509v3 lines such as ``subjectAltName=IP:127.0.0.1``
    (TLS clients that check the host name need one).
    """
    key = os.path.join(workdir, '%s-key.pem' % name)
    csr = os.path.join(workdir, '%s.csr' % name)
    cert = os.path.join(workdir, '%s-cert.pem' % name)
    _openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj',
             '/CN=%s' % name, '-keyout', key, '-out', csr, cwd=workdir)
    extra: tuple[str, ...] = ()
    lines = list(extensions)
    if lines:
        ext = os.path.join(workdir, '%s.ext' % name)
        with open(ext, 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
        extra = ('-extfile', ext)
    _openssl('x509', '-req', '-in', csr, '-CA', ca[0], '-CAkey', ca[1],
             '-CAcreateserial', '-days', '2', '-out', cert, *extra,
             cwd=workdir)
    return cert, key


def make_certificates(directory: str) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate.

    Returns a dict of file paths: ca, ca_key, server_cert, server_key,
    client_cert, client_key.
    """
    os.makedirs(directory, exist_ok=True)
    paths = {}
    paths['ca'], paths['ca_key'] = ca = make_ca(directory, 'ca')
    for who, extension in (('server', 'subjectAltName=IP:127.0.0.1'),
                           ('client', 'extendedKeyUsage=clientAuth')):
        paths[who + '_cert'], paths[who + '_key'] = make_cert(
            directory, who, ca, [extension])
    return paths
