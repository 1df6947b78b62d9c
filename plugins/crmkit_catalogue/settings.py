"""The catalogue configuration as typed settings, built once per stored configuration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from crmkit.plugin import money_units, to_money, typed_settings


@attrs.frozen
class Rules:
    """How association rules are mined (each field may be overridden per request)."""

    basket: str
    """``order`` (one purchase) or ``window`` (a customer's items in the window)."""
    window_days: int
    min_support: float
    min_confidence: float
    min_lift: float
    max_itemset: int


@attrs.frozen
class Offers:
    """How next-best offers are ranked."""

    per_customer: int
    category_weight: float


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed (money exact)."""

    purchase_kinds: frozenset[str]
    event_costs: dict[str, int]
    """Money units each event type costs to serve (types costing nothing left out)."""
    cost_per_hour: Decimal
    """What an hour of handling time costs."""
    handling_field: str
    """The interaction payload key holding handling minutes."""
    rules: Rules
    offers: Offers

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        cost = config["cost_to_serve"]
        event_costs = {kind: money_units(to_money(value))
                       for kind, value in cost["event_costs"].items()}
        return cls(purchase_kinds=frozenset(config["purchase_kinds"]),
                   event_costs={kind: units for kind, units in event_costs.items() if units},
                   cost_per_hour=to_money(cost["cost_per_hour"]),
                   handling_field=cost["handling_field"],
                   rules=Rules(**config["rules"]), offers=Offers(**config["offers"]))


def settings_of(config: dict[str, Any]) -> Settings:
    """The settings of the stored configuration ``config`` (built once per configuration)."""
    return typed_settings(Settings, config)


__all__ = ["Offers", "Rules", "Settings", "settings_of"]
