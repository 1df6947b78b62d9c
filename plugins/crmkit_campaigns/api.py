"""The public API of campaigns: ``crm.plugin("campaigns")``.

Other plugins and applications use this object, never the tables.  Every write
checks its whole input first: a bad one is one error and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

from crmkit.plugin import PluginAPI, ValidationError

from . import definition, planning
from .definition import Variant
from .settings import Settings


class CampaignsAPI(PluginAPI):
    """Add, show, list, schedule, run and pause campaigns."""

    plugin = "campaigns"
    settings_class = Settings
    Variant = Variant

    def add(self, name: str, *, channel: str, template: str, subject: str | None = None,
            segment: str | None = None, condition: dict[str, Any] | None = None,
            holdout: float = 0.0, cost: Decimal | str | int = "0",
            cost_per_message: Decimal | str | int = "0", goal: str | None = None,
            variants: Iterable[Variant] = (), attribution_days: int | None = None,
            template_label: str = "template", seed: int | None = None) -> dict[str, Any]:
        """Add a draft campaign for a saved ``segment`` (analytical) or a ``condition`` over
        customer fields; returns it as :meth:`show` does.  ``template_label`` names the
        template in errors (the CLI passes the file name); ``seed`` (default: random) fixes
        the holdout and variant draws."""
        return definition.add(self.crm, name, channel=channel, template=template,
                              subject=subject, segment=segment, condition=condition,
                              holdout=holdout, cost=cost, cost_per_message=cost_per_message,
                              goal=goal, variants_given=variants,
                              attribution_days=attribution_days, template_label=template_label,
                              seed=seed)

    def show(self, name: str) -> dict[str, Any]:
        """One campaign: definition, variants and recipients by status, reason and variant."""
        return definition.show(self.crm, name)

    def list(self) -> list[dict[str, Any]]:
        """Every campaign, newest first: name, channel, status, schedule and recipient counts."""
        with self.crm.read() as conn:
            return definition.summaries(conn)

    def schedule(self, name: str, at: dt.datetime) -> dict[str, Any]:
        """Start the campaign at ``at`` (in the future): the worker plans and renders it then."""
        return definition.schedule(self.crm, name, at)

    def run(self, name: str) -> dict[str, Any]:
        """Plan the campaign's recipients now (set-based; only customers not planned yet) and
        mark it running; ``new`` is how many rows this run added."""
        return planning.run(self.crm, name)

    def pause(self, name: str) -> dict[str, Any]:
        """Stop rendering the campaign's messages until :meth:`run` resumes it."""
        return definition.pause(self.crm, name)

    def report(self, name: str, as_of=None):
        """The campaign's :class:`~crmkit_campaigns.report.CampaignReport` as of ``as_of``
        (default now): deliveries, responses, revenue, cost, ROI, holdout and uplift."""
        from .report import report

        moment = self.crm.clock.now() if as_of is None else as_of
        with self.crm.read() as conn:
            return report(conn, self.settings, self.crm.core_config["default_currency"], name,
                          moment)

    def returns(self, since: dt.datetime, as_of: dt.datetime | None = None) -> dict[str, Any]:
        """CRM ROI and customer acquisition cost of the campaigns created in ``(since,
        as_of]``, with every input: revenue, campaign and CRM costs, new customers."""
        from .returns import returns

        moment = self.crm.clock.now() if as_of is None else as_of
        if since >= moment:
            raise ValidationError(f"since: {since.isoformat()} is not before as_of "
                                  f"{moment.isoformat()}")
        with self.crm.read() as conn:
            return returns(conn, self.settings, self.crm.core_config["default_currency"], since,
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

    def coupons(self, name: str | None = None, after: str | None = None,
                limit: int | None = None) -> list:
        """The issued coupons (of campaign ``name``, or all) with their uses, by code: with
        ``after``, those whose code sorts after it; with ``limit``, at most that many."""
        from . import coupons

        with self.crm.read() as conn:
            campaign_id = None if name is None else coupons.campaign_id_of(conn, name)
            return coupons.listing(conn, campaign_id, after=after, limit=limit)
