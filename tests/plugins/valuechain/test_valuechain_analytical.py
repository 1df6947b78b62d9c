"""valuechain over the real analytical plugin: SSC suggestions are the top predicted CLVs."""

from __future__ import annotations

import datetime as dt
import math
import random

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
