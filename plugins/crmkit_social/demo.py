"""social's part of ``crmkit demo``: handles, a season of mentions, referral codes and conversions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

POSITIVE = ["I love this shop!", "Great service today, thank you!", "Fast delivery and friendly staff :)",
            "Best purchase I've made this year", "Really happy with my new order"]
NEUTRAL = ["Ordered a new kettle from them", "Anyone tried their garden range?",
           "Picking up my parcel tomorrow", "Their store opens at 9"]
NEGATIVE = ["This is the worst service ever", "Terrible support, still waiting for a refund",
            "My order arrived broken. Awful.", "Never buying here again, horrible experience"]
PLATFORMS = ["twitter", "instagram", "facebook"]


def run(crm, rng) -> list[str]:
    """Link handles for some customers, import their mentions, issue and redeem referral codes."""
    api = crm.plugin("social")
    now = crm.clock.now().replace(microsecond=0)
    people = crm.customers.list(limit=None, type="person")
    social = rng.sample(people, min(300, len(people)))
    handles = []
    with crm.transaction():  # one commit for the whole demo step
        for n, person in enumerate(social):
            platform = rng.choice(PLATFORMS)
            handle = f"@{(person.name or person.external_id).replace(' ', '_')}{n}"
            api.link_handle(person.external_id, platform, handle)
            handles.append((platform, handle))
    handles += [(rng.choice(PLATFORMS), f"@fan{n}") for n in range(60)]  # unknown posters
    records = []
    for n in range(1500):
        platform, handle = rng.choice(handles)
        mood = rng.choices([POSITIVE, NEUTRAL, NEGATIVE], weights=[5, 3, 1])[0]
        posted = now - dt.timedelta(days=rng.uniform(0, 180))
        records.append({"platform": platform, "post_id": f"demo-{n}", "handle": handle,
                        "text": rng.choice(mood), "posted_at": posted.isoformat(),
                        "likes": int(rng.expovariate(1 / 20)), "comments": int(rng.expovariate(1 / 3)),
                        "shares": int(rng.expovariate(1 / 2))})
    result = api.import_mentions(records)
    summary = api.sentiment_summary(as_of=now)
    month = api.engagement(as_of=now, period="month")
    top = month[0] if month else None
    referrers = rng.sample(people, min(60, len(people)))
    friends = [{"external_id": f"REF{n:04d}", "name": f"Referred Friend {n}",
                "email": f"friend{n}@example.net", "preferred_channel": "email"}
               for n in range(40)]
    with crm.transaction():
        codes = [api.referral_code(p.external_id) for p in referrers]
        crm.customers.add_many(friends)
        for friend, code in zip(friends, codes):
            api.redeem_referral(code, friend["external_id"])
    buyers = rng.sample(friends, 25)
    bought = crm.clock.now()  # after the redemptions: a purchase before one is not a conversion
    crm.interactions.record_many(
        {"customer": f["external_id"], "occurred_at": bought, "kind": "purchase", "channel": "web",
         "amount": Decimal(rng.randrange(1500, 9000)) / 100, "external_id": f"social-demo-{n}"}
        for n, f in enumerate(buyers))
    converted = sum(1 for r in api.referrals() if r["converted"])
    lines = [
        f"handles linked: {len(social)} customers on {', '.join(PLATFORMS)}",
        f"mentions imported: {result.created} ({summary.positive} positive, {summary.neutral} "
        f"neutral, {summary.negative} negative; average score {summary.average:+.2f})",
        f"negative-mention events for known customers: {result.alerts}",
        f"referral codes issued: {api.codes_issued()}; redeemed: {len(friends)}; "
        f"converted by a first purchase: {converted}",
    ]
    if top is not None:
        lines.append(f"most engaged this month: {top.external_id} (@{top.handle} on "
                     f"{top.platform}, engagement {top.engagement})")
    return lines
