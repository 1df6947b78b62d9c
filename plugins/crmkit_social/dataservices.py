"""social's part of the customer data services: timeline, merge, export, erase.

Handles, post texts and post ids are personal data; scores, counts, platforms
and dates are kept on erase so engagement and sentiment totals still add up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select, update

import crmkit

from . import mentions as mention_rules
from . import sentiment
from .settings import settings_of
from .tables import identities, mentions, referral_codes, referrals

ERASED = "(erased)"


def timeline(ctx, customer_id: int, limit: int) -> list:
    """Linked handles, mentions, the referral code and referrals, newest first."""
    i, m, c, r = identities.c, mentions.c, referral_codes.c, referrals.c
    entries = []
    for row in ctx.conn.execute(select(identities).where(i.customer_id == customer_id)
                                .order_by(i.linked_at.desc()).limit(limit)).mappings():
        handle = f"@{row['handle']}"
        entries.append(crmkit.TimelineEntry(at=row["linked_at"], kind="identity",
                                            summary=f"{row['platform']} handle {handle} linked",
                                            personal=(handle,)))
    for row in ctx.conn.execute(select(mentions).where(m.customer_id == customer_id)
                                .order_by(m.posted_at.desc(), m.id.desc()).limit(limit)).mappings():
        mood = sentiment.label(row["sentiment"], row["language"], settings_of(ctx))
        scored = "" if row["sentiment"] is None else f" ({row['sentiment']:+.2f})"
        text = row["text"] or ""
        shown = text if len(text) <= 80 else text[:77] + "..."
        handle = f"@{row['handle']}"
        entries.append(crmkit.TimelineEntry(
            at=row["posted_at"], kind="mention",
            summary=f"{row['platform']} mention by {handle}, {mood}{scored}: {shown}",
            details={"mention_id": row["id"], "likes": row["likes"], "comments": row["comments"],
                     "shares": row["shares"]},
            personal=(handle, shown)))
    for row in ctx.conn.execute(select(referral_codes).where(c.customer_id == customer_id)
                                .order_by(c.created_at.desc()).limit(limit)).mappings():
        entries.append(crmkit.TimelineEntry(at=row["created_at"], kind="referral_code",
                                            summary="referral code issued"))
    for row in ctx.conn.execute(
            select(referrals).where((r.referrer_id == customer_id) | (r.referee_id == customer_id))
            .order_by(r.redeemed_at.desc()).limit(limit)).mappings():
        role = "referred customer #{}".format(row["referee_id"]) \
            if row["referrer_id"] == customer_id else "was referred by customer #{}".format(row["referrer_id"])
        entries.append(crmkit.TimelineEntry(at=row["redeemed_at"], kind="referral",
                                            summary=f"{role} (code redeemed)",
                                            details={"referral_id": row["id"]}))
        if row["converted_at"] is not None:
            entries.append(crmkit.TimelineEntry(
                at=row["converted_at"], kind="referral_converted",
                summary=f"referral converted by purchase {row['conversion_interaction_id']}",
                details={"referral_id": row["id"]}))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move identities, mentions, codes and referrals to ``keep_id``.

    A customer is referred once: if both were referred, the earlier referral
    stays and the other is removed; a referral that would become a
    self-referral (one referred the other) is removed.  Removals are audited.
    """
    conn = ctx.conn
    for table in (identities, mentions, referral_codes):
        conn.execute(update(table).where(table.c.customer_id == duplicate_id)
                     .values(customer_id=keep_id))
    r = referrals.c
    as_referee = conn.execute(select(referrals).where(r.referee_id.in_([keep_id, duplicate_id]))
                              .order_by(r.redeemed_at, r.id)).mappings().all()
    if len(as_referee) == 2:
        dropped = as_referee[1]
        conn.execute(delete(referrals).where(r.id == dropped["id"]))
        ctx.audit("delete", "social_referrals", str(dropped["id"]),
                  {"reason": "merged customers were both referred; the earlier referral is kept"},
                  customer_id=keep_id)
    conn.execute(update(referrals).where(r.referee_id == duplicate_id).values(referee_id=keep_id))
    conn.execute(update(referrals).where(r.referrer_id == duplicate_id).values(referrer_id=keep_id))
    selfish = conn.execute(select(r.id).where(r.referrer_id == keep_id,
                                              r.referee_id == keep_id)).scalars().all()
    for referral_id in selfish:
        conn.execute(delete(referrals).where(r.id == referral_id))
        ctx.audit("delete", "social_referrals", str(referral_id),
                  {"reason": "merge made it a self-referral"}, customer_id=keep_id)


def export(ctx, customer_id: int) -> dict[str, Any]:
    """Everything social holds about one customer."""
    def rows(query):
        return [dict(row) for row in ctx.conn.execute(query).mappings()]

    r = referrals.c
    return {
        "identities": rows(select(identities.c.platform, identities.c.handle,
                                  identities.c.linked_at)
                           .where(identities.c.customer_id == customer_id)
                           .order_by(identities.c.id)),
        "mentions": rows(select(mentions).where(mentions.c.customer_id == customer_id)
                         .order_by(mentions.c.posted_at, mentions.c.id)),
        "referral_codes": rows(select(referral_codes.c.code, referral_codes.c.created_at)
                               .where(referral_codes.c.customer_id == customer_id)),
        "referrals": rows(select(referrals).where((r.referrer_id == customer_id)
                                                  | (r.referee_id == customer_id))
                          .order_by(r.id)),
    }


def erase(ctx, customer_id: int) -> None:
    """Delete handles and codes; strip mention texts, handles and post ids (hashed); keep the numbers."""
    conn, now = ctx.conn, ctx.now()
    conn.execute(delete(identities).where(identities.c.customer_id == customer_id))
    conn.execute(delete(referral_codes).where(referral_codes.c.customer_id == customer_id))
    conn.execute(update(referrals).where(referrals.c.referrer_id == customer_id).values(code=None))
    m = mentions.c
    keys = conn.execute(select(m.id, m.platform, m.post_id).where(
        m.customer_id == customer_id, m.erased_at.is_(None))).all()
    if keys:
        conn.execute(update(mentions).where(m.id == bindparam("b_id"))
                     .values(post_id=bindparam("b_post_id"), handle=ERASED, text=None,
                             erased_at=now),
                     [{"b_id": k.id, "b_post_id": mention_rules.erased_key(k.platform, k.post_id)}
                      for k in keys])
