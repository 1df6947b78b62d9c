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
    """Each customer's history over ``days`` before ``end``: purchases, visits, calls, surveys."""
    start = end - dt.timedelta(days=days)
    serial = 0
    for ext in customer_ids:
        activity = rng.expovariate(1 / per_customer)
        first = start + dt.timedelta(days=rng.uniform(0, days * 0.9))
        lifetime = (end - first).days
        events = max(1, int(activity))
        churn_day = rng.uniform(0.2, 1.0) * lifetime if rng.random() < 0.4 else lifetime
        for _ in range(events):
            at = first + dt.timedelta(days=rng.uniform(0, churn_day), minutes=rng.randrange(1440))
            serial += 1
            yield _one(rng, ext, at.replace(microsecond=0), f"demo-{serial}")


def _one(rng: random.Random, customer: str, at: dt.datetime, external_id: str) -> dict[str, Any]:
    roll = rng.random()
    base = {"customer": customer, "occurred_at": at, "external_id": external_id,
            "channel": rng.choice(CHANNELS)}
    if roll < 0.55:
        items = [{"sku": f"SKU-{rng.randrange(1000)}", "category": rng.choice(CATEGORIES),
                  "amount": str(Decimal(rng.randrange(500, 20000)) / 100)}
                 for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            items.append({"sku": "DELIVERY", "category": "delivery", "amount": "4.99"})
        total = sum(Decimal(i["amount"]) for i in items)
        return base | {"kind": "purchase", "amount": total, "payload": {"items": items}}
    if roll < 0.58:
        return base | {"kind": "refund", "amount": Decimal(rng.randrange(500, 5000)) / 100}
    if roll < 0.75:
        return base | {"kind": "visit", "channel": rng.choice(["web", "store"])}
    if roll < 0.85:
        return base | {"kind": rng.choice(["call", "message"]),
                       "direction": rng.choice(["inbound", "outbound"])}
    if roll < 0.90:
        return base | {"kind": "complaint", "payload": {"text": rng.choice(COMMENTS[1::2])}}
    return base | {"kind": "survey", "channel": "email",
                   "payload": {"nps": rng.choices(range(11), weights=[1, 1, 1, 1, 2, 3, 4, 7, 10, 9, 8])[0],
                               "csat": rng.choices(range(1, 6), weights=[1, 2, 4, 8, 6])[0],
                               "ces": rng.randint(1, 7), "comment": rng.choice(COMMENTS)}}
