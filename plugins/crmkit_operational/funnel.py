"""The funnel: leads and opportunities moving through stages, with history and events.

Lead stages live in ``operational_leads`` (one row per customer in the
funnel); opportunities in ``operational_opportunities``.  Every move writes a
``operational_stage_history`` row (from, to, when, who) and emits
``stage.changed``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

from sqlalchemy import Select, bindparam, exists, func, insert, literal, or_, select, update

from crmkit.plugin import (NotFound, ValidationError, customers, text_limit, to_currency,
                           to_money)

from .assignment import assign_team, territory_teams
from .rows import SUBJECT_WIDTH, lead_rows, listed, require_customer, required_text
from .settings import settings_of
from .stages import DISQUALIFIED, LEAD_STAGES, LOST, WON
from .tables import leads, opportunities, stage_history, tasks
from .tasks import create_tasks, first_contact_due


def ensure_leads(ctx, customer_ids: Sequence[int] | Select | None = None,
                 first_id: int | None = None, last_id: int | None = None) -> int:
    """Enter eligible customers into the funnel (set-based); return how many entered.

    Eligible: not erased, no lead row yet, and ``lifecycle_stage`` either one
    of the lead stages (they enter there) or empty (they enter at ``lead``
    when ``funnel.new_customers_are_leads``).  Pass ids (a list or a SELECT)
    or an id range.
    """
    c = customers.c
    stage = func.coalesce(c.lifecycle_stage, literal("lead"))
    eligible = c.lifecycle_stage.in_(LEAD_STAGES)
    if settings_of(ctx).funnel.new_customers_are_leads:
        eligible = or_(eligible, c.lifecycle_stage.is_(None))
    query = select(c.id, stage).where(
        eligible, c.erased_at.is_(None),
        ~exists().where(leads.c.customer_id == c.id))
    if customer_ids is not None:
        if not isinstance(customer_ids, Select) and not customer_ids:
            return 0
        query = query.where(c.id.in_(customer_ids))
    elif first_id is not None:
        query = query.where(c.id.between(first_id, last_id))
    entering = ctx.conn.execute(query).all()
    if not entering:
        return 0
    now = ctx.now()
    sources = lead_sources(ctx, [cid for cid, _ in entering])
    ctx.conn.execute(insert(leads), [
        {"customer_id": cid, "stage": st, "score": 0.0, "scored_at": None, "owner": None,
         "source": sources.get(cid), "created_at": now, "updated_at": now}
        for cid, st in entering])
    record_history(ctx, "lead", [(cid, cid, None, st, None, None, None) for cid, st in entering])
    after_lead_moves(ctx, entering)
    return len(entering)


def lead_sources(ctx, customer_ids: Sequence[int]) -> dict[int, str]:
    """Where the customers entering the funnel came from, as the plugins implementing
    ``crmkit_lead_sources`` say (the first plugin naming a customer wins)."""
    found: dict[int, str] = {}
    for _, answer in ctx.crm.hooks.call("crmkit_lead_sources", ctx.tx,
                                        customer_ids=list(customer_ids)):
        for customer_id, source in (answer or {}).items():
            found.setdefault(customer_id, str(source)[:200])
    return found


def record_history(ctx, entity: str, moves: Iterable[tuple]) -> None:
    """Write history rows and emit ``stage.changed`` for each move.

    Each move is ``(record_id, customer_id, from, to, owner, amount, currency)``.
    """
    moves = list(moves)
    if not moves:
        return
    now = ctx.now()
    ctx.conn.execute(insert(stage_history), [
        {"entity": entity, "record_id": rid, "customer_id": cid, "from_stage": frm, "to_stage": to,
         "at": now, "actor": ctx.actor} for rid, cid, frm, to, _o, _a, _c in moves])
    for rid, cid, frm, to, owner, amount, currency in moves:
        ctx.emit("stage.changed", cid, {
            "entity": entity, "record_id": rid, "from": frm, "to": to, "owner": owner,
            "amount": None if amount is None else str(amount), "currency": currency})


def move_leads(ctx, moves: Sequence[tuple[int, str]], strict: bool = True) -> list[tuple[int, str]]:
    """Move leads ``[(customer_id, to_stage)]``; return the moves made.

    A customer without a lead row enters the funnel at the target stage.  With
    ``strict`` the first forbidden move raises ValidationError (nothing is
    written); otherwise forbidden moves are skipped.  Leads reaching
    ``assignment.assign_leads_on`` without an owner are assigned.
    """
    stages = settings_of(ctx).funnel.stages
    current = lead_rows(ctx.conn, [cid for cid, _ in moves])
    done, fresh, history = [], [], []
    for cid, to in moves:
        row = current.get(cid)
        frm = row.stage if row is not None else None
        try:
            if row is None:
                require_customer(ctx.conn, cid)
            stages.check_lead(f"lead {cid}", frm, to)
        except ValidationError:
            if strict:
                raise
            continue
        done.append((cid, to))
        if row is None:
            fresh.append(cid)
        history.append((cid, cid, frm, to, row.owner if row is not None else None, None, None))
    if not done:
        return []
    now = ctx.now()
    if fresh:
        sources = lead_sources(ctx, fresh)
        ctx.conn.execute(insert(leads), [
            {"customer_id": cid, "stage": to, "score": 0.0, "owner": None,
             "source": sources.get(cid), "created_at": now, "updated_at": now}
            for cid, to in done if cid in set(fresh)])
    existing = [{"cid": cid, "to": to} for cid, to in done if cid not in set(fresh)]
    if existing:
        ctx.conn.execute(update(leads).where(leads.c.customer_id == bindparam("cid"))
                         .values(stage=bindparam("to"), updated_at=now), existing)
    record_history(ctx, "lead", history)
    after_lead_moves(ctx, done)
    return done


def promote(ctx, customer_ids: Sequence[int], from_stage: str, to_stage: str,
            assign: bool = True) -> list[int]:
    """Set-based move of the given leads still at ``from_stage`` to ``to_stage``; return them.

    With ``assign`` the moved leads go through :func:`after_lead_moves` at once;
    otherwise the caller does that (after emitting its own events).
    """
    if not customer_ids:
        return []
    rows = lead_rows(ctx.conn, customer_ids)
    moving = [cid for cid in customer_ids if cid in rows and rows[cid].stage == from_stage]
    if not moving:
        return []
    ctx.conn.execute(update(leads).where(leads.c.customer_id.in_(bindparam("ids", expanding=True)),
                                         leads.c.stage == from_stage)
                     .values(stage=to_stage, updated_at=ctx.now()), {"ids": moving})
    record_history(ctx, "lead", [(cid, cid, from_stage, to_stage, rows[cid].owner, None, None)
                                 for cid in moving])
    if assign:
        after_lead_moves(ctx, [(cid, to_stage) for cid in moving])
    return moving


def assign_leads(ctx, customer_ids: Sequence[int], only_unowned: bool = True,
                 team: str | None = None) -> dict[int, str | None]:
    """Give leads an owner (territory or ``team``, then the team's strategy) and a first-contact task.

    Returns the chosen handle per lead (None: nobody free).  Leads without a
    lead row are skipped.  A reassigned lead's open first-contact task moves
    to the new owner instead of a second one being created.
    """
    rows = lead_rows(ctx.conn, customer_ids)
    wanted = [cid for cid in customer_ids
              if cid in rows and not (only_unowned and rows[cid].owner is not None)]
    if not wanted:
        return {}
    teams = {cid: team for cid in wanted} if team else territory_teams(ctx, wanted)
    chosen: dict[int, str | None] = {}
    for name in sorted(set(teams.values())):
        members = [cid for cid in wanted if teams[cid] == name]
        for cid, who in zip(members, assign_team(ctx, name, [(cid, "lead") for cid in members])):
            chosen[cid] = who
    owned = [(cid, who) for cid, who in chosen.items() if who is not None]
    if owned:
        ctx.conn.execute(update(leads).where(leads.c.customer_id == bindparam("cid"))
                         .values(owner=bindparam("who"), updated_at=ctx.now()),
                         [{"cid": cid, "who": who} for cid, who in owned])
        for cid, who in owned:
            ctx.emit("lead.assigned", cid, {"owner": who, "team": teams[cid]})
        # kind and status are tested here, not in SQL, so the customer index is the one used
        pending = {cid for cid, kind, status in ctx.conn.execute(
            select(tasks.c.customer_id, tasks.c.kind, tasks.c.status)
            .where(tasks.c.customer_id.in_(bindparam("ids", expanding=True))),
            {"ids": [cid for cid, _ in owned]}) if kind == "first_contact" and status == "open"}
        if pending:  # a reassigned lead's open first-contact task follows the lead
            ctx.conn.execute(update(tasks).where(tasks.c.customer_id == bindparam("cid"),
                                                 tasks.c.kind == "first_contact",
                                                 tasks.c.status == "open")
                             .values(assignee=bindparam("who")),
                             [{"cid": cid, "who": who} for cid, who in owned if cid in pending])
        due = first_contact_due(ctx)
        create_tasks(ctx, [{"customer_id": cid, "subject": "First contact with new lead",
                            "assignee": who, "due_at": due, "kind": "first_contact",
                            "source": "assignment"} for cid, who in owned if cid not in pending])
    return chosen


def after_lead_moves(ctx, moves: Sequence[tuple[int, str]]) -> None:
    """Assign unowned leads that reached the configured ``assign_leads_on`` stage."""
    trigger = settings_of(ctx).assignment.assign_leads_on
    if trigger == "never":
        return
    order = {s: i for i, s in enumerate(LEAD_STAGES)}
    reached = [cid for cid, to in moves if to in order and order[to] >= order[trigger]]
    if reached:
        assign_leads(ctx, reached, only_unowned=True)


# -- opportunities -------------------------------------------------------------------


def create_opportunity(ctx, customer_id: int, name: str, amount: Any, currency: str | None = None,
                       owner: str | None = None, expected_close: dt.date | None = None,
                       stage: str | None = None, renewal_of: int | None = None) -> int:
    """Create an opportunity (history from nothing to its stage); return its id.

    The customer's lead, if in the funnel before ``sql``, moves forward to
    ``sql``; a disqualified lead cannot get an opportunity.  A customer outside
    the lead funnel (an existing client) simply gets the opportunity.
    """
    stages = settings_of(ctx).funnel.stages
    require_customer(ctx.conn, customer_id)
    stage = stage or stages.first_opportunity_stage
    if stage not in stages.opportunity:
        raise ValidationError(f"opportunity stage: {stage!r} is not an open opportunity stage "
                              f"(allowed: {', '.join(stages.opportunity)})")
    name = required_text(ctx, name, "opportunity name")
    value = to_money(amount, "opportunity amount")
    if value < 0:
        raise ValidationError(f"opportunity amount: {value} is negative (must be >= 0)")
    currency = to_currency(currency or ctx.crm.core_config["default_currency"],
                           "opportunity currency")
    if owner is not None:
        ctx.crm.staff.get(owner)
    lead = lead_rows(ctx.conn, [customer_id]).get(customer_id)
    if lead is not None and lead.stage == DISQUALIFIED:
        raise ValidationError(f"customer {customer_id}: the lead is disqualified; "
                              "it cannot get an opportunity")
    now = ctx.now()
    opp_id = ctx.conn.execute(insert(opportunities).values(
        customer_id=customer_id, name=name.strip(), stage=stage, amount=value, currency=currency,
        owner=owner, expected_close=expected_close, renewal_of=renewal_of, created_at=now,
        updated_at=now)).inserted_primary_key[0]
    if lead is not None and lead.stage in LEAD_STAGES and lead.stage != "sql":
        move_leads(ctx, [(customer_id, "sql")])
    record_history(ctx, "opportunity", [(opp_id, customer_id, None, stage, owner, value, currency)])
    return opp_id


def move_opportunity(ctx, opportunity_id: int, to: str) -> int | None:
    """Move an opportunity; a win with ``renewal_after_days`` creates the renewal (its id returned)."""
    stages = settings_of(ctx).funnel.stages
    row = ctx.conn.execute(select(opportunities).where(opportunities.c.id == opportunity_id)).first()
    if row is None:
        raise NotFound(f"no opportunity with id {opportunity_id}")
    stages.check_opportunity(f"opportunity {opportunity_id}", row.stage, to)
    now = ctx.now()
    ctx.conn.execute(update(opportunities).where(opportunities.c.id == opportunity_id).values(
        stage=to, updated_at=now, closed_at=now if to in (WON, LOST) else None))
    record_history(ctx, "opportunity", [(row.id, row.customer_id, row.stage, to, row.owner,
                                         row.amount, row.currency)])
    days = settings_of(ctx).funnel.renewal_after_days
    if to == WON and days:
        return create_opportunity(
            ctx, row.customer_id, _renewal_name(ctx, row.name), row.amount, row.currency, row.owner,
            now.date() + dt.timedelta(days=days), renewal_of=row.id)
    return None


def _renewal_name(ctx, name: str) -> str:
    """The renewal's name, cut to what an opportunity name may hold (a win is never refused
    because the name grew)."""
    text = name if name.startswith("Renewal: ") else f"Renewal: {name}"
    return text[:text_limit(ctx.crm, SUBJECT_WIDTH).chars]


def opportunity_list(conn, stage: str | None = None, owner: str | None = None,
                     customer_id: int | None = None, limit: int | None = None,
                     opportunity_id: int | None = None) -> list[dict[str, Any]]:
    """Opportunities (with the customer's external id), newest first."""
    o = opportunities.c
    return listed(conn, opportunities, (o.stage, stage), (o.owner, owner),
                  (o.customer_id, customer_id), (o.id, opportunity_id), limit=limit)


def history(conn, entity: str, record_id: int) -> list[dict[str, Any]]:
    """Stage history of one lead (record id = customer id) or opportunity, oldest first."""
    h = stage_history
    query = (select(h.c.from_stage, h.c.to_stage, h.c.at, h.c.actor)
             .where(h.c.entity == entity, h.c.record_id == record_id).order_by(h.c.at, h.c.id))
    return [dict(r) for r in conn.execute(query).mappings()]
