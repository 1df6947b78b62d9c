"""relfaulty: a plugin that fails on demand, for the failing-plugin tests.

Its configuration ``fail`` lists the hooks that raise ``RuntimeError("relfaulty
broke in HOOK")``: ``validate``, ``enrich``, ``react``, ``customers`` (react to
new customers), ``on_events``, ``after_commit``, ``sweep``, ``check_config``,
``merge``, ``export``, ``erase``, ``timeline``.  With ``gate: true`` its
react hook blocks until :data:`GATE` is set (and sets :data:`ENTERED` first),
so a test can hold a write transaction open without sleeping.  Its
configuration ``misbehave`` makes the react hook misuse the transaction
instead of raising (see :data:`MISBEHAVIOURS`), or with ``wrong_result`` makes
validate, sweep and timeline return the wrong type.  With
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
MISBEHAVIOURS = {
    "commit": "ctx.conn.commit()",
    "commit_statement": "executes COMMIT",
    "driver_commit": "commits the database driver's connection",
    "rollback": "ctx.conn.rollback()",
    "delete_batch": "deletes the batch's interactions",
    "driver_delete_batch": "deletes them through the database driver's own cursor",
    "null_core_column": "writes NULL into interactions.kind (NOT NULL)",
    "swallow_db_error": "catches the error of a failing statement and returns",
    "wrong_result": "validate returns a str, sweep a list, timeline a dict",
}
"""What ``misbehave`` can make the plugin do; the react hook first updates C1's name, so a
commit would keep that."""
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
        "gate": {"type": "boolean", "default": False},
        "misbehave": {"enum": [None, *MISBEHAVIOURS], "default": None}}}


@hookimpl
def crmkit_check_config(config):
    _maybe_fail(config, "check_config")


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    _maybe_fail(ctx.config, "validate")
    if ctx.config.get("misbehave") == "wrong_result":
        return "all fine"


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
    _misbehave(ctx, batch, ctx.config.get("misbehave"))


def _misbehave(ctx, batch, how) -> None:
    from sqlalchemy import text

    if how is None or how == "wrong_result":
        return
    conn = ctx.conn
    conn.execute(text("UPDATE customers SET name = 'changed by relfaulty' "
                      "WHERE external_id = 'C1'"))
    batch_ids = {"first": batch.first_id, "last": batch.last_id}
    if how == "commit":
        conn.commit()
    elif how == "commit_statement":
        conn.exec_driver_sql("COMMIT")
    elif how == "driver_commit":
        conn.connection.driver_connection.commit()
    elif how == "rollback":
        conn.rollback()
    elif how == "delete_batch":
        conn.execute(text("DELETE FROM interactions WHERE id BETWEEN :first AND :last"),
                     batch_ids)
    elif how == "driver_delete_batch":
        mark = "?" if conn.dialect.name == "sqlite" else "%s"
        conn.connection.driver_connection.cursor().execute(
            f"DELETE FROM interactions WHERE id BETWEEN {mark} AND {mark}",
            (batch.first_id, batch.last_id))
    elif how == "null_core_column":
        conn.execute(text("UPDATE interactions SET kind = NULL "
                          "WHERE id BETWEEN :first AND :last"), batch_ids)
    elif how == "swallow_db_error":
        try:
            conn.execute(text("UPDATE interactions SET kind = NULL "
                              "WHERE id BETWEEN :first AND :last"), batch_ids)
        except Exception:  # the misbehaviour under test: the error is swallowed
            pass


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
    if ctx.config.get("misbehave") == "wrong_result":
        return ["swept"]
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
    if ctx.config.get("misbehave") == "wrong_result":
        return {"entries": []}
    return []
