"""Referral bonuses, timeline, merge, export, erase and the demo."""

from __future__ import annotations

import random

from loyalty_support import at, merge, run_hook
from sqlalchemy import select

from crmkit_loyalty.tables import ledger, members, milestones, referrals

PLAIN = {"tiers": [], "milestones": [], "expiry_mode": "none"}


def convert(crm, referrer: str, referee: str, interaction_id=None):
    """Emit referral.converted the way the social plugin does (works without social)."""
    referrer_id = crm.customers.get(referrer).id
    with crm.transaction() as tx:
        tx.emit("referral.converted", referrer_id,
                {"referrer_id": referrer_id, "referee_id": crm.customers.get(referee).id,
                 "interaction_id": interaction_id}, source="social")


def test_referral_bonus_once_per_referee(crm, loyalty, shop):
    api = loyalty(PLAIN, customers=("C1", "C2", "C3"))
    bought = shop.purchase("C2", "10", at(2024, 12, 1))
    convert(crm, "C1", "C2", bought.id)
    convert(crm, "C1", "C2", bought.id)
    assert api.balance("C1") == 250
    convert(crm, "C1", "C3")
    assert api.balance("C1") == 500
    with crm.read() as conn:
        rows = conn.execute(select(ledger.c.source, ledger.c.interaction_id)
                            .where(ledger.c.customer_id == crm.customers.get("C1").id)
                            .order_by(ledger.c.id)).all()
    assert rows == [("referral", bought.id), ("referral", None)]


def test_referral_points_changed_and_paying_owed_points(crm, loyalty, shop):
    api = loyalty(dict(PLAIN, referral_points=40), customers=("C1", "C2"))
    api.add_reward("ALL", 100)
    shop.purchase("C1", "100", at(2024, 12, 1), external_id="P1")
    api.redeem("C1", "ALL")
    shop.refund("C1", "P1", at(2024, 12, 2))
    assert api.owed("C1") == 100
    convert(crm, "C1", "C2")
    assert (api.balance("C1"), api.owed("C1")) == (0, 60)


def test_timeline_entries_newest_first(crm, loyalty, shop):
    api = loyalty(PLAIN)
    api.add_reward("MUG", 30)
    shop.purchase("C1", "100", at(2024, 12, 1), external_id="P1")
    api.redeem("C1", "MUG")
    entries = run_hook(crm, "crmkit_timeline", customer_id=crm.customers.get("C1").id, limit=10)
    assert [(e.kind, e.summary) for e in entries] == [
        ("points.spend", "-30 points: reward MUG"), ("points.earn", "+100 points: purchase P1")]
    assert len(run_hook(crm, "crmkit_timeline", customer_id=crm.customers.get("C1").id,
                        limit=1)) == 1


def test_merge_moves_everything_and_balances_add_up(crm, loyalty, shop, clock):
    api = loyalty(dict(PLAIN, milestones=[{"count": 2, "points": 5}],
                       tiers=[{"name": "base", "threshold": 0},
                              {"name": "gold", "threshold": 150}]),
                  customers=("KEEP", "DUP", "FRIEND"))
    api.add_reward("R", 20)
    shop.purchase("KEEP", "50", at(2024, 12, 1))
    shop.purchase("DUP", "100", at(2024, 12, 1))
    shop.purchase("DUP", "100", at(2024, 12, 2), external_id="D2")
    api.redeem("DUP", "R")
    convert(crm, "DUP", "FRIEND")
    balances = api.balance("KEEP") + api.balance("DUP")
    assert (api.balance("KEEP"), api.balance("DUP")) == (50, 200 + 5 - 20 + 250)
    dup_id = crm.customers.get("DUP").id
    merge(crm, "KEEP", "DUP")
    assert api.balance("KEEP") == balances
    assert api.tier("KEEP") == "gold"
    assert api.member("KEEP").purchases == 3
    with crm.read() as conn:
        for table, column in ((ledger, ledger.c.customer_id), (members, members.c.customer_id),
                              (milestones, milestones.c.customer_id),
                              (referrals, referrals.c.referrer_id)):
            assert conn.execute(select(column).where(column == dup_id)).first() is None, table
    shop.refund("KEEP", "D2", at(2024, 12, 3))           # the duplicate's purchase, now KEEP's
    assert api.balance("KEEP") == balances - 100


def test_merge_into_a_non_member_and_owed_points_settle(crm, loyalty, shop):
    api = loyalty(PLAIN, customers=("KEEP", "DUP", "OTHER"))
    api.add_reward("ALL", 100)
    shop.purchase("DUP", "100", at(2024, 12, 1), external_id="P1")
    api.redeem("DUP", "ALL")
    shop.refund("DUP", "P1", at(2024, 12, 2))
    shop.purchase("OTHER", "70", at(2024, 12, 1))
    merge(crm, "OTHER", "DUP")                           # OTHER has 70, DUP owes 100
    assert (api.balance("OTHER"), api.owed("OTHER")) == (0, 30)
    merge(crm, "KEEP", "OTHER")                          # KEEP is no member yet
    assert (api.balance("KEEP"), api.owed("KEEP")) == (0, 30)
    assert api.member("KEEP").purchases == 2


def test_export_and_erase(crm, loyalty, shop):
    api = loyalty(PLAIN)
    shop.purchase("C1", "100", at(2024, 12, 1), external_id="P1")
    api.adjust("C1", 5, "sorry Ada, your parcel was late")
    cid = crm.customers.get("C1").id
    data = run_hook(crm, "crmkit_export_customer", customer_id=cid)
    assert data["member"]["purchases"] == 1
    assert [(r["type"], r["points"], r["reason"]) for r in data["ledger"]] == [
        ("earn", 100, "purchase P1"), ("adjust", 5, "sorry Ada, your parcel was late")]
    run_hook(crm, "crmkit_erase_customer", customer_id=cid)
    data = run_hook(crm, "crmkit_export_customer", customer_id=cid)
    assert [(r["type"], r["points"], r["reason"]) for r in data["ledger"]] == [
        ("earn", 100, "purchase P1"), ("adjust", 5, "(erased)")]
    assert api.balance("C1") == 105


def test_demo_adds_rewards_redemptions_and_headlines(crm, loyalty):
    from crmkit import demo as sample

    loyalty(customers=())
    crm.plugins.enable("analytical")  # the demo's purchases are analytical's part of the history
    rng = random.Random(3)
    rows = sample.customers(rng, 80)
    crm.customers.add_many(rows)
    people = [r["external_id"] for r in rows if r.get("type") != "organisation"]
    crm.interactions.record_many(sample.interactions(crm, rng, people, 6.0, end=at(2024, 12, 1),
                                                     days=300))
    lines = crm.hooks.call_one("loyalty", "crmkit_demo", None, crm=crm, rng=rng)
    api = crm.plugin("loyalty")
    assert {r.code for r in api.rewards()} == {"COFFEE", "TOTE", "VOUCHER10", "SPA"}
    spent = [e for e in crm.events.list(type="reward.redeemed")]
    assert spent and lines[2].startswith(f"rewards redeemed: {len(spent)} ")
    total = sum(line.points for line in api.liability())
    assert lines[-1] == f"outstanding: {total} points, liability {total / 100:.2f}"
