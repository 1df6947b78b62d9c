"""Saved segments: named conditions over customer fields, evaluated in SQL (bound parameters).

Fields a segment condition may use:

* customer fields: ``type``, ``external_id``, ``preferred_channel``,
  ``lifecycle_stage`` (the customer record's column), ``tags``,
  ``attributes.KEY``;
* ``lifecycle``: the computed lifecycle stage at ``as_of`` — the recency stage, or the
  relationship phase when config ``lifecycle.model`` is ``relationship``;
* ``rfm.segment``, ``rfm.r``, ``rfm.f``, ``rfm.m``, ``rfm.recency_days``,
  ``rfm.frequency``, ``rfm.monetary``: RFM at ``as_of`` (NULL without purchases);
* ``clv``, ``p_alive``: from the latest stored CLV run computed at or before
  ``as_of`` (NULL when there is none: run ``crmkit analytical clv predict``);
* ``current_value``: net spend in the last ``current_value_months`` months;
* ``purchases``: purchases up to ``as_of``.

Members are the customers (not erased) for whom the condition holds; only the
computations a condition mentions are joined in.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import delete, func, select, update

from crmkit.plugin import (
    CUSTOMER_FIELDS, ConfigError, ConflictError, NotFound, ValidationError, check_condition,
    condition_to_sql, customers as C, interactions as I, text_limit,
)

from . import phases, rfm, sales, values
from .results import Segment
from .sql import field_columns, money_value
from .tables import clv_predictions, clv_runs, segments as S

if TYPE_CHECKING:
    from .settings import Settings

COMPUTED = ("lifecycle", "rfm.segment", "rfm.r", "rfm.f", "rfm.m", "rfm.recency_days",
            "rfm.frequency", "rfm.monetary", "clv", "p_alive", "current_value", "purchases")
FIELDS = (*CUSTOMER_FIELDS, *COMPUTED)
MONEY_FIELDS = ("rfm.monetary", "clv", "current_value")
"""The fields holding money amounts (compared by the core's condition_money rule)."""
NAME_MAX = 100
"""The longest segment name (lower if the core config's ``max_field_length`` is lower)."""
DESCRIPTION_WIDTH = 500
"""The longest segment description (lower if the core config's ``max_field_length`` is)."""


def _leaves(condition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("all", "any"):
        if key in condition:
            for part in condition[key]:
                yield from _leaves(part)
            return
    if "not" in condition:
        yield from _leaves(condition["not"])
        return
    yield condition


def members_query(settings: Settings, condition: dict[str, Any], as_of: dt.datetime):
    """SELECT of the ids of the customers (not erased) for whom ``condition`` holds."""
    used = {leaf["field"] for leaf in _leaves(condition)}
    source = C
    columns: dict[str, Any] = {}
    if "lifecycle" in used:
        stage = phases.segment_stages_query(settings, as_of).subquery("sg_lifecycle")
        source = source.outerjoin(stage, stage.c.customer_id == C.c.id)
        columns["lifecycle"] = stage.c.stage
    if used & {f for f in COMPUTED if f.startswith("rfm.")}:
        scored = rfm.scored_query(settings, as_of).subquery("sg_rfm")
        source = source.outerjoin(scored, scored.c.customer_id == C.c.id)
        columns.update({f"rfm.{k}": scored.c[k] for k in ("r", "f", "m", "recency_days", "frequency")})
        columns["rfm.monetary"] = money_value(scored.c.monetary_units)
        columns["rfm.segment"] = rfm.segment_case(settings, scored)
    if used & {"clv", "p_alive"}:
        latest = (select(func.max(clv_runs.c.id)).where(clv_runs.c.as_of <= as_of)
                  .scalar_subquery())
        pred = (select(clv_predictions.c.customer_id, clv_predictions.c.clv,
                       clv_predictions.c.p_alive)
                .where(clv_predictions.c.run_id == latest)).subquery("sg_clv")
        source = source.outerjoin(pred, pred.c.customer_id == C.c.id)
        columns["clv"] = money_value(pred.c.clv)
        columns["p_alive"] = pred.c.p_alive
    if "current_value" in used:
        current = values.current_value_query(settings, as_of).subquery("sg_current")
        source = source.outerjoin(current, current.c.customer_id == C.c.id)
        columns["current_value"] = money_value(func.coalesce(current.c.net, 0))
    if "purchases" in used:
        bought = (select(I.c.customer_id, func.count().label("n"))
                  .where(sales.is_purchase(settings), sales.within(as_of))
                  .group_by(I.c.customer_id)).subquery("sg_bought")
        source = source.outerjoin(bought, bought.c.customer_id == C.c.id)
        columns["purchases"] = func.coalesce(bought.c.n, 0)
    column_for = field_columns(columns, "segment", FIELDS)
    return (select(C.c.id).select_from(source)
            .where(C.c.erased_at.is_(None), condition_to_sql(condition, column_for))
            .order_by(C.c.id))


def check(name: str, condition: Any) -> None:
    """Raise ValidationError unless the name and condition are acceptable."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"segment name: {name!r} must be non-empty text")
    try:
        check_condition(condition, FIELDS, "/condition", money_fields=MONEY_FIELDS)
    except ConfigError as exc:
        raise ValidationError(f"segment {name!r}: {exc}") from None


def save(tx, name: str, condition: dict[str, Any], description: str | None,
         replace: bool = False) -> Segment:
    """Create (or with ``replace`` overwrite) a saved segment; audited.  Its name and
    description are at most :data:`NAME_MAX` and :data:`DESCRIPTION_WIDTH` characters, or the
    core config's ``max_field_length`` when lower."""
    check(name, condition)
    if problem := text_limit(tx.crm, NAME_MAX).problem(name):
        raise ValidationError(f"segment name: {problem}")
    if description is not None and not isinstance(description, str):
        raise ValidationError(f"segment {name!r}: description: must be text, got "
                              f"{type(description).__name__}")
    if description and (problem := text_limit(tx.crm, DESCRIPTION_WIDTH).problem(description)):
        raise ValidationError(f"segment {name!r}: description: {problem}")
    conn = tx.conn
    old = conn.execute(select(S).where(S.c.name == name)).mappings().first()
    now = tx.now()
    if old is not None and not replace:
        raise ConflictError(f"segment {name!r} already exists (use --replace to change it)")
    if old is None:
        conn.execute(S.insert().values(name=name, condition=condition, description=description,
                                       created_at=now, updated_at=now, actor=tx.actor))
        tx.audit("create", S.name, name, {"condition": condition, "description": description})
    else:
        conn.execute(update(S).where(S.c.name == name)
                     .values(condition=condition, description=description, updated_at=now,
                             actor=tx.actor))
        tx.audit("update", S.name, name, {"condition": [old["condition"], condition],
                                          "description": [old["description"], description]})
    return Segment(name, condition, description, now)


def remove(tx, name: str) -> None:
    """Delete a saved segment; audited."""
    get(tx.conn, name)
    tx.conn.execute(delete(S).where(S.c.name == name))
    tx.audit("delete", S.name, name, {})


def get(conn, name: str) -> Segment:
    """One saved segment; NotFound lists the known names."""
    row = conn.execute(select(S).where(S.c.name == name)).mappings().first()
    if row is None:
        known = ", ".join(names(conn)) or "none"
        raise NotFound(f"no segment named {name!r} (saved segments: {known})")
    return Segment(row["name"], row["condition"], row["description"], row["updated_at"])


def names(conn, as_of: dt.datetime | None = None) -> list[str]:
    """Names of the saved segments (saved by ``as_of``, if given), sorted."""
    query = select(S.c.name).order_by(S.c.name)
    if as_of is not None:
        query = query.where(S.c.created_at <= as_of)
    return list(conn.execute(query).scalars())


def all_segments(conn) -> list[Segment]:
    """Every saved segment, by name."""
    rows = conn.execute(select(S).order_by(S.c.name)).mappings()
    return [Segment(r["name"], r["condition"], r["description"], r["updated_at"]) for r in rows]


def members(conn, settings: Settings, condition: dict[str, Any], as_of: dt.datetime) -> list[int]:
    """Customer ids for whom ``condition`` holds at ``as_of``."""
    return list(conn.execute(members_query(settings, condition, as_of)).scalars())
