"""Layers point one way: ``zeroi2v_mm/utils`` never imports the models (not
even lazily, inside a function), and the package's module-level imports have
no cycle. Read from the source with ``ast``, so a new import anywhere is
checked without running it."""
import ast
import os
import os.path as osp
from typing import Dict, Set

from helpers import REPO

PACKAGE = osp.join(REPO, 'zeroi2v_mm')


def _module_name(path: str) -> str:
    relative = osp.relpath(path, REPO)[:-len('.py')].replace(os.sep, '.')
    return relative[:-len('.__init__')] if relative.endswith(
        '.__init__') else relative


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ''
    parts = module.split('.')
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def _imports(top_level_only: bool) -> Dict[str, Set[str]]:
    """``{module: {zeroi2v_mm modules it imports}}``; a ``from X import y``
    counts as importing ``X.y`` when that is a module, else ``X``."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                modules[_module_name(path)] = path
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(open(path).read(), path)
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        found = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path.endswith('__init__.py'), node)
                for alias in node.names:
                    child = f'{target}.{alias.name}'
                    found.add(child if child in modules else target)
        graph[module] = {
            m
            for m in found if m.startswith('zeroi2v_mm') and m != module
        }
    return graph


def test_utils_never_import_the_models():
    graph = _imports(top_level_only=False)
    offending = {
        module:
        sorted(m for m in imported if m.startswith('zeroi2v_mm.models'))
        for module, imported in graph.items()
        if module.startswith('zeroi2v_mm.utils')
    }
    assert not {k: v for k, v in offending.items() if v}, offending


def test_no_import_cycle_between_modules():
    """A module-level cycle (package ``__init__`` files aside: importing a
    submodule runs its package first by design)."""
    graph = _imports(top_level_only=True)
    modules = {m for m in graph}
    edges = {
        module: {
            target
            for target in imported
            if target in modules and not (target == module.rsplit('.', 1)[0]
                                          or module.startswith(target + '.'))
        }
        for module, imported in graph.items()
    }
    state: Dict[str, int] = {}
    cycle = []

    def visit(module, path):
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycle.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycle, cycle[:3]


def test_test_modules_share_code_through_helpers_only():
    """The suite's own layering (docs/en/notes/development.md): a test
    module imports ``helpers`` and packages, never ``conftest`` or another
    test module; file names are unique (no ``__init__.py`` in the test
    folders, so pytest imports each file by its name)."""
    tests = osp.join(REPO, 'tests')
    names, offending = {}, []
    for folder, _, files in os.walk(tests):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            assert name != '__init__.py' or folder.startswith(
                osp.join(tests, 'helpers')), path
            if name.startswith('test_') or name == 'conftest.py':
                names.setdefault(name, []).append(path)
            for node in ast.walk(ast.parse(open(path).read(), path)):
                if isinstance(node, ast.Import):
                    imported = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    imported = [node.module or '']
                else:
                    continue
                offending += [(osp.relpath(path, tests), module)
                              for module in imported
                              if module.split('.')[0] == 'conftest'
                              or module.split('.')[0].startswith('test_')]
    assert not offending, offending
    repeated = {
        name: paths
        for name, paths in names.items()
        if len(paths) > 1 and name != 'conftest.py'
    }
    assert not repeated, repeated
