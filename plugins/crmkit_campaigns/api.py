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

    def report(self, name: str, as_of=None):
        """The campaign's :class:`~crmkit_campaigns.report.CampaignReport` as of ``as_of``
        (default now): deliveries, responses, revenue, cost, ROI, holdout and uplift."""
        from .report import report

        moment = self.crm.clock.now() if as_of is None else as_of
        with self.crm.read() as conn:
            return report(conn, self.config, self.crm.core_config["default_currency"], name,
                          moment)

    def set_offer(self, name: str, kind: str, value, currency: str | None = None,
                  valid_days: int | None = None, expires_at=None, shared_code: str | None = None,
                  max_uses: int | None = None) -> int:
        """Give the campaign's messages a coupon (see :mod:`.coupons`); the recipients planned
        so far get their codes now, later ones when their message is rendered.  Return how
        many codes were issued."""
        from . import coupons

        offer = coupons.check_offer(kind, value, currency, valid_days, expires_at, shared_code,
                                    max_uses)

        def work(tx):
            return coupons.set_offer(tx, coupons.campaign_id_of(tx.conn, name), name, offer)

        return self.crm.run_transaction(work)

    def coupons(self, name: str | None = None) -> list:
        """The issued coupons (of campaign ``name``, or all) with their uses, by code."""
        from . import coupons

        with self.crm.read() as conn:
            campaign_id = None if name is None else coupons.campaign_id_of(conn, name)
            return coupons.listing(conn, campaign_id)
