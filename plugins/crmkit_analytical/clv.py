"""Probabilistic CLV: the calibration summary in SQL, BG/NBD + Gamma-Gamma fits, predictions.

Calibration summary per customer with a purchase up to ``as_of``, in
``time_unit`` (day = 1, week = 7, month = 365.25/12 days), all from UTC
calendar days:

* x (frequency) = purchase days − 1: same-day purchases count once and the
  first purchase is not a repeat;
* t_x (recency) = last purchase day − first purchase day;
* T = day of ``as_of`` − first purchase day;
* monetary = (spend on repeat purchase days − refunds after the first purchase
  day) / x, floored at 0; 0 when x = 0.

Only these per-customer arrays leave the database; fitting and prediction run
in numpy/scipy.  CLV over ``months`` months with a monthly discount rate d:

    CLV = margin · E[spend per purchase] · Σ_{i=1..months} ΔE[purchases in month i] / (1+d)^i
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs
from sqlalchemy import case, func, insert, literal, select

from crmkit.plugin import MONEY_SCALE, customers as C, interactions as I

from . import bgnbd, gammagamma, sales
from .errors import ModelFitError
from .results import CLVFit, CLVPrediction, CLVSummary
from .sql import day_number, day_of
from .tables import clv_predictions, clv_runs

UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
DAYS_PER_MONTH = 365.25 / 12
CENT = Decimal("0.01")


@attrs.frozen
class Settings:
    """How a CLV computation is run (defaults from the plugin config's ``clv``)."""

    time_unit: str = "week"
    horizon: float = 52
    discount_rate: float = 0.01
    months: int = 12
    margin: float = 1.0
    max_iterations: int = 1000
    penalizer_coef: float = 0.0

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> "Settings":
        """Config values, with any non-None override replacing them; bad values are errors."""
        from crmkit.plugin import ValidationError

        values = {k: config["clv"][k] for k in ("time_unit", "horizon", "discount_rate", "months",
                                                  "margin", "max_iterations", "penalizer_coef")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["time_unit"] not in UNIT_DAYS:
            raise ValidationError(f"time_unit: {values['time_unit']!r} is not one of day, week, month")
        if not values["horizon"] > 0:
            raise ValidationError(f"horizon: {values['horizon']} must be > 0")
        if not 0 <= values["discount_rate"] <= 1:
            raise ValidationError(f"discount_rate: {values['discount_rate']} must be in [0, 1]")
        if int(values["months"]) != values["months"] or values["months"] < 1:
            raise ValidationError(f"months: {values['months']} must be a whole number >= 1")
        return cls(**values)

    @property
    def unit_days(self) -> float:
        """Days per model time unit."""
        return UNIT_DAYS[self.time_unit]


def summary_query(config: dict[str, Any], as_of: dt.datetime):
    """Per customer: first and last purchase day, x and repeat net spend units (one SQL pass)."""
    day = day_number(I.c.occurred_at)
    daily = (select(I.c.customer_id, day.label("day"),
                    func.max(sales.purchase_flag(config)).label("bought"),
                    func.sum(sales.net_units(config)).label("net"))
             .where(sales.sales_kinds(config), sales.within(as_of))
             .group_by(I.c.customer_id, day)).subquery("clv_daily")
    first = func.min(case((daily.c.bought == 1, daily.c.day))).over(partition_by=daily.c.customer_id)
    marked = select(daily, first.label("first_day")).subquery("clv_marked")
    return (select(marked.c.customer_id,
                   marked.c.first_day,
                   func.max(case((marked.c.bought == 1, marked.c.day))).label("last_day"),
                   (func.sum(marked.c.bought) - 1).label("x"),
                   func.sum(case((marked.c.day > marked.c.first_day, marked.c.net), else_=literal(0)))
                   .label("repeat_net"))
            .where(marked.c.first_day.is_not(None))
            .group_by(marked.c.customer_id, marked.c.first_day))


def summaries(conn, config: dict[str, Any], as_of: dt.datetime, time_unit: str) -> list[CLVSummary]:
    """The calibration summary of every customer with a purchase up to ``as_of``."""
    unit = UNIT_DAYS[time_unit]
    end = day_of(as_of)
    sub = summary_query(config, as_of).subquery("clv_summary")
    rows = conn.execute(select(sub, C.c.external_id).join(C, C.c.id == sub.c.customer_id)
                        .order_by(sub.c.customer_id))
    result = []
    for row in rows:
        x = int(row.x)
        repeat = max(int(row.repeat_net or 0), 0)
        monetary = (Decimal(repeat) / MONEY_SCALE / x) if x > 0 else Decimal(0)
        result.append(CLVSummary(row.customer_id, row.external_id, x,
                                 (row.last_day - row.first_day) / unit,
                                 (end - row.first_day) / unit,
                                 monetary.quantize(Decimal("0.0001"))))
    return result


def _arrays(rows: list[CLVSummary]):
    import numpy as np

    x = np.array([r.frequency for r in rows], dtype=float)
    t_x = np.array([r.recency for r in rows], dtype=float)
    T = np.array([r.T for r in rows], dtype=float)
    m = np.array([float(r.monetary) for r in rows], dtype=float)
    return x, t_x, T, m


def fit(rows: list[CLVSummary], settings: Settings, as_of: dt.datetime):
    """Fit both models on the summaries; returns (CLVFit, bgnbd FitResult, gamma-gamma FitResult)."""
    if not rows:
        raise ModelFitError("CLV fit needs customers with purchases up to "
                            f"{as_of.isoformat()}; there are none")
    x, t_x, T, m = _arrays(rows)
    bg = bgnbd.fit(x, t_x, T, settings.max_iterations, settings.penalizer_coef)
    gg = gammagamma.fit(x, m, settings.max_iterations, settings.penalizer_coef)
    document = CLVFit(
        as_of=as_of, time_unit=settings.time_unit,
        bgnbd={"r": bg.params.r, "alpha": bg.params.alpha, "a": bg.params.a, "b": bg.params.b,
               "log_likelihood": bg.log_likelihood, "customers": bg.customers},
        gamma_gamma={"p": gg.params.p, "q": _finite(gg.params.q), "v": _finite(gg.params.v),
                     "log_likelihood": gg.log_likelihood, "customers": gg.customers,
                     "heterogeneous": gg.params.heterogeneous,
                     "mean_spend": gg.params.population_mean})
    return document, bg, gg


def _finite(value: float) -> float | None:
    """JSON has no infinity: the no-heterogeneity limit's q = v = ∞ is shown as null."""
    return None if value == float("inf") else value


def discounted_purchases(params: bgnbd.Params, settings: Settings, x, t_x, T):
    """Σ_{i=1..months} (E[purchases up to month i] − E[up to month i−1]) / (1+d)^i per customer."""
    import numpy as np

    per_month = DAYS_PER_MONTH / settings.unit_days
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for i in range(1, settings.months + 1):
        cumulative = bgnbd.expected_purchases(params, i * per_month, x, t_x, T)
        total += (cumulative - previous) / (1 + settings.discount_rate) ** i
        previous = cumulative
    return total


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)


def predict(rows: list[CLVSummary], settings: Settings, bg, gg) -> list[CLVPrediction]:
    """Per customer: P(alive), expected purchases over the horizon, expected spend, CLV."""
    import numpy as np

    if not rows:
        return []
    x, t_x, T, m = _arrays(rows)
    try:
        with np.errstate(all="raise", under="ignore"):
            alive = bgnbd.p_alive(bg.params, x, t_x, T)
            purchases = bgnbd.expected_purchases(bg.params, settings.horizon, x, t_x, T)
            spend = gammagamma.expected_spend(gg.params, x, m)
            clv = settings.margin * spend * discounted_purchases(bg.params, settings, x, t_x, T)
    except FloatingPointError as exc:
        raise ModelFitError(f"CLV prediction failed numerically ({exc}) with {bg.params} "
                            f"and {gg.params}") from None
    return [CLVPrediction(r.customer_id, r.external_id, r.frequency, r.recency, r.T, r.monetary,
                          float(a), float(p), _money(s), _money(v))
            for r, a, p, s, v in zip(rows, alive, purchases, spend, clv)]


def data_version(conn) -> int:
    """The highest interaction id: a stored run is reused only while it is unchanged."""
    return int(conn.execute(select(func.max(I.c.id))).scalar() or 0)


def _stored_settings(conn, settings: Settings) -> dict[str, Any]:
    return dict(attrs.asdict(settings), interactions_through=data_version(conn))


def store(tx, fitted: CLVFit, settings: Settings, predictions: list[CLVPrediction]) -> int:
    """Store a run and its per-customer predictions (erased customers' rows are not kept)."""
    erased = {r[0] for r in tx.conn.execute(select(C.c.id).where(C.c.erased_at.is_not(None)))}
    kept = [p for p in predictions if p.customer_id not in erased]
    run_id = tx.conn.execute(insert(clv_runs).values(
        as_of=fitted.as_of, created_at=tx.now(), actor=tx.actor,
        settings=_stored_settings(tx.conn, settings), bgnbd=fitted.bgnbd, gamma_gamma=fitted.gamma_gamma,
        customers=len(predictions), total_clv=sum((p.clv for p in predictions), Decimal(0)),
    ).returning(clv_runs.c.id)).scalar_one()
    for start in range(0, len(kept), 5000):
        tx.conn.execute(insert(clv_predictions), [
            {"run_id": run_id, "customer_id": p.customer_id, "frequency": p.frequency,
             "recency": p.recency, "age": p.T, "monetary": p.monetary, "p_alive": p.p_alive,
             "expected_purchases": p.expected_purchases, "expected_spend": p.expected_spend,
             "clv": p.clv} for p in kept[start:start + 5000]])
    return run_id


def stored_run(conn, as_of: dt.datetime, settings: Settings) -> int | None:
    """The latest stored run at exactly ``as_of`` with the same settings and data, if any."""
    wanted = _stored_settings(conn, settings)
    rows = conn.execute(select(clv_runs.c.id, clv_runs.c.settings)
                        .where(clv_runs.c.as_of == as_of).order_by(clv_runs.c.id.desc()))
    for run_id, stored in rows:
        if stored == wanted:
            return run_id
    return None


def stored_predictions(conn, run_id: int) -> list[CLVPrediction]:
    """The predictions kept for a stored run."""
    p = clv_predictions
    rows = conn.execute(select(p, C.c.external_id).join(C, C.c.id == p.c.customer_id)
                        .where(p.c.run_id == run_id).order_by(p.c.customer_id))
    return [CLVPrediction(r.customer_id, r.external_id, r.frequency, r.recency, r.age, r.monetary,
                          r.p_alive, r.expected_purchases, r.expected_spend.quantize(CENT),
                          r.clv.quantize(CENT)) for r in rows]


def last_run_at(conn) -> dt.datetime | None:
    """When the latest CLV run was stored."""
    return conn.execute(select(func.max(clv_runs.c.created_at))).scalar()
