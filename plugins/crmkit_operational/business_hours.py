"""Business calendars: adding business hours to a moment (zoneinfo; DST-safe).

A calendar has working weekdays, opening and closing times in its time zone,
and holidays.  Without a calendar, hours are wall-clock hours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from crmkit.plugin import ConfigError

UTC = dt.timezone.utc
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 3700
"""How far ahead (days) a due time is searched before the calendar is declared empty."""


def parse_clock(text: str) -> dt.timedelta:
    """``HH:MM`` (``24:00`` allowed) as the time since midnight."""
    hours, minutes = text.split(":")
    return dt.timedelta(hours=int(hours), minutes=int(minutes))


def zone(name: str, where: str) -> ZoneInfo:
    """The IANA zone ``name``; ConfigError naming ``where`` when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: {name!r} is not an IANA time zone (e.g. Europe/London)") from None


@attrs.frozen
class Calendar:
    """The configured ``cases.calendar``: working weekdays, opening hours and holidays."""

    timezone: str | None
    """IANA zone (None: the CRM's time zone)."""
    days: tuple[str, ...]
    opens: str
    closes: str
    holidays: tuple[str, ...]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Calendar":
        """The calendar of the (schema-valid) ``cases.calendar`` object."""
        return cls(config.get("timezone"), tuple(config["days"]), config["opens"],
                   config["closes"], tuple(config["holidays"]))


class BusinessCalendar:
    """Working days and hours in one time zone."""

    def __init__(self, calendar: Calendar, default_timezone: str = "UTC"):
        self.tz = zone(calendar.timezone or default_timezone, "/cases/calendar/timezone")
        self.days = {DAYS.index(d) for d in calendar.days}
        self.opens = parse_clock(calendar.opens)
        self.closes = parse_clock(calendar.closes)
        self.holidays = {dt.date.fromisoformat(d) for d in calendar.holidays}
        if self.closes <= self.opens:
            raise ConfigError(f"/cases/calendar/closes: {calendar.closes} is not after opens "
                              f"{calendar.opens}")

    def _local(self, day: dt.date, offset: dt.timedelta) -> dt.datetime:
        midnight = dt.datetime(day.year, day.month, day.day)
        wall = midnight + offset
        return wall.replace(tzinfo=self.tz).astimezone(UTC)

    def add_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` business hours after ``start`` (aware UTC)."""
        remaining = dt.timedelta(hours=hours)
        start = start.astimezone(UTC)
        day = start.astimezone(self.tz).date()
        for _ in range(SEARCH_DAYS):
            if day.weekday() in self.days and day not in self.holidays:
                opening, closing = self._local(day, self.opens), self._local(day, self.closes)
                begin = max(opening, start)
                if begin < closing:
                    available = closing - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += dt.timedelta(days=1)
        raise ConfigError("the business calendar has no working hours in the next ten years")


def due_after(calendar: Calendar | None, default_timezone: str, start: dt.datetime,
              hours: float) -> dt.datetime:
    """``start`` plus ``hours``: business hours with ``calendar`` (``cases.calendar``),
    wall-clock without."""
    if calendar is None:
        return start + dt.timedelta(hours=hours)
    return BusinessCalendar(calendar, default_timezone).add_hours(start, hours)
