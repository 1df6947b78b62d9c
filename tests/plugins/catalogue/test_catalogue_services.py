"""catalogue's share of merge and export: line items and saved offers follow the customer."""

from __future__ import annotations

from catalogue_support import at, line, order


def test_merge_moves_lines_and_offers_and_export_lists_them(crm, catalogue):
    api = catalogue(customers=("A", "B"))
    crm.interactions.record_many([
        order("A", at(2025, 1, 1), line("TEA", 1, 5), line("BREAD-S", 1, 10)),
        order("B", at(2025, 1, 2), line("TEA", 2, 5))])
    assert api.save_offers("list", at(2025, 2, 1)) == 2
    crm.customers.merge("A", "B")
    [only] = api.profit(as_of=at(2025, 2, 1))
    assert (only.key, only.revenue) == ("A", 25)  # 15 + 10: B's lines moved to A
    assert {o["customer"] for o in api.offer_list("list")} == {"A"}  # B's offers dropped
    exported = crm.customers.export_data("A")["plugins"]["catalogue"]
    assert [(x["sku"], x["qty_units"], x["total_units"], x["cost_units"])
            for x in exported["line_items"]] == [("TEA", 10_000, 50_000, 10_000),
                                                 ("BREAD-S", 10_000, 100_000, 40_000),
                                                 ("TEA", 20_000, 100_000, 20_000)]
    assert [o["list_name"] for o in exported["offers"]] == ["list"] * len(exported["offers"])
