"""Hand-offs between teams: a mandatory note, an acknowledgement deadline, escalation by the sweep."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select, update

from crmkit.plugin import ConflictError, ValidationError, allocate_ids, staff, text_limit

from . import workitems
from .settings import settings_of
from .tables import handoffs, work_items

NOTE_LIMIT = 2000
"""The longest hand-off note (lower if the core config's ``max_field_length`` is lower)."""


def known_teams(ctx) -> set[str]:
    """Teams with an active staff member, plus every team the configuration names."""
    settings = settings_of(ctx)
    teams = set(ctx.conn.execute(select(staff.c.team).where(staff.c.active.is_(True))
                                 .distinct()).scalars())
    teams |= {rule.team for rule in settings.rules}
    teams |= {settings.fallback, settings.escalation_team}
    return teams


def hand_off(ctx, item_id: int, team: str, note: str) -> int:
    """Move an open work item to ``team`` with a note; the team must acknowledge within ``ack_hours``.

    A pending hand-off of the item counts as acknowledged by whoever hands it on.
    Returns the hand-off id.
    """
    item = workitems.get(ctx.conn, item_id)
    note = (note or "").strip()
    if not note:
        raise ValidationError(f"hand-off of work item {item_id}: note: required, say why "
                              f"{team!r} should take it")
    if problem := text_limit(ctx.crm, NOTE_LIMIT).problem(note):
        raise ValidationError(f"hand-off of work item {item_id}: note: {problem}")
    if item["state"] not in workitems.OPEN_STATES:
        raise ConflictError(f"work item {item_id} is {item['state']}; only open items "
                            f"({', '.join(workitems.OPEN_STATES)}) can be handed off")
    if team == item["team"]:
        raise ValidationError(f"hand-off of work item {item_id}: team: it is already with {team!r}")
    teams = known_teams(ctx)
    if team not in teams:
        raise ValidationError(f"hand-off of work item {item_id}: team: unknown team {team!r} "
                              f"(known: {', '.join(sorted(teams))})")
    workitems.acknowledge_pending(ctx, item)
    now = ctx.now()
    due = now + dt.timedelta(hours=settings_of(ctx).ack_hours)
    handoff_id = _move(ctx, [item], "handoff", team, note, due)[0]
    ctx.emit("handoff.created", item["customer_id"],
             {"work_item_id": item_id, "handoff_id": handoff_id, "from": item["team"],
              "to": team, "ack_due_at": due.isoformat()})
    return handoff_id


def _move(ctx, items: list[dict[str, Any]], kind: str, team: str, note: str,
          due: dt.datetime | None) -> list[int]:
    """Record hand-off rows, move the items to ``team`` (queued), log history, place them."""
    now = ctx.now()
    first = allocate_ids(ctx.conn, handoffs, len(items))
    ids = [first + n for n in range(len(items))]
    ctx.conn.execute(insert(handoffs), [
        {"id": hid, "work_item_id": item["id"], "customer_id": item["customer_id"], "kind": kind,
         "from_team": item["team"], "to_team": team, "note": note, "by": ctx.actor, "at": now,
         "ack_due_at": due, "acknowledged_at": None, "acknowledged_by": None,
         "escalated_at": None}
        for hid, item in zip(ids, items)])
    ctx.conn.execute(update(work_items).where(work_items.c.id.in_([i["id"] for i in items]))
                     .values(team=team, state=workitems.QUEUED, assignee=None, updated_at=now))
    action = "handed_off" if kind == "handoff" else "escalated"
    workitems.log(ctx, [{"work_item_id": item["id"], "customer_id": item["customer_id"],
                         "action": action, "from_state": item["state"],
                         "to_state": workitems.QUEUED, "team": team, "assignee": None,
                         "handoff_id": hid} for hid, item in zip(ids, items)])
    workitems.place(ctx, [{"id": i["id"], "customer_id": i["customer_id"], "team": team,
                           "subject": i["subject"]} for i in items])
    return ids


def acknowledge(ctx, item_id: int) -> int:
    """The receiving team acknowledges the item's pending hand-off; return the hand-off id."""
    item = workitems.get(ctx.conn, item_id)
    handoff_id = workitems.acknowledge_pending(ctx, item)
    if handoff_id is None:
        raise ConflictError(f"work item {item_id} has no hand-off waiting for acknowledgement")
    return handoff_id


def escalate_due(ctx) -> int:
    """Escalate every hand-off not acknowledged by its deadline (sweep); idempotent.

    Each is marked escalated, the work item moves to ``escalation_team`` through
    an ``escalation`` entry in its hand-off chain, and ``handoff.escalated`` is
    emitted once.  Returns how many were escalated.
    """
    h, w = handoffs.c, work_items.c
    now = ctx.now()
    due = ctx.conn.execute(
        select(h.id.label("handoff_id"), h.to_team, h.ack_due_at, w.id, w.customer_id, w.team,
               w.state, w.subject)
        .join(work_items, w.id == h.work_item_id)
        .where(h.kind == "handoff", h.acknowledged_at.is_(None), h.escalated_at.is_(None),
               h.ack_due_at <= now, w.state.in_(workitems.OPEN_STATES))
        .order_by(h.id)).mappings().all()
    if not due:
        return 0
    ctx.conn.execute(update(handoffs).where(h.id.in_([d["handoff_id"] for d in due]))
                     .values(escalated_at=now))
    settings = settings_of(ctx)
    target, hours = settings.escalation_team, settings.ack_hours
    items = [dict(d) for d in due]
    escalation_ids = _move(ctx, items, "escalation", target,
                           f"not acknowledged within {hours:g} h", None)
    for d, escalation_id in zip(due, escalation_ids):
        ctx.emit("handoff.escalated", d["customer_id"],
                 {"work_item_id": d["id"], "handoff_id": d["handoff_id"],
                  "escalation_id": escalation_id, "from": d["to_team"], "to": target,
                  "ack_due_at": d["ack_due_at"].isoformat()})
    return len(due)
