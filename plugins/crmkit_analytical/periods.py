"""Calendar periods (month, quarter, year) in UTC: boundaries and labels."""

from __future__ import annotations

import datetime as dt

from crmkit.plugin import ValidationError

UTC = dt.timezone.utc
PERIODS = ("month", "quarter", "year")
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def check(period: str) -> int:
    """Months per period; an unknown period is a ValidationError listing the allowed ones."""
    if period not in _MONTHS:
        raise ValidationError(f"period: {period!r} is not one of {', '.join(PERIODS)}")
    return _MONTHS[period]


def start_of(moment: dt.datetime, period: str) -> dt.datetime:
    """The first instant of the period containing ``moment``."""
    step = check(period)
    utc = moment.astimezone(UTC)
    month0 = (utc.month - 1) // step * step
    return dt.datetime(utc.year, month0 + 1, 1, tzinfo=UTC)


def add(start: dt.datetime, period: str, count: int = 1) -> dt.datetime:
    """The period start ``count`` periods after ``start`` (negative goes back)."""
    months = start.year * 12 + start.month - 1 + check(period) * count
    return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def label(start: dt.datetime, period: str) -> str:
    """``2024-05``, ``2024-Q2`` or ``2024``."""
    check(period)
    if period == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if period == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year:04d}"


def complete_periods(as_of: dt.datetime, period: str, count: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """The last ``count`` whole periods ending at or before ``as_of``, oldest first, as (start, end)."""
    if count < 1:
        raise ValidationError(f"periods: {count} must be at least 1")
    end = start_of(as_of, period)
    starts = [add(end, period, -i) for i in range(count, 0, -1)]
    return [(s, add(s, period)) for s in starts]
