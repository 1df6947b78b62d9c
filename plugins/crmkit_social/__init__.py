"""social: identities, mentions and their sentiment, engagement, referrals.

Handles are normalised (``@Alice`` is ``alice``) and belong to one customer;
mentions import from CSV or JSON Lines, deduplicated by (platform, post_id),
scored by the sentiment analyser for their language (English: VADER,
Chinese: SnowNLP; other languages stay unscored); a strongly negative mention by a known customer emits
``social.negative_mention``; referral codes link new customers to their
referrer, and the referee's first purchase emits ``referral.converted``.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl
from crmkit.plugin import EventType

PLUGIN = crmkit.PluginInfo(
    name="social",
    description="Social CRM: handles, mention import with English and Chinese sentiment, "
                "engagement, referrals.",
    api="SocialAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
           "card", "locale"),
)


EVENT_TYPES = {
    "social.negative_mention": EventType(
        "a known customer's mention scored at or below case_threshold (payload: mention_id, "
        "platform, handle, score)", personal="handle"),
    "referral.redeemed": "a new customer redeemed a referral code (payload: referrer_id, "
                         "referee_id, referral_id; customer = referrer)",
    "referral.converted": "a referee made their first purchase (payload: referrer_id, referee_id, "
                          "interaction_id, referral_id; customer = referrer)",
}


@hookimpl
def crmkit_sentiment_analysers():
    from .sentiment import ANALYSERS

    return list(ANALYSERS)


@hookimpl
def crmkit_event_types():
    return dict(EVENT_TYPES)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    """Convert the referrals whose referee made a first purchase in the batch (no statement for
    a batch without a purchase)."""
    from .referrals import convert_batch

    if any(row["kind"] == "purchase" for row in batch.rows):
        convert_batch(ctx, batch)
