"""An OVSDB socket the agent may not open, as on RHEL-family hosts.

Open vSwitch there runs as ``openvswitch:hugetlbfs`` and its socket is
that user's and group's; an agent that is neither, root without
CAP_DAC_OVERRIDE included, gets EACCES.  The agent must say so at once --
one ERROR line naming "permission denied" and the user it runs as -- and
connect as soon as the socket is its group's and group-writable.
"""

import grp
import os
import shutil
import tempfile

import pytest

from df_ovsdb_agent.testing import sandbox
from tests.functional.procs import Proc
from tests.functional.procs import script

NOBODY = 65534
# The supplementary group the agent is given, as systemd's
# SupplementaryGroups= would (hugetlbfs on RHEL; any group does here).
GROUP = 'daemon'


@pytest.fixture
def shared_dir():
    """A directory a non-root agent can reach (pytest's tmp_path is 0700
    under a root-only parent).
    """
    path = tempfile.mkdtemp(prefix='df-perm-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_denied_socket_is_one_error_at_once_then_the_group_works(
        shared_dir):
    if os.geteuid() != 0:
        pytest.skip('needs root to run the agent as another user')
    if shutil.which('ovsdb-server') is None:
        pytest.fail('ovsdb-server is not installed; run tools/setup.sh')
    gid = grp.getgrnam(GROUP).gr_gid
    box = sandbox.OvsSandbox(base_dir=os.path.join(shared_dir, 'ovs'),
                             vswitchd=False)
    os.makedirs(box.dir)
    os.chmod(box.dir, 0o755)
    box.start()
    try:
        box.vsctl('add-br', 'br-int', '--', 'set', 'Interface', 'br-int',
                  'ofport=1')
        # ovsdb-server's own socket: root:root, no access for others.
        os.chmod(box.sock, 0o750)
        state = os.path.join(shared_dir, 'state')
        os.makedirs(state)
        os.chown(state, NOBODY, NOBODY)
        conf = os.path.join(shared_dir, 'agent.conf')
        with open(conf, 'w') as f:
            f.write('[ovsdb]\nconnection = %s\ntimeout = 1\n'
                    '[agent]\nstate_dir = %s\n' % (box.unix_remote, state))
        os.chmod(conf, 0o644)
        env = dict(os.environ)
        env.pop('OS_AGENT__STATE_DIR', None)
        proc = Proc(['setpriv', '--reuid=%d' % NOBODY,
                     '--regid=%d' % NOBODY, '--groups=%d' % gid, '--',
                     script('df-ovsdb-agent'), '--config-file', conf],
                    env=env)
        try:
            # Generous: interpreter start-up on a loaded CI machine.
            line = proc.wait_line('permission denied', timeout=60)
            # On the first attempt: before the first "retrying" line.
            assert not any('retrying in' in seen for seen in proc.lines)
            assert ' ERROR ' in line, line
            assert 'OVSDB at %s: permission denied' % box.unix_remote in line
            assert 'runs as user nobody (uid 65534, groups nogroup,%s)' \
                % GROUP in line, line
            assert 'the socket is root:root mode 0750' in line, line
            assert 'SupplementaryGroups=' in line
            assert 'Traceback' not in '\n'.join(proc.lines)
            # Retries go on, without repeating the ERROR.
            proc.wait_line('retrying in', timeout=30)
            errors = [seen for seen in proc.lines if ' ERROR ' in seen]
            assert errors == [line]
            # The socket becomes the agent's group's, group-writable (a
            # unix socket's connect() needs write permission).
            os.chown(box.sock, 0, gid)
            os.chmod(box.sock, 0o770)
            proc.wait_line('df-ovsdb-agent running', timeout=60)
            proc.wait_line('bridge online br-int')
            assert proc.stop() == 0
            assert [seen for seen in proc.lines if ' ERROR ' in seen] == [
                line]
        finally:
            proc.kill()
    finally:
        box.stop()
