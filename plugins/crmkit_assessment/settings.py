"""The assessment configuration as typed settings, and the rules the JSON Schema cannot
express (each error naming its JSON pointer)."""

from __future__ import annotations

from typing import Any

import attrs

from crmkit.plugin import ConfigError

from .questionnaire import BY_KEY


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    average_from: float
    """Lowest overall score (0-100) of the average band."""
    leading_from: float
    """Lowest overall score of the leading band."""
    gap_max_rating: int
    gap_modules: dict[str, str]
    """Item key -> the module addressing a gap in it, where the configuration overrides it."""
    preferred_channel_min_share: float
    clv_max_age_days: int
    min_segments: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        return cls(
            average_from=config["cutoffs"]["average"],
            leading_from=config["cutoffs"]["leading"],
            gap_max_rating=config["gap_max_rating"],
            gap_modules=dict(config["gap_modules"]),
            preferred_channel_min_share=config["preferred_channel_min_share"],
            clv_max_age_days=config["clv_max_age_days"],
            min_segments=config["min_segments"],
        )


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for cutoffs out of order or a gap module that is not an item."""
    if config["cutoffs"]["average"] >= config["cutoffs"]["leading"]:
        raise ConfigError("/cutoffs/leading: must be above cutoffs/average "
                          f"({config['cutoffs']['average']})")
    for key in config["gap_modules"]:
        if key not in BY_KEY:
            raise ConfigError(f"/gap_modules/{key}: not a questionnaire item "
                              f"(allowed: {', '.join(BY_KEY)})")


__all__ = ["Settings", "check_config"]
