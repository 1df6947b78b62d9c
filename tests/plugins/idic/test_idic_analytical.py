"""idic over the real analytical plugin: groups follow its current value and predicted CLV."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from idic_support import simulated_purchases

from crmkit_idic.differentiate import CustomerValue, classify

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_differentiation_uses_the_analytical_api(crm, clock):
    clock.set(NOW - dt.timedelta(days=400))
    crm.plugins.enable("analytical")
    crm.plugins.enable("idic")
    people, rows = simulated_purchases(150, NOW)
    crm.customers.add_many(people)
    crm.interactions.record_many(rows)
    clock.set(NOW)
    result = crm.plugin("idic").differentiate()
    analytical = crm.plugin("analytical")
    current, potential = analytical.current_value(NOW), analytical.clv_by_customer(NOW)
    assert analytical.last_clv_run() is not None
    ids = {c.external_id: c.id for c in crm.customers.list(limit=None)}
    complained = {ids[f"C{i:03d}"] for i in range(0, 150, 7)}
    expected = classify([CustomerValue(cid, current.get(cid, Decimal(0)), potential.get(cid, Decimal(0)),
                                       Decimal(15) if cid in complained else Decimal(0))
                         for cid in sorted(ids.values())], 0.2, 0.2)
    assert {r["customer_id"]: r["value_group"] for r in result.rows} == expected
    assert result.counts["MVC"] == 30 and result.counts["MGC"] == 30
    got = {r["customer_id"]: r for r in result.rows}
    some = next(iter(potential))
    assert got[some]["potential_value"] == potential[some].quantize(Decimal("0.01"))
    assert crm.plugin("idic").report()["progress"]["steps"]["differentiated"] == 150
