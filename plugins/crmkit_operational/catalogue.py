"""What operational emits, and which condition fields each event type offers.

Automation rules and territory rules are checked against this catalogue at
configuration time, so a misspelt field is a config error, not a rule that
silently never fires.
"""

from __future__ import annotations

from typing import Callable

from crmkit.plugin import INTERACTION_RECORDED, EventType

EVENT_TYPES = {
    "stage.changed": "a lead or opportunity moved stage (payload: entity, record_id, from, to, "
                     "owner, amount, currency)",
    "lead.qualified": "a lead's score reached mql_threshold and it became an mql (payload: score, "
                      "threshold)",
    "lead.assigned": "a lead got an owner (payload: owner, team)",
    "assignment.failed": EventType("nobody in a team could take an item (payload: team, "
                                   "subject)", personal=["subject"]),
    "task.created": EventType("a task was created (payload: task_id, kind, subject, assignee, "
                              "due_at)", personal=["subject"]),
    "task.closed": "a task was done or cancelled (payload: task_id, status)",
    "case.opened": "a service case was opened (payload: case_id, priority, source, assignee)",
    "case.status_changed": "a case moved state (payload: case_id, from, to)",
    "case.sla_breached": "a case missed a target (payload: case_id, target, due_at, priority)",
    "message.queued": "automation queued a message in the outbox crmkit worker sends (payload: "
                      "message_id, channel, rule)",
}
"""The events operational emits (its ``crmkit_event_types``); a subject is personal (it may
quote the customer, and erasure clears it)."""

AUTOMATION_PREFIX = "automation."
"""Rules may ``emit`` their own event types, named ``automation.<name>``."""

CUSTOMER_FIELDS = {"customer.external_id", "customer.type", "customer.name", "customer.email",
                   "customer.phone", "customer.preferred_channel", "customer.lifecycle_stage",
                   "customer.tags", "customer.attributes.*"}
LEAD_FIELDS = {"lead.stage", "lead.score", "lead.owner"}

PAYLOADS: dict[str, set[str]] = {
    INTERACTION_RECORDED: {"interaction_id", "kind", "channel", "direction", "amount",
                             "currency", "payload.*"},
    "customer.created": {"external_id"},
    "customer.updated": {"external_id", "fields"},
    "customer.merged": {"external_id", "duplicate_id", "duplicate_external_id"},
    "customer.erased": {"external_id"},
    "consent.changed": {"external_id", "channel", "granted"},
    "stage.changed": {"entity", "record_id", "from", "to", "owner", "amount", "currency"},
    "lead.qualified": {"score", "threshold"},
    "lead.assigned": {"owner", "team"},
    "assignment.failed": {"team", "subject"},
    "task.created": {"task_id", "kind", "subject", "assignee", "due_at"},
    "task.closed": {"task_id", "status"},
    "case.opened": {"case_id", "priority", "source", "assignee"},
    "case.status_changed": {"case_id", "from", "to"},
    "case.sla_breached": {"case_id", "target", "due_at", "priority"},
    "message.queued": {"message_id", "channel", "rule"},
    "social.negative_mention": {"mention_id", "platform", "handle", "score"},
    "referral.converted": {"referrer_id", "referee_id", "interaction_id"},
    "tier.changed": {"from", "to"},
    "milestone.reached": {"count"},
}
"""Payload keys of the event types whose payload is known; others allow any ``payload.*``."""


def fields_for(event_type: str | None) -> Callable[[str], bool]:
    """Predicate: is ``field`` usable in a condition on ``event_type`` (None: customer only)?"""
    known = PAYLOADS.get(event_type) if event_type is not None else set()
    if event_type is not None and event_type.startswith(AUTOMATION_PREFIX):
        known = None

    def allowed(field: str) -> bool:
        if field in CUSTOMER_FIELDS or field in LEAD_FIELDS:
            return True
        if field.startswith("customer.attributes.") and len(field) > len("customer.attributes."):
            return True
        if event_type is None or not field.startswith("payload.") or field == "payload.":
            return False
        key = field[len("payload."):]
        if known is None:
            return True
        return key in known or any(k.endswith(".*") and key.startswith(k[:-1]) for k in known)

    return allowed
