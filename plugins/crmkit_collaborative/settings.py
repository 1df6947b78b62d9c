"""Configuration rules the JSON Schema cannot express, each error naming its JSON pointer."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import ConfigError, check_condition

from .routing import CORE_FIELDS, PLUGIN_FIELDS, SEGMENT_OPS, leaves


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
