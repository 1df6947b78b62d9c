"""A local test plugin whose configuration hooks fail on demand, with a bug's exception."""

from __future__ import annotations

import crmkit

PLUGIN = crmkit.PluginInfo(name="checktest", description="Configuration hooks that can fail.")

FAILING: set[str] = set()
"""The hooks (``crmkit_config_schema``, ``crmkit_check_config``) that raise :data:`BUG`'s
exception now; tests add to it and clear it."""
BUG = "SELECT secret_column FROM checktest_missing_table"
"""The text of the exception a failing hook raises: what no client may read."""


def _maybe_fail(hook: str) -> None:
    if hook in FAILING:
        raise RuntimeError(BUG)


@crmkit.hookimpl
def crmkit_config_schema():
    _maybe_fail("crmkit_config_schema")
    return {"type": "object", "additionalProperties": False,
            "properties": {"note": {"type": "string", "default": ""}}}


@crmkit.hookimpl
def crmkit_check_config(config):
    _maybe_fail("crmkit_check_config")
