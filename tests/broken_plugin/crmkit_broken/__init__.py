"""A deliberately broken plugin: ``crmkit plugins check broken`` must report exactly three faults.

1. ``crmkit_timline`` is a misspelt hook (crmkit has ``crmkit_timeline``): it is never called.
2. ``config.schema.json`` has an optional key, ``signature``, without a ``default``.
3. ``migrations/broken_0001.py`` does not undo its table in ``downgrade()``.

Everything else is written correctly, so that the check reports these three and nothing more.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(name="broken", description="A plugin with three deliberate faults.")

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    return json.loads((HERE / "config.schema.json").read_text(encoding="utf-8"))


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import notes

    return [notes]


@hookimpl
def crmkit_timline(ctx, customer_id, limit):  # fault 1: misspelt hook name
    return []


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .tables import notes

    ctx.conn.execute(notes.update().where(notes.c.customer_id == duplicate_id)
                     .values(customer_id=keep_id))


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .tables import notes

    return [r.note for r in ctx.conn.execute(notes.select().where(notes.c.customer_id == customer_id))]


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .tables import notes

    ctx.conn.execute(notes.update().where(notes.c.customer_id == customer_id).values(note="(erased)"))
