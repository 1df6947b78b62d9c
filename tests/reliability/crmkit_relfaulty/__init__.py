"""relfaulty: a plugin that fails on demand, for the failing-plugin tests.

Its configuration ``fail`` lists the hooks that raise ``RuntimeError("relfaulty
broke in HOOK")``: ``validate``, ``enrich``, ``react``, ``customers`` (react to
new customers), ``on_events``, ``after_commit``, ``sweep``, ``check_config``,
``merge``, ``export``, ``erase``, ``timeline``.  With ``gate: true`` its
react hook blocks until :data:`GATE` is set (and sets :data:`ENTERED` first),
so a test can hold a write transaction open without sleeping.  With
``RELFAULTY_IMPORT_ERROR=1`` in the environment the module fails to import.
"""

from __future__ import annotations

import os
import threading

import crmkit
from crmkit import hookimpl

if os.environ.get("RELFAULTY_IMPORT_ERROR"):
    raise ImportError("relfaulty cannot import: RELFAULTY_IMPORT_ERROR is set")

PLUGIN = crmkit.PluginInfo(name="relfaulty", description="Fails in the hooks it is told to.")

HOOKS = ("validate", "enrich", "react", "customers", "on_events", "after_commit", "sweep",
         "check_config", "merge", "export", "erase", "timeline")
GATE = threading.Event()
"""Set it to let a gated react hook finish."""
ENTERED = threading.Event()
"""Set by a gated react hook once it holds the write transaction."""
AFTER_COMMIT_CALLS: list[tuple[str, int]] = []
"""``(kind, batch size)`` of every after-commit call in this process."""


def _maybe_fail(config, hook: str) -> None:
    if hook in config.get("fail", ()):
        raise RuntimeError(f"relfaulty broke in {hook}")


@hookimpl
def crmkit_config_schema():
    return {"type": "object", "additionalProperties": False, "properties": {
        "fail": {"type": "array", "items": {"enum": list(HOOKS)}, "default": []},
        "gate": {"type": "boolean", "default": False}}}


@hookimpl
def crmkit_check_config(config):
    _maybe_fail(config, "check_config")


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    _maybe_fail(ctx.config, "validate")


@hookimpl
def crmkit_enrich_interactions(ctx, rows):
    _maybe_fail(ctx.config, "enrich")


@hookimpl
def crmkit_react_interactions(ctx, batch):
    if ctx.config.get("gate"):
        ENTERED.set()
        if not GATE.wait(timeout=120):
            raise RuntimeError("relfaulty gate was never opened")
    _maybe_fail(ctx.config, "react")


@hookimpl
def crmkit_react_customers(ctx, batch):
    _maybe_fail(ctx.config, "customers")


@hookimpl
def crmkit_on_events(ctx, events):
    _maybe_fail(ctx.config, "on_events")


@hookimpl
def crmkit_after_commit(ctx, kind, batch):
    AFTER_COMMIT_CALLS.append((kind, len(batch) or batch.last_id - batch.first_id + 1))
    _maybe_fail(ctx.config, "after_commit")


@hookimpl
def crmkit_sweep(ctx):
    _maybe_fail(ctx.config, "sweep")
    return {"swept": 1}


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    _maybe_fail(ctx.config, "merge")


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    _maybe_fail(ctx.config, "export")
    return {"faulty": "nothing held"}


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    _maybe_fail(ctx.config, "erase")


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    _maybe_fail(ctx.config, "timeline")
    return []
