"""Customer equity: the value of today's customers and of the prospects likely to join them.

    equity = Σ CLV of current customers
             + prospects × conversion probability × expected value of a new customer

* current customers: every customer (not erased) with a purchase up to ``as_of``; their
  CLV is the models' prediction (:meth:`AnalyticalAPI.clv_by_customer`);
* prospects: customers (not erased, known at ``as_of``) without a purchase;
* conversion probability: config ``equity.conversion_probability`` when set, else the
  funnel's lead-to-won conversion (flows passing through its first stage that reach the
  won stage) over flows that entered in the last ``equity.conversion_days`` days;
* expected value of a new customer: the mean CLV of the customers whose first purchase is
  within the last ``equity.new_customer_days`` days (of every current customer when none is).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crmkit.plugin import customers as C, interactions as I

from . import funnel, sales
from .results import CustomerEquity

if TYPE_CHECKING:
    from .settings import Settings

CENT = Decimal("0.01")


def prospects(conn, settings: Settings, as_of: dt.datetime) -> int:
    """Customers (not erased, created by ``as_of``) without a purchase up to ``as_of``."""
    bought = select(I.c.customer_id).where(sales.is_purchase(settings), sales.within(as_of))
    return int(conn.execute(select(func.count()).where(
        C.c.erased_at.is_(None), C.c.created_at <= as_of, C.c.id.not_in(bought))).scalar())


def recent_first_buyers(conn, settings: Settings, as_of: dt.datetime) -> set[int]:
    """Customers whose first purchase is within the last ``equity.new_customer_days`` days."""
    since = as_of - dt.timedelta(days=settings.equity.new_customer_days)
    first = (select(I.c.customer_id, func.min(I.c.occurred_at).label("first"))
             .where(sales.is_purchase(settings), sales.within(as_of))
             .group_by(I.c.customer_id)).subquery("eq_first")
    return set(conn.execute(select(first.c.customer_id).where(first.c.first > since)).scalars())


def conversion(conn, settings: Settings, as_of: dt.datetime) -> tuple[float | None, str]:
    """The conversion probability (0–1) and where it comes from (``config`` or ``funnel``);
    None when neither gives one."""
    fixed = settings.equity.conversion_probability
    if fixed is not None:
        return float(fixed), "config"
    since = as_of - dt.timedelta(days=settings.equity.conversion_days)
    percent = funnel.lead_to_won(conn, settings, as_of, since=since)
    return (None if percent is None else percent / 100), "funnel"


def compute(conn, settings: Settings, as_of: dt.datetime, clv: dict[int, Decimal]
            ) -> CustomerEquity:
    """The equity and its parts from ``clv`` (predicted CLV per customer id with a purchase;
    erased customers are left out)."""
    erased = set(conn.execute(select(C.c.id).where(C.c.erased_at.is_not(None))).scalars())
    values = {cid: value for cid, value in clv.items() if cid not in erased}
    current = sum(values.values(), Decimal(0))
    waiting = prospects(conn, settings, as_of)
    probability, source = conversion(conn, settings, as_of)
    recent = recent_first_buyers(conn, settings, as_of) & set(values)
    basis = recent or set(values)
    new_value = (sum((values[c] for c in basis), Decimal(0)) / len(basis)) if basis else None
    note = None
    if probability is None:
        note = ("no funnel flow to estimate conversion from: set equity.conversion_probability"
                " or record stage.changed events")
    elif new_value is None:
        note = "no current customer to value a new one by"
    prospect_value = (Decimal(0) if probability is None or new_value is None
                      else Decimal(waiting) * Decimal(str(probability)) * new_value)
    return CustomerEquity(
        as_of=as_of, customers=len(values), current_value=_cents(current), prospects=waiting,
        conversion_probability=None if probability is None else round(probability, 6),
        conversion_source=source, new_customer_value=None if new_value is None
        else _cents(new_value), new_customers_counted=len(recent),
        prospect_value=_cents(prospect_value), equity=_cents(current + prospect_value),
        note=note)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


__all__ = ["compute", "prospects", "recent_first_buyers", "conversion"]
