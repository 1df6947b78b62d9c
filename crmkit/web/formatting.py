"""How the web app's templates show numbers, money and instants (the filters ``number``,
``money``, ``datetime`` and ``date``), formatted by Babel for the page's language.

Each filter formats for the page's locale (the template variable ``locale``, a BCP 47 tag
such as ``"en"`` or ``"zh-Hans"``; English when absent) and shows instants in the CRM's
time zone (the variable ``timezone``, an IANA name; UTC when absent).  Templates write
``{{ value|number }}``, ``{{ amount|money("EUR") }}``, ``{{ instant|datetime }}`` and
``{{ instant|date }}``; None shows as an empty string.  For example, in ``en`` and
``zh-Hans``: ``1,234.5`` and ``1,234.5``; ``€1,234.50`` and ``€1,234.50``;
``Mar 2, 2026, 10:00 AM`` and ``2026年3月2日 10:00``; ``Mar 2, 2026`` and ``2026年3月2日``.
"""

from __future__ import annotations

from datetime import date as Date, datetime as DateTime, timezone as Timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.core import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal


def _locale(context) -> Locale:
    return Locale.parse(context.get("locale") or "en", sep="-")


def _instant(context, value: DateTime | str) -> DateTime:
    """``value`` (an aware instant or ISO 8601 text; naive means UTC) in the CRM's zone."""
    if isinstance(value, str):
        value = DateTime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=Timezone.utc)
    return value.astimezone(ZoneInfo(context.get("timezone") or "UTC"))


@jinja2.pass_context
def number(context, value: Any, digits: int | None = None) -> str:
    """``value`` with the locale's grouping and decimal signs (exactly ``digits`` decimals
    when given, else up to three)."""
    if value is None:
        return ""
    if digits is None:
        return format_decimal(value, locale=_locale(context))
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=_locale(context))


@jinja2.pass_context
def money(context, value: Any, currency: str) -> str:
    """``value`` in ``currency`` (ISO 4217) as the locale writes amounts of it."""
    if value is None:
        return ""
    return format_currency(Decimal(str(value)), currency, locale=_locale(context))


@jinja2.pass_context
def datetime(context, value: DateTime | str | None) -> str:
    """An instant to the minute, in the CRM's time zone (the locale's medium date and short
    time)."""
    if value is None:
        return ""
    instant, locale = _instant(context, value), _locale(context)
    return (get_datetime_format("medium", locale=locale).replace("'", "")
            .replace("{0}", format_time(instant, "short", locale=locale))
            .replace("{1}", format_date(instant, "medium", locale=locale)))


@jinja2.pass_context
def date(context, value: Date | DateTime | str | None) -> str:
    """A calendar date (an instant's date in the CRM's time zone), the locale's medium
    form."""
    if value is None:
        return ""
    if isinstance(value, str) and len(value) == 10:
        value = Date.fromisoformat(value)
    if isinstance(value, (DateTime, str)):
        value = _instant(context, value).date()
    return format_date(value, "medium", locale=_locale(context))


FILTERS = {"number": number, "money": money, "datetime": datetime, "date": date}
"""The formatting filters every page template may use."""

__all__ = ["FILTERS", "number", "money", "datetime", "date"]
