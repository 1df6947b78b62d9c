"""collaborative: the interaction centre across departments.

Routing rules send inbound interactions to teams as work items; hand-offs
between teams carry a note and must be acknowledged or the sweep escalates
them; outbound contact uses the preferred channel unless an override reason
is recorded, and the core's consent rules apply.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="collaborative",
    description="Interaction centre: routing rules, work items, team hand-offs, outbound channels.",
)

HERE = Path(__file__).parent

EVENT_TYPES = {
    "workitem.routed": "an interaction became a work item of a team (payload: work_item_id, "
                       "interaction_id, team, rule)",
    "workitem.changed": "a work item changed state (payload: work_item_id, from, to, team, assignee)",
    "handoff.created": "a work item was handed to another team (payload: work_item_id, "
                       "handoff_id, from, to, ack_due_at)",
    "handoff.acknowledged": "the receiving team acknowledged a hand-off (payload: work_item_id, "
                            "handoff_id, team)",
    "handoff.escalated": "a hand-off was not acknowledged in time and went to the escalation "
                         "team (payload: work_item_id, handoff_id, escalation_id, from, to, "
                         "ack_due_at)",
    "contact.sent": "an outbound contact was made (payload: contact_id, interaction_id, channel, "
                    "preferred_channel, override)",
}


@hookimpl
def crmkit_config_schema():
    from crmkit.plugin import with_condition_schema

    return with_condition_schema(json.loads((HERE / "config.schema.json").read_text()))


@hookimpl
def crmkit_check_config(crm, config):
    from .routing import check_config

    check_config(crm.enabled_plugins(), config)


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_event_types():
    return dict(EVENT_TYPES)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    from .workitems import route_batch

    route_batch(ctx, batch)


@hookimpl
def crmkit_sweep(ctx):
    from .handoffs import escalate_due

    return {"handoffs_escalated": escalate_due(ctx)}


@hookimpl
def crmkit_plugin_api(crm):
    from .api import CollaborativeAPI

    return CollaborativeAPI(crm)


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    from .privacy import timeline

    return timeline(ctx, customer_id, limit)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .privacy import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .privacy import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .privacy import erase

    erase(ctx, customer_id)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import demo

    return demo(crm, rng)


@hookimpl
def crmkit_customer_card(crm, principal, customer):
    from .card import card

    return card(crm, principal, customer)
