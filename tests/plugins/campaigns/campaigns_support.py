"""The campaign tests' data: 1,000 customers whose eligibility follows ``i % 40``.

Customer ``C0001`` … ``C1000`` has ``r = i % 40`` (25 customers per residue):

* region ``south`` when ``r % 5 == 0`` (8 residues), else ``north`` (32): the audience
  ``region = north`` is 25 × 32 = 800 customers;
* no email when ``r == 1``;
* email consent: none recorded when ``r % 8 == 0``, withdrawn when ``r % 8 == 4``, else granted;
* preferred channel ``sms`` when ``r`` is 3 or 13 (else ``email`` for odd i, none for even);
* email history for the frequency cap (2 messages in 7 days): two messages a day ago when ``r``
  is 7, 17 or 27; one a day ago when ``r`` is 37 or 39 (39 is also planned by another
  campaign, which makes two); two messages ten days ago when ``r == 38``.

Within the audience (r % 5 != 0), per residue cycle: no address {1}, no consent {8, 16, 24,
32}, consent withdrawn {4, 12, 28, 36}, prefers sms {3, 13}, frequency cap {7, 17, 27, 39}:
15 skipped, 17 eligible; × 25 → 375 skipped (25, 100, 100, 50, 100) and 425 eligible.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from crmkit.messaging import Outgoing
from crmkit.tables import consents, customers

COUNT = 1000
NORTH = {"field": "attributes.region", "op": "eq", "value": "north"}
CAPS = {"email": {"messages": 2, "days": 7}}
ELIGIBLE = 425
SKIPPED = {"no address": 25, "no consent": 100, "consent withdrawn": 100, "prefers sms": 50,
           "frequency cap": 100}
PUBLIC_URL = "https://crm.example.com"


def residue(external_id: str) -> int:
    return int(external_id[1:]) % 40


def eligible(external_id: str) -> bool:
    """The rule of the module docstring, per customer: in the audience and nothing to skip."""
    r = residue(external_id)
    return (r % 5 != 0 and r != 1 and r % 8 not in (0, 4) and r not in (3, 13)
            and r not in (7, 17, 27, 39))


def customer_rows(count: int = COUNT) -> list[dict]:
    rows = []
    for i in range(1, count + 1):
        r = i % 40
        rows.append({"external_id": f"C{i:04d}", "name": f"Customer {i}",
                     "email": None if r == 1 else f"c{i}@example.com",
                     "preferred_channel": "sms" if r in (3, 13) else ("email" if i % 2 else None),
                     "attributes": {"region": "south" if r % 5 == 0 else "north", "slot": r}})
    return rows


def build(crm, clock, count: int = COUNT) -> None:
    """The customers, their email consent and their recent email messages."""
    crm.plugins.configure_core({**crm.core_config, "public_url": PUBLIC_URL})
    crm.customers.add_many(customer_rows(count))
    with crm.transaction() as tx:
        ids = dict(tx.conn.execute(select(customers.c.external_id, customers.c.id)).all())
        tx.conn.execute(insert(consents), [
            {"customer_id": cid, "channel": "email", "granted": residue(x) % 8 != 4,
             "source": "signup form", "recorded_at": clock.now()}
            for x, cid in ids.items() if residue(x) % 8 != 0])
    now = clock.now()
    history = [(1, n) for n in (7, 17, 27) for _ in range(2)] + [(1, 37), (1, 39)] \
        + [(10, 38), (10, 38)]
    for days, r in history:
        clock.set(now - dt.timedelta(days=days))
        crm.messages.enqueue([Outgoing(channel="email", recipient=f"c{i}@example.com",
                                       body="earlier news", subject="News",
                                       customer=f"C{i:04d}")
                              for i in range(1, count + 1) if i % 40 == r])
    clock.set(now)
