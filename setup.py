import os
import subprocess
import sys

import setuptools

HERE = os.path.dirname(os.path.abspath(__file__))


def _version_known() -> bool:
    """pbr takes the version from PBR_VERSION, an sdist's PKG-INFO or git."""
    if os.environ.get('PBR_VERSION') or \
            os.path.exists(os.path.join(HERE, 'PKG-INFO')):
        return True
    try:
        return subprocess.run(['git', '-C', HERE, 'rev-parse', '--git-dir'],
                              capture_output=True).returncode == 0
    except OSError:
        return False


if not _version_known():
    # A `git archive` export or a release tarball without its .git: one
    # line instead of pbr's traceback.
    sys.exit('df-ovsdb-agent: this tree has no git history and no PKG-INFO '
             'to take its version from; set PBR_VERSION, e.g. '
             'PBR_VERSION=0.2.0 pip install .')

setuptools.setup(
    setup_requires=['pbr>=6.0.0'],
    pbr=True)
