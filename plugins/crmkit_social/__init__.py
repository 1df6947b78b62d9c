"""social: identities, mentions and their sentiment, engagement, referrals.

Handles are normalised (``@Alice`` is ``alice``) and belong to one customer;
mentions import from CSV or JSON Lines, deduplicated by (platform, post_id),
scored by the sentiment analyser for their language (English: VADER,
Chinese: SnowNLP; other languages stay unscored); a strongly negative mention by a known customer emits
``social.negative_mention``; referral codes link new customers to their
referrer, and the referee's first purchase emits ``referral.converted``.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="social",
    description="Social CRM: handles, mention import with English and Chinese sentiment, "
                "engagement, referrals.",
)

HERE = Path(__file__).parent

EVENT_TYPES = {
    "social.negative_mention": "a known customer's mention scored at or below case_threshold "
                               "(payload: mention_id, platform, handle, score)",
    "referral.redeemed": "a new customer redeemed a referral code (payload: referrer_id, "
                         "referee_id, referral_id; customer = referrer)",
    "referral.converted": "a referee made their first purchase (payload: referrer_id, referee_id, "
                          "interaction_id, referral_id; customer = referrer)",
}


@hookimpl
def crmkit_config_schema():
    return json.loads((HERE / "config.schema.json").read_text())


@hookimpl
def crmkit_check_config(crm, config):
    from crmkit.plugin import ConfigError

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


@hookimpl
def crmkit_sentiment_analysers():
    from .sentiment import ANALYSERS

    return list(ANALYSERS)


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_event_types():
    return dict(EVENT_TYPES)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    from .referrals import convert_batch

    convert_batch(ctx, batch)


@hookimpl
def crmkit_plugin_api(crm):
    from .api import SocialAPI

    return SocialAPI(crm)


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    from .privacy import timeline

    return timeline(ctx, customer_id, limit)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .privacy import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .privacy import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .privacy import erase

    erase(ctx, customer_id)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import demo

    return demo(crm, rng)


@hookimpl
def crmkit_customer_card(crm, principal, customer):
    from .card import card

    return card(crm, principal, customer)
