"""loyalty's part of ``crmkit demo``: a rewards catalogue, refunds, redemptions, expiry, reviews."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import func, select

from crmkit.plugin import interactions

from . import inactivity, ledger as lg
from .errors import NotEnoughPoints, OutOfStock
from .tables import members

CATALOGUE = [("COFFEE", "Free coffee", 100, None), ("TOTE", "Canvas tote bag", 500, 200),
             ("VOUCHER10", "10.00 voucher", 1000, 100), ("SPA", "Spa day for two", 5000, 5)]
REFUNDS = 40
REDEMPTIONS = 150


def run(crm, rng: random.Random) -> list[str]:
    """Add sample loyalty activity to the demo CRM and return its headline numbers."""
    api = crm.plugin("loyalty")
    for code, name, points, stock in CATALOGUE:
        if code not in {r.code for r in api.rewards()}:
            api.add_reward(code, points, stock, name)
    refunded = _refunds(crm, rng)
    redeemed, refused = _redemptions(crm, api, rng)
    expired = api.expire()
    changes = api.review_tiers()
    with crm.read() as conn:
        total_members = conn.execute(select(func.count()).select_from(members)).scalar_one()
    tiers = ", ".join(f"{t.name} {t.members}" for t in api.tiers())
    lines = api.liability()
    points = sum(line.points for line in lines)
    cost = sum(line.liability for line in lines)
    return [
        f"members: {total_members} ({tiers})",
        f"refunds of earlier purchases recorded (points reversed): {refunded}",
        f"rewards redeemed: {redeemed} ({refused} refused: not enough points or out of stock)",
        f"expired: {expired.points} points in {expired.rows} lots; tier reviews changed "
        f"{len(changes)} members",
        f"outstanding: {points} points, liability {cost:.2f}",
    ]


def _refunds(crm, rng: random.Random) -> int:
    """Refund a few random purchases (full or partial) through the pipeline."""
    with crm.read() as conn:
        rows = conn.execute(select(interactions.c.external_id, interactions.c.customer_id,
                                   interactions.c.amount, interactions.c.occurred_at)
                            .where(interactions.c.kind == "purchase",
                                   interactions.c.external_id.is_not(None))
                            .order_by(interactions.c.id).limit(4000)).all()
    if not rows:
        return 0
    chosen = rng.sample(rows, min(REFUNDS, len(rows)))
    batch = []
    for n, (external_id, customer_id, amount, at) in enumerate(chosen):
        share = rng.choice([Decimal(1), Decimal(1), Decimal("0.5")])
        batch.append({"customer_id": customer_id, "kind": "refund",
                      "occurred_at": at + dt.timedelta(days=rng.randint(1, 20)),
                      "amount": (amount * share).quantize(Decimal("0.01")),
                      "external_id": f"demo-loyalty-refund-{n}",
                      "payload": {"refund_of": external_id}})
    crm.interactions.record_many(batch)
    return len(batch)


def _redemptions(crm, api, rng: random.Random) -> tuple[int, int]:
    """Let members who can afford something redeem it (each redemption its own transaction)."""
    now = crm.clock.now()
    with crm.read() as conn:
        ids = list(conn.execute(select(members.c.customer_id)).scalars())
        lots = lg.open_lots(conn, ids, inactivity=inactivity.of(api.settings, now))
    spendable = {c: sum(lot.remaining for lot in ls if lot.spendable(now)) for c, ls in lots.items()}
    rich = sorted(c for c, points in spendable.items() if points >= CATALOGUE[0][2])
    redeemed = refused = 0
    for customer_id in rng.sample(rich, min(REDEMPTIONS, len(rich))):
        external_id = crm.customers.get_by_id(customer_id).external_id
        affordable = [c for c in CATALOGUE if c[2] <= spendable[customer_id]]
        code = rng.choice(affordable)[0]
        try:
            api.redeem(external_id, code)
            redeemed += 1
        except (NotEnoughPoints, OutOfStock):
            refused += 1
    return redeemed, refused
