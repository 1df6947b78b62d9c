"""loyalty: points, tiers, rewards.

Purchases earn points in the write pipeline's react step (set-based per
batch), refunds reverse them, lots expire, tiers move up at once and down at
review dates, rewards are redeemed atomically, milestones and referrals pay
bonuses.  The ledger is append-only.  Works with or without the social plugin:
referral bonuses come from the ``referral.converted`` event.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="loyalty",
    description="Loyalty program: points ledger, tiers, rewards, milestones, referral bonuses.",
    payload_keys=("sku", "category", "refund_of"),
    api="LoyaltyAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
           "card", "dashboard", "locale"),
)


@hookimpl
def crmkit_event_types():
    return {
        "tier.changed": "a member's tier changed (payload: from, to, "
                        "reason upgrade|review|tier removed)",
        "milestone.reached": "a member reached a purchase-count milestone (payload: count, points)",
        "reward.redeemed": "a member redeemed a reward (payload: reward, points, ledger_id)",
    }


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    from .earning import settings_of, too_many_points
    from .settings import program_currency

    return too_many_points(settings_of(ctx), rows, program_currency(ctx.crm))


@hookimpl
def crmkit_react_interactions(ctx, batch):
    from .earning import react

    react(ctx, batch)


@hookimpl
def crmkit_on_events(ctx, events):
    converted = [e for e in events if e.type == "referral.converted"]
    if converted:
        from .earning import settings_of
        from .referral import award

        award(ctx, settings_of(ctx), converted)


@hookimpl
def crmkit_sweep(ctx):
    from .earning import settings_of
    from .expiry import expire
    from .tiers import review

    s = settings_of(ctx)
    expired = expire(ctx, s, ctx.now())
    changes = review(ctx, s, ctx.now())
    return {"expire_rows": expired.rows, "points_expired": expired.points,
            "tier_changes": len(changes)}
