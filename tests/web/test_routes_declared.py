"""Every built-in plugin's routes: each checks a permission the plugin declares, and each is
listed (method, path, permission) on the plugin's page in docs/plugins/."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from crmkit.devtools import docgen

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins"


@pytest.mark.parametrize("name", docgen.builtin_plugins())
def test_routes_are_declared_and_documented(name):
    routes = importlib.import_module(f"crmkit_{name}.routes")  # the declared part "routes"
    endpoints = routes.endpoints()
    permissions = dict(routes.PERMISSIONS)
    assert endpoints and {f"{name}.read", f"{name}.write"} <= set(permissions)
    page = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    for endpoint in endpoints:
        assert endpoint.permission in permissions, (endpoint.method, endpoint.path)
        row = (f"| {endpoint.method} | `/api/v1/{name}/{endpoint.path}` | "
               f"`{endpoint.permission}` |")
        assert row in page, f"docs/plugins/{name}.md lacks the row {row}"
    for permission in permissions:
        assert f"* `{permission}` — " in page, f"docs/plugins/{name}.md lacks {permission}"
