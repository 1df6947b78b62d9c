"""The Python API and the write pipeline's core checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crmkit import tables
from crmkit.errors import ConfigError, ConflictError, NotFound, ValidationError
from crmkit.services.importing import import_file

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def count(crm, table) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_customer_round_trip(crm):
    org = crm.customers.add("ORG1", "Acme Ltd", type="organisation")
    ada = crm.customers.add("C1", "Ada Lovelace", email="ada@example.com", organisation="ORG1",
                            tags=["vip", "vip", "b2b"], attributes={"city": "London"})
    assert ada.organisation_id == org.id
    assert ada.tags == ("b2b", "vip")
    assert crm.customers.get("C1") == ada
    assert crm.customers.find(email="ADA@example.com") == [ada]
    assert crm.customers.find(tag="vip") == [ada]
    assert [c.external_id for c in crm.customers.list(organisation="ORG1")] == ["C1"]
    updated = crm.customers.update("C1", phone="+44 20 7946 0001", attributes={"tier": "gold"})
    assert updated.attributes == {"city": "London", "tier": "gold"}
    with crm.read() as conn:
        audit = conn.execute(select(tables.audit_log.c.action, tables.audit_log.c.changes)
                             .where(tables.audit_log.c.record_key == "C1")
                             .order_by(tables.audit_log.c.id)).all()
    assert [a.action for a in audit] == ["create", "update"]
    assert audit[1].changes["phone"] == [None, "+442079460001"]
    assert [e.type for e in crm.events.list(customer_id=ada.id)] == ["customer.created",
                                                                      "customer.updated"]


def test_names_maps_external_ids_to_names_in_one_call(crm):
    crm.customers.add_many([{"external_id": "C1", "name": "Ada"}, {"external_id": "C2"},
                            {"external_id": "C3", "name": "Cy"}])
    assert crm.customers.names(["C2", "C1", "C1", "NOPE"]) == {"C1": "Ada", "C2": None}
    assert crm.customers.names([]) == {}


def test_adding_the_external_id_of_an_erased_customer_says_it_was_erased(crm):
    crm.customers.add("C1", "Ada")
    crm.customers.erase("C1")
    before = crm.customers.get("C1")
    with pytest.raises(ConflictError) as refused:
        crm.customers.add("C1", "Ada again")
    assert str(refused.value) == ("customer 'C1' was erased: its external id is not used "
                                  "again (choose another)")
    assert crm.customers.get("C1") == before


def test_customer_errors_leave_nothing(crm):
    crm.customers.add("C1", "Ada")
    with pytest.raises(ConflictError, match="already exists"):
        crm.customers.add("C1", "Someone else")
    with pytest.raises(ValidationError, match="email"):
        crm.customers.add("C2", "Bad", email="not-an-email")
    with pytest.raises(ValidationError, match="organisation"):
        crm.customers.add("C3", "Orphan", organisation="NOPE")
    with pytest.raises(NotFound):
        crm.customers.get("C2")
    assert count(crm, tables.customers) == 1


def stored_organisations(crm) -> list[tuple]:
    c = tables.customers.c
    with crm.read() as conn:
        return conn.execute(select(c.external_id, c.type, c.organisation_id)
                            .order_by(c.external_id)).all()


def test_a_type_change_keeps_the_organisation_rules_and_a_refused_batch_writes_nothing(crm):
    org = crm.customers.add("ORG", type="organisation")
    crm.customers.add_many([{"external_id": "ORG2", "type": "organisation"},
                            {"external_id": "P1", "organisation": "ORG"},
                            {"external_id": "P2"}])
    before = stored_organisations(crm)
    with pytest.raises(ValidationError, match=r"^type: 'ORG' cannot become a person "
                       r"while customers belong to it \('P1'\): give them another organisation"):
        crm.customers.update("ORG", type="person")
    with pytest.raises(ValidationError, match=r"^type: 'P1' belongs to an "
                       r"organisation, and an organisation cannot: give \"organisation\": null"):
        crm.customers.update("P1", type="organisation")
    with pytest.raises(ValidationError, match=r"^organisation: an organisation "
                       r"cannot belong to an organisation$"):
        crm.customers.update("ORG2", organisation="ORG")
    with pytest.raises(ValidationError) as caught:
        crm.customers.add_many([{"external_id": "P2", "name": "Bo"},
                                {"external_id": "ORG2", "type": "person"},
                                {"external_id": "P1", "organisation": "ORG2"}], atomic=True)
    assert [p[:2] for p in caught.value.problems] == [("row 3", "organisation")]
    assert stored_organisations(crm) == before
    assert crm.customers.get("P2").name is None
    detached = crm.customers.update("P1", type="organisation", organisation=None)
    assert (detached.type, detached.organisation_id) == ("organisation", None)
    assert crm.customers.update("ORG", type="person").type == "person"
    assert crm.customers.get("ORG").id == org.id


def test_record_and_read_back_exact_money(crm):
    crm.customers.add("C1", "Ada")
    stored = crm.interactions.record("C1", T0, kind="purchase", amount=Decimal("199.99"),
                                     channel="web", external_id="o-1", payload={"items": []})
    assert stored.amount == Decimal("199.99")
    assert stored.occurred_at == T0 and stored.occurred_at.tzinfo is not None
    assert stored.currency == "USD"
    again = crm.interactions.get(stored.id)
    assert again.amount == Decimal("199.99") and again.payload == {"items": []}
    with crm.read() as conn:
        total = conn.execute(select(func.sum(tables.interactions.c.amount))).scalar()
    assert total == Decimal("199.99")


def test_offset_datetimes_are_converted_to_utc(crm):
    crm.customers.add("C1", "Ada")
    plus2 = dt.timezone(dt.timedelta(hours=2))
    stored = crm.interactions.record("C1", dt.datetime(2024, 5, 1, 11, 30, tzinfo=plus2))
    assert crm.interactions.get(stored.id).occurred_at == T0


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"occurred_at": dt.datetime(2024, 1, 1)}, "occurred_at", "naive datetime"),
        ({"occurred_at": "2025-01-01"}, "occurred_at",
         "must be a timezone-aware datetime, got str"),
        ({"occurred_at": None}, "occurred_at", "required: a timezone-aware datetime"),
        ({"amount": "-5"}, "amount", "negative"),
        ({"amount": "abc"}, "amount", "not a number"),
        ({"amount": 1.5}, "amount", "floats are refused"),
        ({"amount": "1.00001"}, "amount", "4 decimal places"),
        ({"customer": "NOPE"}, "customer", "unknown customer"),
        ({"direction": "sideways"}, "direction", "inbound, outbound"),
        ({"currency": "euro"}, "currency", "ISO 4217"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_interactions_are_rejected_with_field(crm, fields, field, message):
    crm.customers.add("C1", "Ada")
    row = {"customer": "C1", "occurred_at": T0, "kind": "purchase", "amount": "10"} | fields
    with pytest.raises(ValidationError) as info:
        crm.interactions.record_many([row])
    assert f"row 1: {field}: " in str(info.value) and message in str(info.value)
    assert count(crm, tables.interactions) == 0


def test_negative_amount_allowed_for_configured_kinds(crm):
    crm.customers.add("C1", "Ada")
    crm.interactions.record("C1", T0, kind="adjustment", amount="-5")
    crm.plugins.configure_core({"negative_amount_kinds": []})
    with pytest.raises(ValidationError, match="negative"):
        crm.interactions.record("C1", T0, kind="adjustment", amount="-5")


def test_a_kind_is_one_kind_whatever_its_case(crm, tmp_path):
    """Kinds are kept in lower case, as configurations naming them are read: a purchase
    imported as ``Purchase`` is counted by what is configured with ``purchase``, and the
    reverse."""
    crm.customers.add("C1", "Ada")
    crm.plugins.enable("analytical", {"purchase_kinds": ["Order"]})
    assert crm.plugin_config("analytical")["purchase_kinds"] == ["order"]
    crm.interactions.record("C1", T0, kind=" ORDER ", amount="5")
    source = tmp_path / "orders.csv"
    source.write_text("customer,occurred_at,kind,amount,external_id\n"
                      f"C1,{T0.isoformat()},Order,7,o-1\n")
    assert import_file(crm, "interactions", str(source)).created == 1
    assert [i.kind for i in crm.interactions.list(kind="Order")] == ["order", "order"]
    [score] = crm.plugin("analytical").rfm(as_of=T0)
    assert (score.frequency, score.monetary) == (2, Decimal("12.0000"))
    crm.plugins.configure_core({**crm.core_config, "negative_amount_kinds": ["Adjustment "]})
    assert crm.core_config["negative_amount_kinds"] == ["adjustment"]
    crm.interactions.record("C1", T0, kind="ADJUSTMENT", amount="-1")
    with pytest.raises(ConfigError, match="'Call' is not an interaction kind"):
        crm.plugins.configure("analytical", {"purchase_kinds": ["order"], "engagement": {
            "weights": {"Call": 1, "call": 2}}})
    assert crm.plugin_config("analytical")["purchase_kinds"] == ["order"]


def test_one_bad_row_rejects_the_whole_batch(crm):
    crm.customers.add("C1", "Ada")
    rows = [{"customer": "C1", "occurred_at": T0 + dt.timedelta(minutes=i), "amount": str(i),
             "external_id": f"e{i}"} for i in range(50)]
    rows[37]["amount"] = "x"
    with pytest.raises(ValidationError, match="row 38: amount"):
        crm.interactions.record_many(rows, batch_size=100)
    assert count(crm, tables.interactions) == 0


def test_external_ids_are_idempotent_and_conflicts_refused(crm):
    crm.customers.add("C1", "Ada")
    row = {"customer": "C1", "occurred_at": T0, "amount": "10.00", "external_id": "x1"}
    first = crm.interactions.record_many([row, dict(row)])
    assert (first.created, first.unchanged) == (1, 1)
    again = crm.interactions.record_many([dict(row, amount="10")])
    assert (again.created, again.unchanged) == (0, 1)
    with pytest.raises(ValidationError, match="repeats row 1 with different amount"):
        crm.interactions.record_many([dict(row, external_id="x2"), dict(row, external_id="x2", amount="11")])
    with pytest.raises(ConflictError, match="'x1' is already stored with different amount"):
        crm.interactions.record_many([dict(row, external_id="new"), dict(row, amount="12")])
    assert count(crm, tables.interactions) == 1


def test_record_many_streams_a_generator_in_batches(crm):
    crm.customers.add_many({"external_id": f"C{i}"} for i in range(10))
    produced = []

    def rows():
        for i in range(2500):
            produced.append(i)
            yield {"customer": f"C{i % 10}", "occurred_at": T0, "external_id": f"g{i}"}

    result = crm.interactions.record_many(rows(), batch_size=1000)
    assert result.created == 2500 and len(produced) == 2500
    assert count(crm, tables.interactions) == 2500
    ids = sorted(i.id for i in crm.interactions.list(limit=None))
    assert ids == list(range(ids[0], ids[0] + 2500))


def test_the_garbage_collector_is_paused_per_batch_and_restored(crm, monkeypatch):
    import gc

    from crmkit import interactions

    crm.customers.add("C1", "Ada")
    seen = []
    write_batch = interactions.write_batch

    def watching(*args, **kwargs):
        seen.append(gc.isenabled())
        return write_batch(*args, **kwargs)

    monkeypatch.setattr(interactions, "write_batch", watching)
    rows = [{"customer": "C1", "occurred_at": T0, "external_id": f"gc{i}"} for i in range(5)]
    crm.interactions.record_many(rows, batch_size=2)
    assert seen == [False, False, False] and gc.isenabled()
    with pytest.raises(ValidationError):
        crm.interactions.record_many([{"customer": "NOPE", "occurred_at": T0}])
    assert gc.isenabled()                                   # restored after a failed batch
    gc.disable()
    try:
        crm.interactions.record_many([{"customer": "C1", "occurred_at": T0}])
        assert not gc.isenabled()                           # the caller's choice is kept
    finally:
        gc.enable()


def test_atomic_record_many_leaves_nothing_on_failure(crm):
    crm.customers.add("C1", "Ada")
    rows = [{"customer": "C1", "occurred_at": T0, "external_id": f"a{i}"} for i in range(30)]
    rows.append({"customer": "NOPE", "occurred_at": T0})
    with pytest.raises(ValidationError, match="row 31"):
        crm.interactions.record_many(rows, batch_size=10, atomic=True)
    assert count(crm, tables.interactions) == 0


def test_create_customers_on_the_fly(crm):
    result = crm.interactions.record_many(
        [{"customer": "NEW1", "occurred_at": T0}, {"customer": "NEW2", "occurred_at": T0}],
        create_customers=True)
    assert result.created == 2
    assert crm.customers.get("NEW2").name is None


def test_staff(crm):
    crm.staff.add("ana", "Ana", "sales")
    crm.staff.add("ben", "Ben", "support")
    assert [s.handle for s in crm.staff.list(team="sales")] == ["ana"]
    with pytest.raises(ConflictError):
        crm.staff.add("ana", "Ana again", "sales")


def test_an_upsert_batch_updates_each_customer_with_its_own_fields_audit_and_event(crm):
    crm.customers.add_many([{"external_id": f"C{i}", "name": f"N{i}", "tags": ["a"]}
                            for i in range(4)])
    result = crm.customers.add_many([
        {"external_id": "C0", "name": "Zero"},
        {"external_id": "C1", "tags": ["a", "b"]},
        {"external_id": "C2", "name": "Two", "tags": []},
        {"external_id": "C3", "name": "N3"},  # unchanged
        {"external_id": "C4", "name": "Four"},  # new
    ], upsert=True)
    assert (result.created, result.updated, result.unchanged) == (1, 3, 1)
    got = {c.external_id: (c.name, c.tags) for c in crm.customers.list(limit=None)}
    assert got == {"C0": ("Zero", ("a",)), "C1": ("N1", ("a", "b")), "C2": ("Two", ()),
                   "C3": ("N3", ("a",)), "C4": ("Four", ())}
    with crm.read() as conn:
        audit = conn.execute(select(tables.audit_log.c.record_key, tables.audit_log.c.changes)
                             .where(tables.audit_log.c.action == "update")
                             .order_by(tables.audit_log.c.record_key)).all()
    assert [(a.record_key, a.changes) for a in audit] == [
        ("C0", {"name": ["N0", "Zero"]}), ("C1", {"tags": [["a"], ["a", "b"]]}),
        ("C2", {"name": ["N2", "Two"], "tags": [["a"], []]})]
    updated = sorted((e.payload["external_id"], e.payload["fields"])
                     for e in crm.events.list(type="customer.updated"))
    assert updated == [("C0", ["name"]), ("C1", ["tags"]), ("C2", ["name", "tags"])]


def test_crmkit_now_pins_the_clock_of_a_process(monkeypatch, tmp_path):
    import datetime as dt

    import crmkit

    monkeypatch.setenv("CRMKIT_NOW", "2026-03-01T09:00:00+01:00")
    with crmkit.CRM.open(f"sqlite:///{tmp_path / 'pinned.db'}", create=True) as crm:
        assert crm.clock.now() == dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setenv("CRMKIT_NOW", "yesterday")
    with pytest.raises(ValidationError, match="CRMKIT_NOW: 'yesterday' is not an ISO 8601"):
        crmkit.CRM.open(f"sqlite:///{tmp_path / 'other.db'}", create=True)


def test_the_reads_of_a_snapshot_share_one_connection_and_see_one_state(crm):
    crm.customers.add("C1", "Ada")

    def count() -> int:
        with crm.read() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM customers").scalar_one()

    with crm.read() as first, crm.read() as second:
        assert first is not second
    with crm.snapshot():
        with crm.read() as first, crm.read() as second:
            assert first is second
        with crm.snapshot():  # nested: the same snapshot
            with crm.read() as inner:
                assert inner is first
        assert count() == 1
        crm.customers.add("C2", "Grace")  # a write transaction of its own, committed
        assert count() == 1  # the snapshot's reads still see the state of its first read
    assert count() == 2
    with pytest.raises(ZeroDivisionError), crm.snapshot():  # an error passes through unchanged
        assert count() == 2
        1 / 0
    with crm.read() as first, crm.read() as second:  # and the snapshot is over
        assert first is not second
    with crm.transaction():
        crm.customers.add("C3", "Hedy")
        with crm.snapshot():  # inside a transaction: its connection, its writes
            assert count() == 3


def test_a_stored_customer_joins_an_organisation_its_batch_creates(crm):
    crm.customers.add("P1", "Pat")
    result = crm.customers.add_many([{"external_id": "P1", "organisation": "ORG"},
                                     {"external_id": "ORG", "type": "organisation"}])
    assert (result.created, result.updated) == (1, 1)   # it said "unchanged" and dropped it
    assert crm.customers.get("P1").organisation_id == crm.customers.get("ORG").id
    [entry] = [e for e in crm.customers.history("P1") if e.action == "update"]
    assert entry.changes == {"organisation_id": [None, crm.customers.get("ORG").id]}


def refund(customer, of, at, external_id, **fields) -> dict:
    """A refund row naming the purchase ``of`` (external id)."""
    return {"customer": customer, "occurred_at": at, "kind": "refund",
            "external_id": external_id, "payload": {"refund_of": of}, **fields}


def refund_problems(crm, rows, **options) -> list[tuple[str, str, str]]:
    """The problems of recording ``rows`` (which must fail); nothing of them is written."""
    before = count(crm, tables.interactions)
    with pytest.raises(ValidationError) as caught:
        crm.interactions.record_many(rows, **options)
    assert count(crm, tables.interactions) == before
    return caught.value.problems


def test_a_refund_names_a_purchase_of_its_own_customer_made_before_it(crm):
    crm.customers.add_many([{"external_id": "A"}, {"external_id": "B"}])
    crm.interactions.record("A", T0, amount="100", external_id="PA")
    later = T0 + dt.timedelta(days=1)
    assert refund_problems(crm, [refund("B", "PA", later, "RB")]) == [
        ("row 1", "payload", "/refund_of: 'PA' is a purchase of another customer; a refund is "
         "recorded on the customer of the purchase it refunds")]
    assert refund_problems(crm, [refund("A", "PA", T0 - dt.timedelta(days=31), "RA")]) == [
        ("row 1", "payload", "/refund_of: 'PA' is a purchase of 2024-05-01T09:30:00+00:00, after "
         "this refund (2024-03-31T09:30:00+00:00); a refund is dated at or after the purchase "
         "it refunds")]
    assert refund_problems(crm, [refund("A", 7, later, "R7")]) == [
        ("row 1", "payload", "/refund_of: must be the external id of the purchase refunded, as "
         "text (got int)")]
    assert crm.interactions.check([refund("B", "PA", later, "RB")], ["line 2"])[0][:2] == (
        "line 2", "payload")
    crm.interactions.record_many([refund("A", "PA", T0, "RA"),        # the same instant is fine
                                  refund("B", "NOT-RECORDED", later, "RN")])
    assert count(crm, tables.interactions) == 3


def test_a_refund_and_its_purchase_in_one_batch_and_after_a_merge(crm):
    crm.customers.add_many([{"external_id": "A"}, {"external_id": "B"}, {"external_id": "D"}])
    later = T0 + dt.timedelta(days=1)
    assert [p[:2] for p in refund_problems(crm, [
        refund("B", "P1", later, "R1"),                   # names a purchase of a later row
        {"customer": "A", "occurred_at": T0, "amount": "5", "external_id": "P1"},
        refund("A", "P1", T0 - dt.timedelta(seconds=1), "R2")])] == [
        ("row 1", "payload"), ("row 3", "payload")]
    assert [p[:2] for p in refund_problems(crm, [
        {"customer": "NEW1", "occurred_at": T0, "amount": "5", "external_id": "PN"},
        refund("NEW2", "PN", later, "RN2")], create_customers=True)] == [
        ("row 2", "payload")]
    crm.interactions.record_many([
        refund("NEW1", "PN", later, "RN1"),
        {"customer": "NEW1", "occurred_at": T0, "amount": "5", "external_id": "PN"},
        {"customer": "D", "occurred_at": T0, "amount": "5", "external_id": "PD"}],
        create_customers=True)
    crm.customers.merge("A", "D")
    crm.interactions.record_many([refund("A", "PD", later, "RD")])   # D's purchase is A's now
    assert count(crm, tables.interactions) == 4


def test_a_refund_is_in_the_currency_of_its_purchase(crm):
    crm.customers.add_many([{"external_id": "A"}])
    crm.interactions.record("A", T0, amount="50", currency="USD", external_id="P1")
    later = T0 + dt.timedelta(days=1)
    assert refund_problems(crm, [
        refund("A", "P1", later, "R1", amount="1000", currency="JPY"),     # a stored purchase
        {"customer": "A", "occurred_at": T0, "kind": "purchase", "amount": "9",
         "currency": "EUR", "external_id": "P2"},
        refund("A", "P2", later, "R2", amount="9")]) == [                 # the default: USD
        ("row 1", "payload", "/refund_of: 'P1' is a purchase in USD, this refund is in JPY; a "
         "refund is in the currency of the purchase it refunds"),
        ("row 3", "payload", "/refund_of: 'P2' is a purchase in EUR, this refund is in USD; a "
         "refund is in the currency of the purchase it refunds")]
    crm.interactions.record_many([refund("A", "P1", later, "R3", amount="20", currency="USD"),
                                  refund("A", "P1", later, "R4")])         # no amount: the rest
    assert count(crm, tables.interactions) == 3


def test_a_refund_names_a_purchase_not_another_kind_of_interaction(crm, run_cli):
    crm.customers.add_many([{"external_id": "A"}])
    crm.interactions.record("A", T0, kind="email", external_id="M1")
    crm.interactions.record("A", T0, kind="refund", amount="5", external_id="R1")
    later = T0 + dt.timedelta(days=1)
    assert refund_problems(crm, [refund("A", "M1", later, "R2")]) == [
        ("row 1", "payload", "/refund_of: 'M1' is not a purchase (its kind is 'email'); a "
         "refund names the external id of the purchase it refunds")]
    assert [p[:2] for p in refund_problems(crm, [
        refund("A", "R1", later, "R3"),                   # a stored refund
        {"customer": "A", "occurred_at": T0, "kind": "visit", "external_id": "V1"},
        refund("A", "V1", later, "R4")])] == [("row 1", "payload"), ("row 3", "payload")]
    with pytest.raises(ValidationError, match="'R1' is not a purchase"):
        crm.interactions.record("A", later, kind="refund", payload={"refund_of": "R1"})
    code, _, err = run_cli("interactions", "record", "A", "--kind", "refund", "--at",
                           "2024-05-02", "--payload", '{"refund_of": "M1"}')
    assert (code, err) == (1, "error: payload: /refund_of: 'M1' is not a purchase (its "
                              "kind is 'email'); a refund names the external id of the purchase "
                              "it refunds\n")
    assert count(crm, tables.interactions) == 2
