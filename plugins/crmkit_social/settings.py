"""Configuration rules the JSON Schema cannot express, each error naming its JSON pointer."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import ConfigError


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` unless each level's thresholds are in order (case, negative,
    positive)."""
    levels = [("", config)] + [(f"/language_thresholds/{language}", limits)
                               for language, limits in config["language_thresholds"].items()]
    for where, limits in levels:
        if limits["negative_threshold"] >= limits["positive_threshold"]:
            raise ConfigError(f"{where}/negative_threshold: {limits['negative_threshold']} must be "
                              f"below positive_threshold ({limits['positive_threshold']})")
        if limits["case_threshold"] > limits["negative_threshold"]:
            raise ConfigError(f"{where}/case_threshold: {limits['case_threshold']} must not "
                              f"exceed negative_threshold ({limits['negative_threshold']}): only "
                              "negative mentions open cases")


__all__ = ["check_config"]
