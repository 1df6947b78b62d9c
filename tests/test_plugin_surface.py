"""The plugin surface: plugins import only ``crmkit`` and ``crmkit.plugin``.

Every Python file of the built-in plugins, the rendered template, the test
vendor plugin and the test plugins is parsed with ``ast``; any import of
another ``crmkit`` module, at the top of a file or inside a function, is
reported.  From ``crmkit`` itself only the non-module names of
``crmkit.__all__`` may be imported (``from crmkit import tables`` would open
every core table); test files may also import ``crmkit.devtools.testing``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import crmkit
import crmkit.plugin
import crmkit.devtools.testing
from crmkit.devtools import scaffold

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugin-author-guide.md"

PLUGIN_PACKAGES = sorted([
    *(ROOT / "plugins").glob("crmkit_*"),
    ROOT / "tests" / "vendor_plugin" / "crmkit_testvendor",
    ROOT / "tests" / "broken_plugin" / "crmkit_broken",
    *(ROOT / "tests" / "reliability").glob("crmkit_rel*"),
])

TOP_LEVEL = {name for name in crmkit.__all__ if not inspect.ismodule(getattr(crmkit, name))}
"""What a plugin may import from ``crmkit`` itself: the application API, without its modules."""


def allowed_names(module: str, test_file: bool) -> set[str] | None:
    """The names a plugin file may import from ``module``; None when the module is off limits."""
    if module == "crmkit":
        return TOP_LEVEL
    if module == "crmkit.plugin":
        return set(crmkit.plugin.__all__)
    if module == "crmkit.devtools.testing" and test_file:
        return set(crmkit.devtools.testing.__all__)
    return None


def is_test_file(path: Path) -> bool:
    """Whether ``path`` (relative to its package or distribution) is a test file."""
    return path.name.startswith("test_") or path.name == "conftest.py" or "tests" in path.parts


def surface_problems(source: str, where: str, test_file: bool = False) -> list[str]:
    """Every import in ``source`` (anywhere in the file) that goes past the plugin surface."""
    problems = []
    crmkit_names = set()
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "crmkit":
                    continue
                if alias.name == "crmkit":
                    crmkit_names.add(alias.asname or "crmkit")
                elif allowed_names(alias.name, test_file) is None:
                    problems.append(f"{where}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "crmkit":
            allowed = allowed_names(node.module, test_file)
            for alias in node.names:
                if allowed is None or alias.name not in allowed:
                    problems.append(
                        f"{where}:{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in crmkit_names and node.attr not in TOP_LEVEL:
            problems.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return problems


def package_problems(directory: Path) -> list[str]:
    problems = []
    for path in sorted(directory.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        where = str(path.relative_to(ROOT if ROOT in path.parents else directory))
        problems += surface_problems(path.read_text(encoding="utf-8"), where,
                                     is_test_file(path.relative_to(directory)))
    return problems


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda path: path.name)
def test_plugin_imports_only_the_surface(package):
    assert list(package.rglob("*.py")), f"{package} has no Python files"
    assert package_problems(package) == []


def test_rendered_template_imports_only_the_surface(tmp_path):
    target = scaffold.render("dental", tmp_path)
    assert len(list(target.rglob("*.py"))) >= 6
    assert package_problems(target) == []


BAD_PLUGIN = '''
import crmkit
import crmkit.db
from crmkit import hookimpl, tables
from crmkit.pipeline import raise_problems
from crmkit.plugin import ValidationError, not_in_the_surface
from crmkit.devtools.testing import run_cli


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    from crmkit.errors import ConfigError

    return crmkit.tables.customers, crmkit.PluginInfo
'''


def test_the_checker_reports_every_import_past_the_surface():
    assert surface_problems(BAD_PLUGIN, "crmkit_bad/__init__.py") == [
        "crmkit_bad/__init__.py:3: import crmkit.db",
        "crmkit_bad/__init__.py:4: from crmkit import tables",
        "crmkit_bad/__init__.py:5: from crmkit.pipeline import raise_problems",
        "crmkit_bad/__init__.py:6: from crmkit.plugin import not_in_the_surface",
        "crmkit_bad/__init__.py:7: from crmkit.devtools.testing import run_cli",
        "crmkit_bad/__init__.py:12: from crmkit.errors import ConfigError",
        "crmkit_bad/__init__.py:14: crmkit.tables",
    ]
    # crmkit.devtools.testing is for test files only.
    in_a_test = surface_problems(BAD_PLUGIN, "tests/test_bad.py", test_file=True)
    assert "tests/test_bad.py:7: from crmkit.devtools.testing import run_cli" not in in_a_test


def test_the_checker_reports_a_private_import_in_a_plugin_package(tmp_path):
    package = tmp_path / "crmkit_bad"
    package.mkdir()
    (package / "__init__.py").write_text("from crmkit import hookimpl\n")
    (package / "mentions.py").write_text("def load():\n"
                                         "    from crmkit.pipeline import raise_problems\n")
    assert package_problems(package) == [
        "mentions.py:2: from crmkit.pipeline import raise_problems"]


def surface_section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    return text.split("\n## The plugin surface\n", 1)[1].split("\n## ", 1)[0]


def test_every_surface_name_exists_and_is_documented_once():
    names = crmkit.plugin.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(crmkit.plugin, name) is not None
    documented = re.findall(r"^\* `([A-Za-z_]+)` — \S", surface_section(), re.MULTILINE)
    assert sorted(documented) == sorted(names)


def test_an_unknown_surface_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="'crmkit.plugin' has no attribute 'pipeline'"):
        crmkit.plugin.pipeline  # noqa: B018


PUBLIC_CORE_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in [*(ROOT / "crmkit").glob("*.py"), ROOT / "crmkit" / "cli" / "common.py",
                 *(ROOT / "crmkit" / "services").glob("*.py")]
    if path.name != "__init__.py" or path.parent.name == "crmkit")


@pytest.mark.parametrize("module", PUBLIC_CORE_MODULES)
def test_every_public_core_module_declares_all(module):
    loaded = importlib.import_module(module)
    assert isinstance(loaded.__all__, list) and loaded.__all__
    assert [name for name in loaded.__all__ if not hasattr(loaded, name)] == []
