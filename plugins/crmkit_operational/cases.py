"""Service cases: opening (API, complaints, negative mentions), the state machine, SLA targets.

States ``open → in_progress → resolved → closed``; ``resolved → in_progress``
reopens within ``cases.reopen_days`` of the resolution; every other move is
rejected.  The first move out of ``open`` (or :func:`respond`) is the first
response.  Each priority has first-response and resolution targets; due times
count business hours when ``cases.calendar`` is set.  The sweep emits
``case.sla_breached`` once per case and target, and closes resolved cases
whose reopen window has passed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, insert, or_, select, update

from crmkit.plugin import NotFound, ValidationError, ensure_utc, interactions

from .business_hours import due_after
from .rows import insert_all, listed
from .settings import settings_of
from .tables import case_history, cases

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "in_progress", "resolved", "closed")
MOVES = {("open", "in_progress"), ("in_progress", "resolved"), ("resolved", "closed"),
         ("resolved", "in_progress")}
TARGETS = (("first_response", "first_response_due", "first_response_at",
            "first_response_breached_at"),
           ("resolution", "resolution_due", "resolved_at", "resolution_breached_at"))


def open_cases(ctx, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert cases (customer_id, subject, priority, source, opened_at, interaction_id).

    Due times come from the priority's targets; the case goes to the
    ``cases.team`` member chosen by that team's strategy.  Emits ``case.opened``.
    """
    from .assignment import assign_team

    if not rows:
        return []
    settings = settings_of(ctx).cases
    tz = ctx.crm.core_config["timezone"]
    team = settings.team
    picks = (assign_team(ctx, team, [(r["customer_id"], f"case: {r['subject']}"[:300]) for r in rows])
             if team else [None] * len(rows))
    now = ctx.now()
    params = []
    for row, who in zip(rows, picks):
        target = settings.targets[row["priority"]]
        opened = row.get("opened_at") or now
        params.append({
            "customer_id": row["customer_id"], "subject": row["subject"][:300],
            "priority": row["priority"], "status": "open", "source": row.get("source"),
            "interaction_id": row.get("interaction_id"), "assignee": who, "opened_at": opened,
            "first_response_due": due_after(settings.calendar, tz, opened,
                                            target.first_response_hours),
            "resolution_due": due_after(settings.calendar, tz, opened, target.resolution_hours),
            "updated_at": now})
    ids = insert_all(ctx.conn, cases, params)
    _history(ctx, [(case_id, p["customer_id"], None, "open") for case_id, p in zip(ids, params)])
    for case_id, p in zip(ids, params):
        ctx.emit("case.opened", p["customer_id"], {
            "case_id": case_id, "priority": p["priority"], "source": p["source"],
            "assignee": p["assignee"]})
    return ids


def open_case(ctx, customer_id: int, subject: str, priority: str = "normal",
              source: str | None = None) -> int:
    """Validate and open one case; return its id."""
    from .rows import require_customer, required_text

    require_customer(ctx.conn, customer_id)
    if priority not in PRIORITIES:
        raise ValidationError(f"case priority: {priority!r} is not one of {', '.join(PRIORITIES)}")
    subject = required_text(ctx, subject, "case subject")
    return open_cases(ctx, [{"customer_id": customer_id, "subject": subject,
                             "priority": priority, "source": source}])[0]


def _history(ctx, moves) -> None:
    now = ctx.now()
    ctx.conn.execute(insert(case_history), [
        {"case_id": cid, "customer_id": cust, "from_status": frm, "to_status": to, "at": now,
         "actor": ctx.actor} for cid, cust, frm, to in moves])


def _case(conn, case_id: int):
    row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    return row


def move_case(ctx, case_id: int, to: str) -> None:
    """Move a case through the state machine; emit ``case.status_changed``."""
    row = _case(ctx.conn, case_id)
    what = f"case {case_id}"
    if to not in STATUSES:
        raise ValidationError(f"{what}: {to!r} is not a case state (allowed: {', '.join(STATUSES)})")
    if (row.status, to) not in MOVES:
        allowed = sorted(t for f, t in MOVES if f == row.status)
        raise ValidationError(f"{what}: cannot move from {row.status!r} to {to!r} "
                              f"(allowed: {', '.join(allowed) or 'nothing, it is closed'})")
    now = ctx.now()
    values: dict[str, Any] = {"status": to, "updated_at": now}
    if row.status == "resolved" and to == "in_progress":
        reopen_days = settings_of(ctx).cases.reopen_days
        window = dt.timedelta(days=reopen_days)
        if now - row.resolved_at > window:
            raise ValidationError(
                f"{what}: resolved on {row.resolved_at.date()}, more than "
                f"{reopen_days} days ago (cases.reopen_days); open a new case")
        values["resolved_at"] = None
    if row.first_response_at is None and row.status == "open":
        values["first_response_at"] = now
    if to == "resolved":
        values["resolved_at"] = now
    if to == "closed":
        values["closed_at"] = now
    ctx.conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
    _history(ctx, [(case_id, row.customer_id, row.status, to)])
    ctx.emit("case.status_changed", row.customer_id, {"case_id": case_id, "from": row.status,
                                                      "to": to})


def respond(ctx, case_id: int, at: dt.datetime | None = None) -> bool:
    """Record the first response (once); False when one was already recorded."""
    row = _case(ctx.conn, case_id)
    if row.first_response_at is not None:
        return False
    when = ensure_utc(at, "response time") if at is not None else ctx.now()
    ctx.conn.execute(update(cases).where(cases.c.id == case_id)
                     .values(first_response_at=when, updated_at=ctx.now()))
    return True


def open_for_complaints(ctx, batch) -> int:
    """Open a case per complaint in the batch (set-based select, one insert); return how many.

    The batch's customer deltas tell whether it holds a recent enough complaint at all;
    only then are its complaints selected.
    """
    i = interactions
    cutoff = ctx.now() - dt.timedelta(days=settings_of(ctx).cases.complaint_max_age_days)
    if not any("complaint" in kinds and kinds["complaint"].last_at >= cutoff
               for kinds in batch.customer_deltas(ctx.conn).values()):
        return 0
    query = (select(i.c.id, i.c.customer_id, i.c.occurred_at, i.c.payload)
             .where(i.c.id.between(batch.first_id, batch.last_id), i.c.kind == "complaint",
                    i.c.occurred_at >= cutoff).order_by(i.c.id))
    rows = []
    for r in ctx.conn.execute(query):
        payload = r.payload or {}
        text = payload.get("text") if isinstance(payload.get("text"), str) else None
        priority = payload.get("priority") if payload.get("priority") in PRIORITIES else "normal"
        rows.append({"customer_id": r.customer_id, "priority": priority, "source": "complaint",
                     "subject": f"Complaint: {text.strip()}" if text and text.strip() else "Complaint",
                     "opened_at": min(r.occurred_at, ctx.now()), "interaction_id": r.id})
    return len(open_cases(ctx, rows))


def sweep_breaches(ctx) -> int:
    """Emit ``case.sla_breached`` once per missed target (idempotent); return how many."""
    now = ctx.now()
    found = 0
    for target, due_col, done_col, breached_col in TARGETS:
        c = cases.c
        missed = and_(c[due_col] < now, c[breached_col].is_(None),
                      or_(c[done_col].is_(None), c[done_col] > c[due_col]))
        rows = ctx.conn.execute(select(c.id, c.customer_id, c[due_col], c.priority)
                                .where(missed).order_by(c.id)).all()
        if not rows:
            continue
        ctx.conn.execute(update(cases).where(cases.c.id.in_(bindparam("ids", expanding=True)))
                         .values({breached_col: now}), {"ids": [r.id for r in rows]})
        for r in rows:
            ctx.emit("case.sla_breached", r.customer_id, {
                "case_id": r.id, "target": target, "due_at": r[2].isoformat(),
                "priority": r.priority})
        found += len(rows)
    return found


def sweep_close(ctx) -> int:
    """Close resolved cases whose reopen window has passed; return how many."""
    now = ctx.now()
    cutoff = now - dt.timedelta(days=settings_of(ctx).cases.reopen_days)
    rows = ctx.conn.execute(select(cases.c.id, cases.c.customer_id).where(
        cases.c.status == "resolved", cases.c.resolved_at < cutoff).order_by(cases.c.id)).all()
    if not rows:
        return 0
    ctx.conn.execute(update(cases).where(cases.c.id.in_(bindparam("ids", expanding=True)))
                     .values(status="closed", closed_at=now, updated_at=now),
                     {"ids": [r.id for r in rows]})
    _history(ctx, [(r.id, r.customer_id, "resolved", "closed") for r in rows])
    for r in rows:
        ctx.emit("case.status_changed", r.customer_id, {"case_id": r.id, "from": "resolved",
                                                        "to": "closed"})
    return len(rows)


def list_cases(conn, status: str | None = None, assignee: str | None = None,
               customer_id: int | None = None, limit: int | None = 1000,
               case_id: int | None = None) -> list[dict[str, Any]]:
    """Cases, newest first, with the customer's external id."""
    c = cases.c
    return listed(conn, cases, (c.status, status), (c.assignee, assignee),
                  (c.customer_id, customer_id), (c.id, case_id), limit=limit)
