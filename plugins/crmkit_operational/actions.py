"""Automation actions: what a rule does, run in bulk for every customer a rule fired for.

Each action is a one-key object in a rule's ``do`` list:

* ``{"create_task": {"subject": S, "due_hours": H, "assignee": HANDLE, "team": TEAM}}`` —
  assignee if given, else the team's strategy, else the lead owner (``due_hours`` default 24).
* ``{"assign": {"team": TEAM}}`` — (re)assign the lead: TEAM, or the territories when omitted.
* ``{"set_stage": STAGE}`` — move the lead (the funnel's rules apply).
* ``{"add_tag": TAG}`` / ``{"remove_tag": TAG}`` — through ``crm.customers`` (audited).
* ``{"queue_message": {"template": T, "channel": C}}`` — into ``operational_outbox``; channel
  defaults to the customer's preferred channel; refused without consent.
* ``{"emit": {"type": "automation.NAME", "payload": {...}}}`` — a custom event.

The configuration checks of these objects are in :mod:`.settings`.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Sequence

from sqlalchemy import bindparam, select

from crmkit.plugin import CRMError, customers

from .rows import insert_all
from .tables import outbox

DEFAULT_DUE_HOURS = 24


def run(ctx, rule, fired: Sequence[tuple[int, int]]) -> dict[int, str]:
    """Run ``rule``'s actions for ``[(firing_id, customer_id)]``; return an outcome per firing.

    A runner returns its outcomes by customer id (a dict; a missing customer is ``ok``) or,
    when each firing's outcome is its own (the task it created), a list aligned with the ids:
    a customer can fire twice in one batch.
    """
    outcomes: dict[int, list[str]] = {fid: [] for fid, _ in fired}
    for action in rule.actions:
        name = action.name
        runner: Callable = RUNNERS[name]
        try:
            results = runner(ctx, rule, action.args, [cid for _, cid in fired])
        except CRMError as exc:
            results = {cid: f"failed: {exc}" for _, cid in fired}
        for n, (fid, cid) in enumerate(fired):
            outcome = results[n] if isinstance(results, list) else results.get(cid, "ok")
            outcomes[fid].append(f"{name}: {outcome}")
    return {fid: "; ".join(parts) for fid, parts in outcomes.items()}


def _create_task(ctx, rule, args, ids) -> list[str]:
    from .assignment import assign_team
    from .rows import lead_rows
    from .tasks import create_tasks

    if args.get("assignee"):
        ctx.crm.staff.get(args["assignee"])
        who = [args["assignee"]] * len(ids)
    elif args.get("team"):
        who = list(assign_team(ctx, args["team"], [(cid, args["subject"]) for cid in ids]))
    else:
        owners = lead_rows(ctx.conn, ids)
        who = [owners[cid].owner if cid in owners else None for cid in ids]
    due = ctx.now() + dt.timedelta(hours=args.get("due_hours", DEFAULT_DUE_HOURS))
    task_ids = create_tasks(ctx, [{"customer_id": cid, "subject": args["subject"],
                                   "assignee": assignee, "due_at": due, "kind": "automation",
                                   "source": f"rule {rule.name}"} for cid, assignee in zip(ids, who)])
    return [f"task {tid} for {assignee or 'nobody'}" for tid, assignee in zip(task_ids, who)]


def _assign(ctx, rule, args, ids) -> dict[int, str]:
    from .funnel import assign_leads

    chosen = assign_leads(ctx, ids, only_unowned=False, team=args.get("team"))
    return {cid: (f"assigned to {chosen[cid]}" if chosen.get(cid) else
                  "nobody free" if cid in chosen else "not a lead") for cid in ids}


def _set_stage(ctx, rule, args, ids) -> dict[int, str]:
    from .funnel import move_leads

    moved = {cid for cid, _ in move_leads(ctx, [(cid, args) for cid in ids], strict=False)}
    return {cid: "ok" if cid in moved else f"not moved to {args!r} (funnel rules)" for cid in ids}


def _tags(add: bool):
    def run_tags(ctx, rule, tag, ids) -> dict[int, str]:
        rows = ctx.conn.execute(select(customers.c.id, customers.c.external_id, customers.c.tags,
                                       customers.c.erased_at)
                                .where(customers.c.id.in_(bindparam("ids", expanding=True))),
                                {"ids": list(ids)}).all()
        changes, result = [], {}
        for r in rows:
            if r.erased_at is not None:
                result[r.id] = "failed: customer erased"
                continue
            tags = set(r.tags or ())
            new = tags | {tag} if add else tags - {tag}
            if new != tags:
                changes.append({"external_id": r.external_id, "tags": sorted(new)})
            else:
                result[r.id] = "unchanged"
        if changes:
            ctx.crm.customers.add_many(changes, upsert=True)
        return result
    return run_tags


def consent_checker(crm) -> Callable[[int, str], tuple[bool, str | None]]:
    """``(customer_id, channel) -> (allowed, reason)`` from the core's consent service."""
    def check(cid: int, channel: str) -> tuple[bool, str | None]:
        if crm.customers.has_consent(cid, channel):
            return True, None
        return False, f"no consent for channel {channel!r}"
    return check


def _queue_message(ctx, rule, args, ids) -> dict[int, str]:
    rows = ctx.conn.execute(select(customers.c.id, customers.c.preferred_channel)
                            .where(customers.c.id.in_(bindparam("ids", expanding=True))),
                            {"ids": list(ids)}).all()
    preferred = dict(rows)
    allowed = consent_checker(ctx.crm)
    now = ctx.now()
    params, result = [], {}
    for cid in ids:
        channel = args.get("channel") or preferred.get(cid)
        if channel is None:
            ok, reason = False, "no channel (none given and no preferred channel)"
        else:
            ok, reason = allowed(cid, channel)
        params.append({"customer_id": cid, "channel": channel, "template": args["template"],
                       "status": "queued" if ok else "refused", "reason": reason,
                       "rule": rule.name, "created_at": now})
    ids_out = insert_all(ctx.conn, outbox, params)
    for oid, p in zip(ids_out, params):
        if p["status"] == "queued":
            ctx.emit("message.queued", p["customer_id"], {
                "outbox_id": oid, "channel": p["channel"], "template": p["template"],
                "rule": rule.name})
            result[p["customer_id"]] = f"queued on {p['channel']}"
        else:
            result[p["customer_id"]] = f"refused: {p['reason']}"
    return result


def _emit(ctx, rule, args, ids) -> dict[int, str]:
    for cid in ids:
        ctx.emit(args["type"], cid, dict(args.get("payload", {}), rule=rule.name))
    return {}


RUNNERS: dict[str, Callable] = {
    "create_task": _create_task, "assign": _assign, "set_stage": _set_stage,
    "add_tag": _tags(True), "remove_tag": _tags(False), "queue_message": _queue_message,
    "emit": _emit,
}
