"""Probabilistic CLV: the calibration summary in SQL, BG/NBD + Gamma-Gamma fits, predictions.

Calibration summary per customer with a purchase up to ``as_of``, in
``time_unit`` (day = 1, week = 7, month = 365.25/12 days), all from UTC
calendar days:

* x (frequency) = purchase days − 1: same-day purchases count once and the
  first purchase is not a repeat;
* t_x (recency) = last purchase day − first purchase day;
* T = day of ``as_of`` − first purchase day;
* monetary = (spend on repeat purchase days − refunds after the first purchase
  day) / x, floored at 0; 0 when x = 0.  With another measure (``margin``: a
  plugin's ``crmkit_purchase_measure``), the measure of the interactions on
  repeat purchase days replaces their net spend.

Only these per-customer arrays leave the database; fitting and prediction run
in numpy/scipy.  CLV over ``months`` months with a monthly discount rate d:

    CLV = margin · E[spend per purchase] · Σ_{i=1..months} ΔE[purchases in month i] / (1+d)^i
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import BigInteger, cast, distinct, func, insert, select

from crmkit.plugin import MONEY_SCALE, customers as C, events as E, interactions as I

from . import sales
from .errors import ModelFitError
from .results import CLVFit, CLVPrediction, CLVPredictions, CLVSummaries, CLVSummary
from .sql import day_key, day_number, day_of, next_day_start
from .tables import clv_fits, clv_predictions, clv_runs

if TYPE_CHECKING:
    from . import bgnbd, gammagamma
    from .settings import Settings as PluginSettings

UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
DAYS_PER_MONTH = 365.25 / 12
CENT = Decimal("0.01")


@attrs.frozen
class Settings:
    """How a CLV computation is run: the plugin settings' ``clv``, built from the validated
    configuration (whose schema holds every default), with a command's overrides."""

    time_unit: str
    horizon: float
    discount_rate: float
    months: int
    margin: float
    max_iterations: int
    penalizer_coef: float
    measure: str = "revenue"
    """What the models are fitted to: ``revenue`` (net spend) or ``margin``
    (``crmkit_purchase_measure``); not configured, chosen per fit."""

    def overridden(self, **overrides: Any) -> "Settings":
        """These settings with any non-None override replacing them; bad values are errors."""
        from crmkit.plugin import ValidationError

        values = attrs.asdict(self)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["time_unit"] not in UNIT_DAYS:
            raise ValidationError(f"time_unit: {values['time_unit']!r} is not one of day, week, month")
        if not values["horizon"] > 0:
            raise ValidationError(f"horizon: {values['horizon']} must be > 0")
        if not 0 <= values["discount_rate"] <= 1:
            raise ValidationError(f"discount_rate: {values['discount_rate']} must be in [0, 1]")
        if int(values["months"]) != values["months"] or values["months"] < 1:
            raise ValidationError(f"months: {values['months']} must be a whole number >= 1")
        return Settings(**values)

    @property
    def unit_days(self) -> float:
        """Days per model time unit."""
        return UNIT_DAYS[self.time_unit]

    @property
    def value_share(self) -> float:
        """The share of the modelled value per purchase that the CLV counts: ``margin`` on
        revenue; 1 when the model is already of margin."""
        return self.margin if self.measure == "revenue" else 1.0


def summary_query(settings: PluginSettings, as_of: dt.datetime, customer_id: int | None = None,
                  per_purchase=None):
    """Per customer with a purchase: first and last purchase day, x and repeat net spend units.

    One GROUP BY over the purchases; the repeat spend (purchases less refunds
    from the day after the first purchase on) is a sum over the customer's
    later interactions, an index range on (customer_id, occurred_at).  ``customer_id``:
    that customer only.  ``per_purchase``: a SELECT of ``(interaction_id, units)``
    (``crmkit_purchase_measure``) summed instead of the net spend (0 where it has no row).
    """
    bought = (select(I.c.customer_id, func.min(I.c.occurred_at).label("first_at"),
                     func.max(I.c.occurred_at).label("last_at"),
                     func.count(distinct(day_key(I.c.occurred_at))).label("days"))
              .where(sales.is_purchase(settings), sales.within(as_of),
                     *([] if customer_id is None else [I.c.customer_id == customer_id]))
              .group_by(I.c.customer_id)).subquery("clv_bought")
    later = (I.c.customer_id == bought.c.customer_id, sales.sales_kinds(settings),
             sales.within(as_of), I.c.occurred_at >= next_day_start(bought.c.first_at))
    if per_purchase is None:
        repeat = select(func.coalesce(func.sum(sales.net_units(settings)), 0)).where(*later)
    else:
        measured = per_purchase.subquery("clv_measure")
        repeat = (select(func.coalesce(func.sum(measured.c.units), 0))
                  .select_from(I.join(measured, measured.c.interaction_id == I.c.id)).where(*later))
    repeat = repeat.scalar_subquery()
    return select(bought.c.customer_id,
                  day_number(bought.c.first_at).label("first_day"),
                  day_number(bought.c.last_at).label("last_day"),
                  (bought.c.days - 1).label("x"),
                  repeat.label("repeat_net"))


def _mean_units(total, count):
    """``total / count`` rounded half to even (integer arrays; 0 where count is 0)."""
    import numpy as np

    safe = np.where(count > 0, count, 1)
    quotient, remainder = np.divmod(total, safe)
    up = (2 * remainder > safe) | ((2 * remainder == safe) & (quotient % 2 == 1))
    return np.where(count > 0, quotient + up, 0)


def summary(conn, settings: PluginSettings, as_of: dt.datetime, time_unit: str,
            customer_id: int | None = None, per_purchase=None) -> CLVSummaries:
    """The calibration summary of every customer with a purchase up to ``as_of`` (only
    ``customer_id`` when given): one SQL GROUP BY, then numpy (no per-customer Python).
    ``per_purchase``: see :func:`summary_query`."""
    import numpy as np

    unit = UNIT_DAYS[time_unit]
    end = day_of(as_of)
    sub = summary_query(settings, as_of, customer_id, per_purchase).subquery("clv_summary")
    rows = conn.execute(select(sub.c.customer_id, C.c.external_id, sub.c.first_day, sub.c.last_day,
                               sub.c.x, cast(sub.c.repeat_net, BigInteger))
                        .join(C, C.c.id == sub.c.customer_id)
                        .order_by(sub.c.customer_id)).all()
    if not rows:
        empty = np.zeros(0)
        return CLVSummaries(np.zeros(0, dtype=np.int64), [], empty, empty, empty,
                       np.zeros(0, dtype=np.int64))
    ids, external, first, last, x, repeat = zip(*rows)
    first, x = np.array(first, dtype=np.int64), np.array(x, dtype=np.int64)
    repeat = np.maximum(np.array(repeat, dtype=np.int64), 0)
    return CLVSummaries(np.array(ids, dtype=np.int64), list(external), x.astype(float),
                   (np.array(last, dtype=np.int64) - first) / unit, (end - first) / unit,
                   _mean_units(repeat, x))


def summaries(conn, settings: PluginSettings, as_of: dt.datetime, time_unit: str,
              per_purchase=None) -> list[CLVSummary]:
    """The calibration summary of every customer with a purchase up to ``as_of``."""
    return summary(conn, settings, as_of, time_unit, per_purchase=per_purchase).rows()


def fit(data: CLVSummaries, settings: Settings, as_of: dt.datetime):
    """Fit both models on the summary; returns (CLVFit, bgnbd FitResult, gamma-gamma FitResult)."""
    from . import bgnbd, gammagamma  # numpy and scipy load only when a model runs

    if not len(data):
        raise ModelFitError("CLV fit needs customers with purchases up to "
                            f"{as_of.isoformat()}; there are none")
    bg = bgnbd.fit(data.x, data.t_x, data.T, settings.max_iterations, settings.penalizer_coef)
    gg = gammagamma.fit(data.x, data.monetary, settings.max_iterations, settings.penalizer_coef)
    document = CLVFit(
        as_of=as_of, time_unit=settings.time_unit,
        bgnbd={"r": bg.params.r, "alpha": bg.params.alpha, "a": bg.params.a, "b": bg.params.b,
               "log_likelihood": bg.log_likelihood, "customers": bg.customers},
        gamma_gamma={"p": gg.params.p, "q": _finite(gg.params.q), "v": _finite(gg.params.v),
                     "log_likelihood": gg.log_likelihood, "customers": gg.customers,
                     "heterogeneous": gg.params.heterogeneous,
                     "mean_spend": gg.params.population_mean},
        measure=settings.measure)
    return document, bg, gg


def _finite(value: float) -> float | None:
    """JSON has no infinity: the no-heterogeneity limit's q = v = ∞ is shown as null."""
    return None if value == float("inf") else value


def discounted_purchases(params: bgnbd.Params, settings: Settings, x, T):
    """Σ_{i=1..months} (E[purchases up to month i] − E[up to month i−1]) / (1+d)^i per customer,
    given alive (multiply by P(alive))."""
    import numpy as np

    from . import bgnbd  # numpy and scipy load only when a model runs

    per_month = DAYS_PER_MONTH / settings.unit_days
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for i in range(1, settings.months + 1):
        cumulative = bgnbd.purchases_if_alive(params, i * per_month, x, T)
        total += (cumulative - previous) / (1 + settings.discount_rate) ** i
        previous = cumulative
    return total


def _distinct_pairs(x, T):
    """The distinct (x, T) pairs and each customer's index into them."""
    import numpy as np

    (xs, xi), (Ts, Ti) = (np.unique(v, return_inverse=True) for v in (x, T))
    _, first, inverse = np.unique(xi.astype(np.int64) * len(Ts) + Ti, return_index=True,
                                  return_inverse=True)
    return x[first], T[first], inverse.ravel()


def money_cents(values):
    """Float amounts as whole cents, rounded half up on their shortest decimal form (as
    ``Decimal(repr(v)).quantize(CENT, ROUND_HALF_UP)``): numpy, with Decimal only for the
    rare values within rounding noise of a half cent."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    scaled = values * 100
    cents = np.floor(scaled + 0.5)
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6 * np.maximum(1.0, np.abs(scaled))
    for i in np.flatnonzero(near_half):
        cents[i] = int(Decimal(repr(float(values[i]))).quantize(CENT, rounding=ROUND_HALF_UP)
                       .scaleb(2))
    return cents.astype(np.int64)


def predict(data: CLVSummaries, settings: Settings, bg: bgnbd.Params, gg: gammagamma.Params
            ) -> CLVPredictions:
    """Per customer: P(alive), expected purchases over the horizon, expected spend, CLV (arrays),
    from the models' parameters."""
    import numpy as np

    from . import bgnbd, gammagamma  # numpy and scipy load only when a model runs

    x, t_x, T = data.x, data.t_x, data.T
    pair_x, pair_T, pair = _distinct_pairs(x, T)  # what a customer would buy if alive: by (x, T)
    try:
        with np.errstate(all="raise", under="ignore"):
            alive = bgnbd.p_alive(bg, x, t_x, T)
            purchases = alive * bgnbd.purchases_if_alive(bg, settings.horizon, pair_x,
                                                          pair_T)[pair]
            spend = gammagamma.expected_spend(gg, x, data.monetary)
            clv = (settings.value_share * spend * alive
                   * discounted_purchases(bg, settings, pair_x, pair_T)[pair])
    except FloatingPointError as exc:
        raise ModelFitError(f"CLV prediction failed numerically ({exc}) with {bg} "
                            f"and {gg}") from None
    return CLVPredictions(data.customer_id, data.external_id, x, t_x, T, data.monetary_units,
                          alive, purchases, money_cents(spend), money_cents(clv))


def model_params(fitted: CLVFit) -> tuple[bgnbd.Params, gammagamma.Params]:
    """The models' parameters of a fit document (kept or fresh): the no-heterogeneity limit
    of Gamma-Gamma (q = v = ∞, kept as null) gets its common scale back from the mean spend."""
    from . import bgnbd, gammagamma  # numpy and scipy load only when a model runs

    b, g = fitted.bgnbd, fitted.gamma_gamma
    if g["q"] is None:
        gamma = gammagamma.Params(g["p"], float("inf"), float("inf"),
                                  scale=g["mean_spend"] / g["p"])
    else:
        gamma = gammagamma.Params(g["p"], g["q"], g["v"])
    return bgnbd.Params(b["r"], b["alpha"], b["a"], b["b"]), gamma


def fit_conditions(conn, settings: Settings) -> dict[str, Any]:
    """What a fit at a given ``as_of`` and time unit depends on besides them: the fit
    settings and the data version (the highest interaction and event ids: a merge or an
    erasure emits an event; see :func:`kept_fit`)."""
    return {"max_iterations": settings.max_iterations, "penalizer_coef": settings.penalizer_coef,
            "measure": settings.measure, "interactions_through": data_version(conn),
            "events_through": int(conn.execute(select(func.max(E.c.id))).scalar() or 0)}


def summary_bytes(data: CLVSummaries) -> bytes:
    """The summary as a numpy ``.npz`` (no pickles), for :func:`keep_fit`."""
    import io

    import numpy as np

    out = io.BytesIO()
    np.savez(out, customer_id=data.customer_id, external_id=np.array(data.external_id, dtype=str),
             x=data.x, t_x=data.t_x, T=data.T, monetary_units=data.monetary_units)
    return out.getvalue()


def summary_from_bytes(blob: bytes) -> CLVSummaries:
    """The summary :func:`summary_bytes` wrote."""
    import io

    import numpy as np

    with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
        return CLVSummaries(stored["customer_id"], stored["external_id"].tolist(), stored["x"],
                            stored["t_x"], stored["T"], stored["monetary_units"])


def keep_fit(tx, fitted: CLVFit, settings: Settings | None = None,
             data: CLVSummaries | None = None) -> int:
    """Keep a fit's parameters (``clv fit``); returns its id.  With ``settings``, the
    :func:`fit_conditions` are kept too, and with ``data`` the summary it was fitted on, so
    that :func:`kept_fit` can reuse them."""
    conditions = None if settings is None else fit_conditions(tx.conn, settings)
    return tx.conn.execute(insert(clv_fits).values(
        as_of=fitted.as_of, created_at=tx.now(), actor=tx.actor, time_unit=fitted.time_unit,
        bgnbd=fitted.bgnbd, gamma_gamma=fitted.gamma_gamma, settings=conditions,
        summary=None if data is None else summary_bytes(data)
    ).returning(clv_fits.c.id)).scalar_one()


@attrs.frozen
class RecentFit:
    """A fit computed in this process and the summary it was fitted on, with what it
    depends on: reused, as a kept fit is (:func:`kept_fit`), while :meth:`fits`."""

    as_of: dt.datetime
    time_unit: str
    conditions: dict[str, Any]
    fitted: CLVFit
    data: CLVSummaries

    def fits(self, as_of: dt.datetime, time_unit: str, conditions: dict[str, Any]) -> bool:
        """Whether a fit at ``as_of`` in ``time_unit`` under :func:`fit_conditions`
        ``conditions`` would be this one."""
        return (self.as_of, self.time_unit, self.conditions) == (as_of, time_unit, conditions)


def kept_fit(conn, as_of: dt.datetime, settings: Settings, wanted: dict[str, Any]
             ) -> tuple[CLVFit, CLVSummaries | None] | None:
    """The latest kept fit at exactly ``as_of`` in ``settings.time_unit`` with the
    :func:`fit_conditions` ``wanted`` (nothing recorded, merged or erased since), and the
    summary it was fitted on when kept, if any: fitting again on the same data would give
    the same summary and parameters, so ``clv predict`` uses them instead."""
    rows = conn.execute(select(clv_fits.c.id, clv_fits.c.settings)
                        .where(clv_fits.c.as_of == as_of,
                               clv_fits.c.time_unit == settings.time_unit)
                        .order_by(clv_fits.c.id.desc()))
    for fit_id, conditions in rows.all():
        if conditions == wanted:
            row = conn.execute(select(clv_fits).where(clv_fits.c.id == fit_id)).one()
            return (CLVFit(row.as_of, row.time_unit, row.bgnbd, row.gamma_gamma, settings.measure),
                    None if row.summary is None else summary_from_bytes(row.summary))
    return None


def latest_fit(conn) -> tuple[CLVFit, dt.datetime] | None:
    """The latest kept fit (``clv fit``) or stored run's fit (``clv predict --store``), with
    when it was kept; None when there is neither.  The kept fit's calibration summary (a
    row per customer, for ``clv predict``) is not read."""
    found = []
    f = clv_fits.c
    fit = conn.execute(select(f.created_at, f.as_of, f.time_unit, f.bgnbd, f.gamma_gamma,
                              f.settings)
                       .order_by(f.created_at.desc(), f.id.desc()).limit(1)).first()
    if fit is not None:
        found.append((fit.created_at, CLVFit(fit.as_of, fit.time_unit, fit.bgnbd, fit.gamma_gamma,
                                             (fit.settings or {}).get("measure", "revenue"))))
    run = conn.execute(select(clv_runs).order_by(clv_runs.c.created_at.desc(),
                                                 clv_runs.c.id.desc()).limit(1)).first()
    if run is not None:
        found.append((run.created_at, CLVFit(run.as_of, run.settings["time_unit"], run.bgnbd,
                                             run.gamma_gamma,
                                             run.settings.get("measure", "revenue"))))
    if not found:
        return None
    created_at, fitted = max(found, key=lambda pair: pair[0])
    return fitted, created_at


def data_version(conn) -> int:
    """The highest interaction id: a stored run is reused only while it is unchanged."""
    return int(conn.execute(select(func.max(I.c.id))).scalar() or 0)


def _stored_settings(conn, settings: Settings) -> dict[str, Any]:
    return dict(attrs.asdict(settings), interactions_through=data_version(conn))


def store(tx, fitted: CLVFit, settings: Settings, predictions: CLVPredictions) -> int:
    """Store a run and its per-customer predictions (erased customers' rows are not kept)."""
    import numpy as np

    erased = [r[0] for r in tx.conn.execute(select(C.c.id).where(C.c.erased_at.is_not(None)))]
    kept = ~np.isin(predictions.customer_id, np.array(erased, dtype=np.int64))
    run_id = tx.conn.execute(insert(clv_runs).values(
        as_of=fitted.as_of, created_at=tx.now(), actor=tx.actor,
        settings=_stored_settings(tx.conn, settings), bgnbd=fitted.bgnbd, gamma_gamma=fitted.gamma_gamma,
        customers=len(predictions),
        total_clv=Decimal(int(predictions.clv_cents.sum())).scaleb(-2),
    ).returning(clv_runs.c.id)).scalar_one()
    p = predictions
    cents = MONEY_SCALE // 100  # money units per cent: the values bind as stored units
    columns = (np.full(len(p), run_id), p.customer_id, p.x.astype(np.int64), p.t_x, p.T,
               p.monetary_units, p.p_alive, p.expected_purchases, p.spend_cents * cents,
               p.clv_cents * cents)
    values = list(zip(*(column[kept].tolist() for column in columns)))
    names = ("run_id", "customer_id", "frequency", "recency", "age", "monetary", "p_alive",
             "expected_purchases", "expected_spend", "clv")
    mark = "?" if tx.conn.dialect.paramstyle == "qmark" else "%s"
    for start in range(0, len(values), 20_000):
        tx.conn.exec_driver_sql(f"INSERT INTO {clv_predictions.name} ({', '.join(names)}) "
                                f"VALUES ({', '.join([mark] * len(names))})",
                                values[start:start + 20_000])
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


def last_run_at(conn, as_of: dt.datetime | None = None) -> dt.datetime | None:
    """When the latest CLV run (stored at or before ``as_of``, if given) was stored."""
    query = select(func.max(clv_runs.c.created_at))
    if as_of is not None:
        query = query.where(clv_runs.c.created_at <= as_of)
    return conn.execute(query).scalar()
