"""``ini.py FILE SECTION OPTION VALUE``: DevStack's ``iniset`` semantics.

Sets OPTION in [SECTION] of FILE to VALUE, creating the file and the
section as needed, replacing the option's line when it exists and leaving
every other line (comments included) alone.  No interpolation, no case
folding: the value lands in the file exactly as given.
"""

import os
import re
import sys


def iniset(path: str, section: str, option: str, value: str) -> None:
    """Set ``option = value`` in ``[section]`` of the file at ``path``."""
    lines = []
    if os.path.exists(path):
        with open(path) as f:
            lines = f.read().splitlines()
    new = '%s = %s' % (option, value)
    start = _find_section(lines, section)
    if start is None:
        if lines and lines[-1].strip():
            lines.append('')
        lines += ['[%s]' % section, new]
    else:
        end = _section_end(lines, start)
        option_re = re.compile(r'\s*%s\s*=' % re.escape(option))
        for i in range(start + 1, end):
            if option_re.match(lines[i]):
                lines[i] = new
                break
        else:
            last = end
            while last > start + 1 and not lines[last - 1].strip():
                last -= 1
            lines.insert(last, new)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _find_section(lines: list, section: str):
    for i, line in enumerate(lines):
        if line.strip() == '[%s]' % section:
            return i
    return None


def _section_end(lines: list, start: int) -> int:
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith('['):
            return i
    return len(lines)


def main(argv: list) -> int:
    if len(argv) != 4:
        print('usage: ini.py FILE SECTION OPTION VALUE', file=sys.stderr)
        return 2
    iniset(*argv)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
