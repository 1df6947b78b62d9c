"""Automation actions: what a rule does, run in bulk for every customer a rule fired for.

Each action is a one-key object in a rule's ``do`` list:

* ``{"create_task": {"subject": S, "due_hours": H, "assignee": HANDLE, "team": TEAM}}`` —
  assignee if given, else the team's strategy, else the lead owner (``due_hours`` default 24).
* ``{"assign": {"team": TEAM}}`` — (re)assign the lead: TEAM, or the territories when omitted.
* ``{"set_stage": STAGE}`` — move the lead (the funnel's rules apply).
* ``{"add_tag": TAG}`` / ``{"remove_tag": TAG}`` — through ``crm.customers`` (audited).
* ``{"queue_message": {"body": B, "subject": S, "channel": C}}`` — into the core outbox
  (``crm.messages``, sent by ``crmkit worker``); channel defaults to the customer's preferred
  channel; refused without an address, consent, or when the customer prefers another.
* ``{"emit": {"type": "automation.NAME", "payload": {...}}}`` — a custom event.

The configuration checks of these objects are in :mod:`.settings`.  An action that fails
does not stop the rule's others; its outcome says why (:func:`failed`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from crmkit.plugin import (ConfigError, ConflictError, ConsentError, NotFound, Outgoing,
                           PermissionDenied, ValidationError, customer_address, customers)

log = logging.getLogger("crmkit.operational")

DEFAULT_DUE_HOURS = 24

REFUSALS = {ValidationError: "invalid", ConfigError: "misconfigured", NotFound: "not found",
            ConflictError: "conflict", ConsentError: "no consent",
            PermissionDenied: "not permitted"}
"""The crmkit errors whose message is for whoever reads a firing's outcome (it says what was
refused and why), with the kind of failure each is."""
FAILED_INTERNALLY = "failed: internal error, see the server log"
"""The outcome of an action that failed otherwise (a bug, a plugin's failure, the database):
its error's text may name tables, SQL, paths or a database URL, so only the log gets it."""


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
        except SQLAlchemyError:
            raise  # the transaction may be unusable (PostgreSQL): the command fails as a whole
        except Exception as exc:
            results = dict.fromkeys((cid for _, cid in fired), failed(exc, rule.name, name))
        for n, (fid, cid) in enumerate(fired):
            outcome = results[n] if isinstance(results, list) else results.get(cid, "ok")
            outcomes[fid].append(f"{name}: {outcome}")
    return {fid: "; ".join(parts) for fid, parts in outcomes.items()}


def failed(exc: Exception, rule: str, action: str) -> str:
    """The outcome of ``action`` of ``rule`` that raised ``exc``: ``failed (KIND): message``
    for a refusal (:data:`REFUSALS`), else :data:`FAILED_INTERNALLY`, the error logged with
    its traceback."""
    kind = next((kind for cls, kind in REFUSALS.items() if isinstance(exc, cls)), None)
    if kind is not None:
        return f"failed ({kind}): {exc}"
    log.error("automation rule %r: action %s failed", rule, action, exc_info=exc)
    return FAILED_INTERNALLY


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


def _queue_message(ctx, rule, args, ids) -> list[str]:
    """Queue the message in the core outbox (``crm.messages``) for each customer who can get it
    on the channel (the rule's, else the customer's preferred one); else the first reason, in
    the order campaigns skip recipients: no address, no consent, prefers another channel."""
    c = customers.c
    rows = ctx.conn.execute(select(c.id, c.external_id, c.email, c.phone, c.preferred_channel)
                            .where(c.id.in_(bindparam("ids", expanding=True))),
                            {"ids": list(ids)}).mappings().all()
    by_id = {row["id"]: row for row in rows}
    result, outgoing = [], []
    for n, cid in enumerate(ids):
        customer = by_id[cid]
        preferred = customer["preferred_channel"]
        channel = args.get("channel") or preferred
        address = None if channel is None else customer_address(channel, customer)
        if channel is None:
            result.append("refused: no channel (none given and no preferred channel)")
        elif address is None:
            result.append(f"refused: no address for channel {channel!r}")
        elif not ctx.crm.customers.has_consent(cid, channel):
            result.append(f"refused: no consent for channel {channel!r}")
        elif preferred is not None and preferred != channel:
            result.append(f"refused: the customer prefers {preferred!r}")
        else:
            result.append("")
            outgoing.append((n, Outgoing(
                channel=channel, recipient=address, body=args["body"],
                subject=args.get("subject"), customer=customer["external_id"],
                source="operational", meta={"rule": rule.name})))
    message_ids = ctx.crm.messages.enqueue([m for _, m in outgoing]) if outgoing else []
    for (n, message), message_id in zip(outgoing, message_ids):
        ctx.emit("message.queued", ids[n], {"message_id": message_id,
                                            "channel": message.channel, "rule": rule.name})
        result[n] = f"queued {message_id} on {message.channel}"
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
