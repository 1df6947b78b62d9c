"""Outbound contact: the customer's preferred channel, or another one with a recorded reason; consent applies."""

from __future__ import annotations

from typing import Any

import attrs
from sqlalchemy import insert

from crmkit.plugin import ValidationError, allocate_ids, text_limit

from . import workitems
from .tables import contacts

SUBJECT_LIMIT = 300
"""The longest contact subject (lower if the core config's ``max_field_length`` is lower)."""
REASON_LIMIT = 1000
"""The longest override reason (lower if the core config's ``max_field_length`` is lower)."""


class OverrideRequired(ValidationError):
    """Contacting a customer on a channel other than the preferred one needs an override reason."""


@attrs.frozen
class Contact:
    """One outbound contact as recorded."""

    id: int
    customer_id: int
    interaction_id: int
    channel: str
    preferred_channel: str | None
    override_reason: str | None
    subject: str


def contact(crm, tx, external_id: str, subject: str, channel: str | None = None,
            override_reason: str | None = None, kind: str = "message",
            work_item_id: int | None = None) -> Contact:
    """Contact a customer inside ``tx``: check the channel rule and consent, record the interaction.

    ``channel`` defaults to the preferred channel; any other channel needs a
    non-empty ``override_reason``, which is stored and audited.  Consent is
    checked through ``crm.customers.require_consent`` (``ConsentError``).
    """
    customer = crm.customers.get(external_id)
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError(f"contact {external_id}: subject: required non-empty text")
    if problem := text_limit(crm, SUBJECT_LIMIT).problem(subject):
        raise ValidationError(f"contact {external_id}: subject: {problem}")
    preferred = customer.preferred_channel
    chosen = (channel or preferred or "").strip()
    if not chosen:
        raise ValidationError(f"contact {external_id}: channel: the customer has no preferred "
                              "channel; give a channel and an override reason")
    reason = (override_reason or "").strip() or None
    if chosen != preferred and reason is None:
        raise OverrideRequired(
            f"contact {external_id}: channel: {chosen!r} is not the customer's preferred channel "
            f"({preferred!r}); give an override reason to use it")
    if reason is not None and chosen == preferred:
        reason = None  # no override happened: nothing to record
    if reason is not None and (problem := text_limit(crm, REASON_LIMIT).problem(reason)):
        raise ValidationError(f"contact {external_id}: override reason: {problem}")
    crm.customers.require_consent(customer.id, chosen)
    payload: dict[str, Any] = {"subject": subject}
    if reason is not None:
        payload["override_reason"] = reason
    if work_item_id is not None and workitems.get(tx.conn, work_item_id)["customer_id"] != customer.id:
        raise ValidationError(f"contact {external_id}: work item {work_item_id} belongs to "
                              "another customer")
    interaction = crm.interactions.record(customer=external_id, occurred_at=tx.now(),
                                          kind=kind, channel=chosen, direction="outbound",
                                          payload=payload, actor=tx.actor)
    ctx = tx.context("collaborative")
    row = {"id": allocate_ids(tx.conn, contacts, 1), "customer_id": customer.id,
           "interaction_id": interaction.id, "work_item_id": work_item_id, "channel": chosen,
           "preferred_channel": preferred, "override_reason": reason, "subject": subject,
           "by": tx.actor, "at": tx.now()}
    tx.conn.execute(insert(contacts), row)
    if reason is not None:
        ctx.audit("channel_override", "collaborative_contacts", str(row["id"]),
                  {"channel": [preferred, chosen], "override_reason": "recorded"},
                  customer_id=customer.id)
    ctx.emit("contact.sent", customer.id,
             {"contact_id": row["id"], "interaction_id": interaction.id, "channel": chosen,
              "preferred_channel": preferred, "override": reason is not None})
    return Contact(row["id"], customer.id, interaction.id, chosen, preferred, reason, subject)
