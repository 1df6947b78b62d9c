"""Clocks: where crmkit gets "now" from, so tests and ``--as-of`` control time."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

UTC = dt.timezone.utc

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest instant crmkit accepts (occurred_at, as-of, since, due and clock times)."""
LATEST = dt.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""The latest instant crmkit accepts: far enough inside what Python (year 9999) and both
databases can store that plugins' date arithmetic (expiry months, renewals, SLA targets)
never overflows."""


def utc_in_range(value: dt.datetime) -> dt.datetime | None:
    """Aware ``value`` in UTC, or None when it lies outside :data:`EARLIEST`..:data:`LATEST`."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in year 10000 in UTC
        return None
    return utc if EARLIEST <= utc <= LATEST else None


def out_of_range(value: dt.datetime) -> str:
    """The one message for an instant outside the accepted range."""
    shown = value.isoformat()
    if value.utcoffset() == dt.timedelta(0):
        shown = shown.removesuffix("+00:00") + "Z"
    return (f"{shown} is outside the accepted range "
            f"(1900-01-01T00:00:00Z to 2999-12-31T23:59:59Z)")


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
    An instant outside :data:`EARLIEST`..:data:`LATEST` is an error.
    """
    from .errors import ValidationError

    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{field}: naive datetime {value.isoformat()} (give a timezone, e.g. +00:00)"
        )
    utc = utc_in_range(value)
    if utc is None:
        raise ValidationError(f"{field}: {out_of_range(value)}")
    return utc


def parse_timestamp(text: str, field: str) -> dt.datetime:
    """Parse ISO 8601 text: a bare date is midnight UTC, an offset is converted to UTC.

    A date-time without an offset is read as UTC (the documented rule for text input).
    The instant must lie in :data:`EARLIEST`..:data:`LATEST`.
    """
    from .errors import ValidationError

    text = text.strip()
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            value = dt.datetime(d.year, d.month, d.day, tzinfo=UTC)
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{field}: {text!r} is not an ISO 8601 date or date-time (e.g. 2024-05-01T13:00:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return ensure_utc(value, field)


NOW_VARIABLE = "CRMKIT_NOW"
"""The environment variable that pins a process's clock (for tests and reproducible demos)."""


def default_clock() -> Clock:
    """The wall clock, or a :class:`FixedClock` at ``$CRMKIT_NOW`` when that is set.

    Pinning lets tests drive real ``crmkit`` processes (``serve``, ``worker``) at a known
    instant: ``CRMKIT_NOW=2026-03-01T09:00:00Z crmkit serve``.
    """
    import os

    pinned = os.environ.get(NOW_VARIABLE)
    if pinned:
        return FixedClock(parse_timestamp(pinned, NOW_VARIABLE))
    return SystemClock()


__all__ = [
    "UTC", "EARLIEST", "LATEST", "utc_in_range", "out_of_range", "Clock", "SystemClock",
    "FixedClock", "ensure_utc", "parse_timestamp", "NOW_VARIABLE", "default_clock",
]
