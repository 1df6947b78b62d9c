"""collaborative: the interaction centre across departments.

Routing rules send inbound interactions to teams as work items; hand-offs
between teams carry a note and must be acknowledged or the sweep escalates
them; outbound contact uses the preferred channel unless an override reason
is recorded, and the core's consent rules apply.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="collaborative",
    description="Interaction centre: routing rules, work items, team hand-offs, outbound channels.",
    api="CollaborativeAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
           "card", "pages", "work", "locale"),
)


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
