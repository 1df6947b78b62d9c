"""Customise: treatments per group with a deterministic holdout, and their uplift.

A treatment (an offer, a service level or a channel) applies to the members of
one value or needs group.  Each member is held out when
``sha256(treatment name + "\\x1f" + external id)`` read as a number in [0, 1)
is below the treatment's holdout share: the same customer and treatment always
give the same answer, on every run and database.  Uplift on a metric is the
treated members' mean minus the holdout members' mean, each member measured
from when they were assigned (never before the start) to as-of (or the end).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from decimal import Decimal
from fractions import Fraction

import attrs
from sqlalchemy import BigInteger, Float, and_, case, cast, func, insert, select, type_coerce, update

from crmkit.plugin import (
    MONEY_SCALE, ConflictError, NotFound, ValidationError, customers, interactions, text_limit,
)

from .settings import VALUE_GROUPS, Settings
from .tables import groups, members, runs, treatments

TYPES = ("offer", "service_level", "channel")
METRICS = ("revenue", "purchases", "purchase_rate")
FOUR = Decimal("0.0001")
HUNDREDTH = Decimal("0.01")
NAME_WIDTH = 100
"""The longest treatment name (lower if the core config's ``max_field_length`` is lower)."""
DETAIL_WIDTH = 500
"""The longest treatment detail (lower if the core config's ``max_field_length`` is lower)."""


def holdout_value(key: str, treatment: str) -> float:
    """A stable number in [0, 1) for (customer key, treatment name)."""
    digest = hashlib.sha256(f"{treatment}\x1f{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def in_holdout(key: str, treatment: str, share: float) -> bool:
    """Whether the customer with this external id is held out of the treatment."""
    return holdout_value(key, treatment) < share


@attrs.frozen
class Treatment:
    """A treatment and how many members each arm has."""

    id: int
    name: str
    group: str
    type: str
    detail: str
    holdout_share: float
    start: dt.datetime
    end: dt.datetime | None
    treated: int = 0
    held_out: int = 0


def add(tx, settings: Settings, name: str, group: str, type: str, detail: str,
        holdout_share: float | None, start: dt.datetime) -> Treatment:
    """Create a treatment and assign the group's members of the latest run at or before start."""
    problems = []
    if not name:
        problems.append("name: required")
    elif problem := text_limit(tx.crm, NAME_WIDTH).problem(name):
        problems.append(f"name: {problem}")
    if group not in settings.group_names:
        problems.append(f"group: {group!r} is not a group (allowed: "
                        f"{', '.join(settings.group_names)})")
    if type not in TYPES:
        problems.append(f"type: {type!r} is not one of {', '.join(TYPES)}")
    if not detail:
        problems.append("detail: required")
    elif problem := text_limit(tx.crm, DETAIL_WIDTH).problem(detail):
        problems.append(f"detail: {problem}")
    share = settings.holdout_share if holdout_share is None else holdout_share
    if not 0 <= share <= 0.9:
        problems.append(f"holdout_share: {share} is outside 0 to 0.9")
    if problems:
        raise ValidationError("treatment " + "; ".join(problems))
    if tx.conn.execute(select(treatments.c.id).where(treatments.c.name == name)).first():
        raise ConflictError(f"treatment {name!r} already exists")
    tx.conn.execute(insert(treatments).values(
        name=name, group_name=group, type=type, detail=detail, holdout_share=share,
        start_at=start, end_at=None, created_at=tx.now()))
    run_id = tx.conn.execute(select(runs.c.id).where(runs.c.as_of <= max(start, tx.now()))
                             .order_by(runs.c.as_of.desc(), runs.c.id.desc()).limit(1)).scalar()
    if run_id is not None:
        assign(tx, run_id, start)
    tx.context("idic").emit("idic.treatment_started", None,
                            {"treatment": name, "group": group, "type": type,
                             "holdout_share": share})
    return get(tx.conn, name)


def end(tx, name: str, at: dt.datetime) -> Treatment:
    """Stop a treatment at ``at`` (members keep their arm for the uplift report)."""
    treatment = get(tx.conn, name)
    if treatment.end is not None:
        raise ConflictError(f"treatment {name!r} already ended at {treatment.end.isoformat()}")
    if at < treatment.start:
        raise ValidationError(f"end: {at.isoformat()} is before the start {treatment.start.isoformat()}")
    tx.conn.execute(update(treatments).where(treatments.c.id == treatment.id).values(end_at=at))
    return get(tx.conn, name)


def assign(tx, run_id: int, at: dt.datetime) -> int:
    """Add the run's group members who are not yet members to every treatment still running.

    ``assigned_at`` is the later of ``at`` and the treatment's start.  Returns
    how many member rows were added.
    """
    active = tx.conn.execute(select(treatments).where(
        (treatments.c.end_at.is_(None)) | (treatments.c.end_at > at))).mappings().all()
    added = 0
    for t in active:
        column = groups.c.value_group if t["group_name"] in VALUE_GROUPS else groups.c.needs_group
        already = select(members.c.customer_id).where(members.c.treatment_id == t["id"])
        fresh = tx.conn.execute(
            select(customers.c.id, customers.c.external_id)
            .join(groups, groups.c.customer_id == customers.c.id)
            .where(groups.c.run_id == run_id, column == t["group_name"],
                   customers.c.id.not_in(already))).all()
        if not fresh:
            continue
        when = max(at, t["start_at"])
        tx.conn.execute(insert(members), [
            {"treatment_id": t["id"], "customer_id": cid, "assigned_at": when,
             "holdout": in_holdout(ext, t["name"], t["holdout_share"])} for cid, ext in fresh])
        added += len(fresh)
    return added


def _arms(conn):
    return (select(members.c.treatment_id,
                   func.sum(case((members.c.holdout.is_(False), 1), else_=0)).label("treated"),
                   func.sum(case((members.c.holdout.is_(True), 1), else_=0)).label("held_out"))
            .group_by(members.c.treatment_id).subquery())


def _treatment(row) -> Treatment:
    return Treatment(row.id, row.name, row.group_name, row.type, row.detail, row.holdout_share,
                     row.start_at, row.end_at, int(row.treated or 0), int(row.held_out or 0))


def list_all(conn) -> list[Treatment]:
    """Every treatment with its arm sizes, oldest first."""
    arms = _arms(conn)
    query = (select(treatments, arms.c.treated, arms.c.held_out)
             .outerjoin(arms, arms.c.treatment_id == treatments.c.id).order_by(treatments.c.id))
    return [_treatment(r) for r in conn.execute(query)]


def get(conn, name: str) -> Treatment:
    """One treatment by name, or NotFound."""
    for t in list_all(conn):
        if t.name == name:
            return t
    raise NotFound(f"no treatment {name!r}")


def _rounded(value: Fraction, places: Decimal) -> Decimal:
    """An exact ratio rounded to ``places`` for the report."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(places)


@attrs.frozen
class Uplift:
    """The uplift of a treatment on one metric (treated mean − holdout mean).

    The means, the uplift (4 places) and the uplift relative to the holdout mean
    (%, 2 places) are each rounded from the exact means.
    ``standard_error`` is Welch's: sqrt(s²_treated / n_treated + s²_holdout / n_holdout);
    ``significant`` means |uplift| > 1.96 standard errors (about 95 % confidence).
    """

    treatment: str
    metric: str
    window_end: dt.datetime
    treated: int
    held_out: int
    treated_value: Decimal
    holdout_value: Decimal
    uplift: Decimal
    relative_uplift: Decimal | None
    standard_error: Decimal | None
    significant: bool | None


def _member_values(settings: Settings, treatment: Treatment, metric: str,
                   upper: dt.datetime):
    """SQL: one row per member (holdout, v) with the member's value of ``metric``."""
    bought = interactions.c.kind.in_(settings.purchase_kinds)
    refunded = interactions.c.kind.in_(settings.refund_kinds)
    joined = members.outerjoin(interactions, and_(
        interactions.c.customer_id == members.c.customer_id,
        interactions.c.occurred_at >= members.c.assigned_at,
        interactions.c.occurred_at <= upper,
        bought | refunded))
    units = type_coerce(interactions.c.amount, BigInteger)
    if metric == "revenue":
        value = func.coalesce(func.sum(case((bought, units), (refunded, -units), else_=0)), 0)
        scale = MONEY_SCALE
    elif metric == "purchases":
        value = func.count(case((bought, interactions.c.id)))
        scale = 1
    else:
        value = func.max(case((bought, 1), else_=0))
        scale = 1
    query = (select(members.c.holdout, value.label("v")).select_from(joined)
             .where(members.c.treatment_id == treatment.id, members.c.assigned_at <= upper)
             .group_by(members.c.customer_id, members.c.holdout))
    return query.subquery("per_member"), scale


def uplift(conn, settings: Settings, name: str, metric: str, as_of: dt.datetime) -> Uplift:
    """Compare the arms on ``revenue`` (net spend per member), ``purchases`` (per member)
    or ``purchase_rate`` (share of members who purchased), aggregated in SQL."""
    if metric not in METRICS:
        raise ValidationError(f"metric: {metric!r} is not one of {', '.join(METRICS)}")
    t = get(conn, name)
    upper = as_of if t.end is None else min(as_of, t.end)
    per, scale = _member_values(settings, t, metric, upper)
    v = cast(per.c.v, Float)
    query = (select(per.c.holdout, func.count(), func.coalesce(func.sum(per.c.v), 0),
                    func.coalesce(func.sum(v * v), 0.0))
             .group_by(per.c.holdout))
    arms = {bool(h): (int(n), int(total), float(squares)) for h, n, total, squares in conn.execute(query)}
    means, variances, sizes = {}, {}, {}
    for holdout in (False, True):
        n, total, squares = arms.get(holdout, (0, 0, 0.0))
        sizes[holdout] = n
        means[holdout] = Fraction(total, scale * n) if n else Fraction(0)
        if n > 1:
            mean = total / n
            variances[holdout] = max(0.0, (squares - n * mean * mean) / (n - 1)) / scale ** 2
    difference = means[False] - means[True]
    relative = _rounded(difference / means[True] * 100, HUNDREDTH) if means[True] else None
    error = significant = None
    if len(variances) == 2:
        se = math.sqrt(variances[False] / sizes[False] + variances[True] / sizes[True])
        error = Decimal(str(se)).quantize(FOUR)
        significant = abs(difference) > 1.96 * se if se > 0 else difference != 0
    return Uplift(name, metric, upper, sizes[False], sizes[True], _rounded(means[False], FOUR),
                  _rounded(means[True], FOUR), _rounded(difference, FOUR), relative, error,
                  significant)
