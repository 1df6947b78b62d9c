"""How the web app's templates show numbers, money and instants (the filters ``number``,
``money``, ``datetime`` and ``date``).

Each filter formats for the page's locale (the template variable ``locale``, a BCP 47 tag
such as ``"en"`` or ``"zh-Hans"``; English when absent).  Templates write
``{{ value|number }}``, ``{{ amount|money("EUR") }}``, ``{{ instant|datetime }}`` and
``{{ instant|date }}``; None shows as an empty string.
"""

from __future__ import annotations

from datetime import date as Date, datetime as DateTime
from decimal import Decimal
from typing import Any

import jinja2


@jinja2.pass_context
def number(context, value: Any, digits: int | None = None) -> str:
    """``value`` with grouped thousands (``digits`` decimals when given)."""
    if value is None:
        return ""
    if digits is not None:
        return f"{Decimal(str(value)):,.{digits}f}"
    return f"{value:,}"


@jinja2.pass_context
def money(context, value: Any, currency: str) -> str:
    """``value`` in ``currency`` (ISO 4217), two decimals."""
    if value is None:
        return ""
    return f"{Decimal(str(value)):,.2f} {currency}"


@jinja2.pass_context
def datetime(context, value: DateTime | str | None) -> str:
    """An instant to the minute."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = DateTime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M")


@jinja2.pass_context
def date(context, value: Date | str | None) -> str:
    """A calendar date."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = DateTime.fromisoformat(value)
    return value.strftime("%Y-%m-%d")


FILTERS = {"number": number, "money": money, "datetime": datetime, "date": date}
"""The formatting filters every page template may use."""

__all__ = ["FILTERS", "number", "money", "datetime", "date"]
