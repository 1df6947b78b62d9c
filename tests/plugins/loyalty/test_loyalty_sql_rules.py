"""The earning rules as the set-based SQL computes them: line items, exact multipliers, dates.

Every answer is worked out by hand (or, for the date rule, by the plain-Python
``add_months`` the rest of the plugin uses) and checked on both databases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from crmkit.plugin import add_days, add_months
from crmkit.types import UTCDateTime
from crmkit_loyalty.portable import second_new_year
from crmkit_loyalty.settings import add_months as py_add_months
from crmkit_loyalty.tables import ledger, members

from loyalty_support import UTC, at

NO_TIERS = {"tiers": [], "milestones": []}


def earn_rows(crm, customer="C1"):
    cid = crm.customers.get(customer).id
    with crm.read() as conn:
        return [dict(r) for r in conn.execute(
            select(ledger).where(ledger.c.customer_id == cid).order_by(ledger.c.id)).mappings()]


def test_line_items_that_count_and_those_ignored(crm, loyalty, shop):
    api = loyalty(NO_TIERS)
    items = [{"category": "delivery", "amount": "4.99"},       # text: counts
             {"category": "delivery", "amount": 3},            # JSON number: counts
             {"category": "delivery", "amount": " 1.5 "},      # text with spaces: counts
             {"category": "delivery", "amount": "abc"},        # not a number: ignored
             {"category": "delivery", "amount": "1e2"},        # exponent form: ignored
             {"category": "delivery"},                         # no amount: ignored
             {"category": "books", "amount": "100"},           # not excluded
             "delivery 50"]                                    # not an object: ignored
    shop.purchase("C1", "120.00", at(2024, 12, 1), items)
    assert api.balance("C1") == 110                  # 120 − (4.99 + 3 + 1.5) = 110.51 → 110


def test_items_that_are_not_a_list_and_excluded_items_above_the_amount(crm, loyalty, shop):
    api = loyalty(NO_TIERS)
    shop.purchase("C1", "80.00", at(2024, 12, 1),
                  {"a": {"category": "delivery", "amount": "50"}})   # items must be a list
    assert api.balance("C1") == 80
    shop.purchase("C1", "10.00", at(2024, 12, 2),
                  [{"category": "delivery", "amount": "12.00"}])   # eligible max(−2, 0) = 0
    shop.purchase("C1", "10.00", at(2024, 12, 3),
                  [{"category": "delivery", "amount": "-5"}])      # a negative line adds: 15
    assert api.balance("C1") == 80 + 15
    assert [r["points"] for r in earn_rows(crm)] == [80, 15]       # zero points: no row


def test_category_names_beyond_ascii(crm, loyalty, shop):
    api = loyalty({**NO_TIERS, "excluded_categories": ["Geschenkkarte-ü", 'say "hi"']})
    shop.purchase("C1", "70.00", at(2024, 12, 1),
                  [{"category": "Geschenkkarte-ü", "amount": "20.00"},
                   {"category": 'say "hi"', "amount": "5.00"},
                   {"category": "books", "amount": "45.00"}])
    assert api.balance("C1") == 45                   # 70 − 20 − 5


def test_rates_and_multipliers_are_exact(crm, loyalty, shop):
    api = loyalty({"points_per_unit": 0.29, "milestones": [],
                   "tiers": [{"name": "one", "threshold": 0, "multiplier": 1.25}]})
    shop.purchase("C1", "100", at(2024, 12, 1))      # no tier yet: floor(100 × 0.29) = 29
    shop.purchase("C1", "33.33", at(2024, 12, 2))    # floor(33.33 × 0.29 × 1.25) = 12
    assert [r["points"] for r in earn_rows(crm)] == [29, 12]
    assert api.tier("C1") == "one"


def test_large_amounts_stay_exact(crm, loyalty, shop):
    api = loyalty({"milestones": [],
                   "tiers": [{"name": "base", "threshold": 0, "multiplier": 1},
                             {"name": "gold", "threshold": 1, "multiplier": 1.5}]})
    shop.purchase("C1", "9999999.9999", at(2024, 12, 1))     # 9,999,999 points, now gold
    shop.purchase("C1", "9999999.9999", at(2024, 12, 2))     # floor(14,999,999.99985)
    assert [r["points"] for r in earn_rows(crm)] == [9_999_999, 14_999_999]
    assert api.tier("C1") == "gold"


def test_lot_dates_at_month_ends(crm, loyalty, shop):
    loyalty({**NO_TIERS, "expiry_months": 1, "lock_days": 3})
    for when in (dt.datetime(2024, 1, 31, 10, 30, 15, 123456, tzinfo=UTC),
                 dt.datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
                 dt.datetime(2024, 12, 30, 8, tzinfo=UTC)):
        shop.purchase("C1", "10", when)
    rows = earn_rows(crm)
    assert [(r["expires_at"], r["available_at"]) for r in rows] == [
        (dt.datetime(2024, 2, 29, 10, 30, 15, 123456, tzinfo=UTC),   # clamped, leap year
         dt.datetime(2024, 2, 3, 10, 30, 15, 123456, tzinfo=UTC)),
        (dt.datetime(2024, 4, 30, 23, 59, 59, 999999, tzinfo=UTC),
         dt.datetime(2024, 4, 3, 23, 59, 59, 999999, tzinfo=UTC)),
        (dt.datetime(2025, 1, 30, 8, tzinfo=UTC), dt.datetime(2025, 1, 2, 8, tzinfo=UTC))]


def test_calendar_expiry_and_review_date_of_new_members(crm, loyalty, shop):
    api = loyalty({**NO_TIERS, "expiry_mode": "calendar", "review_months": 12})
    shop.purchase("C1", "10", dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    shop.purchase("C1", "10", at(2025, 1, 1))
    assert [r["expires_at"] for r in earn_rows(crm)] == [at(2026, 1, 1), at(2027, 1, 1)]
    crm.customers.add("C2")
    shop.purchase("C2", "10", at(2024, 2, 29, 6))
    with crm.read() as conn:
        review = conn.execute(select(members.c.review_at).where(
            members.c.customer_id == crm.customers.get("C2").id)).scalar_one()
    assert review == at(2025, 2, 28, 6)
    assert api.balance("C2") == 10


def test_sql_date_rules_match_the_python_rule(crm):
    """Every day of a leap year and more, at a time with microseconds, ± several months."""
    start = dt.datetime(2023, 12, 1, 23, 59, 59, 999999, tzinfo=UTC)
    moments = [start + dt.timedelta(days=d) for d in range(0, 460)]
    table = Table("loyalty_test_moments", MetaData(), Column("n", Integer),
                  Column("at", UTCDateTime()), prefixes=["TEMPORARY"])
    with crm.connect(write=True) as conn:
        table.create(conn)
        conn.execute(insert(table), [{"n": n, "at": m} for n, m in enumerate(moments)])

        def computed(expression):
            return conn.execute(select(expression).order_by(table.c.n)).scalars().all()

        for months in (1, 3, 12, 13, -1, -12):
            assert computed(add_months(table.c.at, months)) == [
                py_add_months(m, months) for m in moments], months
        assert computed(add_days(table.c.at, 30)) == [m + dt.timedelta(days=30) for m in moments]
        assert computed(second_new_year(table.c.at)) == [
            dt.datetime(m.year + 2, 1, 1, tzinfo=UTC) for m in moments]
        conn.rollback()


def test_spend_thresholds_with_fractions_of_a_cent(crm, loyalty, shop):
    api = loyalty({"tier_basis": "spend", "milestones": [],
                   "tiers": [{"name": "silver", "threshold": 100.005}]}, customers=("C1", "C2"))
    shop.purchase("C1", "100.004", at(2024, 12, 1))
    shop.purchase("C2", "100.005", at(2024, 12, 1))
    assert (api.tier("C1"), api.tier("C2")) == (None, "silver")
    assert api.qualifying("C1") == Decimal("100.004")


def test_milestone_bonus_is_the_purchase_that_reached_it(crm, loyalty):
    api = loyalty({"tiers": [], "milestones": [{"count": 3, "points": 30}]},
                  customers=("C1", "C2"))
    crm.interactions.record_many([{"customer": "C1", "occurred_at": at(2024, 10, 1),
                                   "amount": Decimal("1"), "external_id": "A0"}])
    crm.interactions.record_many([
        {"customer": c, "occurred_at": at(2024, 11, d), "amount": Decimal("1"),
         "external_id": f"{c}-{d}"}
        for d, c in enumerate(["C2", "C1", "C2", "C1", "C2", "C1"], start=1)])
    bonuses = {e.customer_id: e.payload for e in crm.events.list(type="milestone.reached")}
    ids = {c: crm.customers.get(c).id for c in ("C1", "C2")}
    assert bonuses == {ids["C1"]: {"count": 3, "points": 30},
                       ids["C2"]: {"count": 3, "points": 30}}
    by_reason = {(r["customer_id"], r["source"]): r for c in ("C1", "C2")
                 for r in earn_rows(crm, c)}
    # C1 had 1 purchase: its 3rd is its 2nd in the batch (day 4); C2's 3rd is day 5
    assert by_reason[(ids["C1"], "milestone")]["at"] == at(2024, 11, 4)
    assert by_reason[(ids["C2"], "milestone")]["at"] == at(2024, 11, 5)
    assert (api.balance("C1"), api.balance("C2")) == (4 + 30, 3 + 30)
