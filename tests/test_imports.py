"""No import cycle among df_ovsdb_agent's modules.

The rule: every ``import`` / ``from ... import`` statement of a module
counts, at module level or inside a function or method alike, except the
ones under ``if TYPE_CHECKING:`` (never executed; mypy resolves them).  An
import inside a function is a dependency all the same: it only hides a cycle
until the function runs, which is what this test is here to refuse.  An edge
goes to the module named (``from pkg import mod`` goes to ``pkg.mod`` when
that is a module, else to ``pkg``); the implicit import of parent packages
is not an edge.  Only modules of df_ovsdb_agent are nodes.

The module table of doc/source/architecture.rst must name every module
(:func:`test_architecture_table_lists_every_module`).

Print the graph (and any cycle) with::

    python -m tests.test_imports
"""

import ast
import os
import re
import sys
from typing import Iterator, Optional, Union

PACKAGE = 'df_ovsdb_agent'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules(root: str = ROOT) -> dict:
    """Dotted module name -> file path, for every module of the package."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for filename in filenames:
            if not filename.endswith('.py'):
                continue
            path = os.path.join(dirpath, filename)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] == '__init__':
                parts.pop()
            found['.'.join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return ((isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or
            (isinstance(test, ast.Attribute) and
             test.attr == 'TYPE_CHECKING'))


def _imports(tree: ast.AST) -> Iterator[Union[ast.Import, ast.ImportFrom]]:
    """Every import statement, skipping ``if TYPE_CHECKING:`` bodies."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _base(name: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ''
    parts = name.split('.')
    if not is_package:
        parts.pop()
    parts = parts[:len(parts) - (node.level - 1)]
    return '.'.join(parts + ([node.module] if node.module else []))


def _target(known: dict, dotted: str) -> Optional[str]:
    """The longest prefix of ``dotted`` that is one of our modules."""
    parts = dotted.split('.')
    while parts:
        candidate = '.'.join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def graph(root: str = ROOT) -> dict:
    """Module -> sorted list of the package's modules it imports."""
    known = modules(root)
    edges = {}
    for name, path in known.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith('__init__.py')
        targets = set()
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = _base(name, node, is_package)
                names = [base + '.' + alias.name for alias in node.names]
            for dotted in names:
                target = _target(known, dotted)
                if target and target != name:
                    targets.add(target)
        edges[name] = sorted(targets)
    return edges


def cycles(edges: dict) -> list:
    """One cycle (a list of modules, first repeated last) per strongly
    connected component of more than one module (Tarjan).
    """
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_one_cycle(edges, component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _one_cycle(edges: dict, component: set) -> list:
    """A shortest path from the component's first module back to itself."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in edges[node]:
            if nxt == start:
                return paths[node] + [start]
            if nxt in component and nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    raise AssertionError('not a cycle: %s' % sorted(component))


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, 'import cycle(s): %s' % '; '.join(
        ' -> '.join(cycle) for cycle in found)


def test_cycle_is_found():
    edges = {'a': ['b'], 'b': ['c'], 'c': ['a'], 'd': ['a']}
    assert cycles(edges) == [['a', 'b', 'c', 'a']]
    assert cycles({'a': ['b'], 'b': []}) == []


def test_function_imports_count_type_checking_does_not(tmp_path):
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'a.py').write_text('def f():\n    from df_ovsdb_agent import b\n')
    (pkg / 'b.py').write_text('from . import a\n')
    (pkg / 'c.py').write_text('from typing import TYPE_CHECKING\n'
                              'if TYPE_CHECKING:\n'
                              '    from df_ovsdb_agent.a import f\n')
    edges = graph(str(tmp_path))
    assert edges['df_ovsdb_agent.a'] == ['df_ovsdb_agent.b']
    assert edges['df_ovsdb_agent.b'] == ['df_ovsdb_agent.a']
    assert edges['df_ovsdb_agent.c'] == []
    assert cycles(edges) == [['df_ovsdb_agent.a', 'df_ovsdb_agent.b',
                              'df_ovsdb_agent.a']]


def _docstring_only(path: str) -> bool:
    with open(path) as f:
        body = ast.parse(f.read(), path).body
    return (len(body) <= 1 and all(isinstance(node, ast.Expr)
                                   for node in body))


def test_architecture_table_lists_every_module():
    """doc/source/architecture.rst names each module by its path; only a
    package ``__init__.py`` that holds nothing but a docstring is exempt.
    """
    with open(os.path.join(ROOT, 'doc', 'source',
                           'architecture.rst')) as f:
        listed = set(re.findall(r'``(df_ovsdb_agent/[\w/]+\.py)``',
                                f.read()))
    missing = []
    for path in modules().values():
        rel = os.path.relpath(path, ROOT).replace(os.sep, '/')
        if rel not in listed and not (path.endswith('__init__.py') and
                                      _docstring_only(path)):
            missing.append(rel)
    assert not missing, ('modules missing from the module table of '
                         'doc/source/architecture.rst: %s'
                         % ', '.join(sorted(missing)))
    stale = sorted(rel for rel in listed
                   if not os.path.exists(os.path.join(ROOT, rel)))
    assert not stale, 'architecture.rst lists modules that do not exist: ' \
        '%s' % ', '.join(stale)


def main() -> int:
    """Print module -> imports, then any cycle; exit 1 on a cycle."""
    edges = graph()
    for name in sorted(edges):
        print('%s -> %s' % (name, ', '.join(edges[name]) or '-'))
    found = cycles(edges)
    for cycle in found:
        print('CYCLE: %s' % ' -> '.join(cycle))
    if not found:
        print('no import cycle among %d modules' % len(edges))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
