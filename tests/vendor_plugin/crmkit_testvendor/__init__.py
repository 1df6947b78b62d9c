"""A test plugin written the way a vendor would: every kind of hook, its own table and migration.

Used by the core's tests to show that a plugin outside the crmkit package can
do everything a built-in needs, through public hooks only.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="testvendor",
    description="Test vendor plugin: purchase counts, welcome notes, channel blocking.",
    payload_keys=("vendor_grade",),
    api="TestvendorAPI",
    parts=("cli", "migrations", "tables", "dataservices"),
)

HERE = Path(__file__).parent
AFTER_COMMIT_CALLS: list[tuple[str, int]] = []


@hookimpl
def crmkit_config_schema():
    return json.loads((HERE / "config.schema.json").read_text())


@hookimpl
def crmkit_event_types():
    return {"testvendor.big_purchase": "a purchase at or above big_purchase_amount"}


@hookimpl
def crmkit_customer_schema(config):
    return {"properties": {"vendor_level": {"type": "integer", "minimum": 1, "maximum": 5}}}


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    blocked = set(ctx.config["blocked_channels"])
    return [(i, "channel", f"channel {row['channel']!r} is blocked by testvendor")
            for i, row in enumerate(rows) if row["channel"] in blocked]


@hookimpl
def crmkit_enrich_interactions(ctx, rows):
    for row in rows:
        if row["kind"] == "purchase" and ctx.config["tag_payload"]:
            row["payload"] = dict(row["payload"] or {}, testvendor=True)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    from .logic import count_purchases

    count_purchases(ctx, batch)


@hookimpl
def crmkit_on_events(ctx, events):
    from .logic import welcome

    welcome(ctx, [e for e in events if e.type == "customer.created"])


@hookimpl
def crmkit_after_commit(kind, batch):
    AFTER_COMMIT_CALLS.append((kind, len(batch)))


@hookimpl
def crmkit_sweep(ctx):
    return {"swept": 1}


@hookimpl
def crmkit_demo(crm, rng):
    return [f"purchases counted for {crm.plugin('testvendor').customers_counted()} customers"]
