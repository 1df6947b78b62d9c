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
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, select

from crmkit.plugin import CRMError, ConfigError, customers

from .catalogue import AUTOMATION_PREFIX
from .stages import DISQUALIFIED, LEAD_STAGES
from .rows import insert_all
from .tables import outbox

NAMES = ("create_task", "assign", "set_stage", "add_tag", "remove_tag", "queue_message", "emit")
DEFAULT_DUE_HOURS = 24


def check(action: Any, pointer: str) -> None:
    """Raise ConfigError (with ``pointer``) unless ``action`` is a well-formed action."""
    if not isinstance(action, dict) or len(action) != 1:
        raise ConfigError(f"{pointer}: an action is an object with exactly one key "
                          f"(one of {', '.join(NAMES)})")
    (name, args), = action.items()
    where = f"{pointer}/{name}"
    if name not in NAMES:
        raise ConfigError(f"{pointer}: unknown action {name!r} (allowed: {', '.join(NAMES)})")
    if name in ("add_tag", "remove_tag"):
        _text(args, where, "a tag")
    elif name == "set_stage":
        allowed = LEAD_STAGES + (DISQUALIFIED,)
        if args not in allowed:
            raise ConfigError(f"{where}: {args!r} is not a lead stage (allowed: {', '.join(allowed)})")
    elif name == "create_task":
        _object(args, where, {"subject", "due_hours", "assignee", "team"}, {"subject"})
        _text(args["subject"], f"{where}/subject", "the task subject")
        if "due_hours" in args and (not isinstance(args["due_hours"], (int, float))
                                    or isinstance(args["due_hours"], bool) or args["due_hours"] < 0):
            raise ConfigError(f"{where}/due_hours: must be a number >= 0")
        for key in ("assignee", "team"):
            if args.get(key) is not None:
                _text(args[key], f"{where}/{key}", "a staff handle" if key == "assignee" else "a team")
    elif name == "assign":
        _object(args, where, {"team"}, set())
        if args.get("team") is not None:
            _text(args["team"], f"{where}/team", "a team")
    elif name == "queue_message":
        _object(args, where, {"template", "channel"}, {"template"})
        _text(args["template"], f"{where}/template", "a template name")
        if args.get("channel") is not None:
            _text(args["channel"], f"{where}/channel", "a channel")
    elif name == "emit":
        _object(args, where, {"type", "payload"}, {"type"})
        if not isinstance(args["type"], str) or not args["type"].startswith(AUTOMATION_PREFIX) \
                or len(args["type"]) <= len(AUTOMATION_PREFIX):
            raise ConfigError(f"{where}/type: {args['type']!r} must be named "
                              f"'{AUTOMATION_PREFIX}<name>'")
        if not isinstance(args.get("payload", {}), dict):
            raise ConfigError(f"{where}/payload: must be an object")


def _text(value: Any, where: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be {what} (non-empty text)")


def _object(value: Any, where: str, keys: set[str], required: set[str]) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be an object with keys {', '.join(sorted(keys))}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise ConfigError(f"{where}/{unknown[0]}: unknown key (allowed: {', '.join(sorted(keys))})")
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{where}/{missing[0]}: required")


def emitted_types(config: dict[str, Any]) -> set[str]:
    """The custom ``automation.*`` event types the configured rules emit."""
    found = set()
    for rule in config["automation"]["rules"]:
        for action in rule.get("do", []):
            if isinstance(action, dict) and isinstance(action.get("emit"), dict):
                found.add(action["emit"].get("type"))
    return {t for t in found if isinstance(t, str)}


def run(ctx, rule: dict[str, Any], fired: Sequence[tuple[int, int]]) -> dict[int, str]:
    """Run ``rule``'s actions for ``[(firing_id, customer_id)]``; return an outcome per firing.

    A runner returns its outcomes by customer id (a dict; a missing customer is ``ok``) or,
    when each firing's outcome is its own (the task it created), a list aligned with the ids:
    a customer can fire twice in one batch.
    """
    outcomes: dict[int, list[str]] = {fid: [] for fid, _ in fired}
    for action in rule["do"]:
        (name, args), = action.items()
        runner: Callable = RUNNERS[name]
        try:
            results = runner(ctx, rule, args, [cid for _, cid in fired])
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
                                   "source": f"rule {rule['name']}"} for cid, assignee in zip(ids, who)])
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
                       "rule": rule["name"], "created_at": now})
    ids_out = insert_all(ctx.conn, outbox, params)
    for oid, p in zip(ids_out, params):
        if p["status"] == "queued":
            ctx.emit("message.queued", p["customer_id"], {
                "outbox_id": oid, "channel": p["channel"], "template": p["template"],
                "rule": rule["name"]})
            result[p["customer_id"]] = f"queued on {p['channel']}"
        else:
            result[p["customer_id"]] = f"refused: {p['reason']}"
    return result


def _emit(ctx, rule, args, ids) -> dict[int, str]:
    for cid in ids:
        ctx.emit(args["type"], cid, dict(args.get("payload", {}), rule=rule["name"]))
    return {}


RUNNERS: dict[str, Callable] = {
    "create_task": _create_task, "assign": _assign, "set_stage": _set_stage,
    "add_tag": _tags(True), "remove_tag": _tags(False), "queue_message": _queue_message,
    "emit": _emit,
}
