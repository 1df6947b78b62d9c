"""Configuration rules the JSON Schema cannot express, each error naming its JSON pointer."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import ConfigError

from .customise import group_names
from .differentiate import VALUE_GROUPS
from .needs import check


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


__all__ = ["check_config"]
