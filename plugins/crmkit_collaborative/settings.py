"""The collaborative configuration as typed settings, and the rules the JSON Schema cannot
express (each error naming its JSON pointer)."""

from __future__ import annotations

from typing import Any

import attrs

from crmkit.plugin import ConfigError, check_condition, typed_settings

from .routing import CORE_FIELDS, PLUGIN_FIELDS, SEGMENT_OPS, Rule, leaves, rules_of


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    rules: tuple[Rule, ...]
    """The routing rules in the order they are tried."""
    fallback: str
    """The team of an interaction no rule matches."""
    routed_kinds: tuple[str, ...]
    routed_directions: tuple[str, ...]
    route_max_age_hours: float
    ack_hours: float
    escalation_team: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        return cls(rules=tuple(rules_of(config)), fallback=config["routing"]["fallback"],
                   routed_kinds=tuple(config["routed_kinds"]),
                   routed_directions=tuple(config["routed_directions"]),
                   route_max_age_hours=config["route_max_age_hours"],
                   ack_hours=config["ack_hours"], escalation_team=config["escalation_team"])

    def routes(self, kind: str, direction: str) -> bool:
        """Whether interactions of this kind and direction become work items."""
        return kind in self.routed_kinds and direction in self.routed_directions


def settings_of(ctx) -> Settings:
    """The plugin's settings in a hook context (built once per configuration)."""
    return typed_settings(Settings, ctx.config)


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise ConfigError (with the JSON pointer) for unknown fields, fields of plugins that are
    not enabled, duplicate rule names."""
    enabled = crm.enabled_plugins()
    allowed = set(CORE_FIELDS) | {f for f, p in PLUGIN_FIELDS.items() if p in enabled}
    seen: dict[str, int] = {}
    for i, rule in enumerate(config["routing"]["rules"]):
        pointer = f"/routing/rules/{i}"
        if rule["name"] in seen:
            raise ConfigError(f"{pointer}/name: {rule['name']!r} is already the name of rule "
                              f"{seen[rule['name']]} (rule names must be unique)")
        seen[rule["name"]] = i
        for leaf, where in leaves(rule["if"], f"{pointer}/if"):
            field = leaf.get("field")
            if field in PLUGIN_FIELDS and field not in allowed:
                raise ConfigError(f"{where}/field: {field!r} needs the {PLUGIN_FIELDS[field]} "
                                  "plugin, which is not enabled")
            if field == "customer.segment" and leaf.get("op") not in SEGMENT_OPS:
                raise ConfigError(f"{where}/op: {leaf.get('op')!r} cannot test segment membership "
                                  f"(allowed: {', '.join(SEGMENT_OPS)})")
        check_condition(rule["if"], allowed, f"{pointer}/if")
