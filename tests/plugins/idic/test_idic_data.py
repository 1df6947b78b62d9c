"""idic's customer data services: merge (nothing left on the duplicate), export, erase, timeline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from crmkit_idic import tables as t

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


def rows_pointing_at(crm, customer_id):
    counts = {}
    with crm.read() as conn:
        for table in t.ALL:
            columns = [c for c in table.c if c.name in ("customer_id", "first_id", "second_id")]
            if columns:
                counts[table.name] = conn.execute(select(func.count()).select_from(table).where(
                    or_(*[c == customer_id for c in columns]))).scalar_one()
    return counts


def populated(icrm, clock):
    clock.set(NOW - dt.timedelta(days=10))
    icrm.plugins.configure("idic", {"mvc_share": 0.5})     # round(1.5): KEEP and DUP are MVC
    icrm.customers.add_many([
        {"external_id": "KEEP", "name": "Jo Smith", "email": "jo@x.com",
         "attributes": {"test_clv": 900}},
        {"external_id": "DUP", "name": "Joanne Smith", "email": "JO@x.com", "preferred_channel": "web",
         "attributes": {"test_clv": 800}},
        {"external_id": "OTHER", "name": "Ann Other", "email": "ann@y.example"},
    ])
    api = icrm.plugin("idic")
    api.differentiate()
    api.add_treatment("welcome", "MVC", "offer", "free delivery", holdout_share=0.0)
    api.record_dialogue("DUP", "Told us about her new address", channel="web",
                        direction="inbound")
    api.dismiss("DUP", "OTHER")
    api.dismiss("KEEP", "OTHER")
    clock.set(NOW)
    return icrm


def test_merge_moves_every_idic_row_to_the_kept_customer(icrm, clock):
    crm = populated(icrm, clock)
    dup_id = crm.customers.get("DUP").id
    keep_id = crm.customers.get("KEEP").id
    assert rows_pointing_at(crm, dup_id) == {"idic_groups": 1, "idic_dialogues": 1,
                                             "idic_treatment_members": 1,
                                             "idic_dismissed_pairs": 1}
    crm.plugin("idic").merge("KEEP", "DUP")
    assert set(rows_pointing_at(crm, dup_id).values()) == {0}
    after = rows_pointing_at(crm, keep_id)
    assert after["idic_dialogues"] == 1
    assert after["idic_groups"] == 1 and after["idic_treatment_members"] == 1
    assert after["idic_dismissed_pairs"] == 1              # KEEP/OTHER, once
    assert crm.plugin("idic").find_duplicates().pairs == []


def test_export_erase_and_timeline(icrm, clock):
    crm = populated(icrm, clock)
    exported = crm.customers.export_data("DUP")
    mine = exported["plugins"]["idic"]
    assert [d["summary"] for d in mine["dialogues"]] == ["Told us about her new address"]
    assert [(m["name"], m["holdout"]) for m in mine["treatments"]] == [("welcome", False)]
    assert mine["groups"][0]["value_group"] == "MVC" and mine["not_duplicates_of"] == ["OTHER"]
    timeline = crm.customers.timeline("DUP")
    mine = [e for e in timeline if e.source == "idic"]
    assert {e.kind for e in mine} == {"dialogue", "differentiation", "treatment"}
    assert any("Told us about her new address" in e.summary for e in mine)
    crm.customers.erase("DUP")
    with crm.read() as conn:
        dialogue = conn.execute(select(t.dialogues)).mappings().one()
    assert dialogue["summary"] is None
    assert dialogue["channel"] == "web" and dialogue["at"] == NOW - dt.timedelta(days=10)
