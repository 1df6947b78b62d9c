"""The public API of campaigns: ``crm.plugin("campaigns")``.

Other plugins and applications use this object, never the tables.
"""

from __future__ import annotations

from typing import Any


class CampaignsAPI:
    """Plan, schedule and run campaigns."""

    def __init__(self, crm):
        self.crm = crm

    @property
    def config(self) -> dict[str, Any]:
        """The plugin's stored configuration."""
        return self.crm.plugin_config("campaigns")

    def list(self) -> list[dict[str, Any]]:
        """Every campaign, newest first: name, channel, status, schedule and recipient counts."""
        from .planning import campaign_summaries

        with self.crm.read() as conn:
            return campaign_summaries(conn)
