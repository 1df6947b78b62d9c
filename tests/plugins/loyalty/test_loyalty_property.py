"""Property: over random earn/spend/refund/expire sequences the balance equals the ledger sum,
matches a plain-Python model of the rules, and never goes below zero, nor do the balance
and the owed points as of any date; time moves on with or without an expiry run, and no
debit takes points expired before it either way; a refund dated back before an expiry run
takes what that run wrote off of lots still valid then, and one dated back before later
earnings takes nothing of them but owes, and they pay it off; an earning dated back before
a debt pays it off at the debt's date, and one that expired since pays it if it was valid
then.

Runs on SQLite only (each example builds a fresh database; on PostgreSQL that
costs seconds per example); the rules under test are the same SQL on both.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crmkit import CRM, FixedClock
from crmkit_loyalty import ledger as lg
from crmkit_loyalty.errors import NotEnoughPoints
from crmkit_loyalty.settings import add_months
from crmkit_loyalty.tables import ledger, members

UTC = dt.timezone.utc
START = dt.datetime(2024, 1, 1, tzinfo=UTC)
CONFIG = {"tiers": [], "milestones": [], "expiry_mode": "rolling", "expiry_months": 3}

operations = st.lists(st.one_of(
    st.tuples(st.just("buy"), st.integers(1, 300)),
    st.tuples(st.just("late buy"), st.tuples(st.integers(1, 300), st.integers(1, 120))),
    st.tuples(st.just("refund"), st.integers(0, 20)),
    st.tuples(st.just("late refund"), st.tuples(st.integers(0, 20), st.integers(1, 120))),
    st.tuples(st.just("spend"), st.integers(1, 250)),
    st.tuples(st.just("advance"), st.integers(1, 120)),
    st.tuples(st.just("wait"), st.integers(1, 120)),
), min_size=1, max_size=14)


class Model:
    """The rules in plain Python: lots consumed FIFO by expiry, owed points, expiry; a lot
    earned after a debit's moment or expired then is empty to it, and one valid then is whole
    to it (what an expiry run wrote off included), whether or not the expiry run came; owed
    points are paid off at once from what is left of the lots valid on their pay-off dates
    (when earned, or at the latest debt if later), in the order of those dates."""

    def __init__(self):
        self.lots: list[dict] = []          # id, points, remaining, written_off, at, expires
        self.owed = 0
        self.debt: dt.datetime | None = None       # the latest debt's date
        self.purchases: list[tuple[str, int | None]] = []    # (external id, lot id)
        self.refunded: set[str] = set()

    def fifo(self, lots):
        return sorted(lots, key=lambda lot: (lot["expires"], lot["at"], lot["id"]))

    def take(self, points, lots):
        taken = 0
        for lot in lots:
            used = min(lot["remaining"] + lot["written_off"], points - taken)
            given_back = max(used - lot["remaining"], 0)
            lot["written_off"] -= given_back
            lot["remaining"] -= used - given_back
            taken += used
        return taken

    def live(self, now):
        """The lots valid at ``now``, whenever they were earned."""
        return [lot for lot in self.lots if lot["expires"] > now]

    def settle(self):
        if not self.owed:
            return
        for day in sorted({max(self.debt, lot["at"]) for lot in self.lots}):
            paying = [lot for lot in self.live(day) if max(self.debt, lot["at"]) == day]
            self.owed -= self.take(self.owed, self.fifo(paying))

    def buy(self, points, when, external_id, lot_id):
        lot = {"id": lot_id, "points": points, "remaining": points, "written_off": 0,
               "at": when, "expires": add_months(when, 3)}
        self.lots.append(lot)
        self.purchases.append((external_id, lot_id))
        self.settle()

    def refund(self, external_id, when):
        lot_id = dict(self.purchases)[external_id]
        self.refunded.add(external_id)
        there = [lot for lot in self.live(when) if lot["at"] <= when]
        own = [lot for lot in there if lot["id"] == lot_id]
        rest = self.fifo([lot for lot in there if lot["id"] != lot_id])
        want = next(lot for lot in self.lots if lot["id"] == lot_id)["points"]
        short = want - self.take(want, own + rest)
        self.owed += short
        if short:
            self.debt = max(self.debt or when, when)
            self.settle()

    def spend(self, points, now):
        spendable = self.fifo(self.live(now))
        if sum(lot["remaining"] for lot in spendable) < points:
            return False
        self.take(points, spendable)
        return True

    def expire(self, now):
        for lot in self.lots:
            if lot["expires"] <= now:
                lot["written_off"] += lot["remaining"]
                lot["remaining"] = 0

    @property
    def balance(self):
        return sum(lot["remaining"] for lot in self.lots)


def as_of_each_date(history):
    """``(balance, owed)`` as of each date of the ``(at, points, owed_change)`` rows
    ``history`` (in date order)."""
    balance = owed = 0
    for index, (when, points, owed_change) in enumerate(history):
        balance, owed = balance + points, owed + owed_change
        if index + 1 == len(history) or history[index + 1][0] != when:
            yield balance, owed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
@example(ops=[("buy", 100), ("advance", 100), ("late refund", (0, 20))])   # run, then refund
@example(ops=[("buy", 100), ("spend", 100), ("wait", 10), ("buy", 50),      # refund dated
              ("late refund", (0, 5))])                                     # before a lot
@example(ops=[("buy", 100), ("spend", 100), ("wait", 10), ("refund", 0),    # an earning
              ("late buy", (30, 5))])                                       # before a debt
@example(ops=[("buy", 100), ("spend", 100), ("wait", 10), ("refund", 0),    # an earning
              ("wait", 100), ("late buy", (30, 95))])                       # expired since
def test_balance_equals_ledger_sum_and_the_model(ops):
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(START)
        with CRM.open(f"sqlite:///{Path(tmp) / 'p.db'}", clock=clock, create=True) as crm:
            crm.plugins.enable("loyalty", CONFIG)
            crm.customers.add("C1")
            api = crm.plugin("loyalty")
            cid = crm.customers.get("C1").id
            model, serial = Model(), 0
            for op, value in ops:
                now = clock.now()
                if op in ("buy", "late buy"):
                    serial += 1
                    points, back = (value, 0) if op == "buy" else value
                    when = now - dt.timedelta(days=back)
                    crm.interactions.record("C1", when, amount=Decimal(points),
                                            external_id=f"P{serial}")
                    with crm.read() as conn:
                        lot_id = conn.execute(select(func.max(ledger.c.id))
                                              .where(ledger.c.source == "purchase")).scalar()
                    model.buy(points, when, f"P{serial}", lot_id)
                elif op in ("refund", "late refund"):
                    open_ = [p for p, _ in model.purchases if p not in model.refunded]
                    if not open_:
                        continue
                    index, back = (value, 0) if op == "refund" else value
                    target = open_[index % len(open_)]
                    bought = next(lot["at"] for lot in model.lots
                                  if lot["id"] == dict(model.purchases)[target])
                    when = max(now - dt.timedelta(days=back), bought)
                    crm.interactions.record("C1", when, kind="refund", external_id=f"R-{target}",
                                            payload={"refund_of": target})
                    model.refund(target, when)
                elif op == "spend":
                    code = f"R{value}"
                    if code not in {r.code for r in api.rewards()}:
                        api.add_reward(code, value)
                    expected = model.spend(value, now)
                    try:
                        api.redeem("C1", code)
                        assert expected, "redeemed although the model had too few points"
                    except NotEnoughPoints:
                        assert not expected, "refused although the model had enough points"
                elif op == "wait":
                    clock.advance(days=value)
                else:
                    clock.advance(days=value)
                    api.expire()
                    model.expire(clock.now())
                with crm.read() as conn:
                    total = conn.execute(select(func.coalesce(func.sum(ledger.c.points), 0))
                                         .where(ledger.c.customer_id == cid)).scalar()
                    lots = {lot.id: lot.remaining for lot in lg.open_lots(conn, [cid]).get(cid, [])}
                    left = sum(lots.values())
                    cached_owed = conn.execute(select(members.c.owed)
                                               .where(members.c.customer_id == cid)).scalar() or 0
                    history = conn.execute(
                        select(ledger.c.at, ledger.c.points, ledger.c.owed_change)
                        .where(ledger.c.customer_id == cid).order_by(ledger.c.at)).all()
                assert api.balance("C1") == total == left == model.balance >= 0
                assert all(balance >= 0 and owed >= 0
                           for balance, owed in as_of_each_date(history))
                assert api.owed("C1") == cached_owed == model.owed >= 0
                # owing only with nothing left but what expired since
                assert not (model.owed and sum(lot["remaining"] for lot in model.live(now)))
                assert lots == {lot["id"]: lot["remaining"] for lot in model.lots
                                if lot["remaining"]}          # the same lots, FIFO by expiry
