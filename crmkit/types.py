"""Column types shared by the core and plugins: exact money, aware UTC time, JSON.

Money is stored as a whole number of ten-thousandths (``MONEY_SCALE``) in a
BIGINT on every database, so sums are exact and identical on SQLite and
PostgreSQL.  Reading a ``Money`` column (or ``func.sum`` of one) through
SQLAlchemy gives a ``Decimal`` again; in hand-written SQL divide by
``MONEY_SCALE``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal, InvalidOperation

from sqlalchemy import JSON, BigInteger, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from .clock import UTC

MONEY_SCALE = 10_000
"""Stored money units per currency unit (four decimal places)."""

JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSON column type: JSONB on PostgreSQL, JSON text on SQLite."""


def to_money(value: object, field: str = "amount") -> Decimal:
    """Return ``value`` as an exact ``Decimal``; floats and non-numbers are errors."""
    from .errors import ValidationError

    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(f"{field}: {value!r} is not a number") from None
    else:
        raise ValidationError(
            f"{field}: expected a Decimal, int or numeric string, got {type(value).__name__}"
            " (floats are refused: money must be exact)"
        )
    if not result.is_finite():
        raise ValidationError(f"{field}: {value!r} is not a finite number")
    if result.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValidationError(f"{field}: {value!r} has more than 4 decimal places")
    if abs(result) >= Decimal(10) ** 14:
        raise ValidationError(f"{field}: {value!r} is out of range (|amount| < 10^14)")
    return result


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
    stack = [value]
    while stack:  # no recursion: any depth is safe
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node or (not node.isascii() and not _encodes(node)):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return False


MAX_JSON_DEPTH = 32
"""Deepest accepted nesting of objects and arrays in a stored JSON value (attributes,
payloads, configurations, conditions): the top-level object is level 1."""


def json_problem(value: object, numbers: bool = True) -> str | None:
    """Why JSON-like ``value`` cannot be stored, as ``/pointer: reason``; None when it can.

    Refuses NaN and infinite numbers (JSON has none: PostgreSQL refuses them
    and every later reader of the value fails; ``numbers=False`` skips this)
    and nesting deeper than :data:`MAX_JSON_DEPTH`.  Walks without recursion,
    so any depth is safe.
    """
    stack: list[tuple[object, tuple[str, ...], int]] = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        if numbers and ((type(node) is float and not math.isfinite(node)) or (
                type(node) is Decimal and not node.is_finite())):
            shown = "NaN" if node != node else "-Infinity" if node < 0 else "Infinity"
            return f"{json_pointer(path)}: {shown} is not a finite number (JSON numbers must be finite)"
        if isinstance(node, (dict, list, tuple)):
            if depth > MAX_JSON_DEPTH:
                return (f"{json_pointer(path)}: nested deeper than {MAX_JSON_DEPTH} levels "
                        "(the limit)")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend(reversed([(v, (*path, str(k)), depth + 1) for k, v in items]))
    return None


def json_pointer(path: tuple[str, ...] | list[str]) -> str:
    """The JSON pointer (RFC 6901) of a path of keys: ``("a", "b/c")`` is ``/a/b~1c``."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)


def parse_json(text: str, **options) -> object:
    """``json.loads`` refusing nesting deeper than :data:`MAX_JSON_DEPTH` (a ValueError naming
    where), so that no later step can overflow the stack.

    NaN and infinite numbers still parse (as floats); :func:`json_problem`
    refuses them, with their pointer, where the value enters the database.
    """
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels (the limit)") from None
    # the common document cannot be too deep: decided on its text
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH:
        problem = json_problem(value, numbers=False)
        if problem:
            raise ValueError(problem)
    return value


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


__all__ = [
    "MONEY_SCALE", "JSONType", "to_money", "money_units", "Money", "UTCDateTime",
    "UNSTORABLE_TEXT", "unstorable_text", "MAX_JSON_DEPTH", "json_problem", "json_pointer",
    "parse_json", "sqlite_timestamp",
]
