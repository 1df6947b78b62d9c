"""Loyalty's react step works from the batch's customer deltas (what each batch added):
its member counts, milestones and tiers equal a from-scratch recomputation from the stored
history on generated data."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from crmkit_loyalty import tiers
from crmkit_loyalty.settings import Settings
from crmkit_loyalty.tables import ledger, members, milestones

UTC = dt.timezone.utc
CONFIG = {"points_per_unit": 1, "expiry_mode": "none", "review_months": 120,
          "tier_window_months": 24,
          "tiers": [{"name": "base", "threshold": 0, "multiplier": 1},
                    {"name": "silver", "threshold": 900, "multiplier": 1.5},
                    {"name": "gold", "threshold": 2500, "multiplier": 2}],
          "milestones": [{"count": 2, "points": 5}, {"count": 6, "points": 20},
                         {"count": 7, "points": 30}, {"count": 15, "points": 100}]}
BATCH = 60


def test_counts_milestones_and_tiers_equal_a_recomputation_from_history(crm, clock, loyalty):
    rng = random.Random(27)
    names = [f"C{n}" for n in range(25)]
    loyalty(CONFIG, customers=names)
    rows = [{"customer": rng.choice(names[:18]) if n % 7 else rng.choice(names),
             "kind": "purchase", "amount": Decimal(rng.randrange(100, 40_000)) / 100,
             "occurred_at": clock.now() - dt.timedelta(minutes=rng.randrange(1, 400_000)),
             "external_id": f"P{n}"} for n in range(420)]
    crm.interactions.record_many(rows, batch_size=BATCH)

    # the rules applied batch by batch, from the rows alone: a batch awards the highest
    # milestone each member crossed in it, dated at the purchase that reached it
    counts: dict[str, int] = {}
    awarded: dict[str, list[tuple[int, dt.datetime]]] = {}
    for start in range(0, len(rows), BATCH):
        before = dict(counts)
        for row in rows[start:start + BATCH]:
            counts[row["customer"]] = counts.get(row["customer"], 0) + 1
        for name in sorted(set(counts) - set(before) | {n for n in before if counts[n] > before[n]}):
            crossed = [m for m in (2, 6, 7, 15) if before.get(name, 0) < m <= counts[name]]
            if crossed:
                reached = [r for r in rows[start:start + BATCH] if r["customer"] == name]
                awarded.setdefault(name, []).append(
                    (crossed[-1], reached[crossed[-1] - before.get(name, 0) - 1]["occurred_at"]))

    ids = {name: crm.customers.get(name).id for name in names}
    name_of = {v: k for k, v in ids.items()}
    with crm.connect() as conn:
        stored = {name_of[cid]: (purchases, tier) for cid, purchases, tier in conn.execute(
            select(members.c.customer_id, members.c.purchases, members.c.tier))}
        got_milestones = {}
        for cid, count, at in conn.execute(
                select(milestones.c.customer_id, milestones.c.count, ledger.c.at)
                .join(ledger, ledger.c.id == milestones.c.ledger_id)
                .order_by(milestones.c.customer_id, milestones.c.count)):
            got_milestones.setdefault(name_of[cid], []).append((count, at))
        s = Settings.from_config(crm.plugins.config("loyalty"))
        window = tiers.qualifying(conn, s, sorted(ids.values()), clock.now(), "USD")

    assert {n: p for n, (p, _) in stored.items()} == counts
    assert got_milestones == awarded
    assert len(awarded) > 10 and any(len(a) > 1 for a in awarded.values())
    expected_tiers = {name_of[cid]: s.tiers[s.qualified(value)].name
                      for cid, value in window.items() if name_of[cid] in counts}
    assert {n: t for n, (_, t) in stored.items()} == expected_tiers
    assert {"silver", "gold"} <= set(expected_tiers.values())
