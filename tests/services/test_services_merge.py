"""Merging a duplicate: field rule, every row moved (core and plugin), atomic, audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select, table, column

from crmkit import tables
from crmkit.errors import NotFound, PluginError, ValidationError
from crmkit.services.merging import merge

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def rows_pointing_at(crm, customer_id: int) -> dict[str, int]:
    """Scan every column named customer_id or referencing customers.id, in every table."""
    found = {}
    with crm.read() as conn:
        inspector = inspect(conn)
        for name in inspector.get_table_names():
            refs = {c["name"] for c in inspector.get_columns(name) if c["name"] == "customer_id"}
            for fk in inspector.get_foreign_keys(name):
                if fk["referred_table"] == "customers":
                    refs.update(fk["constrained_columns"])
            if name == "customers":
                refs.add("id")
            for ref in refs:
                clause = table(name, column(ref))
                n = conn.execute(select(func.count()).select_from(clause)
                                 .where(clause.c[ref] == customer_id)).scalar_one()
                if n:
                    found[f"{name}.{ref}"] = n
    return found


@pytest.fixture
def pair(vendor_crm, clock):
    crm = vendor_crm
    crm.plugins.enable("testvendor")
    crm.customers.add("ORG1", "Acme", type="organisation")
    crm.customers.add("DUP", "Ada L.", email="ada@old.example", phone="+442079460001",
                      organisation="ORG1", tags=["newsletter"],
                      attributes={"city": "Leeds", "vip": True})
    clock.advance(days=1)
    crm.customers.add("KEEP", "Ada Lovelace", email="ada@example.com", tags=["vip"],
                      attributes={"city": "London", "nick": ""})
    crm.interactions.record_many([
        {"customer": "DUP", "occurred_at": T0, "amount": "10.00", "external_id": "d1"},
        {"customer": "DUP", "occurred_at": T0, "kind": "visit", "external_id": "d2"},
        {"customer": "KEEP", "occurred_at": T0, "amount": "5.00", "external_id": "k1"},
    ])
    clock.advance(hours=1)
    crm.customers.set_consent("KEEP", "email", True, "web form")
    clock.advance(hours=1)
    crm.customers.set_consent("DUP", "email", False, "unsubscribe")  # newer: wins
    crm.customers.set_consent("DUP", "sms", True, "shop")
    crm.customers.set_consent("KEEP", "phone", True, "call")
    return crm


def test_merge_moves_every_row_and_applies_the_field_rule(pair):
    crm = pair
    keep, dup = crm.customers.get("KEEP"), crm.customers.get("DUP")
    assert rows_pointing_at(crm, dup.id)["interactions.customer_id"] == 2
    merged = crm.customers.merge("KEEP", "DUP")
    assert merged.id == keep.id
    assert (merged.name, merged.email) == ("Ada Lovelace", "ada@example.com")  # KEEP wins
    assert merged.phone == "+442079460001"
    assert merged.organisation_id == crm.customers.get("ORG1").id
    assert merged.tags == ("newsletter", "vip")
    assert merged.attributes == {"city": "London", "nick": "", "vip": True}
    assert merged.created_at == dup.created_at  # the earlier of the two
    assert rows_pointing_at(crm, dup.id) == {}
    with pytest.raises(NotFound):
        crm.customers.get("DUP")
    assert [i.external_id for i in crm.interactions.list(customer="KEEP")] == ["k1", "d2", "d1"]
    assert crm.plugin("testvendor").purchases("KEEP") == 2  # 1 + 1, merged by the plugin
    assert crm.plugin("testvendor").notes("KEEP") == ["Welcome!", "Welcome!"]
    consents = {c.channel: (c.granted, c.source) for c in crm.customers.consents("KEEP")}
    assert consents == {"email": (False, "unsubscribe"), "sms": (True, "shop"),
                        "phone": (True, "call")}
    [entry] = [e for e in crm.customers.history("KEEP") if e.action == "merge"]
    assert entry.changes["duplicate"] == "DUP"
    assert entry.changes["fields"]["phone"] == [None, "+442079460001"]
    assert entry.changes["moved"]["interactions.customer_id"] == 2
    assert entry.changes["duplicate_profile"]["email"] == "ada@old.example"
    [event] = crm.events.list(type="customer.merged")
    assert event.customer_id == keep.id and event.payload["duplicate_id"] == dup.id
    assert crm.events.list(customer_id=dup.id) == []


def test_merge_an_organisation_moves_its_people(crm):
    crm.customers.add("ORG-A", "Acme", type="organisation")
    crm.customers.add("ORG-B", "Acme Ltd", type="organisation", email="info@acme.example")
    crm.customers.add("P1", "Pat", organisation="ORG-B")
    merged = crm.customers.merge("ORG-A", "ORG-B")
    assert merged.email == "info@acme.example"
    assert [p.external_id for p in crm.customers.list(organisation="ORG-A")] == ["P1"]


def test_dry_run_reports_and_writes_nothing(pair):
    crm = pair
    dup = crm.customers.get("DUP")
    before = rows_pointing_at(crm, dup.id)
    result = merge(crm, "KEEP", "DUP", dry_run=True)
    assert result.dry_run and result.customer.phone == "+442079460001"
    assert result.moved["interactions.customer_id"] == 2
    assert result.moved["testvendor_notes.customer_id"] == 1
    assert rows_pointing_at(crm, dup.id) == before
    assert crm.customers.get("KEEP").phone is None


def test_bad_merges_change_nothing(pair, run_cli):
    crm = pair
    dup = crm.customers.get("DUP")
    before = rows_pointing_at(crm, dup.id)
    with pytest.raises(ValidationError, match="cannot merge customer 'KEEP' into itself"):
        crm.customers.merge("KEEP", "KEEP")
    with pytest.raises(NotFound, match="no customer 'NOPE'"):
        crm.customers.merge("KEEP", "NOPE")
    with pytest.raises(ValidationError, match="cannot merge organisation 'ORG1' into person"):
        crm.customers.merge("KEEP", "ORG1")
    crm.customers.add("GONE", "Gone Person")
    crm.customers.erase("GONE")
    with pytest.raises(ValidationError, match="cannot merge into 'GONE': the customer was erased"):
        crm.customers.merge("GONE", "DUP")
    code, _, err = run_cli("customers", "merge", "GONE", "DUP", plugins=("crmkit_testvendor",))
    assert code == 1 and "was erased" in err and err.count("\n") == 1
    assert rows_pointing_at(crm, dup.id) == before


def test_a_plugin_leaving_rows_rolls_the_merge_back(pair, monkeypatch):
    import crmkit_testvendor.dataservices

    crm = pair
    dup = crm.customers.get("DUP")
    before = rows_pointing_at(crm, dup.id)
    monkeypatch.setattr(crmkit_testvendor.dataservices, "merge", lambda ctx, keep_id, duplicate_id: None)
    with pytest.raises(PluginError, match=r"testvendor_counts.customer_id still point at the "
                                          r"duplicate \(plugin 'testvendor' did not move them"):
        crm.customers.merge("KEEP", "DUP")
    assert rows_pointing_at(crm, dup.id) == before
    assert crm.customers.get("KEEP").phone is None


def test_a_disabled_plugin_holding_rows_blocks_the_merge(pair):
    crm = pair
    crm.plugins.disable("testvendor")
    with pytest.raises(PluginError, match=r"plugin 'testvendor' is not enabled, so it cannot "
                                          r"move them: `crmkit plugins enable testvendor`"):
        crm.customers.merge("KEEP", "DUP")
    assert crm.customers.get("DUP").email == "ada@old.example"


def test_merge_cli(pair, run_cli):
    code, out, err = run_cli("customers", "merge", "KEEP", "DUP", "--dry-run",
                             plugins=("crmkit_testvendor",))
    assert code == 0, err
    assert out.splitlines()[0] == "dry run, nothing written: would merge DUP into KEEP"
    assert '  phone: null -> "+442079460001"' in out
    assert "  would move 2 row(s) of interactions.customer_id" in out
    code, out, err = run_cli("customers", "merge", "KEEP", "DUP", plugins=("crmkit_testvendor",))
    assert code == 0 and out.startswith("merged DUP into KEEP"), err
    with pair.read() as conn:
        total = conn.execute(select(func.sum(tables.interactions.c.amount))
                             .where(tables.interactions.c.customer_id ==
                                    pair.customers.get("KEEP").id)).scalar()
    assert total == Decimal("15.00")


def test_a_customer_created_after_the_newest_was_merged_away_gets_a_new_id(crm):
    """Ids are never given twice: the merged-away customer's audit rows keep its id, so a new
    customer reusing it would be shown another person's history."""
    crm.customers.add("C1", "Ada")
    crm.customers.add("C2", "Ada L.")
    merged_away = crm.customers.get("C2").id
    merge(crm, "C1", "C2")
    crm.customers.add("C3", "Grace")
    assert crm.customers.get("C3").id > merged_away
    assert [(e.action, e.record_key) for e in crm.customers.history("C3")] == [
        ("create", "C3")]
    crm.interactions.record("C3", dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    with crm.transaction() as tx:  # the newest interaction deleted: its id is not given again
        newest = tx.conn.execute(select(func.max(tables.interactions.c.id))).scalar_one()
        tx.conn.execute(tables.interactions.delete().where(tables.interactions.c.id == newest))
    assert crm.interactions.record("C3", dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc)).id \
        > newest
