"""relcheck: the reliability suite's instrument plugin.

It reacts to every interaction with exactly one row in ``relcheck_reacts``
(set-based: one INSERT … SELECT per batch) recording the batch's id range, and
keeps a per-customer counter in ``relcheck_counts`` that must always equal the
number of those rows (a cached balance that must equal its ledger's sum).
That makes "a batch's react rows exist or none do" and "no lost update"
checkable exactly after a crash or a race.  With ``RELCHECK_PROGRESS=1`` in the
environment it prints ``reacted FIRST LAST`` when it has reacted to a batch
(inside the transaction) and ``committed FIRST LAST`` once the batch is
committed, so a parent process can kill an import at a chosen batch.  It copies each new customer's name and email into
``relcheck_profiles`` so the privacy scan has plugin-held personal data to find.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="relcheck",
    description="Reliability instrument: one react row per interaction, a counter cache, progress.",
)

HERE = Path(__file__).parent
AFTER_COMMIT_CALLS: list[str] = []
"""The kind of every batch relcheck's after-commit hook saw in this process."""


@hookimpl
def crmkit_config_schema():
    return {"type": "object", "additionalProperties": False, "properties": {}}


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    from .logic import react

    react(ctx, batch)
    if os.environ.get("RELCHECK_PROGRESS"):
        print(f"reacted {batch.first_id} {batch.last_id}", file=sys.stdout, flush=True)


@hookimpl
def crmkit_on_events(ctx, events):
    from .logic import copy_profiles

    copy_profiles(ctx, [e.customer_id for e in events if e.type == "customer.created"])


@hookimpl
def crmkit_after_commit(kind, batch):
    AFTER_COMMIT_CALLS.append(kind)
    if kind == "interactions" and os.environ.get("RELCHECK_PROGRESS"):
        print(f"committed {batch.first_id} {batch.last_id}", file=sys.stdout, flush=True)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .logic import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .logic import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .logic import erase

    erase(ctx, customer_id)
