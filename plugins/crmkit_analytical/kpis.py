"""SMART KPIs: configured targets over the analytical metrics, with attainment and status.

A KPI ``{name, metric, target, direction, period, owner, deadline}`` is
measured at m = min(as_of, deadline) over its calendar period containing m,
from the period's first instant up to m (period to date).  Metrics:

* ``revenue`` net spend; ``average_order_value`` purchase amount / purchases;
* ``new_customers`` first purchases in the period; ``active_customers``
  customers not lapsed at m; ``repeat_rate`` % of the period's buyers who had
  bought before it;
* ``crr`` / ``churn`` over the period (see retention);
* ``nps`` / ``csat`` / ``ces`` of the period's survey answers;
* ``conversion_rate`` funnel flows (customers) passing through the first
  stage that reach the won stage ÷ those passing through the first stage,
  ``win_rate`` won ÷ (won + lost), for flows that entered in the period;
* ``average_clv`` mean predicted CLV at m (fits the models; when they cannot
  be fitted the value is empty and ``note`` says why);
* ``sales_growth`` % growth of the period-to-date revenue over the same span of the
  period before (see growth); ``average_engagement`` mean engagement score at m over
  every customer (see engagement);
* ``customer_equity`` at m (see equity); ``relationship_quality`` the mean index at m;
  ``perceived_value`` the net perceived value of every respondent at m;
* ``sales_cycle_days`` the median sales-cycle length of the opportunities won in the
  period (the operational plugin's; without it the value is empty and ``note`` says why).

The money metrics (``MONEY_METRICS``: ``revenue``, ``average_order_value``,
``sales_growth``) take a ``measure``: ``revenue`` (net spend, the default) or a money
measure a plugin provides per customer (``margin``, ``profit`` with the catalogue
plugin): the sum of its values over the period to date (per purchase of the period for
``average_order_value``).  If no enabled plugin provides it when measured, the value is
empty and ``note`` says why.

Attainment = value / target (``up``) or target / value (``down``; a value of 0
or less fully attains a ``down`` target).  Status: ``on_track`` ≥ 1.0,
``at_risk`` ≥ 0.9, else ``off_track``; once as_of is past the deadline,
``met`` (attainment ≥ 1.0) or ``missed``.  Without data (no answers, no
customers at the start) the value is empty and the status ``no_data``
(``missed`` past the deadline).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from sqlalchemy import func, select

from crmkit.plugin import ConfigError, ValidationError, interactions as I, money_from_units

from . import (engagement, funnel, growth, perceived_value, periods, relationship, retention,
               sales, satisfaction)
from .errors import ModelFitError
from .results import KPIStatus

if TYPE_CHECKING:
    from .settings import KPI, Settings

ONE_MICROSECOND = dt.timedelta(microseconds=1)


def _total(conn, settings, start, end, query) -> Decimal:
    """Net revenue (``query`` None) or the measure's sum over ``(start, end]``."""
    return growth.total(conn, settings, start + ONE_MICROSECOND, end + ONE_MICROSECOND, query)


def _revenue(conn, settings, start, end, crm, query=None) -> float | None:
    return float(_total(conn, settings, start, end, query))


def _aov(conn, settings, start, end, crm, query=None) -> float | None:
    row = conn.execute(select(func.sum(sales.net_units(settings)), func.count())
                       .where(sales.is_purchase(settings), sales.within(end, start))).one()
    if not row[1]:
        return None
    total = money_from_units(row[0] or 0) if query is None else _total(conn, settings, start,
                                                                        end, query)
    return round(float(total / row[1]), 2)


def _first_purchases(settings, end):
    return (select(I.c.customer_id, func.min(I.c.occurred_at).label("first"))
            .where(sales.is_purchase(settings), I.c.occurred_at <= end)
            .group_by(I.c.customer_id)).subquery("kpi_first")


def _new_customers(conn, settings, start, end, crm) -> float | None:
    first = _first_purchases(settings, end)
    return float(conn.execute(select(func.count()).where(first.c.first > start)).scalar())


def _active(conn, settings, start, end, crm) -> float | None:
    totals, _ = retention.counting(conn, settings, [end])
    return float(totals[0])


def _repeat_rate(conn, settings, start, end, crm) -> float | None:
    first = _first_purchases(settings, end)
    buyers = (select(I.c.customer_id).where(sales.is_purchase(settings), sales.within(end, start))
              .group_by(I.c.customer_id)).subquery("kpi_buyers")
    row = conn.execute(select(func.count(), func.count().filter(first.c.first <= start))
                       .select_from(buyers.join(first, first.c.customer_id == buyers.c.customer_id))
                       ).one()
    return round(row[1] * 100 / row[0], 1) if row[0] else None


def _retention(which: str):
    def measure(conn, settings, start, end, crm) -> float | None:
        period = retention.between(conn, settings, start, end)
        return period.crr if which == "crr" else period.churn
    return measure


def _satisfaction(which: str):
    def measure(conn, settings, start, end, crm) -> float | None:
        return satisfaction.scores_between(conn, settings, start, end)[which].value
    return measure


def _conversion(conn, settings, start, end, crm) -> float | None:
    return funnel.lead_to_won(conn, settings, end, since=start)


def _win_rate(conn, settings, start, end, crm) -> float | None:
    _, outcomes = funnel.report(conn, settings, end, "all", since=start)
    return outcomes[0].win_rate if outcomes else None


def _average_clv(conn, settings, start, end, crm) -> float | None:
    predictions = crm.plugin("analytical").clv_predictions(end)
    if not predictions:
        return None
    return round(float(sum(p.clv for p in predictions) / len(predictions)), 2)


def _sales_growth(conn, settings, start, end, crm, period: str, query=None) -> float | None:
    return growth.period_to_date(conn, settings, start + ONE_MICROSECOND, end, period, query)


def _average_engagement(conn, settings, start, end, crm) -> float | None:
    return engagement.average(conn, settings, end)


class MetricUnavailable(Exception):
    """A metric that cannot be measured here (its message says why: the KPI's note)."""


def _equity(conn, settings, start, end, crm) -> float | None:
    return float(crm.plugin("analytical").customer_equity(end).equity)


def _relationship_quality(conn, settings, start, end, crm) -> float | None:
    return relationship.summary(relationship.scores(conn, settings, end))["index"]


def _perceived_value(conn, settings, start, end, crm) -> float | None:
    try:
        everyone = perceived_value.group("all", list(
            perceived_value.respondents(conn, settings, end).values()))
    except ConfigError as exc:
        raise MetricUnavailable(str(exc)) from None
    return everyone.net


def _sales_cycle_days(conn, settings, start, end, crm) -> float | None:
    if "operational" not in crm.enabled_plugins():
        raise MetricUnavailable("sales cycles come from the operational plugin, which is not "
                                "enabled")
    found = crm.plugin("operational").sales_cycle(end, since=start)
    return found[0]["median_days"] if found else None


METRICS: dict[str, Callable[..., float | None]] = {
    "revenue": _revenue, "average_order_value": _aov, "new_customers": _new_customers,
    "active_customers": _active, "repeat_rate": _repeat_rate,
    "crr": _retention("crr"), "churn": _retention("churn"),
    "nps": _satisfaction("nps"), "csat": _satisfaction("csat"), "ces": _satisfaction("ces"),
    "conversion_rate": _conversion, "win_rate": _win_rate, "average_clv": _average_clv,
    "sales_growth": _sales_growth, "average_engagement": _average_engagement,
    "customer_equity": _equity, "relationship_quality": _relationship_quality,
    "perceived_value": _perceived_value, "sales_cycle_days": _sales_cycle_days,
}
PER_PERIOD = {"sales_growth"}
"""Metrics that also take the KPI's period (comparing with the period before)."""
MONEY_METRICS = ("average_order_value", "revenue", "sales_growth")
"""Metrics that sum money, on the KPI's ``measure`` (revenue, margin, profit)."""


def _measure(crm, measure: str, moment: dt.datetime):
    """``(as_of, since) -> SELECT`` of the KPI's money measure, None for revenue;
    MetricUnavailable when no enabled plugin provides it."""
    if measure == "revenue":
        return None
    try:
        sales.measure_query(crm, measure, moment, None)
    except ValidationError:
        raise MetricUnavailable(sales.missing_measure(measure, "measure")) from None
    return functools.partial(sales.measure_query, crm, measure)


def attainment(value: float | None, target: float, direction: str) -> float | None:
    """value / target (up) or target / value (down); None without a value."""
    if value is None:
        return None
    if direction == "down":
        return float("inf") if value <= 0 else target / value
    return value / target


def status(attained: float | None, past_deadline: bool) -> str:
    """on_track / at_risk / off_track, or met / missed past the deadline, or no_data."""
    if attained is None:
        return "missed" if past_deadline else "no_data"
    if past_deadline:
        return "met" if attained >= 1.0 else "missed"
    if attained >= 1.0:
        return "on_track"
    if attained >= 0.9:
        return "at_risk"
    return "off_track"


def evaluate(conn, crm, settings: Settings, kpi: KPI, as_of: dt.datetime) -> KPIStatus:
    """Measure one KPI definition at ``as_of``."""
    deadline = kpi.deadline
    moment = min(as_of, deadline)
    start = periods.start_of(moment, kpi.period)
    note = None
    measure_name = kpi.measure if kpi.metric in MONEY_METRICS else None
    try:
        measure = METRICS[kpi.metric]
        if kpi.metric in PER_PERIOD:
            measure = functools.partial(measure, period=kpi.period)
        if kpi.metric in MONEY_METRICS:
            measure = functools.partial(measure, query=_measure(crm, measure_name, moment))
        value = measure(conn, settings, start - ONE_MICROSECOND, moment, crm)
    except ModelFitError as exc:  # average_clv without a fit: no value, and why
        value, note = None, f"CLV not fitted: {exc}"
    except MetricUnavailable as exc:
        value, note = None, str(exc)
    attained = attainment(value, kpi.target, kpi.direction)
    shown = None if attained is None else (None if attained == float("inf") else round(attained, 4))
    return KPIStatus(kpi.name, kpi.metric, kpi.period, start, moment, value,
                     kpi.target, kpi.direction, shown, status(attained, as_of > deadline),
                     kpi.owner, deadline, note, measure_name)


def report(conn, crm, settings: Settings, as_of: dt.datetime) -> list[KPIStatus]:
    """Every configured KPI, in config order."""
    return [evaluate(conn, crm, settings, kpi, as_of) for kpi in settings.kpis]


