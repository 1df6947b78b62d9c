"""Upgrade ceilings: they bound every window they claim to, and upgrades with them are exactly
the upgrades of summing every purchaser's window (points basis)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty_support import Shop, at, merge
from sqlalchemy import select

from crmkit import CRM, FixedClock
from crmkit.errors import ValidationError
from crmkit_loyalty.settings import Settings
from crmkit_loyalty.tables import QUALIFYING_SOURCES, ledger, members

TIERS = [{"name": "bronze", "threshold": 0}, {"name": "silver", "threshold": 500, "multiplier": 1.5},
         {"name": "gold", "threshold": 1000, "multiplier": 2}]
BASE = {"tiers": TIERS, "milestones": [], "review_months": 120}


def ceiling_of(crm, external_id):
    """The member's ``(qualifying_ceiling, ceiling_from)``."""
    with crm.read() as conn:
        return tuple(conn.execute(
            select(members.c.qualifying_ceiling, members.c.ceiling_from)
            .where(members.c.customer_id == crm.customers.get(external_id).id)).one())


def test_a_clock_set_back_sums_the_window_the_ceiling_does_not_cover(crm, loyalty, shop, clock):
    api = loyalty(BASE)
    clock.set(at(2024, 1, 10))
    shop.purchase("C1", "600", at(2024, 1, 10))                  # silver: 600 qualifying points
    clock.set(at(2025, 6, 1))
    shop.purchase("C1", "300", at(2025, 6, 1))                   # 450 at ×1.5: ceiling 1050
    assert api.tier("C1") == "silver"                            # window since 2024-06-01: 450
    assert ceiling_of(crm, "C1") == (450, at(2024, 6, 1))        # summed afresh from there
    clock.set(at(2024, 12, 1))
    shop.purchase("C1", "50", at(2024, 12, 1))                   # ceiling 525 < 1000, but it
    assert api.qualifying("C1") == 675                           # covers only 2024-06-01 on
    assert api.tier("C1") == "silver"
    shop.purchase("C1", "230", at(2024, 12, 1))                  # 600 + 75 + 345 = 1020
    assert api.tier("C1") == "gold"


def test_a_merge_makes_the_ceiling_unknown(crm, loyalty, shop, clock):
    api = loyalty(BASE, customers=("KEEP", "DUP"))
    clock.set(at(2024, 3, 1))
    shop.purchase("KEEP", "100", at(2024, 3, 1))
    shop.purchase("DUP", "450", at(2024, 3, 1))
    assert ceiling_of(crm, "KEEP")[0] == 100
    merge(crm, "KEEP", "DUP")
    assert ceiling_of(crm, "KEEP") == (None, None)
    shop.purchase("KEEP", "10", at(2024, 3, 2))                  # 100 + 450 + 10 = 560
    assert api.tier("KEEP") == "silver"


def test_excluded_items_and_milestones_keep_the_ceiling_a_bound(crm, loyalty, shop, clock):
    api = loyalty(dict(BASE, milestones=[{"count": 2, "points": 200}]))
    clock.set(at(2024, 3, 10))
    shop.purchase("C1", "100", at(2024, 3, 1))                   # new member: window summed
    assert ceiling_of(crm, "C1") == (100, at(2023, 3, 10))
    delivery = [{"category": "goods", "amount": "50"}, {"category": "delivery", "amount": "50"}]
    shop.purchase("C1", "100", at(2024, 3, 2), items=delivery)   # earns 50, bound says 100
    assert ceiling_of(crm, "C1")[0] == 100 + 100 + 200           # the milestone's 200 included
    assert api.qualifying("C1") == 350
    shop.purchase("C1", "100", at(2024, 3, 3))                   # ceiling 500: summed, 450
    assert (api.tier("C1"), ceiling_of(crm, "C1")[0]) == ("bronze", 450)
    shop.purchase("C1", "50", at(2024, 3, 3))                    # ceiling 500 again: 500
    assert (api.tier("C1"), ceiling_of(crm, "C1")[0]) == ("silver", 500)


def test_purchases_dated_before_the_ceiling_do_not_raise_it(crm, loyalty, shop, clock):
    api = loyalty(BASE)
    clock.set(at(2025, 3, 1))
    shop.purchase("C1", "100", at(2025, 3, 1))
    shop.purchase("C1", "400", at(2023, 5, 1))                   # outside every window to come
    assert ceiling_of(crm, "C1") == (100, at(2024, 3, 1))
    assert api.tier("C1") == "bronze"


UTC = dt.timezone.utc
START = dt.datetime(2024, 1, 1, tzinfo=UTC)
CUSTOMERS = ("A", "B")

operations = st.lists(st.one_of(
    st.tuples(st.just("buy"), st.integers(0, 1), st.integers(1, 400), st.integers(-500, 30)),
    st.tuples(st.just("refund"), st.integers(0, 1), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("clock"), st.integers(-400, 400), st.just(0), st.just(0)),
    st.tuples(st.just("merge"), st.integers(0, 1), st.integers(0, 1), st.just(0)),
), min_size=1, max_size=12)


def bounded_windows(conn, settings_: Settings) -> None:
    """Every known ceiling is at least the positive qualifying points after its start."""
    rows = conn.execute(select(ledger.c.customer_id, ledger.c.at,
                               ledger.c.points - ledger.c.owed_change)
                        .where(ledger.c.source.in_(QUALIFYING_SOURCES))).all()
    for customer_id, ceiling, start in conn.execute(
            select(members.c.customer_id, members.c.qualifying_ceiling, members.c.ceiling_from)):
        if ceiling is None:
            continue
        assert start is not None
        covered = sum(max(value, 0) for c, moment, value in rows if c == customer_id
                      and moment > start)
        assert ceiling >= covered, (customer_id, ceiling, covered)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_upgrades_with_ceilings_are_the_upgrades_of_summing_every_window(ops):
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(START)
        with CRM.open(f"sqlite:///{Path(tmp) / 'c.db'}", clock=clock, create=True) as crm:
            crm.plugins.enable("loyalty", dict(BASE, milestones=[{"count": 2, "points": 200}]))
            for name in CUSTOMERS:
                crm.customers.add(name)
            api, shop, live = crm.plugin("loyalty"), Shop(crm), set(CUSTOMERS)
            s = api.settings
            bought = {}  # purchase external id → (its customer, when)
            for op, a, b, c in ops:
                now = clock.now()
                if op == "buy" and CUSTOMERS[a] in live:
                    before = api.tier(CUSTOMERS[a])
                    when = now + dt.timedelta(days=c)
                    bought[shop.purchase(CUSTOMERS[a], str(b), when).external_id] = (
                        CUSTOMERS[a], when)
                    rank = max(s.rank(before), s.qualified(api.qualifying(CUSTOMERS[a])))
                    assert api.tier(CUSTOMERS[a]) == s.tiers[rank].name
                elif op == "refund" and CUSTOMERS[a] in live and shop.serial:
                    target = f"P{b % shop.serial + 1}"
                    owner, when = bought.get(target, (CUSTOMERS[a], now))
                    if owner == CUSTOMERS[a] and when <= now:
                        shop.refund(CUSTOMERS[a], target, now)
                    else:  # another customer's purchase or a later one: refused by the core
                        with pytest.raises(ValidationError, match="refund_of"):
                            shop.refund(CUSTOMERS[a], target, now)
                elif op == "clock":
                    clock.set(now + dt.timedelta(days=a))
                elif op == "merge" and a != b and {CUSTOMERS[a], CUSTOMERS[b]} <= live:
                    merge(crm, CUSTOMERS[a], CUSTOMERS[b])
                    live.discard(CUSTOMERS[b])
                    bought = {ref: (CUSTOMERS[a] if owner == CUSTOMERS[b] else owner, when)
                              for ref, (owner, when) in bought.items()}
                with crm.read() as conn:
                    bounded_windows(conn, s)
