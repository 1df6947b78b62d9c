"""The sample CRM of ``crmkit demo``: seeded, realistic customers, staff and interactions."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any, Iterator

from .clock import UTC

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Tim", "Barbara", "Dennis", "Frances",
         "Ken", "Radia", "Edsger", "Katherine", "John", "Mary", "Donald", "Hedy", "Claude",
         "Sophie", "Niklaus", "Joan", "Guido", "Anita", "Bjarne", "Karen", "James", "Lena",
         "Omar", "Priya", "Wei", "Fatima", "Mateo", "Yuki", "Chloe", "Ivan", "Amara"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Berners-Lee", "Liskov",
        "Ritchie", "Allen", "Thompson", "Perlman", "Dijkstra", "Johnson", "McCarthy", "Keller",
        "Knuth", "Lamarr", "Shannon", "Wilson", "Wirth", "Clarke", "Rossum", "Borg", "Stroustrup",
        "Jones", "Gosling", "Okafor", "Haddad", "Sharma", "Zhang", "Garcia", "Tanaka", "Martin"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
             "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Gringotts", "Oceanic", "Massive"]
CHANNELS = ["email", "sms", "phone", "web", "store", "social"]
CATEGORIES = ["electronics", "books", "garden", "toys", "clothing", "grocery"]
COMMENTS = ["great service", "delivery was late", "friendly staff", "too expensive",
            "easy checkout", "product broke after a week", "will buy again", "slow support"]
STAFF = [("ana", "Ana Costa", "sales"), ("ben", "Ben Okoro", "sales"), ("cai", "Cai Lin", "sales"),
         ("dee", "Dee Patel", "support"), ("eli", "Eli Novak", "support"),
         ("fay", "Fay Murphy", "support"), ("gus", "Gus Berg", "marketing"),
         ("hal", "Hal Ito", "marketing"), ("ivy", "Ivy Moreau", "billing")]
PRODUCTS = [{"sku": f"SKU-{n}", "name": f"{CATEGORIES[n % 6].capitalize()} item {n}",
             "category": CATEGORIES[n % 6], "list_price": f"{10 + n % 90}.00",
             "unit_cost": f"{(10 + n % 90) * 6 // 10}.00"} for n in range(1000)]
"""The products the sample purchases' line items name (prices are the purchases' own)."""
DEMO_END = dt.datetime(2026, 10, 31, tzinfo=UTC)
"""The demo's history ends here, so the same seed always gives the same data."""


def customers(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Organisations first, then people (about a tenth of them in an organisation)."""
    orgs = [{"external_id": f"ORG-{i:03d}", "type": "organisation",
             "name": f"{name} {rng.choice(['Ltd', 'GmbH', 'Inc', 'SA'])}",
             "email": f"info@{name.lower()}{i}.example", "preferred_channel": "email",
             "tags": ["b2b"]}
            for i, name in enumerate(COMPANIES)]
    people = []
    for i in range(count - len(orgs)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        tags = [t for t, p in (("newsletter", 0.4), ("vip", 0.05), ("partner", 0.02)) if rng.random() < p]
        row = {
            "external_id": f"C{i + 1:05d}",
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{i}@example.com".lower(),
            "phone": f"+44 20 79{rng.randrange(10**5, 10**6)}",
            "preferred_channel": rng.choice(CHANNELS[:4]),
            "tags": tags,
            "attributes": {"city": rng.choice(["London", "Leeds", "Bristol", "Glasgow", "Cardiff"]),
                           "birth_year": rng.randrange(1950, 2005)},
        }
        if rng.random() < 0.1:
            row["organisation"] = rng.choice(orgs)["external_id"]
        people.append(row)
    return orgs + people


def interactions(rng: random.Random, customer_ids: list[str], per_customer: float,
                 end: dt.datetime = DEMO_END, days: int = 730) -> Iterator[dict[str, Any]]:
    """Each customer's history over ``days`` before ``end``: purchases, visits, calls, surveys.

    Purchases follow the processes the CLV models assume, so their fits on
    the demo are meaningful: while alive a customer buys at a rate drawn from
    a gamma distribution, drops out after each purchase with a probability
    drawn from a beta distribution (BG/NBD), and spends around a personal
    mean drawn from a gamma distribution (Gamma-Gamma).  About
    ``per_customer`` interactions per customer on average, a little over half
    of them purchases.
    """
    start = end - dt.timedelta(days=days)
    serial = 0
    mean_rate = per_customer * 0.55 / (days * 0.6)  # purchases per day while alive
    for ext in customer_ids:
        first = start + dt.timedelta(days=rng.uniform(0, days * 0.9))
        rate = rng.gammavariate(1.5, mean_rate / 1.5)
        dropout = rng.betavariate(1.0, 5.0)
        mean_spend = 4.0 / rng.gammavariate(3.0, 1 / 75)  # p / nu with nu ~ Gamma(q=3, gamma=75)
        moments, at = [], first
        while at < end:
            moments.append(("purchase", at))
            if rng.random() < dropout:
                break
            at += dt.timedelta(days=rng.expovariate(rate))
        active_until = min(at, end)
        span = max((active_until - first).total_seconds() / 86400, 1.0)
        others = rng.expovariate(1 / (per_customer * 0.45))
        moments += [("other", first + dt.timedelta(days=rng.uniform(0, span)))
                    for _ in range(int(others))]
        for what, moment in sorted(moments, key=lambda m: m[1]):
            serial += 1
            at = (moment + dt.timedelta(minutes=rng.randrange(1440))).replace(microsecond=0)
            at = min(at, end - dt.timedelta(minutes=1))
            ref = f"demo-{serial}"
            yield (_purchase(rng, ext, at, ref, mean_spend) if what == "purchase"
                   else _one(rng, ext, at, ref))


def _purchase(rng: random.Random, customer: str, at: dt.datetime, external_id: str,
              mean_spend: float) -> dict[str, Any]:
    """A purchase of a few items whose total is gamma-distributed around ``mean_spend``."""
    total = max(rng.gammavariate(4.0, mean_spend / 4.0), 5.0)
    weights = [rng.random() + 0.2 for _ in range(rng.randint(1, 3))]
    items = []
    for w in weights:
        product = PRODUCTS[rng.randrange(len(PRODUCTS))]
        price = str(Decimal(round(total * w / sum(weights), 2)).quantize(Decimal("0.01")))
        items.append({"sku": product["sku"], "category": product["category"], "qty": 1,
                      "unit_price": price, "amount": price})
    if rng.random() < 0.5:  # a charge line: no sku, only its amount
        items.append({"category": "delivery", "amount": "4.99"})
    amount = sum(Decimal(i["amount"]) for i in items)
    return {"customer": customer, "occurred_at": at, "external_id": external_id,
            "channel": rng.choice(CHANNELS), "kind": "purchase", "amount": amount,
            "payload": {"items": items}}


def _one(rng: random.Random, customer: str, at: dt.datetime, external_id: str) -> dict[str, Any]:
    roll = rng.random()
    base = {"customer": customer, "occurred_at": at, "external_id": external_id,
            "channel": rng.choice(CHANNELS)}
    if roll < 0.07:
        return base | {"kind": "refund", "amount": Decimal(rng.randrange(500, 5000)) / 100}
    if roll < 0.45:
        return base | {"kind": "visit", "channel": rng.choice(["web", "store"])}
    if roll < 0.7:
        return base | {"kind": rng.choice(["call", "message"]),
                       "direction": rng.choice(["inbound", "outbound"])}
    if roll < 0.8:
        return base | {"kind": "complaint", "payload": {"text": rng.choice(COMMENTS[1::2])}}
    return base | {"kind": "survey", "channel": "email",
                   "payload": {"nps": rng.choices(range(11), weights=[1, 1, 1, 1, 2, 3, 4, 7, 10, 9, 8])[0],
                               "csat": rng.choices(range(1, 6), weights=[1, 2, 4, 8, 6])[0],
                               "ces": rng.randint(1, 7), "comment": rng.choice(COMMENTS)}}


__all__ = [
    "FIRST", "LAST", "COMPANIES", "CHANNELS", "CATEGORIES", "COMMENTS", "STAFF", "PRODUCTS",
    "DEMO_END",
    "customers", "interactions",
]
