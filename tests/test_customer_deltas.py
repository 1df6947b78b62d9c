"""``Batch.customer_deltas``: what a batch of interactions added to each customer, per kind,
computed once per batch and shared by every plugin's react hook (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
import types
from decimal import Decimal

import pytest

import crmkit
from crmkit import CRM, hookimpl
from crmkit.plugin import CustomerDelta

UTC = dt.timezone.utc
START = dt.datetime(2024, 3, 1, tzinfo=UTC)


def watcher(name: str, seen: list):
    """A throwaway plugin whose react hook keeps each batch's deltas (and the batch)."""
    module = types.ModuleType(f"plugin_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description=f"{name} test plugin")

    @hookimpl
    def crmkit_react_interactions(ctx, batch):
        seen.append((name, batch, batch.customer_deltas(ctx.conn)))

    module.crmkit_react_interactions = crmkit_react_interactions
    return module


def test_deltas_count_sum_and_bound_each_customers_rows_per_kind(crm_url, clock):
    seen: list = []
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"watch": watcher("watch", seen)}) as crm:
        crm.plugins.enable("watch")
        crm.customers.add_many([{"external_id": "A"}, {"external_id": "B"}])
        ids = {c: crm.customers.get(c).id for c in ("A", "B")}
        crm.interactions.record_many([
            {"customer": "A", "occurred_at": START + dt.timedelta(days=2), "kind": "purchase",
             "amount": Decimal("10.25")},
            {"customer": "A", "occurred_at": START, "kind": "purchase", "amount": "4.5"},
            {"customer": "A", "occurred_at": START + dt.timedelta(days=1), "kind": "email"},
            {"customer": "B", "occurred_at": START + dt.timedelta(hours=3), "kind": "adjustment",
             "amount": "-2"},
        ], batch_size=10)
    (_, _, deltas), = seen
    a, b = ids["A"], ids["B"]
    assert deltas == {
        a: {"purchase": CustomerDelta(a, "purchase", 2, Decimal("14.75"), START,
                                      START + dt.timedelta(days=2)),
            "email": CustomerDelta(a, "email", 1, Decimal(0), START + dt.timedelta(days=1),
                                   START + dt.timedelta(days=1))},
        b: {"adjustment": CustomerDelta(b, "adjustment", 1, Decimal(-2),
                                        START + dt.timedelta(hours=3),
                                        START + dt.timedelta(hours=3))},
    }


def test_every_plugin_of_a_batch_gets_the_same_deltas_computed_once(crm_url, clock):
    seen: list = []
    plugins = {name: watcher(name, seen) for name in ("first", "second")}
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugins) as crm:
        for name in plugins:
            crm.plugins.enable(name)
        crm.interactions.record_many(
            [{"customer": f"C{n % 3}", "occurred_at": START + dt.timedelta(hours=n),
              "kind": "visit"} for n in range(7)], batch_size=4, create_customers=True)
    assert [name for name, _, _ in seen] == ["first", "second", "first", "second"]
    # one computation per batch: the second plugin is handed the very same mapping
    assert seen[0][2] is seen[1][2] and seen[2][2] is seen[3][2]
    assert [sum(k["visit"].count for k in d.values()) for _, _, d in seen[::2]] == [4, 3]


def test_deltas_equal_a_recount_of_the_stored_rows_on_generated_data(crm_url, clock):
    rng = random.Random(7)
    rows = [{"customer": f"C{rng.randrange(40)}", "kind": rng.choice(["purchase", "refund", "visit", "adjustment"]),
             "occurred_at": START + dt.timedelta(minutes=rng.randrange(500_000)),
             **({"amount": Decimal(rng.randrange(0, 90_000)) / 100} if rng.random() < .8 else {})}
            for _ in range(600)]
    seen: list = []
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"watch": watcher("watch", seen)}) as crm:
        crm.plugins.enable("watch")
        crm.interactions.record_many(rows, batch_size=250, create_customers=True)
        for _, batch, deltas in seen:
            expected: dict = {}
            for row in batch.rows:
                kinds = expected.setdefault(row["customer_id"], {})
                old = kinds.get(row["kind"])
                at, amount = row["occurred_at"], row["amount"] or Decimal(0)
                kinds[row["kind"]] = CustomerDelta(
                    row["customer_id"], row["kind"], 1, amount, at, at) if old is None else \
                    CustomerDelta(old.customer_id, old.kind, old.count + 1, old.amount + amount,
                                  min(old.first_at, at), max(old.last_at, at))
            assert deltas == expected
    assert [len(batch) for _, batch, _ in seen] == [250, 250, 100]


def test_a_customers_batch_has_no_deltas(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True) as crm:
        batch = crmkit.Batch("customers", [], 1, 1)
        with crm.connect() as conn, pytest.raises(ValueError, match="interactions batches"):
            batch.customer_deltas(conn)


def test_after_an_atomic_import_the_rowless_batches_still_have_their_deltas(crm_url, clock):
    module = types.ModuleType("plugin_late")
    module.PLUGIN = crmkit.PluginInfo(name="late", description="late test plugin")
    seen: list = []

    @hookimpl
    def crmkit_after_commit(ctx, kind, batch, events):
        if kind == "interactions":
            seen.append((len(batch.rows), batch.customer_deltas(ctx.conn)))

    module.crmkit_after_commit = crmkit_after_commit
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"late": module}) as crm:
        crm.plugins.enable("late")
        crm.interactions.record_many(
            [{"customer": "A", "occurred_at": START + dt.timedelta(days=n), "kind": "purchase",
              "amount": n} for n in range(5)], batch_size=3, atomic=True, create_customers=True)
        a = crm.customers.get("A").id
    assert seen == [
        (0, {a: {"purchase": CustomerDelta(a, "purchase", 3, Decimal(3), START,
                                           START + dt.timedelta(days=2))}}),
        (0, {a: {"purchase": CustomerDelta(a, "purchase", 2, Decimal(7),
                                           START + dt.timedelta(days=3),
                                           START + dt.timedelta(days=4))}}),
    ]
