"""Configuration rules the JSON Schema cannot express, each error naming its JSON pointer."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import ConfigError

from .questionnaire import BY_KEY


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for cutoffs out of order or a gap module that is not an item."""
    if config["cutoffs"]["average"] >= config["cutoffs"]["leading"]:
        raise ConfigError("/cutoffs/leading: must be above cutoffs/average "
                          f"({config['cutoffs']['average']})")
    for key in config["gap_modules"]:
        if key not in BY_KEY:
            raise ConfigError(f"/gap_modules/{key}: not a questionnaire item "
                              f"(allowed: {', '.join(BY_KEY)})")


__all__ = ["check_config"]
