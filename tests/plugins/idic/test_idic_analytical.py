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


def test_without_a_clv_fit_groups_go_on_and_say_why(crm, clock, run_cli):
    """No repeat purchases: the CLV models cannot be fitted, yet the groups are made (potential
    value 0 for everyone), stored with the reason, and the demo, CLI and report say why."""
    import random

    from crmkit_idic import demo

    clock.set(NOW)
    crm.plugins.enable("analytical")
    crm.plugins.enable("idic")
    crm.customers.add_many([{"external_id": f"C{i:03d}", "name": f"Customer {i}",
                             "email": f"c{i}@example.com", "phone": f"+44 20 7946 {i:04d}"}
                            for i in range(12)])
    crm.interactions.record_many(
        [{"customer": f"C{i:03d}", "occurred_at": NOW - dt.timedelta(days=10 + i), "amount": "40"}
         for i in range(12)]
        + [{"customer": "C000", "occurred_at": NOW - dt.timedelta(days=2), "kind": "complaint"}])
    reason = ("BG/NBD fit needs repeat purchases; none of the 12 customers has bought on more "
              "than one day")
    idic = crm.plugin("idic")
    result = idic.differentiate()
    assert result.clv_missing == reason
    assert all(r["potential_value"] == 0 for r in result.rows)
    assert result.counts == {"MVC": 0, "MGC": 0, "BZ": 0, "maintain": 12}  # C000's 15 < 40 spent
    assert idic.differentiation_run()["clv_missing"] == reason
    assert idic.report()["differentiate"]["clv_missing"] == reason
    lines = demo.run(crm, random.Random(1))
    assert any(line.startswith("value groups: ") and line.endswith(
        f"(potential value 0 for everyone: no predicted CLV: {reason})") for line in lines)
    code, out, err = run_cli("idic", "differentiate", "--as-of", "2025-01-01T12:00:00Z")
    assert code == 0, err
    assert f"potential value is 0 for everyone: no predicted CLV ({reason})" in err
