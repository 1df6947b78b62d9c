"""Customer data services: timeline entries, the records events are about, merge, export and
erasure of operational's rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, select, update

from crmkit.plugin import TimelineEntry

from . import hits
from .stages import LEAD_STAGES
from .tables import (assignments, case_history, cases, firings, leads, opportunities,
                     stage_history, tasks)

CUSTOMER_TABLES = (opportunities, stage_history, assignments, tasks, cases, case_history, firings)
"""Tables whose rows simply follow the customer id (leads need merging: one row per customer)."""

ERASED = "(erased)"


def timeline(ctx, customer_id: int, limit: int) -> list[TimelineEntry]:
    """Stage moves, tasks, cases and automation firings, newest first.

    Each entry's ``resource`` is ``{"owner": handle}`` as the routes ask the row-level rule
    (:func:`.routes.permission_allowed`): a stage move's, the owner of the lead or opportunity
    now; a task's or case's, its assignee; a fired rule's, the owner of the customer's lead
    (the record rules read and act on: ``set_stage``, ``assign``, ``create_task`` with no
    assignee), None when the customer has no lead.  An owner of None (an unassigned task) is
    refused to a member the rule restricts, as on the routes."""
    conn = ctx.conn
    entries: list[TimelineEntry] = []
    h, o = stage_history, opportunities
    query = (select(h, leads.c.owner.label("lead_owner"), o.c.owner.label("opportunity_owner"))
             .select_from(h.outerjoin(leads, and_(h.c.entity == "lead",
                                                  leads.c.customer_id == h.c.record_id))
                          .outerjoin(o, and_(h.c.entity == "opportunity", o.c.id == h.c.record_id)))
             .where(h.c.customer_id == customer_id)
             .order_by(h.c.at.desc(), h.c.id.desc()).limit(limit))
    for r in conn.execute(query):
        lead = r.entity == "lead"
        what = "lead" if lead else f"opportunity {r.record_id}"
        move = f"{r.from_stage} → {r.to_stage}" if r.from_stage else f"entered at {r.to_stage}"
        entries.append(TimelineEntry(at=r.at, kind="stage", summary=f"{what}: {move}",
                                     details={"entity": r.entity, "record_id": r.record_id,
                                              "actor": r.actor},
                                     resource=_owned(r.lead_owner if lead else
                                                     r.opportunity_owner)))
    t = tasks
    for r in conn.execute(select(t).where(t.c.customer_id == customer_id)
                          .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)):
        entries.append(TimelineEntry(
            at=r.created_at, kind="task",
            summary=f"task {r.id} ({r.kind}): {r.subject} — {r.status}", personal=[r.subject],
            details={"task_id": r.id, "assignee": r.assignee, "due_at": r.due_at.isoformat()},
            resource=_owned(r.assignee)))
    ch = case_history
    query = (select(ch, cases.c.subject, cases.c.priority, cases.c.assignee)
             .join(cases, cases.c.id == ch.c.case_id)
             .where(ch.c.customer_id == customer_id).order_by(ch.c.at.desc(), ch.c.id.desc())
             .limit(limit))
    for r in conn.execute(query):
        move = f"{r.from_status} → {r.to_status}" if r.from_status else "opened"
        entries.append(TimelineEntry(at=r.at, kind="case",
                                     summary=f"case {r.case_id} ({r.priority}): {r.subject} — {move}",
                                     personal=[r.subject],
                                     details={"case_id": r.case_id, "actor": r.actor},
                                     resource=_owned(r.assignee)))
    f = firings
    query = (select(f, leads.c.customer_id.label("lead"), leads.c.owner)
             .select_from(f.outerjoin(leads, leads.c.customer_id == f.c.customer_id))
             .where(f.c.customer_id == customer_id, f.c.status == "fired")
             .order_by(f.c.fired_at.desc(), f.c.id.desc()).limit(limit))
    for r in conn.execute(query):
        entries.append(TimelineEntry(at=r.fired_at, kind="automation",
                                     summary=f"rule {r.rule}: {r.outcome}",
                                     details={"trigger": r.trigger_type},
                                     resource=None if r.lead is None else _owned(r.owner)))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


LEAD_EVENTS = {"lead.qualified", "lead.assigned", "message.queued"}
"""Event types about the customer's lead (a queued message as the rule that queued it: rules
read and act on the lead, see :func:`timeline`)."""
RECORD_EVENTS = {"task.created": ("task", "task_id"), "task.closed": ("task", "task_id"),
                 "case.opened": ("case", "case_id"), "case.status_changed": ("case", "case_id"),
                 "case.sla_breached": ("case", "case_id")}
"""Event types about one task or case: which, and the payload key holding its id."""


def event_resources(ctx, events: list) -> list[dict[str, str | None] | None]:
    """The record each of operational's ``events`` is about, ``{"owner": handle}`` as the
    routes ask the row-level rule (:func:`.routes.permission_allowed`), owners as they are
    now: a lead's stage move, qualification or assignment and a message a rule queued, the
    owner of the customer's lead (its customer now, a merge moving both); an opportunity's
    stage move, its owner; a task's or case's event, its assignee.  None for an event about
    no record (``assignment.failed``: nobody took the item) or one that no longer exists (a
    customer without a lead).  One query per table for all of ``events``."""
    records = [_event_record(event) for event in events]
    owners: dict[tuple[str, int], str | None] = {}
    for kind, (key, owner) in {"lead": (leads.c.customer_id, leads.c.owner),
                               "opportunity": (opportunities.c.id, opportunities.c.owner),
                               "task": (tasks.c.id, tasks.c.assignee),
                               "case": (cases.c.id, cases.c.assignee)}.items():
        ids = sorted({record[1] for record in records if record and record[0] == kind})
        if ids:
            owners.update(((kind, record_id), handle) for record_id, handle in
                          ctx.conn.execute(select(key, owner).where(key.in_(ids))))
    return [_owned(owners[record]) if record in owners else None for record in records]


def _event_record(event) -> tuple[str, int] | None:
    """``(kind, id)`` of the lead (by customer id), opportunity, task or case ``event`` is
    about, or None."""
    if event.type in LEAD_EVENTS or (event.type == "stage.changed"
                                     and event.payload.get("entity") == "lead"):
        return None if event.customer_id is None else ("lead", event.customer_id)
    if event.type == "stage.changed" and event.payload.get("entity") == "opportunity":
        kind, key = "opportunity", "record_id"
    elif event.type in RECORD_EVENTS:
        kind, key = RECORD_EVENTS[event.type]
    else:
        return None
    record_id = event.payload.get(key)
    return (kind, record_id) if type(record_id) is int else None


def _owned(owner: str | None) -> dict[str, str | None]:
    """The ``resource`` of an entry about a record of ``owner`` (None: nobody's)."""
    return {"owner": owner}


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move every row of ``duplicate_id`` to ``keep_id``; the lead rows are combined.

    Combined lead: the further of the two stages (a disqualified lead yields
    to an active one), the higher score, keep's owner (else the duplicate's).
    """
    conn = ctx.conn
    keep = conn.execute(select(leads).where(leads.c.customer_id == keep_id)).first()
    dup = conn.execute(select(leads).where(leads.c.customer_id == duplicate_id)).first()
    if dup is not None:
        if keep is None:
            conn.execute(update(leads).where(leads.c.customer_id == duplicate_id)
                         .values(customer_id=keep_id, updated_at=ctx.now()))
        else:
            rank = {s: i for i, s in enumerate(LEAD_STAGES)}
            stage = max((keep.stage, dup.stage), key=lambda s: rank.get(s, -1))
            conn.execute(update(leads).where(leads.c.customer_id == keep_id).values(
                stage=stage, score=max(keep.score, dup.score), owner=keep.owner or dup.owner,
                updated_at=ctx.now()))
            conn.execute(delete(leads).where(leads.c.customer_id == duplicate_id))
    hits.forget(conn, [keep_id])  # computed from the combined interactions when next scored
    conn.execute(update(stage_history).where(stage_history.c.entity == "lead",
                                             stage_history.c.record_id == duplicate_id)
                 .values(record_id=keep_id))
    for table in CUSTOMER_TABLES:
        conn.execute(update(table).where(table.c.customer_id == duplicate_id)
                     .values(customer_id=keep_id))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def export(ctx, customer_id: int) -> dict[str, Any]:
    """Every operational row about the customer, JSON-ready."""
    conn = ctx.conn
    result: dict[str, Any] = {}
    lead = conn.execute(select(leads).where(leads.c.customer_id == customer_id)).mappings().first()
    result["lead"] = ({k: _plain(v) for k, v in lead.items() if k != "hits"}  # hits: derived
                      if lead is not None else None)
    for table in CUSTOMER_TABLES:
        key = table.name.removeprefix("operational_")
        rows = conn.execute(select(table).where(table.c.customer_id == customer_id)
                            .order_by(*table.primary_key.columns)).mappings()
        result[key] = [{k: _plain(v) for k, v in r.items()} for r in rows]
    return result


def erase(ctx, customer_id: int) -> None:
    """Replace personal free text (subjects, names) with ``(erased)``; keep amounts, dates, stages."""
    conn = ctx.conn
    for table, column in ((tasks, "subject"), (cases, "subject"), (opportunities, "name"),
                          (assignments, "subject")):
        conn.execute(update(table).where(table.c.customer_id == customer_id)
                     .values({column: ERASED}))
