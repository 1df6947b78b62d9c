"""idic's part of the customer data services: timeline, merge, export, erase."""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, insert, select, update
from sqlalchemy.orm import aliased

import crmkit
from crmkit.plugin import customers

from .tables import dialogues, dismissed, groups, members, runs, treatments


def timeline(ctx, customer_id: int, limit: int) -> list:
    """Dialogues, group assignments and treatment memberships, newest first."""
    entries = []
    for r in ctx.conn.execute(select(dialogues).where(dialogues.c.customer_id == customer_id)
                              .order_by(dialogues.c.at.desc()).limit(limit)).mappings():
        text = f"{r['direction']} {r['channel']} dialogue"
        if r["plan_group"]:
            text += f" (plan {r['plan_group']})"
        if r["summary"]:
            text += f": {r['summary']}"
        entries.append(crmkit.TimelineEntry(at=r["at"], kind="dialogue", summary=text,
                                            details={"dialogue_id": r["id"], "actor": r["actor"]}))
    query = (select(runs.c.as_of, runs.c.id, groups.c.value_group, groups.c.needs_group)
             .join(groups, groups.c.run_id == runs.c.id)
             .where(groups.c.customer_id == customer_id)
             .order_by(runs.c.as_of.desc()).limit(limit))
    for r in ctx.conn.execute(query):
        text = f"differentiated as {r.value_group}"
        if r.needs_group:
            text += f", needs group {r.needs_group}"
        entries.append(crmkit.TimelineEntry(at=r.as_of, kind="differentiation", summary=text,
                                            details={"run_id": r.id}))
    query = (select(treatments.c.name, treatments.c.type, members.c.holdout,
                    members.c.assigned_at)
             .join(members, members.c.treatment_id == treatments.c.id)
             .where(members.c.customer_id == customer_id)
             .order_by(members.c.assigned_at.desc()).limit(limit))
    for r in ctx.conn.execute(query):
        arm = "held out of" if r.holdout else "treated with"
        entries.append(crmkit.TimelineEntry(at=r.assigned_at, kind="treatment",
                                            summary=f"{arm} {r.type} {r.name!r}"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def _move(conn, table, key_column, keep_id: int, duplicate_id: int) -> None:
    """Move rows keyed by (key, customer_id) to keep; where keep already has the key, drop them."""
    kept = aliased(table)
    conn.execute(delete(table).where(
        table.c.customer_id == duplicate_id,
        exists().where(kept.c.customer_id == keep_id,
                       kept.c[key_column] == table.c[key_column])))
    conn.execute(update(table).where(table.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move the duplicate's dialogues, group rows, memberships and dismissals to keep."""
    conn = ctx.conn
    conn.execute(update(dialogues).where(dialogues.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))
    _move(conn, groups, "run_id", keep_id, duplicate_id)
    _move(conn, members, "treatment_id", keep_id, duplicate_id)
    involved = conn.execute(select(dismissed).where(
        (dismissed.c.first_id == duplicate_id) | (dismissed.c.second_id == duplicate_id))
    ).mappings().all()
    if not involved:
        return
    conn.execute(delete(dismissed).where(
        (dismissed.c.first_id == duplicate_id) | (dismissed.c.second_id == duplicate_id)))
    for row in involved:
        ids = {keep_id if i == duplicate_id else i for i in (row["first_id"], row["second_id"])}
        if len(ids) < 2:
            continue
        first, second = sorted(ids)
        present = conn.execute(select(dismissed.c.first_id).where(
            and_(dismissed.c.first_id == first, dismissed.c.second_id == second))).first()
        if present is None:
            conn.execute(insert(dismissed), {"first_id": first, "second_id": second,
                                             "at": row["at"], "actor": row["actor"]})


def export(ctx, customer_id: int) -> dict:
    """Everything idic holds about one customer."""
    conn = ctx.conn
    return {
        "dialogues": [dict(r) for r in conn.execute(
            select(dialogues.c.at, dialogues.c.channel, dialogues.c.direction,
                   dialogues.c.plan_group, dialogues.c.summary, dialogues.c.actor)
            .where(dialogues.c.customer_id == customer_id).order_by(dialogues.c.at)).mappings()],
        "groups": [dict(r) for r in conn.execute(
            select(runs.c.as_of, groups.c.value_group, groups.c.needs_group,
                   groups.c.current_value, groups.c.potential_value, groups.c.cost_to_serve)
            .join(runs, runs.c.id == groups.c.run_id)
            .where(groups.c.customer_id == customer_id).order_by(runs.c.as_of)).mappings()],
        "treatments": [dict(r) for r in conn.execute(
            select(treatments.c.name, treatments.c.type, treatments.c.detail,
                   members.c.holdout, members.c.assigned_at)
            .join(members, members.c.treatment_id == treatments.c.id)
            .where(members.c.customer_id == customer_id).order_by(treatments.c.id)).mappings()],
        "not_duplicates_of": sorted(r[0] for r in conn.execute(
            select(customers.c.external_id).where(customers.c.id.in_(
                select(dismissed.c.second_id).where(dismissed.c.first_id == customer_id)
                .union(select(dismissed.c.first_id).where(dismissed.c.second_id == customer_id)))))),
    }


def erase(ctx, customer_id: int) -> None:
    """Remove what was said in dialogues; dates, channels and amounts stay."""
    ctx.conn.execute(update(dialogues).where(dialogues.c.customer_id == customer_id)
                     .values(summary=None))
