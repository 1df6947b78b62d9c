"""campaigns: marketing campaigns planned for a segment, delivered over channels, measured.

A campaign names its audience (an analytical saved segment, or a condition in
the segments' condition language), its channel, a message template (sandboxed
Jinja2 over the customer's fields), A/B variants, a random holdout and its
costs.  ``crmkit campaigns run`` plans the recipients set-based: consent and
preferred channel, frequency caps, holdout and variants, with a reason for
every recipient skipped; the worker renders due recipients into the core's
outbox (``messages``), which the channels (email over SMTP, a signed webhook)
deliver.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

from .channels import crmkit_channels  # noqa: F401  (the email and webhook channels)
from .settings import settings_of

PLUGIN = crmkit.PluginInfo(
    name="campaigns",
    description="Marketing campaigns: segment or condition audiences, consent and frequency "
                "caps, A/B variants, holdout, email and webhook delivery.",
    after=("analytical", "collaborative"),
    payload_keys=("coupon",),
    api="CampaignsAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo",
           "routes", "dashboard", "locale", "card"),
)


@hookimpl
def crmkit_worker_jobs(crm):
    """``campaigns.render``: plan due scheduled campaigns, render due recipients into messages."""
    from .rendering import jobs

    return jobs(crm)


@hookimpl
def crmkit_event_types():
    return {"coupon.issued": "a coupon was issued to a customer for a redeemed loyalty reward "
                             "(payload: code, kind, value, source)"}


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    """Refuse purchases naming an unknown, expired, used or someone else's coupon."""
    from .coupons import problems

    return problems(ctx.conn, rows)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    """Record the coupons the batch's purchases redeemed (one INSERT … SELECT; no statement
    for a batch without a purchase naming a coupon)."""
    from .coupons import names_a_coupon, redeem

    if any(names_a_coupon(row) for row in batch.rows):
        redeem(ctx, batch)


@hookimpl
def crmkit_on_events(ctx, events):
    """A redeemed loyalty reward configured as a coupon (``coupons.rewards``) issues one."""
    redeemed = [e for e in events if e.type == "reward.redeemed"]
    rewards = settings_of(ctx.config).reward_coupons
    if redeemed and rewards:
        from .coupons import issue_reward_coupons

        issue_reward_coupons(ctx, rewards, redeemed)


@hookimpl
def crmkit_forecast_contributions(crm, as_of):
    """Each campaign's attributed revenue still expected within its attribution window."""
    from .report import forecast

    with crm.read() as conn:
        return forecast(conn, settings_of(crm.plugin_config("campaigns")),
                        crm.core_config["default_currency"], as_of)


@hookimpl
def crmkit_acquisition_costs(crm, as_of, since):
    """Each campaign's cost shared equally among the customers whose first purchase it is
    credited with."""
    from .returns import acquisition_costs

    return acquisition_costs(settings_of(crm.plugin_config("campaigns")), as_of, since)


@hookimpl
def crmkit_lead_sources(ctx, customer_ids):
    """A customer entering the lead funnel within a campaign's attribution window of its
    message comes from that campaign."""
    from .attribution import lead_sources

    settings = settings_of(ctx.config)
    return lead_sources(ctx.conn, customer_ids, settings.attribution_model, ctx.now(),
                        settings.attribution_days)


@hookimpl
def crmkit_sweep(ctx):
    """Plan the customers the configured triggers (``triggers``) selected."""
    if not settings_of(ctx.config).triggers:
        return None
    from .triggers import sweep

    return {"campaign_recipients_triggered": sweep(ctx)}
