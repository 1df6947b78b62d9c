"""operational's part of ``crmkit demo`` on a small sample: what it prints is what it stored."""

from __future__ import annotations

import random
import re
from decimal import Decimal

from crmkit import demo as sample


def test_demo_adds_opportunities_runs_the_sweep_and_reports_true_numbers(crm, clock):
    clock.set(sample.DEMO_END)
    crm.plugins.enable("operational")
    crm.plugins.enable("analytical")  # the demo's purchases are analytical's part of the history
    for handle, name, team in sample.STAFF:
        crm.staff.add(handle, name, team)
    rng = random.Random(6)  # a sample in which a lead reaches sql (the 120-customer funnel is thin)
    rows = sample.customers(rng, 120)
    crm.customers.add_many(rows)
    people = [r["external_id"] for r in rows if r.get("type") != "organisation"]
    crm.interactions.record_many(sample.interactions(crm, rng, people, 12.0, end=sample.DEMO_END))
    lines = crm.hooks.call_one("operational", "crmkit_demo", None, crm=crm, rng=rng)
    api = crm.plugin("operational")
    funnel = dict(re.findall(r"(\w+) (\d+)", lines[0].removeprefix("lead funnel: ")))
    for stage in ("lead", "mql", "sal", "sql"):
        assert int(funnel[stage]) == len(api.scores(stage=stage, limit=None))
    assert int(funnel["sql"]) > 0  # qualified leads got opportunities
    pipeline = api.weighted_pipeline()
    count = sum(r["opportunities"] for r in pipeline)
    weighted = sum((r["weighted"] for r in pipeline), Decimal(0))
    assert lines[1].startswith(f"open pipeline: {count} opportunities")
    assert f"weighted GBP {weighted:,.2f}" in lines[1]
    assert lines[2].startswith(f"open tasks: {len(api.tasks())} (")
    assert [r["name"] for r in crm.plugin_config("operational")["automation"]["rules"]] == [
        "vip-case-callback", "won-thank-you"]
    again = api.sweep()
    assert set(again.values()) == {0}
