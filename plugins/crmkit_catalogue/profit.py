"""Profit: gross margin of purchases − cost to serve − acquisition cost, in SQL.

* **gross margin** = Σ over the customer's line items of (line total − qty ×
  the product's unit cost when the purchase was written);
* **cost to serve** = Σ over the core's domain events of the types in
  ``cost_to_serve.event_costs`` (by default ``case.opened`` and
  ``task.created``, emitted by the operational plugin) of their unit cost, plus
  the minutes in interactions' ``payload.<handling_field>`` × ``cost_per_hour`` / 60
  (read only when ``cost_per_hour`` > 0), rounded half up to a money unit per customer
  (or period) in SQL, so every report and every plugin ranking by profit agree;
* **acquisition cost** = Σ the rows every enabled plugin's ``crmkit_acquisition_costs``
  attributes to the customer (the campaigns plugin: each campaign's cost shared equally
  among the customers whose first purchase it is credited with), in the period of the
  acquisition; 0 when no enabled plugin answers, and every report says so.

Cost to serve is read from the events table, not from another plugin's tables:
every plugin's events land there with the customer and the time, so whatever
plugin opens cases (or a vendor's helpdesk plugin emitting the same types) is
counted, per period and as of any date, without the plugins knowing each other.

Everything is summed in integer money units by one GROUP BY per part; the parts
are joined per customer (or per period) in SQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from operator import attrgetter
from typing import Any

import attrs
from sqlalchemy import (BigInteger, Float, and_, case, cast, func, literal, literal_column,
                        select, union_all)

from crmkit.plugin import (JsonPath, customers as C, events as E, interactions as I,
                           money_from_units, money_units, month_number)

from .settings import Settings
from .tables import items

ACQUISITION_REASON = ("acquisition cost 0: no enabled plugin records campaign costs "
                      "(a campaigns plugin would attribute them)")
ACQUISITION_FROM = "acquisition cost attributed by the enabled plugins: {plugins}"
BY = ("customer", "segment", "period")
PERIODS = {"month": 1, "quarter": 3, "year": 12}


@attrs.frozen
class ProfitLine:
    """Profit of one customer, segment or period; money as Decimals."""

    key: str
    customers: int
    revenue: Decimal
    cost_of_goods: Decimal
    gross_margin: Decimal
    cost_to_serve: Decimal
    acquisition_cost: Decimal
    profit: Decimal

    def as_dict(self, key_name: str) -> dict[str, Any]:
        """The line as a row for output, its key under ``key_name``."""
        row = attrs.asdict(self)
        row[key_name] = row.pop("key")
        return row


def _period(column, as_of: dt.datetime, since: dt.datetime | None):
    return column <= as_of if since is None else and_(column <= as_of, column > since)


def acquisitions(crm, as_of: dt.datetime, since: dt.datetime | None) -> dict[str, Any]:
    """``{plugin: SELECT of (customer_id, acquired_at, units)}``: every enabled plugin's
    ``crmkit_acquisition_costs`` answer."""
    return {plugin: found for plugin, found in crm.hooks.call(
        "crmkit_acquisition_costs", None, crm=crm, as_of=as_of, since=since)
        if found is not None}


def acquisition_note(plugins) -> str:
    """Where the reports' acquisition cost comes from (``plugins`` answered the hook)."""
    return ACQUISITION_FROM.format(plugins=", ".join(plugins)) if plugins else ACQUISITION_REASON


def parts(settings: Settings, as_of: dt.datetime, since: dt.datetime | None, key,
          customer_id: int | None = None, acquired=()):
    """SELECT of ``(k, revenue, cogs, serve, acquired)`` money units per key, summed over
    the parts, ``key(table)`` the grouping column of each part's table (only
    ``customer_id``'s rows when given); ``acquired`` the ``crmkit_acquisition_costs``
    SELECTs (:func:`acquisitions`).  ``serve`` includes the handling time's cost."""
    zero = literal(0, BigInteger)
    no_minutes = cast(literal(0), Float)

    def _window(column, as_of, since):  # the period, and the customer when one is asked for
        inside = _period(column, as_of, since)
        if customer_id is None:
            return inside
        return and_(inside, column.table.c.customer_id == customer_id)

    selects = [select(key(items).label("k"), func.sum(items.c.total_units).label("revenue"),
                      func.sum(items.c.cost_units).label("cogs"), zero.label("serve"),
                      no_minutes.label("minutes"), zero.label("acquired"))
               .where(_window(items.c.occurred_at, as_of, since)).group_by(key(items))]
    costs = settings.event_costs
    if costs:
        unit = case(*[(E.c.type == kind, literal(units, BigInteger))
                      for kind, units in sorted(costs.items())], else_=zero)
        selects.append(select(key(E).label("k"), zero, zero, func.sum(unit), no_minutes, zero)
                       .where(E.c.type.in_(sorted(costs)), E.c.customer_id.is_not(None),
                              _window(E.c.occurred_at, as_of, since))
                       .group_by(key(E)))
    if settings.cost_per_hour:
        minutes = JsonPath(I.c.payload, [settings.handling_field]).number()
        selects.append(select(key(I).label("k"), zero, zero, zero, func.sum(minutes), zero)
                       .where(minutes.is_not(None), _window(I.c.occurred_at, as_of, since))
                       .group_by(key(I)))
    if acquired:
        every_plugin = union_all(*[select(a.c.customer_id, a.c.acquired_at.label("occurred_at"),
                                          a.c.units) for a in (q.subquery() for q in acquired)]
                                 ).subquery("pf_acquired")
        selects.append(select(key(every_plugin).label("k"), zero, zero, zero, no_minutes,
                              func.sum(every_plugin.c.units))
                       .where(_window(every_plugin.c.occurred_at, as_of, since))
                       .group_by(key(every_plugin)))
    every = union_all(*selects).subquery("pf_parts")
    return (select(every.c.k, func.sum(every.c.revenue).label("revenue"),
                   func.sum(every.c.cogs).label("cogs"),
                   (func.sum(every.c.serve) + handling_units(settings, func.sum(every.c.minutes))
                    ).label("serve"),
                   func.sum(every.c.acquired).label("acquired"))
            .group_by(every.c.k))


def handling_units(settings: Settings, minutes):
    """SQL: the cost of ``minutes`` of handling time in money units, rounded half up
    (⌊minutes × cost_per_hour / 60 + ½⌋: the same rule on both databases, whose ``round``
    of a float differs on ties)."""
    per_hour = money_units(settings.cost_per_hour)
    return cast(func.floor(minutes * per_hour / 60.0 + 0.5), BigInteger)


ZERO = money_from_units(0)


def _money(units) -> Decimal:
    """Stored money units as an exact Decimal with 4 places (most customers' cost to serve
    and acquisition cost are 0: one shared zero saves a conversion per line)."""
    return money_from_units(units) if units else ZERO


def _line(key: str, customers: int, revenue, cogs, serve, acquired) -> ProfitLine:
    revenue, cogs, serve, acquired = _money(revenue), _money(cogs), _money(serve), _money(acquired)
    margin = revenue - cogs
    return ProfitLine(key, customers, revenue, cogs, margin, serve, acquired,
                      margin - serve - acquired)


def by_customer(conn, settings, as_of, since=None, customer_id: int | None = None,
                acquired=()) -> list[ProfitLine]:
    """Profit per customer with any purchase, cost to serve or acquisition cost, most
    profitable first (only ``customer_id``'s line when given)."""
    q = parts(settings, as_of, since, lambda t: t.c.customer_id, customer_id, acquired
              ).subquery("pf_customer")
    rows = conn.execute(select(C.c.external_id, q.c.revenue, q.c.cogs, q.c.serve, q.c.acquired)
                        .join(C, C.c.id == q.c.k)).all()
    lines = [_line(key, 1, revenue, cogs, serve, acquired)
             for key, revenue, cogs, serve, acquired in rows]
    # most profitable first, ties by key: two stable sorts on attributes, cheaper than a
    # key tuple (and a negated Decimal) per line
    lines.sort(key=attrgetter("key"))
    lines.sort(key=attrgetter("profit"), reverse=True)
    return lines


def customer_units(settings, as_of, since=None, measure: str = "profit", acquired=()):
    """SELECT of ``(customer_id, units)``: each customer's gross margin or profit in money
    units (handling time rounded per customer) — what other plugins rank customers by."""
    q = parts(settings, as_of, since, lambda t: t.c.customer_id, acquired=acquired
              ).subquery("pf_units")
    value = q.c.revenue - q.c.cogs
    if measure == "profit":
        value = value - q.c.serve - q.c.acquired
    return select(q.c.k.label("customer_id"), value.label("units"))


def purchase_margin_units(as_of):
    """SELECT of ``(interaction_id, units)``: each purchase's gross margin in money units
    (its line totals less quantity × unit cost), for purchases up to ``as_of``."""
    return (select(items.c.interaction_id,
                   func.sum(items.c.total_units - items.c.cost_units).label("units"))
            .where(items.c.occurred_at <= as_of).group_by(items.c.interaction_id))


def by_period(conn, settings, as_of, since=None, period: str = "month", acquired=()
              ) -> list[ProfitLine]:
    """Profit per calendar period (UTC) of the purchases and costs, in time order (an
    acquisition cost in the period of the acquisition)."""
    step = PERIODS[period]
    q = parts(settings, as_of, since, lambda t: _period_number(t.c.occurred_at, step),
              acquired=acquired).subquery("pf_period")
    customers = _customers_per_period(conn, as_of, since, step)
    out = []
    for r in conn.execute(select(q).order_by(q.c.k)):
        out.append(_line(_label(int(r.k), period), customers.get(int(r.k), 0),
                         r.revenue, r.cogs, r.serve, r.acquired))
    return out


def _customers_per_period(conn, as_of, since, step) -> dict[int, int]:
    key = _period_number(items.c.occurred_at, step)
    return dict(conn.execute(select(key, func.count(items.c.customer_id.distinct()))
                             .where(_period(items.c.occurred_at, as_of, since))
                             .group_by(key)).all())


def _period_number(column, step: int):
    """SQL: the period number of a timestamp (month number // months per period)."""
    month = month_number(column)
    # the divisor inline, not bound: PostgreSQL's GROUP BY must see the same expression
    return month // literal_column(str(int(step))) if step > 1 else month


def _label(number: int, period: str) -> str:
    if period == "month":
        return f"{number // 12:04d}-{number % 12 + 1:02d}"
    if period == "quarter":
        return f"{number // 4:04d}-Q{number % 4 + 1}"
    return f"{number:04d}"


def by_segment(per_customer: list[ProfitLine], members: dict[str, set[str]]) -> list[ProfitLine]:
    """Profit per segment (a customer in several segments counts in each) from the per-customer
    lines and each segment's members (external ids)."""
    out = []
    for name, who in members.items():
        mine = [line for line in per_customer if line.key in who]
        total = lambda f: sum((getattr(line, f) for line in mine), Decimal(0))  # noqa: E731
        out.append(ProfitLine(name, len(mine), total("revenue"), total("cost_of_goods"),
                              total("gross_margin"), total("cost_to_serve"),
                              total("acquisition_cost"), total("profit")))
    return out
