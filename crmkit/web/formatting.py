"""How the web app shows numbers, money and instants: formatted by Babel for the page's
language, instants in the CRM's time zone.

Templates use the filters ``number``, ``money``, ``datetime`` and ``date``: ``{{ value|number
}}``, ``{{ amount|money("EUR") }}``, ``{{ instant|datetime }}``, ``{{ instant|date }}``; they
format for the template variable ``locale`` (a BCP 47 tag such as ``"en"`` or
``"zh-Hans"``) and the variable ``timezone`` (an IANA name).  Python code (a plugin's card)
calls :func:`format_number`, :func:`format_money`, :func:`format_datetime` and
:func:`format_date` (in the plugin surface), which use the current request's language and
the CRM's time zone (English and UTC outside a request).  None shows as an empty string.
For example, in ``en`` and ``zh-Hans``: ``1,234.5`` and ``1,234.5``; ``€1,234.50`` and
``€1,234.50``; ``Mar 2, 2026, 10:00 AM`` and ``2026年3月2日 10:00``; ``Mar 2, 2026`` and
``2026年3月2日``.
"""

from __future__ import annotations

import urllib.parse
from datetime import date as Date, datetime as DateTime, timezone as Timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import dates, numbers
from babel.core import Locale

from ..i18n import current_locale, current_timezone


def _locale(tag: str | None) -> Locale:
    return Locale.parse(tag or current_locale(), sep="-")


def _instant(value: DateTime | str, timezone: str | None) -> DateTime:
    """``value`` (an aware instant or ISO 8601 text; naive means UTC) in ``timezone``."""
    if isinstance(value, str):
        value = DateTime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=Timezone.utc)
    return value.astimezone(ZoneInfo(timezone or current_timezone()))


def format_number(value: Any, digits: int | None = None, locale: str | None = None) -> str:
    """``value`` with the locale's grouping and decimal signs: exactly ``digits`` decimals
    when given, else up to three."""
    if value is None:
        return ""
    if digits is None:
        return numbers.format_decimal(value, locale=_locale(locale))
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(Decimal(str(value)), format=pattern, locale=_locale(locale))


def format_money(value: Any, currency: str, locale: str | None = None) -> str:
    """``value`` in ``currency`` (ISO 4217) as the locale writes amounts of it."""
    if value is None:
        return ""
    return numbers.format_currency(Decimal(str(value)), currency, locale=_locale(locale))


def format_datetime(value: DateTime | str | None, locale: str | None = None,
                    timezone: str | None = None) -> str:
    """An instant to the minute in ``timezone`` (the locale's medium date and short time)."""
    if value is None:
        return ""
    instant, chosen = _instant(value, timezone), _locale(locale)
    return (dates.get_datetime_format("medium", locale=chosen).replace("'", "")
            .replace("{0}", dates.format_time(instant, "short", locale=chosen))
            .replace("{1}", dates.format_date(instant, "medium", locale=chosen)))


def format_date(value: Date | DateTime | str | None, locale: str | None = None,
                timezone: str | None = None) -> str:
    """A calendar date (an instant's date in ``timezone``), the locale's medium form."""
    if value is None:
        return ""
    if isinstance(value, str) and len(value) == 10:
        value = Date.fromisoformat(value)
    if isinstance(value, (DateTime, str)):
        value = _instant(value, timezone).date()
    return dates.format_date(value, "medium", locale=_locale(locale))


@jinja2.pass_context
def number(context, value: Any, digits: int | None = None) -> str:
    """The ``number`` filter: :func:`format_number` for the page's locale."""
    return format_number(value, digits, context.get("locale"))


@jinja2.pass_context
def money(context, value: Any, currency: str) -> str:
    """The ``money`` filter: :func:`format_money` for the page's locale."""
    return format_money(value, currency, context.get("locale"))


@jinja2.pass_context
def datetime(context, value: DateTime | str | None) -> str:
    """The ``datetime`` filter: :func:`format_datetime` for the page's locale and zone."""
    return format_datetime(value, context.get("locale"), context.get("timezone"))


@jinja2.pass_context
def date(context, value: Date | DateTime | str | None) -> str:
    """The ``date`` filter: :func:`format_date` for the page's locale and zone."""
    return format_date(value, context.get("locale"), context.get("timezone"))


def path_segment(value: object) -> str:
    """``value`` percent-encoded as one segment of a URL path, ``/`` included (``a/b`` is
    ``a%2Fb``): for a customer's external id in a link."""
    return urllib.parse.quote(str(value), safe="")


FILTERS = {"number": number, "money": money, "datetime": datetime, "date": date,
           "path_segment": path_segment}
"""The formatting filters every page template may use."""

__all__ = ["FILTERS", "number", "money", "datetime", "date", "path_segment", "format_number", "format_money",
           "format_datetime", "format_date"]
