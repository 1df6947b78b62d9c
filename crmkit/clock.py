"""Clocks: where crmkit gets "now" from, so tests and ``--as-of`` control time."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

UTC = dt.timezone.utc


class Clock(Protocol):
    """Anything with a ``now()`` returning an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is set; ``advance`` moves it forward."""

    def __init__(self, at: dt.datetime):
        self._at = ensure_utc(at, "clock")

    def now(self) -> dt.datetime:
        return self._at

    def set(self, at: dt.datetime) -> None:
        """Move the clock to ``at``."""
        self._at = ensure_utc(at, "clock")

    def advance(self, **delta: float) -> dt.datetime:
        """Move the clock forward by ``datetime.timedelta(**delta)`` and return the new time."""
        self._at = self._at + dt.timedelta(**delta)
        return self._at


def ensure_utc(value: dt.datetime, field: str) -> dt.datetime:
    """Return ``value`` converted to UTC; a naive datetime is an error.

    crmkit never guesses the zone of a naive datetime: callers must say it.
    """
    from .errors import ValidationError

    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{field}: naive datetime {value.isoformat()} (give a timezone, e.g. +00:00)"
        )
    return value.astimezone(UTC)


def parse_timestamp(text: str, field: str) -> dt.datetime:
    """Parse ISO 8601 text: a bare date is midnight UTC, an offset is converted to UTC.

    A date-time without an offset is read as UTC (the documented rule for text input).
    """
    from .errors import ValidationError

    text = text.strip()
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            return dt.datetime(d.year, d.month, d.day, tzinfo=UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{field}: {text!r} is not an ISO 8601 date or date-time (e.g. 2024-05-01T13:00:00Z)"
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
