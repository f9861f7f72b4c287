"""No import cycle among df_ovsdb_agent's modules.

The graph and the rule (every import counts, inside functions too, except
under ``if TYPE_CHECKING:``) are in ``tools/import_graph.py``, which prints
the graph and any cycle::

    python tools/import_graph.py

The module table of doc/source/architecture.rst must name every module
(:func:`test_architecture_table_lists_every_module`).
"""

import ast
import os
import re
import subprocess
import sys

from tools.import_graph import cycles
from tools.import_graph import graph
from tools.import_graph import modules
from tools.import_graph import PACKAGE
from tools.import_graph import ROOT


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, 'import cycle(s): %s' % '; '.join(
        ' -> '.join(cycle) for cycle in found)


def test_cycle_is_found():
    edges = {'a': ['b'], 'b': ['c'], 'c': ['a'], 'd': ['a']}
    assert cycles(edges) == [['a', 'b', 'c', 'a']]
    assert cycles({'a': ['b'], 'b': []}) == []


def _package_with_cycle(root):
    """A package whose a imports b inside a function and b imports a."""
    pkg = root / PACKAGE
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'a.py').write_text('def f():\n    from df_ovsdb_agent import b\n')
    (pkg / 'b.py').write_text('from . import a\n')
    return pkg


def test_function_imports_count_type_checking_does_not(tmp_path):
    pkg = _package_with_cycle(tmp_path)
    (pkg / 'c.py').write_text('from typing import TYPE_CHECKING\n'
                              'if TYPE_CHECKING:\n'
                              '    from df_ovsdb_agent.a import f\n')
    edges = graph(str(tmp_path))
    assert edges['df_ovsdb_agent.a'] == ['df_ovsdb_agent.b']
    assert edges['df_ovsdb_agent.b'] == ['df_ovsdb_agent.a']
    assert edges['df_ovsdb_agent.c'] == []
    assert cycles(edges) == [['df_ovsdb_agent.a', 'df_ovsdb_agent.b',
                              'df_ovsdb_agent.a']]
    # --module-level: the import inside f() is left out, so is the cycle.
    edges = graph(str(tmp_path), module_level=True)
    assert edges['df_ovsdb_agent.a'] == []
    assert edges['df_ovsdb_agent.b'] == ['df_ovsdb_agent.a']
    assert cycles(edges) == []


def _import_graph(*args):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'import_graph.py')] +
        list(args), capture_output=True, text=True, timeout=60)


def test_import_graph_command_prints_graph_and_no_cycle():
    result = _import_graph()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == 'no import cycle among %d modules' % len(modules())
    edges = graph()
    assert lines[:-1] == ['%s -> %s' % (name, ', '.join(edges[name]) or '-')
                          for name in sorted(edges)]
    assert 'df_ovsdb_agent.agent -> ' in result.stdout


def test_import_graph_command_names_the_cycle(tmp_path):
    _package_with_cycle(tmp_path)
    result = _import_graph('--root', str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == (
        'import cycle: df_ovsdb_agent.a -> df_ovsdb_agent.b -> '
        'df_ovsdb_agent.a')
    result = _import_graph('--root', str(tmp_path), '--module-level')
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == 'no import cycle among 3 modules'


def test_import_graph_command_refuses_a_root_without_the_package(tmp_path):
    result = _import_graph('--root', str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ''
    assert 'no df_ovsdb_agent package under %s' % tmp_path in result.stderr
    assert 'Traceback' not in result.stderr


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
