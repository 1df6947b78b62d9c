"""Tasks and reminders: creation (assignment, automation, API), closing, listing, dormancy sweep.

A task is ``open`` until ``done`` or ``cancelled``.  The sweep creates one
re-engagement task per dormancy spell: a customer whose last interaction is
at least ``tasks.dormant_days`` old gets a ``dormant`` task unless one was
already created after that last interaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import and_, exists, func, select, update

from crmkit.plugin import (NotFound, ValidationError, customers, ensure_utc, interactions,
                           where_given)

from .assignment import assign_team
from .rows import insert_all, require_customer, required_text
from .settings import settings_of
from .tables import leads, tasks

STATUSES = ("open", "done", "cancelled")


def first_contact_due(ctx) -> dt.datetime:
    """When a first-contact task created now is due."""
    return ctx.now() + dt.timedelta(hours=settings_of(ctx).tasks.first_contact_hours)


def create_tasks(ctx, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert tasks (customer_id, subject, assignee, due_at, kind, source); emit ``task.created``."""
    if not rows:
        return []
    now = ctx.now()
    params = [{"customer_id": r["customer_id"], "subject": r["subject"][:300], "kind": r["kind"],
               "assignee": r.get("assignee"), "due_at": r["due_at"], "status": "open",
               "source": r.get("source"), "created_at": now} for r in rows]
    ids = insert_all(ctx.conn, tasks, params)
    for task_id, p in zip(ids, params):
        ctx.emit("task.created", p["customer_id"], {
            "task_id": task_id, "kind": p["kind"], "subject": p["subject"],
            "assignee": p["assignee"], "due_at": p["due_at"].isoformat()})
    return ids


def create_task(ctx, customer_id: int, subject: str, assignee: str | None, due: dt.datetime,
                kind: str = "manual", source: str | None = None) -> int:
    """Validate and create one task; return its id."""
    require_customer(ctx.conn, customer_id)
    subject = required_text(ctx, subject, "task subject")
    due = ensure_utc(due, "task due")
    if assignee is not None:
        ctx.crm.staff.get(assignee)
    return create_tasks(ctx, [{"customer_id": customer_id, "subject": subject,
                               "assignee": assignee, "due_at": due, "kind": kind,
                               "source": source}])[0]


def close_task(ctx, task_id: int, status: str) -> None:
    """Mark an open task ``done`` or ``cancelled``; emit ``task.closed``."""
    if status not in ("done", "cancelled"):
        raise ValidationError(f"task status: {status!r} is not done or cancelled")
    row = ctx.conn.execute(select(tasks.c.status, tasks.c.customer_id)
                           .where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"no task with id {task_id}")
    if row.status != "open":
        raise ValidationError(f"task {task_id}: it is already {row.status} (only open tasks close)")
    ctx.conn.execute(update(tasks).where(tasks.c.id == task_id)
                     .values(status=status, closed_at=ctx.now()))
    ctx.emit("task.closed", row.customer_id, {"task_id": task_id, "status": status})


def list_tasks(conn, as_of: dt.datetime, overdue: bool = False, assignee: str | None = None,
               status: str | None = "open", customer_id: int | None = None,
               limit: int | None = 1000, task_id: int | None = None) -> list[dict[str, Any]]:
    """Tasks by due time; ``overdue`` = open and due before ``as_of``."""
    t = tasks
    query = (select(t.c.id, customers.c.external_id.label("customer"), t.c.subject, t.c.kind,
                    t.c.assignee, t.c.due_at, t.c.status, t.c.source, t.c.created_at, t.c.closed_at)
             .join(customers, customers.c.id == t.c.customer_id)
             .where(t.c.created_at <= as_of).order_by(t.c.due_at, t.c.id))
    if overdue:
        query = query.where(t.c.status == "open", t.c.due_at < as_of)
    else:
        query = where_given(query, (t.c.status, status))
    query = where_given(query, (t.c.assignee, assignee), (t.c.customer_id, customer_id),
                        (t.c.id, task_id), limit=limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def sweep_dormant(ctx) -> int:
    """Create re-engagement tasks for dormant customers (idempotent); return how many."""
    now = ctx.now()
    cutoff = now - dt.timedelta(days=settings_of(ctx).tasks.dormant_days)
    last = (select(interactions.c.customer_id, func.max(interactions.c.occurred_at).label("last"))
            .group_by(interactions.c.customer_id).subquery())
    already = exists().where(tasks.c.customer_id == last.c.customer_id, tasks.c.kind == "dormant",
                             tasks.c.created_at >= last.c.last)
    query = (select(last.c.customer_id, last.c.last, leads.c.owner)
             .join(customers, and_(customers.c.id == last.c.customer_id,
                                   customers.c.erased_at.is_(None)))
             .outerjoin(leads, leads.c.customer_id == last.c.customer_id)
             .where(last.c.last <= cutoff, ~already).order_by(last.c.customer_id))
    found = ctx.conn.execute(query).all()
    if not found:
        return 0
    owners = {r.customer_id: r.owner for r in found}
    team = settings_of(ctx).tasks.dormant_team
    unowned = [r.customer_id for r in found if r.owner is None]
    if team and unowned:
        picks = assign_team(ctx, team, [(cid, "dormant customer") for cid in unowned])
        owners.update(zip(unowned, picks))
    due = first_contact_due(ctx)
    create_tasks(ctx, [{"customer_id": r.customer_id, "assignee": owners[r.customer_id],
                        "subject": f"Re-engage: no interaction since {r.last.date().isoformat()}",
                        "due_at": due, "kind": "dormant", "source": "sweep"} for r in found])
    return len(found)
