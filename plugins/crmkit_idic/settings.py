"""The idic configuration as typed settings, and the rules the JSON Schema cannot express
(each error naming its JSON pointer)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from crmkit.plugin import ConfigError

from . import duplicates
from .needs import check

VALUE_GROUPS = ("MVC", "MGC", "BZ", "maintain")
"""The value groups of a differentiation run."""


def group_names(config: dict[str, Any]) -> list[str]:
    """Every group a treatment or plan can name: value groups, then needs groups."""
    return list(VALUE_GROUPS) + [g["name"] for g in config["needs_groups"]]


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    matching: duplicates.Settings
    """The duplicate-matching rules."""
    needs_groups: tuple[dict[str, Any], ...]
    """The needs groups in order, each ``{"name", "if"}`` (a condition)."""
    group_names: tuple[str, ...]
    """Every group a treatment or plan can name: value groups, then needs groups."""
    mvc_share: float
    mgc_share: float
    cost_per_kind: dict[str, Any]
    """Price of one service interaction per kind, as configured (kept with each run)."""
    prices: dict[str, Decimal]
    """The same prices as exact Decimals."""
    cost_window_days: int
    cost_attribute: str
    contact_plans: dict[str, dict[str, Any]]
    dialogue_kinds: tuple[str, ...]
    default_channel: str
    holdout_share: float
    purchase_kinds: tuple[str, ...]
    refund_kinds: tuple[str, ...]
    identity_fields: tuple[str, ...]
    interact_days: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        return cls(
            matching=duplicates.Settings.from_config(config),
            needs_groups=tuple(config["needs_groups"]),
            group_names=tuple(group_names(config)),
            mvc_share=config["mvc_share"], mgc_share=config["mgc_share"],
            cost_per_kind=dict(config["cost_per_kind"]),
            prices={k: Decimal(str(v)) for k, v in config["cost_per_kind"].items()},
            cost_window_days=config["cost_window_days"],
            cost_attribute=config["cost_attribute"],
            contact_plans=dict(config["contact_plans"]),
            dialogue_kinds=tuple(config["dialogue_kinds"]),
            default_channel=config["default_channel"],
            holdout_share=config["holdout_share"],
            purchase_kinds=tuple(config["purchase_kinds"]),
            refund_kinds=tuple(config["refund_kinds"]),
            identity_fields=tuple(config["identity_fields"]),
            interact_days=config["interact_days"],
        )


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for a bad needs group, a contact plan of no group, or value
    shares above 1."""
    check(config["needs_groups"])
    for index, group in enumerate(config["needs_groups"]):
        if group["name"] in VALUE_GROUPS:
            raise ConfigError(f"/needs_groups/{index}/name: {group['name']!r} is a value group "
                              f"name (value groups: {', '.join(VALUE_GROUPS)})")
    known = group_names(config)
    for name in config["contact_plans"]:
        if name not in known:
            raise ConfigError(f"/contact_plans/{name}: not a group (allowed: {', '.join(known)})")
    if config["mvc_share"] + config["mgc_share"] > 1:
        raise ConfigError("/mgc_share: mvc_share + mgc_share must not exceed 1")


__all__ = ["Settings", "VALUE_GROUPS", "check_config", "group_names"]
