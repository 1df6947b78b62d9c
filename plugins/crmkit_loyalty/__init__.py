"""loyalty: points, tiers, rewards.

Purchases earn points in the write pipeline's react step (set-based per
batch), refunds reverse them, lots expire, tiers move up at once and down at
review dates, rewards are redeemed atomically, milestones and referrals pay
bonuses.  The ledger is append-only.  Works with or without the social plugin:
referral bonuses come from the ``referral.converted`` event.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="loyalty",
    description="Loyalty program: points ledger, tiers, rewards, milestones, referral bonuses.",
)

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    return json.loads((HERE / "config.schema.json").read_text(encoding="utf-8"))


@hookimpl
def crmkit_check_config(crm, config):
    from .settings import check

    check(config)


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_event_types():
    return {
        "tier.changed": "a member's tier changed (payload: from, to, reason upgrade|review)",
        "milestone.reached": "a member reached a purchase-count milestone (payload: count, points)",
        "reward.redeemed": "a member redeemed a reward (payload: reward, points, ledger_id)",
    }


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    from .earning import settings_of, too_many_points

    return too_many_points(settings_of(ctx), rows)


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


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_plugin_api(crm):
    from .api import LoyaltyAPI

    return LoyaltyAPI(crm)


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    from .services import timeline

    return timeline(ctx, customer_id, limit)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .services import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .services import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .services import erase

    erase(ctx, customer_id)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import demo

    return demo(crm, rng)


@hookimpl
def crmkit_customer_card(crm, principal, customer):
    from .card import card

    return card(crm, principal, customer)
