"""Automation rules: trigger, condition, wait, unless, cooldown, idempotency, loop guard.

A rule ``{name, on, if, wait_hours, unless, cooldown_hours, do}`` is triggered
by an event of type ``on`` about a customer.  Every trigger whose condition
holds becomes one ``operational_firings`` row, keyed by (rule, trigger) so a
rule fires at most once per event.  Without a wait the actions run at once;
with ``wait_hours`` the firing waits and the sweep runs it after the wait
unless an ``unless`` event (or, for ``interaction.recorded``, an interaction)
was recorded for that customer during the wait.  ``cooldown_hours`` stops a
rule firing twice for one customer within the window.  A trigger at chain
depth ``max_chain_depth`` or deeper is recorded as ``stopped`` and logged.

``interaction.recorded`` rules are matched in SQL over the batch's id range
(the core does not store that event per row); other rules are matched in
Python as their events are delivered.  A firing that runs at once is stored
after its actions, with its outcome, so each is written once.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

import attrs
from sqlalchemy import bindparam, exists, insert, literal, or_, select, true, update

from crmkit.plugin import (
    INTERACTION_RECORDED, customers, driver_value, evaluate_condition, events, interactions,
    update_rows,
)

from . import actions
from .rows import insert_all, listed
from .settings import Automation, Rule, settings_of
from .tables import firings, leads

log = logging.getLogger("crmkit.operational")


@attrs.frozen
class Trigger:
    """One event (or interaction) that a rule's condition accepted."""

    rule: Rule
    kind: str
    trigger_id: int
    customer_id: int
    depth: int
    at: dt.datetime


def rules_by_type(automation: Automation) -> dict[str, list[Rule]]:
    """Configured rules grouped by the event type they listen to."""
    grouped: dict[str, list[Rule]] = {}
    for rule in automation.rules:
        grouped.setdefault(rule.on, []).append(rule)
    return grouped


def customer_data(conn, customer_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Condition data of customers: ``customer`` fields and ``lead`` fields, one query."""
    if not customer_ids:
        return {}
    c = customers.c
    query = (select(c.id, c.external_id, c.type, c.name, c.email, c.phone, c.preferred_channel,
                    c.lifecycle_stage, c.tags, c.attributes, leads.c.stage, leads.c.score,
                    leads.c.owner)
             .select_from(customers.outerjoin(leads, leads.c.customer_id == c.id))
             .where(c.id.in_(bindparam("ids", expanding=True))))
    data = {}
    for r in conn.execute(query, {"ids": sorted(customer_ids)}).mappings():
        customer = {k: r[k] for k in ("external_id", "type", "name", "email", "phone",
                                      "preferred_channel", "lifecycle_stage")}
        customer.update(tags=list(r["tags"] or []), attributes=dict(r["attributes"] or {}))
        lead = ({"stage": r["stage"], "score": r["score"], "owner": r["owner"]}
                if r["stage"] is not None else {})
        data[r["id"]] = {"customer": customer, "lead": lead}
    return data


def _payload_for_conditions(payload: dict[str, Any]) -> dict[str, Any]:
    """Event payload with decimal-text amounts as Decimals, so numeric comparisons work."""
    result = dict(payload)
    for key in ("amount", "score", "threshold"):
        value = result.get(key)
        if isinstance(value, str):
            try:
                result[key] = Decimal(value)
            except InvalidOperation:
                pass
    return result


def on_events(ctx, delivered: Sequence[Any]) -> None:
    """Match delivered events against the rules; start the firings."""
    by_type = rules_by_type(settings_of(ctx).automation)
    relevant = [e for e in delivered if e.type in by_type and e.type != INTERACTION_RECORDED
                and e.customer_id is not None]
    if not relevant:
        return
    data = customer_data(ctx.conn, {e.customer_id for e in relevant})
    triggers = []
    for event in relevant:
        if event.customer_id not in data:
            continue
        facts = dict(data[event.customer_id], payload=_payload_for_conditions(event.payload))
        for rule in by_type[event.type]:
            if rule.condition is not None and not evaluate_condition(rule.exact_condition,
                                                                     facts):
                continue
            triggers.append(Trigger(rule, "event", event.id, event.customer_id, event.depth,
                                    event.occurred_at))
    start(ctx, triggers)


def on_interactions(ctx, batch) -> None:
    """Match the batch's interactions against ``interaction.recorded`` rules, set-based.

    Every rule's condition is evaluated in SQL over the batch's id range
    (skipping keys already recorded) before any action runs.  Firings that
    wait or are stopped are recorded with one ``INSERT … SELECT`` per rule;
    the others fire at once and are recorded with their outcome.
    """
    from .sqlfields import FieldSQL

    rules = settings_of(ctx).automation.listening_to(INTERACTION_RECORDED)
    if not rules:
        return
    conn, i, f = ctx.conn, interactions, firings
    now = ctx.now()
    depth = ctx.depth - 1  # this hook delivers the interactions: what it emits is one deeper
    in_batch = i.c.id.between(batch.first_id, batch.last_id)
    firing_now = []
    for rule in rules:
        status, outcome = _initial_status(ctx, rule, depth)
        values = {"rule": rule.name, "trigger_type": INTERACTION_RECORDED,
                  "trigger_kind": "interaction", "chain_depth": depth, "status": status,
                  "triggered_at": now,
                  "due_at": now + dt.timedelta(hours=rule.wait_hours),
                  "actions": [a.name for a in rule.actions], "outcome": outcome}
        fields = FieldSQL()
        condition = (fields.compile(rule.exact_condition) if rule.condition is not None
                     else true())
        source = i
        if "customer" in fields.reads:
            source = source.join(customers, customers.c.id == i.c.customer_id)
        if "lead" in fields.reads:
            source = source.outerjoin(leads, leads.c.customer_id == i.c.customer_id)
        matched = (select(i.c.id, i.c.customer_id).select_from(source)
                   .where(in_batch, condition, ~exists().where(f.c.rule == rule.name,
                                                               f.c.trigger_kind == "interaction",
                                                               f.c.trigger_id == i.c.id))
                   .order_by(i.c.id))
        if status == "pending":
            firing_now += [dict(values, trigger_id=iid, customer_id=cid, fired_at=None)
                           for iid, cid in conn.execute(matched)]
            continue
        query = matched.add_columns(*[literal(v, f.c[k].type).label(k) for k, v in values.items()])
        added = conn.execute(insert(f).from_select(["trigger_id", "customer_id", *values], query))
        if status == "stopped" and added.rowcount:
            log.warning("operational automation: rule %r stopped for %d interactions: %s",
                        rule.name, added.rowcount, outcome)
    _record(ctx, firing_now)


def _initial_status(ctx, rule: Rule, depth: int) -> tuple[str, str | None]:
    """A new firing's status and outcome: stopped (chain too deep), waiting or pending."""
    max_depth = settings_of(ctx).automation.max_chain_depth
    if depth >= max_depth:
        return "stopped", (f"event chain depth {depth} reached automation.max_chain_depth "
                           f"{max_depth}: not fired")
    return ("waiting" if rule.wait_hours > 0 else "pending"), None


def start(ctx, triggers: Sequence[Trigger]) -> None:
    """Record firings (skipping triggers already recorded); run those without a wait."""
    if not triggers:
        return
    known = _known_keys(ctx.conn, triggers)
    rows = []
    for t in triggers:
        key = (t.rule.name, t.kind, t.trigger_id)
        if key in known:
            continue
        known.add(key)
        status, outcome = _initial_status(ctx, t.rule, t.depth)
        if status == "stopped":
            log.warning("operational automation: rule %r stopped for customer %s: %s",
                        t.rule.name, t.customer_id, outcome)
        rows.append({"rule": t.rule.name, "trigger_type": t.rule.on, "trigger_kind": t.kind,
                     "trigger_id": t.trigger_id, "customer_id": t.customer_id,
                     "chain_depth": t.depth, "status": status, "triggered_at": t.at,
                     "due_at": t.at + dt.timedelta(hours=t.rule.wait_hours), "fired_at": None,
                     "actions": [a.name for a in t.rule.actions], "outcome": outcome})
    _record(ctx, rows)


def _record(ctx, rows: list[dict[str, Any]]) -> None:
    """Run the actions of the new firings ``rows`` that are pending, then store every row
    once, with its final status.

    A firing is stored after its actions ran, so firings those actions caused
    (through the events they emitted) have smaller ids.
    """
    pending = [(n, row["rule"], row["customer_id"]) for n, row in enumerate(rows)
               if row["status"] == "pending"]
    for n, status, outcome, fired_at in _decide(ctx, pending):
        rows[n].update(status=status, outcome=outcome, fired_at=fired_at)
    insert_all(ctx.conn, firings, rows)


def _known_keys(conn, triggers: Sequence[Trigger]) -> set[tuple[str, str, int]]:
    """Idempotency keys already recorded among ``triggers`` (one query per trigger kind)."""
    known: set[tuple[str, str, int]] = set()
    for kind in {t.kind for t in triggers}:
        ids = sorted({t.trigger_id for t in triggers if t.kind == kind})
        query = select(firings.c.rule, firings.c.trigger_kind, firings.c.trigger_id).where(
            firings.c.trigger_kind == kind, firings.c.trigger_id.in_(bindparam("ids", expanding=True)))
        known.update(tuple(r) for r in conn.execute(query, {"ids": ids}))
    return known


def _decide(ctx, pending: Sequence[tuple[Any, str, int]]
           ) -> list[tuple[Any, str, str, dt.datetime | None]]:
    """Fire ``[(key, rule name, customer_id)]`` now, honouring cooldowns: run the actions of
    those that fire; return ``(key, status, outcome, fired_at)`` for each."""
    automation = settings_of(ctx).automation
    now = ctx.now()
    decided = []
    by_rule: dict[str, list[tuple[Any, int]]] = {}
    for key, name, cid in pending:
        by_rule.setdefault(name, []).append((key, cid))
    for name, items in by_rule.items():
        rule = automation.rule(name)
        if rule is None:
            decided += [(key, "cancelled", "rule no longer configured", None) for key, _ in items]
            continue
        cooling = _cooling(ctx.conn, rule, [cid for _, cid in items], now)
        go, seen = [], set()
        for key, cid in items:
            if cid in cooling or cid in seen:
                decided.append((key, "cooldown",
                                f"fired for this customer within {rule.cooldown_hours} h", None))
                continue
            if rule.cooldown_hours > 0:
                seen.add(cid)
            go.append((key, cid))
        if go:
            outcomes = actions.run(ctx, rule, go)
            decided += [(key, "fired", outcomes[key], now) for key, _ in go]
    return decided


def fire(ctx, due: Sequence[tuple[int, str, int, int]]) -> int:
    """Fire the stored firings ``[(firing_id, rule name, customer_id, chain depth)]`` now; return
    how many fired.  Each fires as its trigger's consequence: the events its actions emit are one
    deeper than the trigger, as when a rule fires at once, so a chain through rules that wait
    still stops at ``max_chain_depth``."""
    decided = []
    for depth in sorted({d for *_, d in due}):
        with ctx.caused_by(depth):
            decided += _decide(ctx, [(fid, rule, cid) for fid, rule, cid, d in due if d == depth])
    fired_at = driver_value(ctx.conn, firings.c.fired_at, ctx.now())
    update_rows(ctx.conn, firings, "id", ("status", "outcome", "fired_at"),
                [(status, outcome, fired_at if at else None, fid)
                 for fid, status, outcome, at in decided])
    return sum(status == "fired" for _, status, _, _ in decided)


def _cooling(conn, rule: Rule, customer_ids: list[int], now: dt.datetime) -> set[int]:
    """Customers for whom ``rule`` fired within its cooldown window."""
    if rule.cooldown_hours <= 0:
        return set()
    since = now - dt.timedelta(hours=rule.cooldown_hours)
    query = select(firings.c.customer_id).where(
        firings.c.rule == rule.name, firings.c.status == "fired", firings.c.fired_at > since,
        firings.c.customer_id.in_(bindparam("ids", expanding=True)))
    return set(conn.execute(query, {"ids": sorted(set(customer_ids))}).scalars())


def sweep(ctx) -> dict[str, int]:
    """Run waiting firings that are due: cancel those whose ``unless`` happened; fire the rest."""
    now = ctx.now()
    due = ctx.conn.execute(select(firings.c.id, firings.c.rule, firings.c.customer_id,
                                  firings.c.chain_depth)
                           .where(firings.c.status == "waiting", firings.c.due_at <= now)
                           .order_by(firings.c.id)).all()
    if not due:
        return {"rules_fired": 0, "rules_cancelled": 0}
    rules = {r.name: r for r in settings_of(ctx).automation.rules}
    cancelled = set()
    for unless in {rules[r.rule].unless for r in due if r.rule in rules} - {None}:
        ids = [r.id for r in due if r.rule in rules and rules[r.rule].unless == unless]
        cancelled |= _happened(ctx.conn, unless, ids)
    if cancelled:
        ctx.conn.execute(update(firings).where(firings.c.id.in_(bindparam("ids", expanding=True)))
                         .values(status="cancelled", outcome="the unless event happened during "
                                 "the wait"), {"ids": sorted(cancelled)})
    fired = fire(ctx, [(r.id, r.rule, r.customer_id, r.chain_depth) for r in due
                       if r.id not in cancelled])
    return {"rules_fired": fired, "rules_cancelled": len(cancelled)}


def _happened(conn, unless: str, firing_ids: list[int]) -> set[int]:
    """Firings (among ``firing_ids``) whose customer had an ``unless`` during the wait."""
    f = firings
    if unless == INTERACTION_RECORDED:
        i = interactions
        other = exists().where(
            i.c.customer_id == f.c.customer_id, i.c.recorded_at > f.c.triggered_at,
            i.c.recorded_at <= f.c.due_at,
            or_(f.c.trigger_kind != "interaction", i.c.id != f.c.trigger_id))
    else:
        e = events
        other = exists().where(
            e.c.type == unless, e.c.customer_id == f.c.customer_id,
            e.c.occurred_at > f.c.triggered_at, e.c.occurred_at <= f.c.due_at,
            or_(f.c.trigger_kind != "event", e.c.id != f.c.trigger_id))
    query = select(f.c.id).where(f.c.id.in_(bindparam("ids", expanding=True)), other)
    return set(conn.execute(query, {"ids": firing_ids}).scalars())


def firing_list(conn, rule: str | None = None, status: str | None = None,
                customer_id: int | None = None, limit: int | None = 1000) -> list[dict[str, Any]]:
    """Recorded firings, newest first."""
    f = firings.c
    return listed(conn, firings, (f.rule, rule), (f.status, status),
                  (f.customer_id, customer_id), limit=limit)


__all__ = ["on_events", "on_interactions", "sweep", "fire", "firing_list"]
