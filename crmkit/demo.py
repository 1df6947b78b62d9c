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
STAFF = [("ana", "Ana Costa", "sales"), ("ben", "Ben Okoro", "sales"), ("cai", "Cai Lin", "sales"),
         ("dee", "Dee Patel", "support"), ("eli", "Eli Novak", "support"),
         ("fay", "Fay Murphy", "support"), ("gus", "Gus Berg", "marketing"),
         ("hal", "Hal Ito", "marketing"), ("ivy", "Ivy Moreau", "billing")]
CATEGORIES = ["electronics", "books", "garden", "toys", "clothing", "grocery"]
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


def interactions(crm, rng: random.Random, customer_ids: list[str], per_customer: float,
                 end: dt.datetime = DEMO_END, days: int = 730) -> Iterator[dict[str, Any]]:
    """Each customer's history over ``days`` before ``end``, numbered ``demo-1``, ``demo-2``…

    The core adds visits, calls, messages and refunds (about a third of
    ``per_customer``); every enabled plugin adds the shapes its models need
    through ``crmkit_demo_interactions`` (purchases, surveys…).
    """
    start = end - dt.timedelta(days=days)
    last = end - dt.timedelta(minutes=1)
    serial = 0
    for ext in customer_ids:
        rows = []
        for _plugin, contributed in crm.hooks.call(
                "crmkit_demo_interactions", None, rng=rng, customer=ext, start=start, end=end,
                per_customer=per_customer, products=PRODUCTS):
            rows += contributed or []
        rows += _everyday(rng, start, end, per_customer, [r["occurred_at"] for r in rows])
        for row in sorted(rows, key=lambda r: r["occurred_at"]):
            serial += 1
            yield row | {"customer": ext, "external_id": f"demo-{serial}",
                         "occurred_at": min(row["occurred_at"].replace(microsecond=0), last)}


def _everyday(rng: random.Random, start: dt.datetime, end: dt.datetime, per_customer: float,
              active: list[dt.datetime]) -> list[dict[str, Any]]:
    """Visits, calls, messages and refunds while the customer is active: between the first and
    last of the plugins' rows (``active``), or for an exponentially distributed time (a fifth
    of the history on average) when there are none."""
    days = (end - start).days
    if active:
        first = min(active)
        span = max((max(active) - first).total_seconds() / 86400, 1.0)
    else:
        first = start + dt.timedelta(days=rng.uniform(0, days * 0.9))
        span = min(rng.expovariate(5 / days), (end - first).total_seconds() / 86400)
    rows = []
    for _ in range(int(rng.expovariate(1 / (per_customer * 0.35)))):
        at = first + dt.timedelta(days=rng.uniform(0, span))
        roll = rng.random()
        row: dict[str, Any] = {"occurred_at": at, "channel": rng.choice(CHANNELS)}
        if roll < 0.1:
            row |= {"kind": "refund", "amount": Decimal(rng.randrange(500, 5000)) / 100}
        elif roll < 0.6:
            row |= {"kind": "visit", "channel": rng.choice(["web", "store"])}
        else:
            row |= {"kind": rng.choice(["call", "message"]),
                    "direction": rng.choice(["inbound", "outbound"])}
        rows.append(row)
    return rows


__all__ = [
    "FIRST", "LAST", "COMPANIES", "CHANNELS", "STAFF", "CATEGORIES", "PRODUCTS", "DEMO_END",
    "customers", "interactions",
]
