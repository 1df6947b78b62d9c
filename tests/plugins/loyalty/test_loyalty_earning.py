"""Earning in the react step: eligible amounts, rates, multipliers, locks, milestones, refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crmkit_loyalty.errors import NotEnoughPoints
from crmkit_loyalty.tables import ledger

from loyalty_support import at

ITEMS = [{"sku": "BOOK", "category": "books", "amount": "189.99"},
         {"sku": "SHIP", "category": "delivery", "amount": "10.00"}]
TWO_TIERS = {"tiers": [{"name": "base", "threshold": 0, "multiplier": 1},
                       {"name": "gold", "threshold": 100, "multiplier": 1.5}]}


def rows_of(crm, customer="C1"):
    cid = crm.customers.get(customer).id
    with crm.read() as conn:
        return [dict(r) for r in conn.execute(
            select(ledger).where(ledger.c.customer_id == cid).order_by(ledger.c.id)).mappings()]


def test_known_answer_delivery_excluded_then_gold_multiplier(crm, loyalty, shop, clock):
    api = loyalty(TWO_TIERS)
    shop.purchase("C1", "199.99", at(2024, 12, 1), ITEMS, "P1")
    assert api.balance("C1") == 189                  # floor(189.99 × 1 × 1)
    assert api.tier("C1") == "gold"                  # 189 ≥ 100: upgraded at once
    shop.purchase("C1", "199.99", at(2024, 12, 2), ITEMS, "P2")
    assert api.balance("C1") == 189 + 284            # floor(189.99 × 1.5) = 284
    [first, second] = rows_of(crm)
    assert (first["type"], first["source"], first["points"]) == ("earn", "purchase", 189)
    assert second["points"] == 284
    assert second["interaction_id"] == crm.interactions.list(kind="purchase", limit=1)[0].id
    changes = [e.payload for e in crm.events.list(type="tier.changed")]
    assert changes == [{"from": None, "to": "gold", "reason": "upgrade"}]


def test_default_excluded_categories_and_changing_them(crm, loyalty, shop):
    items = [{"sku": "B", "category": "books", "amount": "50.00"},
             {"sku": "T", "category": "tax", "amount": "5.50"},
             {"sku": "G", "category": "gift_card", "amount": "20.00"}]
    api = loyalty()
    shop.purchase("C1", "75.50", at(2024, 12, 1), items)
    assert api.balance("C1") == 50
    crm.plugins.configure("loyalty", {"excluded_categories": ["gift_card"]})
    shop.purchase("C1", "75.50", at(2024, 12, 2), items)
    assert api.balance("C1") == 50 + 55              # 75.50 − 20.00 = 55.50 → 55


def test_points_per_unit_default_and_changed(crm, loyalty, shop):
    api = loyalty({"points_per_unit": 2.5, "tiers": []})
    shop.purchase("C1", "199.99", at(2024, 12, 1), ITEMS)
    assert api.balance("C1") == 474                  # floor(189.99 × 2.5) = floor(474.975)


def test_purchase_without_items_earns_on_its_amount_and_zero_earns_nothing(crm, loyalty, shop):
    api = loyalty()
    shop.purchase("C1", "12.99", at(2024, 12, 1))
    shop.purchase("C1", "0.99", at(2024, 12, 1))
    assert api.balance("C1") == 12
    assert len(rows_of(crm)) == 1


def test_lock_days_keep_points_from_being_spent(crm, loyalty, shop, clock):
    api = loyalty({"lock_days": 14})
    api.add_reward("MUG", 100)
    shop.purchase("C1", "150", at(2025, 1, 1))
    member = api.member("C1")
    assert (member.balance, member.available, member.locked) == (150, 0, 150)
    with pytest.raises(NotEnoughPoints, match="'C1' has 0 points available; reward 'MUG' costs 100"):
        api.redeem("C1", "MUG")
    assert api.balance("C1") == 150
    clock.set(at(2025, 1, 15))
    api.redeem("C1", "MUG")
    assert api.balance("C1") == 50


def test_default_lock_days_is_zero(crm, loyalty, shop):
    api = loyalty()
    shop.purchase("C1", "150", at(2025, 1, 1, 11))
    assert api.member("C1").available == 150


def test_highest_milestone_only_and_never_twice(crm, loyalty):
    api = loyalty({"milestones": [{"count": 5, "points": 50}, {"count": 10, "points": 100}],
                   "tiers": []})
    batch = [{"customer": "C1", "occurred_at": at(2024, 11, d), "amount": Decimal("1"),
              "external_id": f"M{d}"} for d in range(1, 11)]
    crm.interactions.record_many(batch)
    bonus = [r for r in rows_of(crm) if r["source"] == "milestone"]
    assert [(r["points"], r["reason"]) for r in bonus] == [(100, "milestone: purchase 10")]
    assert bonus[0]["at"] == at(2024, 11, 10)        # dated at the 10th purchase
    assert api.balance("C1") == 10 + 100
    assert [e.payload for e in crm.events.list(type="milestone.reached")] == [
        {"count": 10, "points": 100}]
    result = crm.interactions.record_many(batch)     # re-import: identical rows are skipped
    assert result.unchanged == 10
    assert api.balance("C1") == 110
    assert api.member("C1").purchases == 10
    crm.interactions.record_many([dict(r, external_id=f"N{i}") for i, r in enumerate(batch)])
    assert api.balance("C1") == 120                  # 20 purchases: no milestone at 20
    assert len(crm.events.list(type="milestone.reached")) == 1


def test_default_milestone_is_the_tenth_purchase(crm, loyalty):
    api = loyalty({"tiers": []})
    crm.interactions.record_many([{"customer": "C1", "occurred_at": at(2024, 11, d),
                                   "amount": Decimal("1")} for d in range(1, 11)])
    assert api.balance("C1") == 10 + 100


def test_refund_after_spending_zeroes_balance_and_owes_the_rest(crm, loyalty, shop, clock):
    api = loyalty({"tiers": []})
    api.add_reward("VOUCHER", 100)
    shop.purchase("C1", "199.99", at(2024, 12, 1), ITEMS, "P1")
    api.redeem("C1", "VOUCHER")
    assert api.balance("C1") == 89
    shop.refund("C1", "P1", at(2024, 12, 20))
    assert (api.balance("C1"), api.owed("C1")) == (0, 100)
    reverse = rows_of(crm)[-1]
    assert (reverse["type"], reverse["points"], reverse["owed_change"]) == ("reverse", -89, 100)
    shop.purchase("C1", "150", at(2024, 12, 25), None, "P2")
    assert (api.balance("C1"), api.owed("C1")) == (50, 0)    # 150 earned, 100 paid off first
    payoff = rows_of(crm)[-1]
    assert (payoff["type"], payoff["source"], payoff["points"], payoff["owed_change"]) == (
        "reverse", "owed", -100, -100)
    assert api.member("C1").available == 50


def test_owed_points_paid_over_several_earnings(crm, loyalty, shop):
    api = loyalty({"tiers": [], "milestones": []})
    api.add_reward("ALL", 189)
    shop.purchase("C1", "199.99", at(2024, 12, 1), ITEMS, "P1")
    api.redeem("C1", "ALL")
    shop.refund("C1", "P1", at(2024, 12, 2))
    assert (api.balance("C1"), api.owed("C1")) == (0, 189)
    shop.purchase("C1", "100", at(2024, 12, 3))
    assert (api.balance("C1"), api.owed("C1")) == (0, 89)
    shop.purchase("C1", "100", at(2024, 12, 4))
    assert (api.balance("C1"), api.owed("C1")) == (11, 0)


def test_refund_takes_its_own_lot_first_and_partial_refunds_are_proportional(crm, loyalty, shop):
    from crmkit_loyalty import ledger as lg

    api = loyalty({"tiers": []})
    shop.purchase("C1", "100", at(2024, 1, 1), None, "P1")      # expires first
    shop.purchase("C1", "199.99", at(2024, 6, 1), None, "P2")
    shop.refund("C1", "P2", at(2024, 6, 2), amount="100")       # ceil(199 × 100 / 199.99) = 100
    assert api.balance("C1") == 100 + 199 - 100
    cid = crm.customers.get("C1").id
    with crm.read() as conn:
        lots = {lot.id: lot.remaining for lot in lg.open_lots(conn, [cid])[cid]}
    p1, p2 = [r["id"] for r in rows_of(crm)[:2]]
    assert lots == {p1: 100, p2: 99}
    shop.refund("C1", "P2", at(2024, 6, 3), amount="99.99")     # the rest: 99, never more
    shop.refund("C1", "P2", at(2024, 6, 4))
    assert api.balance("C1") == 100
    assert api.owed("C1") == 0


def test_refund_in_the_same_batch_and_unknown_refunds(crm, loyalty):
    api = loyalty({"tiers": []})
    crm.interactions.record_many([
        {"customer": "C1", "occurred_at": at(2024, 12, 1), "amount": Decimal("80"),
         "external_id": "P1"},
        {"customer": "C1", "occurred_at": at(2024, 12, 1), "amount": Decimal("30"),
         "external_id": "P2"},
        {"customer": "C1", "occurred_at": at(2024, 12, 2), "kind": "refund",
         "amount": Decimal("80"), "external_id": "R1", "payload": {"refund_of": "P1"}},
        {"customer": "C1", "occurred_at": at(2024, 12, 2), "kind": "refund",
         "amount": Decimal("5"), "external_id": "R2", "payload": {"refund_of": "NOPE"}},
        {"customer": "C1", "occurred_at": at(2024, 12, 2), "kind": "refund",
         "amount": Decimal("5"), "external_id": "R3"},
    ])
    assert api.balance("C1") == 30
    assert [r["type"] for r in rows_of(crm)] == ["earn", "earn", "reverse"]


def test_a_refund_of_another_customers_or_a_later_purchase_is_refused(crm, loyalty, shop,
                                                                      run_cli):
    from crmkit.errors import ValidationError

    api = loyalty({"tiers": [], "expiry_mode": "none"}, customers=("A", "B"))
    shop.purchase("A", "100", at(2026, 11, 1), external_id="PA")
    code, _, err = run_cli("interactions", "record", "B", "--kind", "refund", "--at",
                           "2026-11-02", "--payload", '{"refund_of": "PA"}')
    assert (code, err) == (1, "error: payload: /refund_of: 'PA' is a purchase of another "
                              "customer; a refund is recorded on the customer of the purchase "
                              "it refunds\n")
    with pytest.raises(ValidationError, match="'PA' is a purchase of 2026-11-01T00:00:00"
                       r"\+00:00, after this refund \(2026-10-01T00:00:00\+00:00\)"):
        shop.refund("A", "PA", at(2026, 10, 1))
    october, december = at(2026, 10, 15), at(2026, 12, 1)
    assert (api.balance("A", as_of=october), api.balance("A", as_of=december)) == (0, 100)
    assert sum(line.points for line in api.liability(as_of=october)) == 0
    assert [r["type"] for r in rows_of(crm, "A")] == ["earn"]
    assert rows_of(crm, "B") == [] and crm.interactions.list(customer="B") == []
    shop.refund("A", "PA", at(2026, 11, 1))                    # its own, from its day on
    assert api.balance("A", as_of=december) == 0


def test_non_purchase_interactions_earn_nothing_and_a_rejected_batch_writes_nothing(crm, loyalty):
    from crmkit.errors import ValidationError

    api = loyalty()
    crm.interactions.record("C1", at(2024, 12, 1), kind="visit")
    with pytest.raises(ValidationError):
        crm.interactions.record_many([
            {"customer": "C1", "occurred_at": at(2024, 12, 1), "amount": Decimal("50")},
            {"customer": "C1", "occurred_at": at(2024, 12, 1), "amount": Decimal("-5")}])
    assert api.balance("C1") == 0
    assert rows_of(crm) == []


def test_earning_is_set_based(crm, loyalty, statements):
    """The number of loyalty statements per batch does not grow with the batch."""
    loyalty({"tiers": [{"name": "base", "threshold": 0}, {"name": "top", "threshold": 10**9}]})
    crm.customers.add_many([{"external_id": f"K{i}"} for i in range(200)])
    sizes = []
    for n, start in ((10, 0), (200, 1000)):
        with statements(crm.engine, "loyalty_") as seen:
            crm.interactions.record_many([
                {"customer": f"K{i % 200}", "occurred_at": at(2024, 12, 1),
                 "amount": Decimal("10"), "external_id": f"S{start + i}"} for i in range(n)])
        sizes.append(len(seen))
    assert sizes[0] == sizes[1]


def statement_rows(api, customer="C1"):
    """``(type, source, points, owed_change, at, running balance)`` of the member's
    statement, in the order written."""
    return [(line.type, line.source, line.points, line.owed_change, line.at, line.balance)
            for line in api.statement(customer)]


def test_a_backdated_refund_takes_only_lots_earned_by_its_date(crm, loyalty, shop, clock):
    """Known answer (docs/plugins/loyalty.md, Refunds): a refund recorded after a later
    earning reverses from the lots there were on its date and owes the rest, which that
    later earning pays off at its own date."""
    api = loyalty({"tiers": [], "milestones": []})
    api.add_reward("R100", 100)
    shop.purchase("C1", "100", at(2025, 1, 10), external_id="P1")     # expires 2026-01-10
    shop.purchase("C1", "40", at(2025, 1, 20), external_id="P2")      # expires 2026-01-20
    clock.set(at(2025, 2, 1))
    api.redeem("C1", "R100")                             # FIFO: all of P1's lot
    shop.purchase("C1", "50", at(2025, 3, 1), external_id="P3")
    clock.set(at(2025, 3, 10))
    shop.refund("C1", "P1", at(2025, 2, 15))             # recorded after P3, dated before it
    assert statement_rows(api) == [
        ("earn", "purchase", 100, 0, at(2025, 1, 10), 100),
        ("earn", "purchase", 40, 0, at(2025, 1, 20), 140),
        ("spend", "reward", -100, 0, at(2025, 2, 1), 40),
        ("earn", "purchase", 50, 0, at(2025, 3, 1), 90),
        ("reverse", "refund", -40, 60, at(2025, 2, 15), 50),   # P1's lot is empty, P2's 40
        ("reverse", "owed", -50, -50, at(2025, 3, 1), 0)]      # P3 pays off 50 of the 60
    assert (api.balance("C1"), api.owed("C1")) == (0, 10)
    for moment, owed in ((at(2025, 2, 15), 60), (at(2025, 2, 20), 60), (at(2025, 3, 1), 10)):
        member = api.member("C1", moment)
        assert (member.balance, member.available, member.owed) == (0, 0, owed)
        assert sum(line.points for line in api.liability(moment)) == 0


def test_a_deduction_takes_only_points_earned_by_now(crm, loyalty, shop, clock):
    api = loyalty({"tiers": [], "milestones": []})
    shop.purchase("C1", "100", at(2025, 6, 1))           # after the clock's now (2025-01-01)
    with pytest.raises(NotEnoughPoints, match="has 0 points; cannot deduct 50"):
        api.adjust("C1", -50, "duplicate earning")
    assert api.balance("C1", at(2025, 6, 1)) == 100
    clock.set(at(2025, 6, 1))
    api.adjust("C1", -50, "duplicate earning")
    assert api.balance("C1") == 50


def owe_a_redeemed_purchase(api, shop, clock, bought, redeemed, refund_recorded, refunded):
    """C1 buys for 100 (P1, earning 100 points) on ``bought`` and spends them on a reward on
    ``redeemed``; P1's refund, dated ``refunded`` and recorded on ``refund_recorded``, leaves
    100 points owed."""
    api.add_reward("R100", 100)
    shop.purchase("C1", "100", bought, external_id="P1")
    clock.set(redeemed)
    api.redeem("C1", "R100")
    clock.set(refund_recorded)
    shop.refund("C1", "P1", refunded)
    assert api.owed("C1") == 100


def test_an_earning_dated_before_a_debt_pays_it_off_at_the_debt(crm, loyalty, shop, clock):
    api = loyalty({"tiers": [], "milestones": []})
    owe_a_redeemed_purchase(api, shop, clock, bought=at(2025, 1, 10), redeemed=at(2025, 2, 1),
                            refund_recorded=at(2025, 3, 1), refunded=at(2025, 2, 15))
    shop.purchase("C1", "30", at(2025, 2, 5))            # recorded after the refund
    assert statement_rows(api)[-1] == ("reverse", "owed", -30, -30, at(2025, 2, 15), 0)
    assert [api.member("C1", moment).owed
            for moment in (at(2025, 2, 10), at(2025, 2, 15))] == [0, 70]


def payoffs(api, customer="C1"):
    """``(points, at)`` of the member's owed pay-offs, in the order written, whatever their date."""
    return [(line.points, line.at) for line in api.statement(customer, at(2100, 1, 1))
            if line.source == "owed"]


def test_each_lot_pays_a_debt_on_its_pay_off_date_if_still_valid_then(crm, loyalty, shop,
                                                                        clock):
    """Known answer (docs/plugins/loyalty.md, Refunds): a lot pays what is owed on its own
    date, or the debt's if that is later, whether before or after now, and only if it has not
    expired by then; lots of different dates pay in separate rows."""
    api = loyalty({"tiers": [], "milestones": [], "expiry_months": 1})
    owe_a_redeemed_purchase(api, shop, clock, bought=at(2025, 1, 10), redeemed=at(2025, 1, 20),
                            refund_recorded=at(2025, 1, 25), refunded=at(2025, 1, 25))
    crm.interactions.record_many([                       # imported ahead of time
        {"customer": "C1", "occurred_at": at(2025, 2, 1), "amount": Decimal("40"),
         "external_id": "P2"},                           # expires 2025-03-01
        {"customer": "C1", "occurred_at": at(2025, 4, 1), "amount": Decimal("50"),
         "external_id": "P3"}])
    assert api.owed("C1") == 10
    assert payoffs(api) == [(-40, at(2025, 2, 1)), (-50, at(2025, 4, 1))]   # not one at 04-01
    clock.set(at(2025, 3, 10))
    shop.purchase("C1", "30", at(2025, 1, 22), external_id="P4")   # expired 2025-02-22
    assert (api.owed("C1"), payoffs(api)[-1]) == (0, (-10, at(2025, 1, 25)))
    assert statement_rows(api)[-1] == ("reverse", "owed", -10, -10, at(2025, 1, 25), 20)
    for moment, owed in ((at(2025, 1, 25), 90), (at(2025, 2, 1), 50), (at(2025, 3, 15), 50),
                         (at(2025, 4, 1), 0)):
        assert (api.balance("C1", moment), api.member("C1", moment).owed) == (20, owed)


def test_points_dated_after_now_are_neither_available_nor_locked_until_then(crm, loyalty,
                                                                             shop, clock):
    """Known answer (docs/plugins/loyalty.md, The ledger): a lot dated after now is not
    earned yet; the member standing, the statement and the balance leave it out until its
    date, and agree."""
    api = loyalty({"lock_days": 14, "tiers": [], "milestones": []})
    shop.purchase("C1", "50", at(2024, 12, 25))          # locked until 2025-01-08
    shop.purchase("C1", "100", at(2025, 3, 1))           # after now (2025-01-01 12:00)
    member = api.member("C1")
    assert (member.balance, member.available, member.locked) == (50, 0, 50)
    assert [line.balance for line in api.statement("C1")] == [50] == [api.balance("C1")]
    march = at(2025, 3, 1)
    member = api.member("C1", march)
    assert (member.balance, member.available, member.locked) == (150, 50, 100)
    assert [line.balance for line in api.statement("C1", march)] == [50, 150]
    clock.set(march)
    assert api.member("C1") == member
    assert api.available("C1") == 50
