"""Work items: created set-based from routed interactions, moved through their states.

States: ``queued → assigned → in_progress → done``.  A new or handed-off item
is placed in its team: assigned by the operational plugin's assignment
strategy when that plugin is enabled (``assign_to_team``), otherwise left
queued for the team.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from crmkit.plugin import (
    ConflictError, NotFound, ValidationError, allocate_ids, customers, interactions, staff,
)

from . import routing
from .settings import settings_of
from .tables import handoffs, history, work_items

QUEUED, ASSIGNED, IN_PROGRESS, DONE = "queued", "assigned", "in_progress", "done"
STATES = (QUEUED, ASSIGNED, IN_PROGRESS, DONE)
OPEN_STATES = (QUEUED, ASSIGNED, IN_PROGRESS)


def route_batch(ctx, batch) -> int:
    """Turn the batch's routable interactions into work items (react hook); return how many.

    The batch's customer deltas tell whether it holds a recent enough interaction of a
    routed kind at all; only then are its routable interactions selected.
    """
    settings = settings_of(ctx)
    i, c = interactions.c, customers.c
    since = ctx.now() - dt.timedelta(hours=settings.route_max_age_hours)
    if not any(delta.kind in settings.routed_kinds and delta.last_at >= since
               for kinds in batch.customer_deltas(ctx.conn).values() for delta in kinds.values()):
        return 0
    query = (select(i.id, i.customer_id, i.kind, i.channel, i.direction, i.amount, i.currency,
                    i.payload, c.external_id, c.type, c.tags, c.lifecycle_stage,
                    c.preferred_channel, c.attributes)
             .join(customers, customers.c.id == i.customer_id)
             .where(i.id.between(batch.first_id, batch.last_id),
                    i.kind.in_(settings.routed_kinds),
                    i.direction.in_(settings.routed_directions),
                    i.occurred_at >= since)
             .order_by(i.id))
    rows = ctx.conn.execute(query).mappings().all()
    if not rows:
        return 0
    documents = [routing.routing_data(r) for r in rows]
    decisions = routing.decide(ctx.crm, settings.rules, settings.fallback, documents, ctx.now())
    create(ctx, [(r["id"], r["customer_id"], subject_of(r), d) for r, d in zip(rows, decisions)])
    return len(rows)


def subject_of(row: Any) -> str:
    """A work item's subject, made from the interaction's kind and channel (no personal text)."""
    return f"{row['kind']} via {row['channel']}" if row["channel"] else row["kind"]


def create(ctx, items: list[tuple[int, int, str, routing.Decision]]) -> list[int]:
    """Insert work items ``(interaction id, customer id, subject, decision)``, place them, log history."""
    now = ctx.now()
    first = allocate_ids(ctx.conn, work_items, len(items))
    rows = [{"id": first + n, "customer_id": customer_id, "interaction_id": interaction_id,
             "team": decision.team, "state": QUEUED, "assignee": None, "rule": decision.rule,
             "subject": subject, "created_at": now, "updated_at": now}
            for n, (interaction_id, customer_id, subject, decision) in enumerate(items)]
    ctx.conn.execute(insert(work_items), rows)
    log(ctx, [{"work_item_id": r["id"], "customer_id": r["customer_id"], "action": "routed",
               "from_state": None, "to_state": QUEUED, "team": r["team"], "assignee": None}
              for r in rows])
    for r in rows:
        ctx.emit("workitem.routed", r["customer_id"],
                 {"work_item_id": r["id"], "interaction_id": r["interaction_id"],
                  "team": r["team"], "rule": r["rule"]})
    place(ctx, rows)
    return [r["id"] for r in rows]


def place(ctx, rows: list[dict[str, Any]]) -> None:
    """Assign queued items inside their team through operational's ``assign_to_team``, if enabled.

    ``rows`` carry ``id``, ``customer_id``, ``team`` and ``subject``; items
    nobody can take stay queued (operational reports ``assignment.failed``).
    """
    if not rows or "operational" not in ctx.crm.enabled_plugins():
        return
    operational = ctx.crm.plugin("operational")
    assigned = []
    for row in rows:
        handle = operational.assign_to_team(row["team"], row["customer_id"], row["subject"])
        if handle:
            assigned.append({"b_id": row["id"], "b_assignee": handle, **row})
    if not assigned:
        return
    ctx.conn.execute(update(work_items).where(work_items.c.id == bindparam("b_id"))
                     .values(state=ASSIGNED, assignee=bindparam("b_assignee"),
                             updated_at=ctx.now()),
                     [{"b_id": a["b_id"], "b_assignee": a["b_assignee"]} for a in assigned])
    log(ctx, [{"work_item_id": a["id"], "customer_id": a["customer_id"], "action": "assigned",
               "from_state": QUEUED, "to_state": ASSIGNED, "team": a["team"],
               "assignee": a["b_assignee"]} for a in assigned])


def log(ctx, entries: list[dict[str, Any]]) -> None:
    """Append history rows (one executemany); ``at`` and ``actor`` come from the context."""
    if entries:
        now, actor = ctx.now(), ctx.actor
        ctx.conn.execute(insert(history), [{"at": now, "actor": actor, "handoff_id": None, **e}
                                           for e in entries])


def get(conn, item_id: int) -> dict[str, Any]:
    """One work item as a dict, or NotFound."""
    row = conn.execute(select(work_items).where(work_items.c.id == item_id)).mappings().first()
    if row is None:
        raise NotFound(f"no work item {item_id}")
    return dict(row)


def lock(conn, item_id: int) -> None:
    """Lock the work item's row until the transaction ends (PostgreSQL; on SQLite the write
    transaction already excludes other writers): concurrent changes of it wait."""
    conn.execute(select(work_items.c.id).where(work_items.c.id == item_id).with_for_update())


def _set_state(ctx, item: dict[str, Any], action: str, state: str, assignee: str | None) -> None:
    ctx.conn.execute(update(work_items).where(work_items.c.id == item["id"])
                     .values(state=state, assignee=assignee, updated_at=ctx.now()))
    log(ctx, [{"work_item_id": item["id"], "customer_id": item["customer_id"], "action": action,
               "from_state": item["state"], "to_state": state, "team": item["team"],
               "assignee": assignee}])
    ctx.emit("workitem.changed", item["customer_id"],
             {"work_item_id": item["id"], "from": item["state"], "to": state,
              "team": item["team"], "assignee": assignee})


def _refuse(item: dict[str, Any], action: str, needs: str) -> ConflictError:
    return ConflictError(f"work item {item['id']} is {item['state']}; {action} needs {needs}")


def assign(ctx, item_id: int, handle: str) -> None:
    """Assign a queued or assigned item to an active staff member of its team."""
    item = get(ctx.conn, item_id)
    if item["state"] not in (QUEUED, ASSIGNED):
        raise _refuse(item, "assign", "state queued or assigned")
    member = ctx.conn.execute(select(staff.c.team, staff.c.active)
                              .where(staff.c.handle == handle)).first()
    if member is None or not member.active:
        raise NotFound(f"no active staff member {handle!r}")
    if member.team != item["team"]:
        raise ValidationError(f"staff member {handle!r} is in team {member.team!r}, work item "
                              f"{item_id} belongs to {item['team']!r}: hand it off first")
    _set_state(ctx, item, "assigned", ASSIGNED, handle)


def _advance(ctx, item_id: int, step: str, needs: str, hint: str, action: str,
             to_state: str) -> None:
    """Move an item in state ``needs`` on to ``to_state`` for its assignee, logged as
    ``action`` (acknowledges a pending hand-off); in another state ``step`` is refused."""
    item = get(ctx.conn, item_id)
    if item["state"] != needs:
        raise _refuse(item, step, f"state {needs} ({hint})")
    acknowledge_pending(ctx, item)
    _set_state(ctx, item, action, to_state, item["assignee"])


def start(ctx, item_id: int) -> None:
    """Start work on an assigned item (acknowledges a pending hand-off)."""
    _advance(ctx, item_id, "start", ASSIGNED, "assign it first", "started", IN_PROGRESS)


def complete(ctx, item_id: int) -> None:
    """Mark an in-progress item done (acknowledges a pending hand-off)."""
    _advance(ctx, item_id, "done", IN_PROGRESS, "start it first", "done", DONE)


def acknowledge_pending(ctx, item: dict[str, Any]) -> int | None:
    """Acknowledge the item's pending hand-off, if any; return its id."""
    h = handoffs.c
    pending = ctx.conn.execute(
        select(h.id).where(h.work_item_id == item["id"], h.kind == "handoff",
                           h.acknowledged_at.is_(None), h.escalated_at.is_(None))).scalar()
    if pending is None:
        return None
    ctx.conn.execute(update(handoffs).where(h.id == pending)
                     .values(acknowledged_at=ctx.now(), acknowledged_by=ctx.actor))
    log(ctx, [{"work_item_id": item["id"], "customer_id": item["customer_id"],
               "action": "acknowledged", "from_state": item["state"], "to_state": item["state"],
               "team": item["team"], "assignee": item["assignee"], "handoff_id": pending}])
    ctx.emit("handoff.acknowledged", item["customer_id"],
             {"work_item_id": item["id"], "handoff_id": pending, "team": item["team"]})
    return pending
