"""Leads created from a campaign's response carry the campaign as their source."""

from __future__ import annotations

from results_support import Campaigns, at


def test_a_lead_entering_within_a_campaigns_window_has_it_as_source(crm):
    crm.plugins.enable("operational", {"funnel": {"new_customers_are_leads": False}})
    crm.plugins.enable("campaigns")
    shop = Campaigns(crm)
    shop.customers("L1", "L2", "L3")
    # The clock is 1 Jan 2025 12:00: "old" reached L3 on 1 Dec (window 10 days, long shut);
    # "spring" reached L1 this morning; nothing reached L2.
    shop.campaign("old", at(1, month=12, year=2024), {"L3": (None, at(1, 9, 12, 2024))},
                  attribution_days=10)
    shop.campaign("spring", at(1), {"L1": (None, at(1, 9))}, attribution_days=10)
    for external_id in ("L1", "L2", "L3"):
        crm.customers.update(external_id, lifecycle_stage="lead")
    operational = crm.plugin("operational")
    assert {e: operational.lead(e)["source"] for e in ("L1", "L2", "L3")} == {
        "L1": "campaign spring", "L2": None, "L3": None}
