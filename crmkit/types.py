"""Column types shared by the core and plugins: exact money, aware UTC time, JSON.

Money is stored as a whole number of ten-thousandths (``MONEY_SCALE``) in a
BIGINT on every database, so sums are exact and identical on SQLite and
PostgreSQL.  Reading a ``Money`` column (or ``func.sum`` of one) through
SQLAlchemy gives a ``Decimal`` again; in hand-written SQL divide by
``MONEY_SCALE``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from .clock import UTC

MONEY_SCALE = 10_000
"""Stored money units per currency unit (four decimal places)."""

JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSON column type: JSONB on PostgreSQL, JSON text on SQLite."""


AMOUNT_SYNTAX = "[+-]digits[.digits] with ASCII digits 0-9, e.g. 120.50 or -5"
"""The one accepted form of an amount given as text (no exponent, no ``_``, no other digits)."""

_AMOUNT_TEXT = re.compile(r"[+-]?[0-9]+(?:[.][0-9]+)?")


def to_money(value: object, field: str = "amount") -> Decimal:
    """Return ``value`` as an exact ``Decimal``: the one rule for every amount crmkit accepts.

    A ``Decimal`` or ``int`` is taken as is; text must be :data:`AMOUNT_SYNTAX`
    (surrounding spaces ignored): Arabic-Indic or full-width digits, ``1_000``,
    ``1e3``, ``NaN`` are refused, as are floats (money must be exact).  At most
    4 decimal places and ``|amount| < 10^14``.  Raises :class:`ValidationError`
    whose message starts with ``field`` and whose only problem is
    ``("", field, message)``.
    """
    from .errors import ValidationError

    def refuse(message: str) -> ValidationError:
        return ValidationError(f"{field}: {message}", [("", field, message)])

    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _AMOUNT_TEXT.fullmatch(text):
            raise refuse(f"{value!r} is not a number (allowed: {AMOUNT_SYNTAX})")
        result = Decimal(text)
    else:
        raise refuse(f"expected a Decimal, int or numeric text, got {type(value).__name__}"
                     " (floats are refused: money must be exact)")
    if not result.is_finite():
        raise refuse(f"{value!r} is not a finite number")
    if result.as_tuple().exponent < -4:  # type: ignore[operator]
        raise refuse(f"{value} has more than 4 decimal places")
    if abs(result) >= Decimal(10) ** 14:
        raise refuse(f"{value} is out of range (|amount| < 10^14)")
    return result


ISO_4217 = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA
    XXX YER ZAR ZMW ZWG ZWL
""".split())
"""The active ISO 4217 currency codes (including funds, metals and codes being withdrawn)."""


def to_currency(value: object, field: str = "currency") -> str:
    """Return ``value`` as an ISO 4217 code: spaces around it dropped, upper-cased.

    ``" usd"`` gives ``USD``; an unknown code (``XYZ``, ``US$``, ``euro``) is a
    :class:`ValidationError` whose only problem is ``("", field, message)``.
    """
    from .errors import ValidationError

    code = value.strip().upper() if isinstance(value, str) else None
    if code not in ISO_4217:
        message = (f"{value!r} is not an ISO 4217 currency code (allowed: three letters of "
                   "ISO 4217, e.g. USD, EUR, GBP)")
        raise ValidationError(f"{field}: {message}", [("", field, message)])
    return code


def money_units(value: Decimal) -> int:
    """Convert an exact Decimal amount to stored units."""
    return int(value * MONEY_SCALE)


class Money(TypeDecorator):
    """Exact money: a Decimal in Python, whole ten-thousandths in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return money_units(to_money(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / MONEY_SCALE).quantize(Decimal("0.0001"))

    @property
    def python_type(self):  # pragma: no cover - informational
        return Decimal


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetime; naive values are refused on the way in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: crmkit stores aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UNSTORABLE_TEXT = ("contains a NUL character (U+0000) or a lone surrogate (U+D800..U+DFFF), "
                   "which the databases cannot store")
"""The one message for text the databases cannot store (PostgreSQL refuses both; SQLite mangles them)."""


def unstorable_text(value: object) -> bool:
    """Whether any text in ``value`` (a str, or the keys and values of JSON-like data) is unstorable."""
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and not _encodes(value))
    if isinstance(value, dict):
        return any(unstorable_text(k) or unstorable_text(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(unstorable_text(v) for v in value)
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def sqlite_timestamp(value: dt.datetime) -> str:
    """The text SQLite stores for an aware datetime: exactly what ``UTCDateTime`` writes.

    Always with microseconds (``2024-05-01 09:30:00.000000``), so that text
    comparisons in SQL order correctly.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(sep=" ", timespec="microseconds")[:-6]
