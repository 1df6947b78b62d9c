"""valuechain over the real analytical plugin: SSC suggestions are the top predicted CLVs."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_suggestions_follow_predicted_clv(crm, clock):
    clock.set(NOW - dt.timedelta(days=400))
    crm.plugins.enable("analytical")
    crm.plugins.enable("valuechain")
    rng = random.Random(5)
    crm.customers.add_many([{"external_id": f"C{i:03d}"} for i in range(120)])
    rows = []
    for i in range(120):                                   # buy-till-you-die histories
        at = NOW - dt.timedelta(days=rng.uniform(30, 360))
        rate, dropout = rng.gammavariate(2.0, 1 / 40.0), rng.betavariate(1, 6)
        while at < NOW:
            rows.append({"customer": f"C{i:03d}", "occurred_at": at,
                         "amount": str(rng.randint(20, 120))})
            if rng.random() < dropout:
                break
            at += dt.timedelta(days=rng.expovariate(rate))
    crm.interactions.record_many(rows)
    clock.set(NOW)
    suggestions = crm.plugin("valuechain").suggest_ssc(top_share=0.1)
    clv = crm.plugin("analytical").clv_by_customer(NOW)
    positive = sorted(((v, k) for k, v in clv.items() if v > 0), key=lambda p: (-p[0], p[1]))
    external = {c.id: c.external_id for c in crm.customers.list(limit=None)}
    assert len(suggestions) == math.ceil(0.1 * len(positive))
    assert [s.customer for s in suggestions] == [external[k] for _, k in positive[:len(suggestions)]]
    assert suggestions[0].clv == positive[0][0].quantize(suggestions[0].clv)


def test_without_a_clv_fit_suggest_says_why_and_the_demo_goes_on(crm, clock, run_cli):
    """No repeat purchases: no CLV, so no suggestions, and the reason is named everywhere."""
    from crmkit_valuechain import demo
    from crmkit_valuechain.errors import MissingCLV

    clock.set(NOW)
    crm.plugins.enable("analytical")
    crm.plugins.enable("valuechain")
    crm.customers.add_many([{"external_id": f"C{i:03d}"} for i in range(6)]
                           + [{"external_id": "ORG1", "type": "organisation", "name": "Acme"}])
    crm.interactions.record_many([{"customer": f"C{i:03d}", "amount": "50",
                                   "occurred_at": NOW - dt.timedelta(days=3 + i)} for i in range(6)])
    reason = ("no SSC suggestions from CLV: no predicted CLV (BG/NBD fit needs repeat purchases; "
              "none of the 6 customers has bought on more than one day)")
    with pytest.raises(MissingCLV) as caught:
        crm.plugin("valuechain").suggest_ssc()
    assert str(caught.value) == reason
    code, out, err = run_cli("valuechain", "suggest", "--as-of", "2025-01-01T12:00:00Z")
    assert code != 0 and out == "" and err.strip() == f"error: {reason}"
    lines = demo.run(crm, random.Random(1))
    assert lines[0] == f"SSCs: {reason}, 1 marked (b2b accounts 1)"
