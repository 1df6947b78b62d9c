"""Customer value: current value (recent net spend) computed in SQL."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crmkit.plugin import interactions as I

from . import sales
from .sql import to_decimal

if TYPE_CHECKING:
    from .settings import Settings


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time ``months`` calendar months earlier (clamped to the month's end)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def current_value_query(settings: Settings, as_of: dt.datetime):
    """Per customer: net spend units in ``(as_of − current_value_months months, as_of]``."""
    since = months_before(as_of, settings.current_value_months)
    return (select(I.c.customer_id, func.sum(sales.net_units(settings)).label("net"))
            .where(sales.sales_kinds(settings), sales.within(as_of, since))
            .group_by(I.c.customer_id))


def current_value(conn, settings: Settings, as_of: dt.datetime) -> dict[int, Decimal]:
    """``{customer id: net spend}`` of the customers who bought or refunded in the window."""
    return {cid: to_decimal(net) for cid, net in conn.execute(current_value_query(settings, as_of))}
