"""Reading the append-only domain event log, and the core's own event types."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from . import tables
from .messaging import EVENT_TYPES as MESSAGE_EVENT_TYPES
from .models import INTERACTION_RECORDED, Event

CORE_EVENT_TYPES = {
    "customer.created": "a customer was created",
    "customer.updated": "fields of a customer changed (payload: external_id, fields)",
    "customer.merged": "a duplicate was merged into a customer (payload: duplicate_id)",
    "customer.erased": "a customer's personal data was erased",
    "consent.changed": "a customer granted or withdrew consent on a channel",
    INTERACTION_RECORDED: "an interaction was recorded; not stored per row: plugins see "
                            "interactions set-based in crmkit_react_interactions",
    **MESSAGE_EVENT_TYPES,
}
"""Event types the core itself emits."""


class EventLog:
    """``crm.events``: query stored domain events."""

    def __init__(self, crm):
        self.crm = crm

    def list(self, type: str | None = None, customer_id: int | None = None,
             since: dt.datetime | None = None, after_id: int | None = None,
             limit: int | None = 1000) -> list[Event]:
        """Stored events in id order, filtered by type, customer, time or id."""
        e = tables.events
        query = select(e).order_by(e.c.id)
        if type is not None:
            query = query.where(e.c.type == type)
        if customer_id is not None:
            query = query.where(e.c.customer_id == customer_id)
        if since is not None:
            query = query.where(e.c.occurred_at >= since)
        if after_id is not None:
            query = query.where(e.c.id > after_id)
        if limit is not None:
            query = query.limit(limit)
        with self.crm.read() as conn:
            return [Event(**dict(r)) for r in conn.execute(query).mappings()]

    def types(self) -> dict[str, str]:
        """Every known event type: the core's plus each enabled plugin's ``crmkit_event_types``."""
        known = dict(CORE_EVENT_TYPES)
        for name in self.crm.enabled_plugins():
            known.update(self.crm.hooks.call_one(name, "crmkit_event_types", None) or {})
        return known


__all__ = ["CORE_EVENT_TYPES", "EventLog"]
