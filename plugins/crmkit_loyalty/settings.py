"""The loyalty configuration as exact, typed settings, plus the date rules built on it."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from crmkit.plugin import ConfigError, to_money, typed_settings


@attrs.frozen
class Tier:
    """One tier: qualifies at ``threshold`` and multiplies earned points by ``multiplier``."""

    name: str
    threshold: Decimal
    multiplier: Decimal


@attrs.frozen
class Settings:
    """The plugin's validated configuration with exact numbers."""

    points_per_unit: Decimal
    excluded_categories: frozenset[str]
    lock_days: int
    expiry_mode: str
    expiry_months: int
    inactivity_months: int
    tier_basis: str
    tier_window_months: int
    review_months: int
    max_downgrade_steps: int
    tiers: tuple[Tier, ...]
    milestones: dict[int, int]
    referral_points: int
    cost_per_point: Decimal

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        return cls(
            points_per_unit=exact(config["points_per_unit"]),
            excluded_categories=frozenset(config["excluded_categories"]),
            lock_days=config["lock_days"],
            expiry_mode=config["expiry_mode"],
            expiry_months=config["expiry_months"],
            inactivity_months=config["inactivity_months"],
            tier_basis=config["tier_basis"],
            tier_window_months=config["tier_window_months"],
            review_months=config["review_months"],
            max_downgrade_steps=config["max_downgrade_steps"],
            tiers=tuple(Tier(t["name"], exact(t["threshold"]), exact(t.get("multiplier", 1)))
                        for t in config["tiers"]),
            milestones={m["count"]: m["points"] for m in config["milestones"]},
            referral_points=config["referral_points"],
            cost_per_point=to_money(config["cost_per_point"], "/cost_per_point"),
        )

    def rank(self, tier: str | None) -> int:
        """Position of ``tier`` (0 = lowest); -1 for no tier or a tier no longer configured."""
        for i, t in enumerate(self.tiers):
            if t.name == tier:
                return i
        return -1

    def removed(self, tier: str | None) -> bool:
        """Whether ``tier`` (a member's stored tier) is no longer configured."""
        return tier is not None and self.rank(tier) < 0

    def multiplier(self, tier: str | None) -> Decimal:
        """The earning multiplier of ``tier`` (1 without a tier)."""
        rank = self.rank(tier)
        return self.tiers[rank].multiplier if rank >= 0 else Decimal(1)

    def qualified(self, value: Decimal) -> int:
        """Rank of the highest tier whose threshold ``value`` reaches (-1 if none)."""
        rank = -1
        for i, t in enumerate(self.tiers):
            if value >= t.threshold:
                rank = i
        return rank

    def lot_expiry(self, earned_at: dt.datetime) -> dt.datetime | None:
        """When a lot earned at ``earned_at`` expires (``None``: no fixed date in this mode)."""
        if self.expiry_mode == "rolling":
            return add_months(earned_at, self.expiry_months)
        if self.expiry_mode == "calendar":
            return dt.datetime(earned_at.year + 2, 1, 1, tzinfo=dt.timezone.utc)
        return None


def settings_of(ctx) -> Settings:
    """The plugin's settings in this hook context (built once per configuration)."""
    return typed_settings(Settings, ctx.config)


def program_currency(crm) -> str:
    """The currency loyalty counts money in: the CRM's ``default_currency`` (core configuration).
    Purchases and refunds in any other currency earn, reverse and qualify nothing."""
    return crm.core_config["default_currency"]


def exact(value: Any) -> Decimal:
    """A JSON number as an exact Decimal (``1.5`` → ``Decimal("1.5")``, never binary noise)."""
    return Decimal(str(value))


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` plus ``months`` calendar months (the day clamped to the month's last day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _once(seen: set, value: Any, error: str) -> None:
    """Note ``value`` as seen; a value seen before is the ConfigError ``error``."""
    if value in seen:
        raise ConfigError(error)
    seen.add(value)


def check_config(crm, config: dict[str, Any]) -> None:
    """What the JSON Schema cannot say: unique, strictly rising tiers and unique milestones."""
    previous = None
    names: set[str] = set()
    for i, tier in enumerate(config["tiers"]):
        _once(names, tier["name"], f"/tiers/{i}/name: tier {tier['name']!r} appears twice "
                                   "(allowed: unique names)")
        threshold = exact(tier["threshold"])
        if previous is not None and threshold <= previous:
            raise ConfigError(f"/tiers/{i}/threshold: {tier['threshold']} is not above the "
                              f"previous tier's {previous} (allowed: tiers listed lowest first, "
                              "thresholds strictly rising)")
        previous = threshold
    counts: set[int] = set()
    for i, milestone in enumerate(config["milestones"]):
        _once(counts, milestone["count"], f"/milestones/{i}/count: {milestone['count']} appears "
                                          "twice (allowed: one bonus per count)")
