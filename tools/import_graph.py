"""Print df_ovsdb_agent's internal import graph and say whether it has a cycle.

Run from a checkout (stdlib only, nothing is imported, the sources are
parsed)::

    python tools/import_graph.py                # every import counts
    python tools/import_graph.py --module-level # imports inside functions not

One line per module, ``module -> the package's modules it imports``, then
``no import cycle among N modules`` (exit 0) or each cycle (exit 1).

The rule, which ``tests/test_imports.py`` enforces with these functions:
every ``import`` / ``from ... import`` counts, at module level or inside a
function alike (an import inside a function only hides a cycle until the
function runs), except those under ``if TYPE_CHECKING:`` (never executed).
``from pkg import mod`` is an edge to ``pkg.mod`` when that is a module,
else to ``pkg``; the implicit import of parent packages is no edge.
"""

import argparse
import ast
import os
import sys
from typing import Iterator, Optional, Union

PACKAGE = 'df_ovsdb_agent'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ImportNode = Union[ast.Import, ast.ImportFrom]
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def modules(root: str = ROOT) -> dict[str, str]:
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


def _import_statements(tree: ast.AST, module_level: bool = False
                       ) -> Iterator[ImportNode]:
    """Every import statement, skipping ``if TYPE_CHECKING:`` bodies (and
    function bodies when ``module_level``).
    """
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if module_level and isinstance(node, FUNCTION_NODES):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _absolute_from(module: str, node: ast.ImportFrom,
                   is_package: bool) -> str:
    """The absolute name ``from X import ...`` takes names from in
    ``module`` (resolves ``from . import`` and ``from ..x import``).
    """
    if not node.level:
        return node.module or ''
    parts = module.split('.')
    if not is_package:
        parts.pop()
    parts = parts[:len(parts) - (node.level - 1)]
    return '.'.join(parts + ([node.module] if node.module else []))


def _own_module(known: dict[str, str], dotted: str) -> Optional[str]:
    """The longest prefix of ``dotted`` that is one of our modules."""
    parts = dotted.split('.')
    while parts:
        candidate = '.'.join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def graph(root: str = ROOT, module_level: bool = False
          ) -> dict[str, list[str]]:
    """Module -> sorted list of the package's modules it imports.

    :param module_level: leave out imports inside functions.
    """
    known = modules(root)
    edges = {}
    for name, path in known.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith('__init__.py')
        targets = set()
        for node in _import_statements(tree, module_level):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = _absolute_from(name, node, is_package)
                names = [base + '.' + alias.name for alias in node.names]
            for dotted in names:
                target = _own_module(known, dotted)
                if target and target != name:
                    targets.add(target)
        edges[name] = sorted(targets)
    return edges


def cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle (a list of modules, first repeated last) per strongly
    connected component of more than one module (Tarjan).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
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
                found.append(_shortest_cycle(edges, component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _shortest_cycle(edges: dict[str, list[str]],
                    component: set[str]) -> list[str]:
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


def main(argv: Optional[list[str]] = None) -> int:
    """Print module -> imports, then any cycle; exit 1 on a cycle."""
    parser = argparse.ArgumentParser(
        description="Print %s's internal import graph and its cycles."
        % PACKAGE)
    parser.add_argument('--module-level', action='store_true',
                        help='leave out imports inside functions (the '
                             'test counts them)')
    parser.add_argument('--root', default=ROOT,
                        help='the checkout (default: %(default)s)')
    args = parser.parse_args(argv)
    edges = graph(args.root, args.module_level)
    if not edges:
        parser.error('no %s package under %s' % (PACKAGE, args.root))
    for name in sorted(edges):
        print('%s -> %s' % (name, ', '.join(edges[name]) or '-'))
    found = cycles(edges)
    for cycle in found:
        print('import cycle: %s' % ' -> '.join(cycle))
    if not found:
        print('no import cycle among %d modules' % len(edges))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
