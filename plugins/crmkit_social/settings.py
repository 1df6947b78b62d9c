"""The social configuration as typed settings, and the rules the JSON Schema cannot express
(each error naming its JSON pointer)."""

from __future__ import annotations

from typing import Any

import attrs

from crmkit.plugin import ConfigError, typed_settings


@attrs.frozen
class Thresholds:
    """Sentiment score limits: at or above ``positive`` is positive, at or below ``negative``
    negative; a known customer's mention at or below ``case`` emits social.negative_mention."""

    positive: float
    negative: float
    case: float

    @classmethod
    def from_config(cls, limits: dict[str, Any]) -> "Thresholds":
        """The thresholds of one level (top level or one language) of the configuration."""
        return cls(limits["positive_threshold"], limits["negative_threshold"],
                   limits["case_threshold"])


@attrs.frozen
class EngagementWeights:
    """Engagement = likes × likes + comments × comments + shares × shares."""

    likes: int
    comments: int
    shares: int


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    thresholds: Thresholds
    """The thresholds of languages without their own."""
    language_thresholds: dict[str, Thresholds]
    """Language code → its own thresholds."""
    engagement_weights: EngagementWeights
    engagement_period: str
    referral_code_length: int
    referral_redeem_days: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        weights = config["engagement_weights"]
        return cls(
            thresholds=Thresholds.from_config(config),
            language_thresholds={language: Thresholds.from_config(limits)
                                 for language, limits in config["language_thresholds"].items()},
            engagement_weights=EngagementWeights(weights["likes"], weights["comments"],
                                                 weights["shares"]),
            engagement_period=config["engagement_period"],
            referral_code_length=config["referral_code_length"],
            referral_redeem_days=config["referral_redeem_days"])

    def thresholds_for(self, language: str | None) -> Thresholds:
        """The thresholds of ``language`` (its own, else the top-level ones)."""
        own = self.language_thresholds.get(language) if language else None
        return own or self.thresholds


def settings_of(ctx) -> Settings:
    """The plugin's settings in a hook context (built once per configuration)."""
    return typed_settings(Settings, ctx.config)


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


__all__ = ["EngagementWeights", "Settings", "Thresholds", "check_config", "settings_of"]
