"""Forecast accuracy: the weighted pipeline at each month's start against what was won in it.

For each of the last ``months`` whole calendar months (UTC) before ``as_of`` and each
currency: *forecast* = the weighted pipeline at the month's first instant of the open
opportunities expected to close in that month (:func:`pipeline.weighted_pipeline`, stage
as of then); *actual* = the amounts of the opportunities that moved to ``won`` during the
month.  Over the months with an actual above 0, per currency:

* MAPE = mean of |actual − forecast| / actual × 100;
* bias = Σ (forecast − actual) / Σ actual × 100 (above 0: the pipeline over-forecast).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, select, type_coerce

from crmkit.plugin import MONEY_SCALE

from .pipeline import weighted_pipeline
from .stages import WON, Stages
from .tables import opportunities, stage_history

UTC = dt.timezone.utc


def month_starts(as_of: dt.datetime, months: int) -> list[dt.datetime]:
    """The first instants of the last ``months`` whole months before ``as_of``, oldest first,
    and the start of the month containing ``as_of`` (the last month's end)."""
    utc = as_of.astimezone(UTC)
    current = utc.year * 12 + utc.month - 1
    return [dt.datetime(n // 12, n % 12 + 1, 1, tzinfo=UTC)
            for n in range(current - months, current + 1)]


def won_between(conn, start: dt.datetime, end: dt.datetime) -> dict[str, Decimal]:
    """Σ amount of the opportunities first moved to won in ``[start, end)``, per currency."""
    h, o = stage_history, opportunities
    won = (select(h.c.record_id, func.min(h.c.at).label("won_at"))
           .where(h.c.entity == "opportunity", h.c.to_stage == WON)
           .group_by(h.c.record_id)).subquery("fc_won")
    units = type_coerce(func.sum(type_coerce(o.c.amount, BigInteger)), BigInteger)
    query = (select(o.c.currency, units.label("units"))
             .join(won, won.c.record_id == o.c.id)
             .where(won.c.won_at >= start, won.c.won_at < end).group_by(o.c.currency))
    return {r.currency: Decimal(int(r.units or 0)) / MONEY_SCALE for r in conn.execute(query)}


def accuracy(conn, stages: Stages, as_of: dt.datetime, months: int
             ) -> dict[str, list[dict[str, Any]]]:
    """``{"months": [...], "summary": [...]}``: one row per month and currency (forecast,
    actual, error = actual − forecast, abs_percent_error), and per currency the months
    compared, MAPE and bias (None without a month whose actual is above 0)."""
    starts = month_starts(as_of, months)
    rows = []
    for start, end in zip(starts, starts[1:]):
        label = f"{start.year:04d}-{start.month:02d}"
        forecast = {r["currency"]: r["weighted"]
                    for r in weighted_pipeline(conn, stages, start, ("month",))
                    if r["month"] == label}
        actual = won_between(conn, start, end)
        for currency in sorted(set(forecast) | set(actual)):
            f, a = forecast.get(currency, Decimal(0)), actual.get(currency, Decimal(0))
            off = None if a <= 0 else round(float(abs(a - f) / a * 100), 2)
            rows.append({"month": label, "currency": currency, "forecast": f, "actual": a,
                         "error": a - f, "abs_percent_error": off})
    summary = []
    for currency in sorted({r["currency"] for r in rows}):
        measured = [r for r in rows if r["currency"] == currency and r["actual"] > 0]
        total_actual = sum((r["actual"] for r in measured), Decimal(0))
        summary.append({
            "currency": currency, "months": len(measured),
            "mape": (round(sum(r["abs_percent_error"] for r in measured) / len(measured), 2)
                     if measured else None),
            "bias": (round(float(sum((r["forecast"] - r["actual"] for r in measured), Decimal(0))
                                 / total_actual * 100), 2) if measured else None)})
    return {"months": rows, "summary": summary}


__all__ = ["accuracy", "won_between", "month_starts"]
