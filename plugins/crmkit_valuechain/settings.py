"""The value-chain configuration as typed settings."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    ssc_top_share: float
    """Share of customers by predicted CLV that stage 1 suggests as SSCs."""
    min_ssc: int
    default_ssc_group: str
    profile_fields: tuple[str, ...]
    """The customer fields whose presence measures intimacy with an SSC."""
    min_intimacy: float
    network_kinds_required: tuple[str, ...]
    lifecycle_action_kinds: tuple[str, ...]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        return cls(
            ssc_top_share=config["ssc_top_share"],
            min_ssc=config["min_ssc"],
            default_ssc_group=config["default_ssc_group"],
            profile_fields=tuple(config["profile_fields"]),
            min_intimacy=config["min_intimacy"],
            network_kinds_required=tuple(config["network_kinds_required"]),
            lifecycle_action_kinds=tuple(config["lifecycle_action_kinds"]),
        )


__all__ = ["Settings"]
