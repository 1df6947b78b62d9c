"""A campaign's definition: checked whole before anything is stored; read back, scheduled, paused.

Every bad input is one ValidationError naming the field (an unknown template
field, a segment that does not exist, a schedule in the past, a negative cost, a
holdout outside [0, 1), variant shares that do not add up to 1, an unknown
channel), and the database is left as it was.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from decimal import Decimal
from typing import Any, Iterable

import attrs
from sqlalchemy import and_, case, func, insert, select, update

from crmkit.plugin import (CUSTOMER_FIELDS, ConfigError, ConflictError, NotFound,
                           ValidationError, check_condition, ensure_utc, text_limit, to_money)

from . import templates
from .tables import campaigns, recipients, variants

NAME_MAX = 100
VARIANT_NAME_MAX = 20
SUBJECT_MAX = 1000
GOAL_MAX = 2000
MAX_VARIANTS = 10
SHARE_TOLERANCE = 1e-9
SEED_RANGE = 2_147_483_647
"""Seeds are drawn in [0, 2^31 - 1): the modulus of the holdout and variant draws."""


@attrs.frozen
class Variant:
    """One A/B variant: its share of the recipients who get a message, subject and template."""

    name: str
    share: float
    subject: str | None
    template: str


def _one_line(crm, value: Any, field: str, width: int, required: bool = True) -> str | None:
    """``value`` trimmed: one line of text within ``width`` characters and the core config's
    ``max_field_length`` (:func:`crmkit.plugin.text_limit`); None when not given and not
    ``required``."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field}: required non-empty text",
                              [("campaign", field, "required non-empty text")])
    value = value.strip()
    if "\n" in value or "\r" in value:
        raise ValidationError(f"{field}: must be one line", [("campaign", field, "one line")])
    if problem := text_limit(crm, width).problem(value):
        raise _bad(field, problem)
    return value


def _bad(field: str, problem: str) -> ValidationError:
    return ValidationError(f"{field}: {problem}", [("campaign", field, problem)])


def known_channels(crm) -> list[str]:
    """Names of the channels the enabled plugins deliver through."""
    return sorted(crm.messages.channels())


def check_channel(crm, channel: Any) -> str:
    """The channel name, or one error listing the channels there are."""
    names = known_channels(crm)
    if not isinstance(channel, str) or channel not in names:
        raise _bad("channel", f"unknown channel {channel!r} (channels of the enabled plugins: "
                              f"{', '.join(names) or 'none'})")
    return channel


def check_audience(crm, segment: str | None, condition: Any) -> dict[str, Any]:
    """``{"segment": NAME}`` (an analytical saved segment that exists) or ``{"if": CONDITION}``
    (over customer fields, in the segments' condition language)."""
    if (segment is None) == (condition is None):
        raise _bad("audience", "give exactly one of a segment (--segment NAME) or a condition "
                               "(--if CONDITION)")
    if segment is not None:
        if "analytical" not in crm.enabled_plugins():
            raise _bad("segment", f"segment {segment!r}: saved segments belong to the "
                                  "analytical plugin, which is not enabled (crmkit plugins "
                                  "enable analytical)")
        try:
            crm.plugin("analytical").segment(segment)
        except NotFound as exc:
            raise _bad("segment", str(exc)) from None
        return {"segment": segment}
    try:
        check_condition(condition, CUSTOMER_FIELDS, "/if")
    except ConfigError as exc:
        raise _bad("if", f"{exc} (fields: {', '.join(CUSTOMER_FIELDS)}; save a segment in "
                         "the analytical plugin to use computed fields)") from None
    return {"if": condition}


def check_money(value: Any, field: str) -> Decimal:
    """A cost: a decimal amount ≥ 0."""
    try:
        amount = to_money(value)
    except (ValidationError, ValueError, TypeError, ArithmeticError) as exc:
        raise _bad(field, f"{value!r} is not an amount ({exc})") from None
    if amount < 0:
        raise _bad(field, f"{amount} is negative; a cost is 0 or more")
    return amount


def check_holdout(value: Any) -> float:
    """The holdout fraction, in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value < 1:
        raise _bad("holdout", f"{value!r} is not a fraction in [0, 1) (0.1 holds out 10 % of "
                              "the eligible recipients)")
    return float(value)


def check_variants(crm, channel: str, given: Iterable[Variant], attributes: list[str]
                   ) -> list[Variant]:
    """Variants with unique names, shares > 0 adding up to 1 and checked templates."""
    chosen = list(given)
    if not chosen:
        return []
    if len(chosen) < 2 or len(chosen) > MAX_VARIANTS:
        raise _bad("variants", f"{len(chosen)} given; an A/B test has 2 to {MAX_VARIANTS}")
    seen: set[str] = set()
    for n, v in enumerate(chosen, 1):
        where = f"variant {n}"
        name = _one_line(crm, v.name, f"{where} name", VARIANT_NAME_MAX)
        if name in seen:
            raise _bad("variants", f"variant name {name!r} is given twice")
        seen.add(name)
        if isinstance(v.share, bool) or not isinstance(v.share, (int, float)) \
                or not math.isfinite(v.share) or not 0 < v.share <= 1:
            raise _bad("variants", f"variant {name}: share {v.share!r} is not in (0, 1]")
        if channel == "email" or v.subject is not None:
            _one_line(crm, v.subject, f"variant {name} subject", SUBJECT_MAX)
            templates.check(v.subject, f"variant {name} subject", attributes)
        templates.check(v.template, f"variant {name} template", attributes)
    total = sum(v.share for v in chosen)
    if abs(total - 1) > SHARE_TOLERANCE:
        raise _bad("variants", f"the shares add up to {total:g}; they must add up to 1 "
                               f"({', '.join(f'{v.name}: {v.share:g}' for v in chosen)})")
    return [attrs.evolve(v, name=v.name.strip(), share=float(v.share),
                         subject=None if v.subject is None else v.subject.strip())
            for v in chosen]


def attribute_names(crm) -> list[str]:
    """The declared customer attributes (the core's schema and the enabled plugins')."""
    return sorted(crm.customers.attribute_schema().get("properties", {}))


def add(crm, name: Any, *, channel: Any, template: Any, subject: Any = None,
        segment: str | None = None, condition: Any = None, holdout: Any = 0.0,
        cost: Any = "0", cost_per_message: Any = "0", goal: Any = None,
        variants_given: Iterable[Variant] = (), attribution_days: Any = None,
        template_label: str = "template", seed: int | None = None) -> dict[str, Any]:
    """Check every part of a new campaign, then store it as a draft (audited).  ``seed``
    (default: random) fixes the holdout and variant draws, for a reproducible demo.  The
    checks run before the transaction opens, and again if the plugins or the core config
    (its ``max_field_length``) changed meanwhile (:meth:`crmkit.CRM.checked_write`)."""
    given_name, variants_given = name, list(variants_given)

    def check(_seen) -> dict[str, Any]:
        name = _one_line(crm, given_name, "name", NAME_MAX)
        channel_name = check_channel(crm, channel)
        audience = check_audience(crm, segment, condition)
        checked_subject = _one_line(crm, subject, "subject", SUBJECT_MAX,
                                    required=channel_name == "email")
        attributes = attribute_names(crm)
        if checked_subject is not None:
            templates.check(checked_subject, "subject", attributes)
        templates.check(template, template_label, attributes)
        checked = {"name": name, "channel": channel_name, "audience": audience,
                   "subject": checked_subject, "template": template,
                   "holdout": check_holdout(holdout), "cost_fixed": check_money(cost, "cost"),
                   "cost_per_message": check_money(cost_per_message, "cost_per_message"),
                   "goal": _one_line(crm, goal, "goal", GOAL_MAX, required=False)}
        chosen = check_variants(crm, channel_name, variants_given, attributes)
        if attribution_days is not None and (isinstance(attribution_days, bool)
                                             or not isinstance(attribution_days, int)
                                             or not 1 <= attribution_days <= 365):
            raise _bad("attribution_days", f"{attribution_days!r} is not a whole number of "
                                           "days from 1 to 365")
        return {**checked, "attribution_days": attribution_days, "variants": chosen}

    def write(tx, checked: dict[str, Any]) -> str:
        chosen = checked["variants"]
        name = checked["name"]
        if tx.conn.execute(select(campaigns.c.id).where(campaigns.c.name == name)).first():
            raise ConflictError(f"campaign {name!r} already exists (see crmkit campaigns show "
                                f"{name})")
        row = {**{k: v for k, v in checked.items() if k != "variants"},
               "schedule_at": None, "status": "draft",
               "seed": secrets.randbelow(SEED_RANGE) if seed is None else seed % SEED_RANGE,
               "created_at": tx.now(), "created_by": tx.actor}
        campaign_id = tx.conn.execute(insert(campaigns).values(row)
                                      .returning(campaigns.c.id)).scalar_one()
        if chosen:
            tx.conn.execute(insert(variants), [
                {"campaign_id": campaign_id, "name": v.name, "share": v.share,
                 "subject": v.subject, "template": v.template} for v in chosen])
        tx.audit("create", campaigns.name, name, {
            "channel": row["channel"], "audience": row["audience"], "holdout": row["holdout"],
            "cost_fixed": str(row["cost_fixed"]),
            "cost_per_message": str(row["cost_per_message"]),
            "variants": [v.name for v in chosen]})
        return name

    name = crm.checked_write("the campaign was not created", crm.loaded_state, check, write)
    return show(crm, name)


def campaign_row(conn, name: str, lock: bool = False) -> dict[str, Any]:
    """The stored campaign, or NotFound naming the campaigns there are."""
    query = select(campaigns).where(campaigns.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        known = list(conn.execute(select(campaigns.c.name).order_by(campaigns.c.name)
                                  .limit(20)).scalars())
        raise NotFound(f"no campaign {name!r} (campaigns: {', '.join(known) or 'none'})")
    return dict(row)


def campaign_variants(conn, campaign_id: int) -> list[Variant]:
    """The campaign's variants by name (none: every recipient gets the campaign's message)."""
    rows = conn.execute(select(variants).where(variants.c.campaign_id == campaign_id)
                        .order_by(variants.c.name)).mappings()
    return [Variant(r["name"], r["share"], r["subject"], r["template"]) for r in rows]


COUNTED = ("planned", "queued", "skipped", "held_out")

PLANNING_REASONS = ("no address", "no consent", "consent withdrawn", "frequency cap")
"""The reasons planning skips a customer for (besides ``prefers <channel>``)."""


def recipient_counts(conn, campaign_id: int) -> dict[str, Any]:
    """Recipients by status, skipped ones by reason, sent ones by variant.

    One pass of conditional counts (a GROUP BY would sort every recipient row on SQLite),
    then a GROUP BY of only the skipped rows with another reason (a preferred channel, a
    message that could not be rendered)."""
    r = recipients.c
    mine = r.campaign_id == campaign_id
    sent = r.status.in_(("planned", "queued"))
    names = [v.name for v in campaign_variants(conn, campaign_id)]
    tests = ([r.status == status for status in COUNTED]
             + [and_(r.status == "skipped", r.reason == reason) for reason in PLANNING_REASONS]
             + [and_(sent, r.variant == name) for name in names])
    row = conn.execute(select(*(func.count(case((test, 1))) for test in tests)).where(mine)
                       ).one()
    counts: dict[str, Any] = dict(zip(COUNTED, row))
    reasons = {reason: n for reason, n in zip(PLANNING_REASONS, row[len(COUNTED):]) if n}
    reasons.update(conn.execute(
        select(r.reason, func.count()).where(mine, r.status == "skipped",
                                             r.reason.not_in(PLANNING_REASONS))
        .group_by(r.reason)).all())
    by_variant = {name: n for name, n in zip(names, row[len(COUNTED) + len(PLANNING_REASONS):])
                  if n}
    counts["skipped_by_reason"] = dict(sorted(reasons.items()))
    counts["by_variant"] = dict(sorted(by_variant.items()))
    return counts


def show(crm, name: str) -> dict[str, Any]:
    """One campaign: its definition, variants and recipient counts."""
    with crm.read() as conn:
        row = campaign_row(conn, name)
        chosen = campaign_variants(conn, row["id"])
        counts = recipient_counts(conn, row["id"])
    audience = row["audience"]
    return {"name": row["name"], "goal": row["goal"], "channel": row["channel"],
            "audience": audience, "subject": row["subject"], "template": row["template"],
            "holdout": row["holdout"], "cost_fixed": row["cost_fixed"],
            "cost_per_message": row["cost_per_message"], "schedule_at": row["schedule_at"],
            "status": row["status"], "attribution_days": row["attribution_days"],
            "created_at": row["created_at"], "created_by": row["created_by"],
            "variants": [attrs.asdict(v) for v in chosen], "recipients": counts}


def summaries(conn) -> list[dict[str, Any]]:
    """Every campaign (newest first) with its recipient counts by status."""
    counts = {status: func.coalesce(func.sum(case((recipients.c.status == status, 1), else_=0)),
                                    0).label(status) for status in COUNTED}
    c = campaigns.c
    query = (select(c.name, c.goal, c.channel, c.status, c.schedule_at, c.created_at,
                    *counts.values())
             .select_from(campaigns.outerjoin(recipients, recipients.c.campaign_id == c.id))
             .group_by(c.id, c.name, c.goal, c.channel, c.status, c.schedule_at, c.created_at)
             .order_by(c.created_at.desc(), c.name))
    return [dict(row._mapping) for row in conn.execute(query)]


LIST_COLUMNS = ["name", "channel", "status", "schedule_at", "planned", "queued", "skipped",
                "held_out", "created_at"]
"""The columns of ``crmkit campaigns list``."""


def _set_status(crm, name: str, allowed: tuple[str, ...], action: str, values: dict[str, Any],
                check=None) -> dict[str, Any]:
    def write(tx) -> None:
        row = campaign_row(tx.conn, name, lock=True)
        if row["status"] not in allowed:
            raise ConflictError(f"campaign {name!r} is {row['status']}: only a campaign that is "
                                f"{' or '.join(allowed)} can be {action}")
        if check is not None:
            check(tx)
        tx.conn.execute(update(campaigns).where(campaigns.c.id == row["id"]).values(values))
        tx.audit(action, campaigns.name, name, {
            key: [jsonable_value(row[key]), jsonable_value(value)]
            for key, value in values.items()})

    crm.run_transaction(write)
    return show(crm, name)


def jsonable_value(value: Any) -> Any:
    """An audit-log value: instants as ISO text."""
    return value.isoformat() if isinstance(value, dt.datetime) else value


def schedule(crm, name: str, at: dt.datetime) -> dict[str, Any]:
    """Plan the campaign to start at ``at`` (in the future); the worker plans and sends it then."""
    try:
        at = ensure_utc(at, "at")
    except (ValidationError, AttributeError, TypeError):
        raise _bad("at", f"{at!r} is not a timezone-aware instant") from None

    def in_the_future(tx) -> None:
        if at <= tx.now():
            raise _bad("at", f"{at.isoformat()} is in the past (now: "
                             f"{tx.now().isoformat(timespec='seconds')}); give a later instant")

    return _set_status(crm, name, ("draft", "scheduled", "paused"), "scheduled",
                       {"schedule_at": at, "status": "scheduled"}, in_the_future)


def pause(crm, name: str) -> dict[str, Any]:
    """Stop rendering the campaign's messages (``run`` resumes it); queued ones still go."""
    return _set_status(crm, name, ("scheduled", "running"), "paused", {"status": "paused"})

