"""flake8 (with hacking) and mypy, as the README's test command runs them.

The same commands as ``tox -e pep8`` and ``tox -e mypy``.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _run(*args):
    return subprocess.run(list(args), cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_flake8_is_clean():
    out = _run(os.path.join(BIN, 'flake8'), 'df_ovsdb_agent', 'tests',
               'benchmarks')
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean():
    out = _run(os.path.join(BIN, 'mypy'), 'df_ovsdb_agent')
    assert out.returncode == 0, out.stdout + out.stderr
