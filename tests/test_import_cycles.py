"""No import cycles in ``crmkit/`` or in any plugin package.

The import graph is computed with ``ast``.  A module's edges are all its
imports: at the top of the file and inside functions alike, because a lazy
import inside a function still makes the two modules depend on each other
(it only hides the cycle from the interpreter).  Only imports under
``if TYPE_CHECKING:`` are left out: they never run.  ``import a.b`` and
``from a import b`` (``b`` a module) are edges to ``a.b``; the packages a
module sits in are not counted as its imports.

Cycles are the strongly connected components of more than one module
(Tarjan's algorithm); the test lists every one it finds.  Break a cycle by
moving what both modules need into a lower module, or by passing it in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = {
    "crmkit": ROOT / "crmkit",
    **{path.name: path for path in sorted((ROOT / "plugins").glob("crmkit_*"))},
    "crmkit_testvendor": ROOT / "tests" / "vendor_plugin" / "crmkit_testvendor",
}

def module_files(package: str, directory: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg.sub.mod``; a package is its __init__)."""
    modules = {}
    for path in sorted(directory.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(directory).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def statements(body: list[ast.stmt]):
    """Every statement of ``body``, nested ones included, except under ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            yield from statements(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody"):
            yield from statements(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []):
            yield from statements(handler.body)


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in statements(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            if node.level:
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                targets.add(submodule if submodule in modules else module)
    return {target for target in targets if target in modules and target != name}


def import_graph(package: str, directory: Path) -> dict[str, set[str]]:
    modules = module_files(package, directory)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's strongly connected components of ``graph`` (iterative, so depth is no limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(frozenset(component))
    return components


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    return sorted((c for c in strongly_connected(graph) if len(c) > 1), key=sorted)


def test_tarjan_finds_every_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e", "d"},
             "g": {"a"}}
    assert cycles(graph) == [frozenset("abc"), frozenset("ef")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_counts_lazy_imports_but_not_type_checking_ones(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\n"
                                  "from . import b\n"
                                  "if TYPE_CHECKING:\n    from .c import C\n"
                                  "def later():\n    from . import d\n")
    (package / "b.py").write_text("import pkg.c\n")
    (package / "c.py").write_text("try:\n    from .a import thing\nexcept ImportError:\n    pass\n")
    (package / "d.py").write_text("from .sub.e import x\n")
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("from ..d import y\n")
    (package / "sub" / "e.py").write_text("")
    graph = import_graph("pkg", package)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b", "pkg.d"}, "pkg.b": {"pkg.c"},
                     "pkg.c": {"pkg.a"}, "pkg.d": {"pkg.sub.e"}, "pkg.sub": {"pkg.d"},
                     "pkg.sub.e": set()}
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.b", "pkg.c"})]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycles(package):
    assert [sorted(c) for c in cycles(import_graph(package, PACKAGES[package]))] == []


def test_services_never_import_the_cli():
    """The CLI depends on the data services, never the reverse."""
    graph = import_graph("crmkit", PACKAGES["crmkit"])
    services_on_cli = {}
    for name, targets in graph.items():
        cli = sorted(target for target in targets if target.startswith("crmkit.cli"))
        if name.startswith("crmkit.services") and cli:
            services_on_cli[name] = cli
    assert services_on_cli == {}
