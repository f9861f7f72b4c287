"""Exit non-zero unless every pin of lower-constraints.txt is imported.

tools/test.sh runs it with the pinned packages on PYTHONPATH, to be sure
the tests that follow run on them and not on the venv's newer versions.
"""

from importlib import metadata
import re
import sys


def main() -> int:
    with open('lower-constraints.txt') as f:
        for line in f:
            match = re.match(r'^([A-Za-z0-9._-]+)==(\S+)', line)
            if not match:
                continue
            name, pinned = match.groups()
            found = metadata.version(name)
            if found != pinned:
                print('lower-constraints: %s is %s here, not %s'
                      % (name, found, pinned), file=sys.stderr)
                return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
