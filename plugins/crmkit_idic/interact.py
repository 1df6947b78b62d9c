"""Interact: contact plans per group, who is due for contact, and recorded dialogues.

A customer's plan is the one of their value group or of their needs group
(the more frequent when both have one).  The last contact is the latest idic
dialogue or core interaction of a ``dialogue_kinds`` kind at or before as-of;
a customer is due when there was none, or it is ``frequency_days`` or more ago.
The channel is the plan's, else the customer's preferred channel, else
``default_channel``.
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import func, insert, select, union_all

from crmkit.plugin import (NotFound, ValidationError, consent_channel, customers, interactions,
                           text_limit)

from .differentiate import latest_run_id
from .settings import Settings
from .tables import dialogues, groups

DIRECTIONS = ("inbound", "outbound")
SUMMARY_WIDTH = 2000
"""The longest dialogue summary (lower if the core config's ``max_field_length`` is lower)."""


@attrs.frozen
class Plan:
    """The contact plan that applies to one customer."""

    group: str
    frequency_days: int
    channel: str | None


@attrs.frozen
class DueContact:
    """A customer due for contact under their plan."""

    customer: str
    customer_id: int
    name: str | None
    value_group: str
    needs_group: str | None
    plan: str
    frequency_days: int
    channel: str
    last_contact: dt.datetime | None
    days_since: int | None


def plan_for(settings: Settings, value_group: str | None, needs_group: str | None
             ) -> Plan | None:
    """The plan of the value group or needs group; the more frequent one when both exist."""
    plans = settings.contact_plans
    found = [Plan(g, plans[g]["frequency_days"], plans[g].get("channel"))
             for g in (value_group, needs_group) if g is not None and g in plans]
    if not found:
        return None
    return min(found, key=lambda p: p.frequency_days)


def last_contact_query(settings: Settings, as_of: dt.datetime):
    """SQL: ``(customer_id, last)``: the latest dialogue or dialogue-kind interaction ≤ as-of."""
    parts = [select(dialogues.c.customer_id.label("customer_id"), dialogues.c.at.label("at"))
             .where(dialogues.c.at <= as_of)]
    if settings.dialogue_kinds:
        parts.append(select(interactions.c.customer_id.label("customer_id"),
                            interactions.c.occurred_at.label("at"))
                     .where(interactions.c.kind.in_(settings.dialogue_kinds),
                            interactions.c.occurred_at <= as_of))
    both = union_all(*parts).subquery("contacts")
    return (select(both.c.customer_id, func.max(both.c.at).label("last"))
            .group_by(both.c.customer_id).subquery("last_contact"))


def due(conn, settings: Settings, as_of: dt.datetime, group: str | None = None
        ) -> list[DueContact]:
    """Customers of the latest run at or before as-of who are due for contact."""
    run_id = latest_run_id(conn, as_of)
    if run_id is None:
        raise NotFound("no differentiation at or before this date: run `crmkit idic differentiate`")
    last = last_contact_query(settings, as_of)
    query = (select(customers.c.id, customers.c.external_id, customers.c.name,
                    customers.c.preferred_channel, groups.c.value_group, groups.c.needs_group,
                    last.c.last)
             .join(groups, groups.c.customer_id == customers.c.id)
             .outerjoin(last, last.c.customer_id == customers.c.id)
             .where(groups.c.run_id == run_id, customers.c.erased_at.is_(None))
             .order_by(customers.c.id))
    out = []
    for row in conn.execute(query):
        if group is not None and group not in (row.value_group, row.needs_group):
            continue
        plan = plan_for(settings, row.value_group, row.needs_group)
        if plan is None:
            continue
        last_at = row.last
        days = None if last_at is None else int((as_of - last_at).total_seconds() // 86400)
        if days is not None and days < plan.frequency_days:
            continue
        out.append(DueContact(row.external_id, row.id, row.name, row.value_group, row.needs_group,
                              plan.group, plan.frequency_days,
                              plan.channel or row.preferred_channel or settings.default_channel,
                              last_at, days))
    return out


def record_dialogue(crm, tx, settings: Settings, external_id: str, channel: str | None,
                    summary: str | None, at: dt.datetime, direction: str = "outbound") -> int:
    """Store one dialogue (outbound ones need the customer's consent on the channel)."""
    if direction not in DIRECTIONS:
        raise ValidationError(f"direction: {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if summary is not None and (problem := text_limit(crm, SUMMARY_WIDTH).problem(summary)):
        raise ValidationError(f"summary: {problem}")
    row = tx.conn.execute(select(customers.c.id, customers.c.preferred_channel,
                                 customers.c.erased_at)
                          .where(customers.c.external_id == external_id)).first()
    if row is None:
        raise NotFound(f"no customer {external_id!r}")
    if row.erased_at is not None:
        raise ValidationError(f"customer {external_id!r} was erased")
    run_id = latest_run_id(tx.conn, at)
    plan = None
    if run_id is not None:
        assigned = tx.conn.execute(select(groups.c.value_group, groups.c.needs_group).where(
            groups.c.run_id == run_id, groups.c.customer_id == row.id)).first()
        if assigned is not None:
            plan = plan_for(settings, assigned.value_group, assigned.needs_group)
    channel = consent_channel(channel or (plan.channel if plan else None)
                              or row.preferred_channel or settings.default_channel, "channel")
    if direction == "outbound":
        crm.customers.require_consent(row.id, channel)
    dialogue_id = tx.conn.execute(insert(dialogues).values(
        customer_id=row.id, at=at, channel=channel, direction=direction,
        plan_group=plan.group if plan else None, summary=summary, actor=tx.actor,
    ).returning(dialogues.c.id)).scalar_one()
    tx.context("idic").emit("idic.dialogue_recorded", row.id,
                            {"dialogue_id": dialogue_id, "channel": channel,
                             "direction": direction, "plan": plan.group if plan else None})
    return dialogue_id


__all__ = ["Plan", "DueContact", "plan_for", "due", "record_dialogue", "last_contact_query"]
