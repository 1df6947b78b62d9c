"""collaborative's public API: ``crm.plugin("collaborative")``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import and_, case, func, or_, select

from crmkit.plugin import PluginAPI, ValidationError, customers, ensure_utc, interactions

from . import handoffs as handoff_rules
from . import outbound, routing, workitems
from .settings import Settings
from .tables import handoffs, history, work_items


@attrs.frozen
class WorkItem:
    """A routed interaction being handled by a team."""

    id: int
    customer_id: int
    external_id: str
    interaction_id: int
    team: str
    state: str
    assignee: str | None
    rule: str
    subject: str
    created_at: dt.datetime
    updated_at: dt.datetime
    ack_due_at: dt.datetime | None = None
    """Deadline of the hand-off waiting for acknowledgement, if one is."""


@attrs.frozen
class HistoryEntry:
    """One change of a work item; hand-offs and escalations carry their note."""

    at: dt.datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    team: str
    assignee: str | None
    note: str | None = None
    from_team: str | None = None


@attrs.frozen
class TeamLoad:
    """Open work of one team as of a moment."""

    team: str
    queued: int
    assigned: int
    in_progress: int
    awaiting_ack: int
    overdue_ack: int


def _pending_ack():
    """Subquery: per work item, the deadline of its hand-off waiting for acknowledgement."""
    h = handoffs.c
    return (select(h.work_item_id, func.min(h.ack_due_at).label("ack_due_at"))
            .where(h.kind == "handoff", h.acknowledged_at.is_(None), h.escalated_at.is_(None))
            .group_by(h.work_item_id).subquery("pending_ack"))


class CollaborativeAPI(PluginAPI):
    """Routing, work items, hand-offs and outbound contact."""

    plugin = "collaborative"
    settings_class = Settings

    # -- routing ------------------------------------------------------------------------

    def route(self, customer: str, kind: str, channel: str | None = None,
              direction: str = "inbound", payload: dict[str, Any] | None = None,
              amount: Any = None, currency: str | None = None,
              as_of: dt.datetime | None = None) -> routing.Decision:
        """Dry run: the team an interaction like this would go to, and the rule that decided.

        Nothing is written.  Whether the kind/direction is routed at all is not
        considered here (see ``routed``).
        """
        record = self.crm.customers.get(customer)
        row = {"customer_id": record.id, "external_id": record.external_id, "type": record.type,
               "tags": list(record.tags), "lifecycle_stage": record.lifecycle_stage,
               "preferred_channel": record.preferred_channel, "attributes": record.attributes,
               "kind": kind, "channel": channel, "direction": direction, "amount": amount,
               "currency": currency, "payload": payload or {}}
        return self._decide([row], as_of)[0]

    def route_interaction(self, interaction_id: int,
                          as_of: dt.datetime | None = None) -> routing.Decision:
        """Dry run for a stored interaction: where the current rules would send it."""
        i, c = interactions.c, customers.c
        with self.crm.read() as conn:
            row = conn.execute(
                select(i.customer_id, i.kind, i.channel, i.direction, i.amount, i.currency,
                       i.payload, c.external_id, c.type, c.tags, c.lifecycle_stage,
                       c.preferred_channel, c.attributes)
                .join(customers, c.id == i.customer_id).where(i.id == interaction_id)
            ).mappings().first()
        if row is None:
            from crmkit.plugin import NotFound

            raise NotFound(f"no interaction with id {interaction_id}")
        return self._decide([row], as_of)[0]

    def routed(self, kind: str, direction: str = "inbound") -> bool:
        """Whether interactions of this kind and direction become work items."""
        return self.settings.routes(kind, direction)

    def _decide(self, rows: list[Any], as_of: dt.datetime | None) -> list[routing.Decision]:
        settings = self.settings
        as_of = self.crm.clock.now() if as_of is None else ensure_utc(as_of, "as_of")
        documents = [routing.routing_data(r) for r in rows]
        return routing.decide(self.crm, settings.rules, settings.fallback, documents, as_of)

    # -- work items ----------------------------------------------------------------------

    def _items(self, *where, limit: int | None = None) -> list[WorkItem]:
        w = work_items.c
        pending = _pending_ack()
        query = (select(work_items, customers.c.external_id, pending.c.ack_due_at)
                 .join(customers, customers.c.id == w.customer_id)
                 .outerjoin(pending, pending.c.work_item_id == w.id)
                 .where(*where).order_by(w.created_at, w.id).limit(limit))
        with self.crm.read() as conn:
            return [WorkItem(**dict(r)) for r in conn.execute(query).mappings()]

    def work_item(self, item_id: int) -> WorkItem:
        """One work item."""
        found = self._items(work_items.c.id == item_id)
        if not found:
            from crmkit.plugin import NotFound

            raise NotFound(f"no work item {item_id}")
        return found[0]

    def queue(self, team: str, states: tuple[str, ...] = workitems.OPEN_STATES,
              after: tuple[dt.datetime, int] | None = None,
              limit: int | None = None) -> list[WorkItem]:
        """A team's work items in the given states, oldest first (by creation, then id): with
        ``after`` (a creation instant and an id), those after it; with ``limit``, at most
        that many."""
        unknown = set(states) - set(workitems.STATES)
        if unknown:
            raise ValidationError(f"state: {sorted(unknown)[0]!r} is not a work item state "
                                  f"(allowed: {', '.join(workitems.STATES)})")
        w = work_items.c
        later = () if after is None else (or_(w.created_at > after[0], and_(
            w.created_at == after[0], w.id > after[1])),)
        return self._items(w.team == team, w.state.in_(states), *later, limit=limit)

    def items_of(self, customer: str) -> list[WorkItem]:
        """Every work item of one customer, oldest first."""
        return self._items(work_items.c.customer_id == self.crm.customers.get(customer).id)

    def history(self, item_id: int) -> list[HistoryEntry]:
        """Everything that happened to a work item, oldest first, hand-off notes included."""
        self.work_item(item_id)
        hi, h = history.c, handoffs.c
        query = (select(hi.at, hi.actor, hi.action, hi.from_state, hi.to_state, hi.team,
                        hi.assignee, h.note, h.from_team)
                 .outerjoin(handoffs, and_(h.id == hi.handoff_id,
                                           hi.action.in_(("handed_off", "escalated"))))
                 .where(hi.work_item_id == item_id).order_by(hi.id))
        with self.crm.read() as conn:
            return [HistoryEntry(**dict(r)) for r in conn.execute(query).mappings()]

    def team_load(self, as_of: dt.datetime | None = None) -> list[TeamLoad]:
        """Open work per team, with hand-offs awaiting acknowledgement and those overdue at ``as_of``."""
        as_of = self.crm.clock.now() if as_of is None else ensure_utc(as_of, "as_of")
        w = work_items.c
        pending = _pending_ack()

        def count(condition):
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = (select(w.team, count(w.state == workitems.QUEUED).label("queued"),
                        count(w.state == workitems.ASSIGNED).label("assigned"),
                        count(w.state == workitems.IN_PROGRESS).label("in_progress"),
                        count(pending.c.ack_due_at.is_not(None)).label("awaiting_ack"),
                        count(pending.c.ack_due_at <= as_of).label("overdue_ack"))
                 .outerjoin(pending, pending.c.work_item_id == w.id)
                 .where(w.state.in_(workitems.OPEN_STATES))
                 .group_by(w.team).order_by(w.team))
        with self.crm.read() as conn:
            return [TeamLoad(**dict(r)) for r in conn.execute(query).mappings()]

    # -- changes ---------------------------------------------------------------------------

    def _do(self, function, *args):
        with self.crm.transaction() as tx:
            return function(tx.context("collaborative"), *args)

    def assign(self, item_id: int, handle: str) -> WorkItem:
        """Assign a work item to an active staff member of its team."""
        self._do(workitems.assign, item_id, handle)
        return self.work_item(item_id)

    def start(self, item_id: int) -> WorkItem:
        """Start work on an assigned item."""
        self._do(workitems.start, item_id)
        return self.work_item(item_id)

    def complete(self, item_id: int) -> WorkItem:
        """Mark an in-progress item done."""
        self._do(workitems.complete, item_id)
        return self.work_item(item_id)

    def hand_off(self, item_id: int, team: str, note: str) -> WorkItem:
        """Hand an open item to another team with a non-empty note (acknowledge within ``ack_hours``)."""
        self._do(handoff_rules.hand_off, item_id, team, note)
        return self.work_item(item_id)

    def acknowledge(self, item_id: int) -> WorkItem:
        """Acknowledge the item's pending hand-off."""
        self._do(handoff_rules.acknowledge, item_id)
        return self.work_item(item_id)

    def escalate_due(self) -> int:
        """Escalate overdue hand-offs now (what the sweep does); return how many."""
        return self._do(handoff_rules.escalate_due)

    def contact(self, customer: str, subject: str, channel: str | None = None,
                override_reason: str | None = None, kind: str = "message",
                work_item_id: int | None = None) -> outbound.Contact:
        """Contact a customer outbound: preferred channel, or another with an override reason; consent applies."""
        with self.crm.transaction() as tx:
            return outbound.contact(self.crm, tx, customer, subject, channel, override_reason,
                                    kind, work_item_id)
