"""Attribution: which campaign a customer's reply or purchase is credited to, set-based.

A *touch* is a campaign message delivered to the customer (``messages.status``
``sent``, at ``sent_at``).  A response (a reply: an inbound interaction other
than a purchase or a tracking record ``message.*``; a conversion: a
purchase) is a candidate of every campaign that touched the customer at or
before it and within that campaign's attribution window (``attribution_days``,
else the ``attribution.days`` setting).  Of the candidates, the
``attribution.model`` picks one: ``first_touch`` the earliest touch,
``last_touch`` the latest (ties: the lower campaign id).  A purchase that
redeems a campaign's coupon is credited to that campaign whatever the model:
the coupon is direct evidence.  Opens, clicks and unsubscribes name their
message (``payload.message_id``), so they need no model.

Everything here is one SELECT (window functions), never a loop over rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, bindparam, func, literal, not_, select, union_all

from crmkit.plugin import JsonPath, UTCDateTime, days_between, interactions, messages

from .tables import campaigns, coupons, recipients, redemptions

MODELS = ("first_touch", "last_touch")
TRACKING = ("message.opened", "message.clicked", "message.unsubscribed")
"""The interaction kinds the tracking links record, each naming its message."""


def touches(as_of: dt.datetime, default_days: int):
    """Subquery: every delivered campaign message up to ``as_of`` (campaign_id, customer_id,
    variant, touched_at, days)."""
    r, m = recipients.c, messages.c
    return (select(r.campaign_id, r.customer_id, r.variant, m.sent_at.label("touched_at"),
                   func.coalesce(campaigns.c.attribution_days, default_days).label("days"))
            .join(messages, m.message_id == r.message_id)
            .join(campaigns, campaigns.c.id == r.campaign_id)
            .where(m.status == "sent", m.sent_at <= as_of)
            .subquery("touches"))


def is_reply():
    """An inbound interaction that is neither a purchase nor a tracking record."""
    i = interactions.c
    return and_(i.direction == "inbound", i.kind != "purchase", not_(i.kind.like("message.%")))


def credited(kind: str, model: str, as_of: dt.datetime, default_days: int,
             campaign_id: int | None = None):
    """Subquery: each response of ``kind`` (``conversion`` or ``reply``) up to ``as_of`` with
    the one campaign credited for it (interaction_id, customer_id, campaign_id, occurred_at,
    amount units, currency); responses no campaign touched are left out."""
    if model not in MODELS:
        raise ValueError(f"attribution model {model!r}: allowed {', '.join(MODELS)}")
    i = interactions.c
    wanted = i.kind == "purchase" if kind == "conversion" else is_reply()
    t = touches(as_of, default_days)
    by_touch = (select(i.id.label("interaction_id"), t.c.campaign_id, literal(1).label("rank"),
                       t.c.touched_at)
                .join(t, t.c.customer_id == i.customer_id)
                .where(wanted, i.occurred_at <= as_of, i.occurred_at >= t.c.touched_at,
                       days_between(i.occurred_at, t.c.touched_at) <= t.c.days))
    parts = [by_touch]
    if kind == "conversion":
        parts.append(select(redemptions.c.interaction_id, coupons.c.campaign_id,
                            literal(0).label("rank"), redemptions.c.redeemed_at)
                     .join(coupons, coupons.c.id == redemptions.c.coupon_id)
                     .where(coupons.c.campaign_id.is_not(None),
                            redemptions.c.redeemed_at <= as_of))
    candidates = union_all(*parts).subquery("candidates")
    order = (candidates.c.touched_at.asc() if model == "first_touch"
             else candidates.c.touched_at.desc())
    ranked = select(candidates.c.interaction_id, candidates.c.campaign_id,
                    func.row_number().over(partition_by=candidates.c.interaction_id,
                                           order_by=(candidates.c.rank, order,
                                                     candidates.c.campaign_id)).label("n")
                    ).subquery("ranked")
    query = (select(ranked.c.interaction_id, ranked.c.campaign_id, i.customer_id,
                    i.occurred_at, i.amount, i.currency)
             .join(interactions, i.id == ranked.c.interaction_id)
             .where(ranked.c.n == 1))
    if campaign_id is not None:
        query = query.where(ranked.c.campaign_id == campaign_id)
    return query.subquery(kind)


def tracked(campaign_id: int, as_of: dt.datetime):
    """Subquery: the tracking interactions (opened, clicked, unsubscribed) of the campaign's
    messages up to ``as_of`` (customer_id, variant, kind)."""
    i, r = interactions.c, recipients.c
    message_id = JsonPath(i.payload, ["message_id"]).text()
    return (select(r.customer_id, r.variant, i.kind)
            .join(interactions, and_(i.customer_id == r.customer_id, message_id == r.message_id))
            .where(r.campaign_id == campaign_id, i.kind.in_(TRACKING), i.occurred_at <= as_of)
            .subquery("tracked"))


def lead_sources(conn, customer_ids: list[int], model: str, now: dt.datetime,
                 default_days: int) -> dict[int, str]:
    """``{customer id: "campaign NAME"}`` for the customers a campaign's message reached
    within its attribution window before ``now`` (the model picks among several): the
    source of a lead they become now.  One query over the id range (a whole import's new
    customers is one range), filtered to ``customer_ids`` here: no huge ``IN`` list."""
    if not customer_ids:
        return {}
    wanted = set(customer_ids)
    t = touches(now, default_days)
    order = t.c.touched_at.asc() if model == "first_touch" else t.c.touched_at.desc()
    ranked = (select(t.c.customer_id, campaigns.c.name,
                     func.row_number().over(partition_by=t.c.customer_id,
                                            order_by=(order, t.c.campaign_id)).label("n"))
              .join(campaigns, campaigns.c.id == t.c.campaign_id)
              .where(t.c.customer_id.between(min(wanted), max(wanted)),
                     days_between(bindparam("now", now, UTCDateTime), t.c.touched_at) <= t.c.days)
              .subquery())
    return {customer_id: f"campaign {name}" for customer_id, name in conn.execute(
        select(ranked.c.customer_id, ranked.c.name).where(ranked.c.n == 1))
        if customer_id in wanted}


__all__ = ["MODELS", "TRACKING", "touches", "is_reply", "credited", "tracked",
           "lead_sources"]
