"""Survey scores in interaction payloads: checked on the way in, stored as whole numbers.

A survey interaction (``survey_kinds``) may carry ``nps`` (0–10), ``csat``
(1–5) and ``ces`` (1–7), and the items declared in config ``survey_items`` (a key and its
scale, e.g. ``{"rq_trust": {"min": 1, "max": 7}}``).  A score given as text or as an
integral float (``"9"``, ``9.0``, as CSV imports produce) is stored as the integer; anything
else outside the scale rejects the row naming the field and the allowed range.

:func:`latest_scores` reads, in SQL, each customer's latest answer to an item in a window,
on a 0–100 scale (``(answer − min) / (max − min) × 100``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import Float, String, cast, func, literal, select, union_all

from crmkit.plugin import interactions as I

from .sql import json_number

if TYPE_CHECKING:
    from .settings import Settings

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
"""The built-in survey items and their scales."""


def scales(settings: Settings) -> dict[str, tuple[int, int]]:
    """Every survey item's scale: the built-in ones and config ``survey_items``."""
    return {**SCALES, **settings.survey_items}


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def problems(settings: Settings, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """``(index, field, message)`` for every score outside its scale."""
    kinds = set(settings.survey_kinds)
    items = scales(settings)
    found = []
    for index, row in enumerate(rows):
        payload = row.get("payload")
        if row["kind"] not in kinds or not isinstance(payload, dict):
            continue
        for key, (low, high) in items.items():
            value = payload.get(key)
            if value is None:
                continue
            whole = _whole(value)
            if whole is None or not low <= whole <= high:
                found.append((index, f"payload.{key}",
                              f"{value!r} is not a whole number from {low} to {high}"))
    return found


def normalise(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Store valid scores as integers (``"9"`` → 9)."""
    kinds = set(settings.survey_kinds)
    items = scales(settings)
    for row in rows:
        payload = row.get("payload")
        if row["kind"] not in kinds or not isinstance(payload, dict):
            continue
        changed = {key: _whole(payload[key]) for key in items
                   if payload.get(key) is not None and not isinstance(payload[key], int)}
        if changed:
            row["payload"] = dict(payload, **changed)


def latest_scores(settings: Settings, items: Sequence[str], as_of: dt.datetime,
                  days: int):
    """SELECT ``(customer_id, item, score)``: each customer's latest answer to each of
    ``items`` among the surveys in ``(as_of − days, as_of]``, scored 0–100 on the item's
    scale.  ``items`` must be known (:func:`scales`)."""
    known = scales(settings)
    since = as_of - dt.timedelta(days=days)
    parts = []
    for item in items:
        low, high = known[item]
        answer = json_number(I.c.payload, item)
        ranked = (select(I.c.customer_id, answer.label("answer"),
                         func.row_number().over(partition_by=I.c.customer_id,
                                                order_by=(I.c.occurred_at.desc(), I.c.id.desc())
                                                ).label("rn"))
                  .where(I.c.kind.in_(settings.survey_kinds), answer.is_not(None),
                         I.c.occurred_at > since, I.c.occurred_at <= as_of)
                  .subquery())
        score = (cast(ranked.c.answer, Float) - low) * 100.0 / (high - low)
        parts.append(select(ranked.c.customer_id, cast(literal(item), String).label("item"),
                            score.label("score")).where(ranked.c.rn == 1))
    return union_all(*parts)
