"""Release notes (reno) for user-visible changes are well-formed."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_reno_lint_is_clean():
    reno = os.path.join(os.path.dirname(sys.executable), 'reno')
    out = subprocess.run([reno, 'lint'], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    notes = os.listdir(os.path.join(ROOT, 'releasenotes', 'notes'))
    assert notes and all(n.endswith('.yaml') for n in notes)
