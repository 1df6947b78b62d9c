"""Privacy requests and consent: export everything, erase everywhere, consent per channel."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import JSON, String, Text, cast, column, func, inspect, or_, select, table, text

from crmkit import tables
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConsentError, NotFound, PluginError, ValidationError

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
ADA = {"name": "Ada Lovelace", "email": "ada.lovelace@example.com", "phone": "+442079460123"}
HANDLE = "@ada_codes"


def scan(crm, needles: list[str], every_column: bool = False) -> list[str]:
    """Every ``table.column`` of the whole database whose text or JSON (``every_column``: any
    column, read as text) contains a needle."""
    hits = []
    with crm.read() as conn:
        inspector = inspect(conn)
        for name in inspector.get_table_names():
            columns = inspector.get_columns(name)
            clause = table(name, *[column(c["name"], c["type"]) for c in columns])
            for c in columns:
                if not every_column and not isinstance(c["type"], (String, JSON)):
                    continue
                text = func.lower(cast(clause.c[c["name"]], Text))
                forms = set()
                for needle in needles:
                    forms.add(needle.lower())
                    forms.add(needle.lower().encode("ascii", "backslashreplace").decode()
                              .replace("\\x", "\\u00"))
                if conn.execute(select(func.count()).select_from(clause).where(
                        or_(*[text.contains(f, autoescape=True) for f in forms]))).scalar_one():
                    hits.append(f"{name}.{c['name']}")
    return hits


def person(crm, external_id="C1", **extra):
    fields = dict(ADA, tags=["vip", "ada-fan"], attributes={"city": "London", "nick": "Countess"},
                  preferred_channel="email")
    fields.update(extra)
    name = fields.pop("name")
    return crm.customers.add(external_id, name, **fields)


def test_erase_removes_personal_data_from_every_table(vendor_crm, run_cli):
    crm = vendor_crm
    crm.plugins.enable("testvendor")
    crm.customers.add("BOB", "Bob Stone", email="bob@example.com")
    code, _, err = run_cli("customers", "add", "C1", "--name", ADA["name"], "--email",
                           ADA["email"], "--tag", "vip", "--attr", f"handle={HANDLE}",
                           plugins=("crmkit_testvendor",))
    assert code == 0, err
    ada = crm.customers.get("C1")
    crm.command = f"crmkit customers update C1 --phone '{ADA['phone']}'"
    crm.customers.update("C1", phone="+44 20 7946 9999", lifecycle_stage="customer")
    crm.customers.update("C1", phone=ADA["phone"])
    crm.customers.set_consent("C1", "email", True, "web form")
    crm.interactions.record_many([
        {"customer": "C1", "occurred_at": T0, "amount": "120.50", "external_id": "o1",
         "payload": {"items": [{"sku": "B-1", "category": "books", "amount": "120.50"}],
                     "gift_message": "For Ada Lovelace"}},
        {"customer": "C1", "occurred_at": T0, "kind": "complaint", "external_id": "k1",
         "payload": {"text": "Call me on +44 20 7946 0123", "priority": "high"}},
        {"customer": "C1", "occurred_at": T0, "kind": "survey", "external_id": "s1",
         "payload": {"nps": 9, "comment": "ada.lovelace@example.com loves it",
                     "from": HANDLE}},
        {"customer": "BOB", "occurred_at": T0, "amount": "10", "external_id": "b1"},
    ])
    needles = [ADA["name"], ADA["email"], ADA["phone"], HANDLE]
    assert set(scan(crm, needles)) >= {"customers.name", "customers.email", "customers.phone",
                                       "interactions.payload", "audit_log.changes",
                                       "audit_log.command", "customers.attributes"}
    code, out, err = run_cli("customers", "erase", "C1", "--yes", plugins=("crmkit_testvendor",))
    assert code == 0, err
    assert scan(crm, needles) == []
    erased = crm.customers.get("C1")
    assert erased.erased_at is not None and erased.name is None and erased.attributes == {}
    assert erased.tags == () and erased.lifecycle_stage == "customer"
    # amounts, dates and scores still add up
    with crm.read() as conn:
        total = conn.execute(select(func.sum(tables.interactions.c.amount))).scalar()
    assert total == Decimal("130.50")
    payloads = {i.external_id: i.payload for i in crm.interactions.list(customer="C1")}
    assert payloads["o1"] == {"items": [{"sku": "B-1", "category": "books", "amount": "120.50"}],
                              "gift_message": "(erased)"}
    assert payloads["k1"] == {"text": "(erased)", "priority": "high"}
    assert payloads["s1"] == {"nps": 9, "comment": "(erased)", "from": "(erased)"}
    assert crm.plugin("testvendor").notes("C1") == ["(erased)"]
    assert crm.plugin("testvendor").purchases("C1") == 1
    assert crm.customers.get("BOB").email == "bob@example.com"  # others untouched
    # the request is recorded without the personal data; consent withdrawn; event emitted
    with crm.read() as conn:
        [request] = conn.execute(select(tables.privacy_requests)).mappings().all()
    assert (request["customer_id"], request["kind"]) == (ada.id, "erase")
    assert request["details"]["plugins"] == ["testvendor"]
    assert not crm.customers.has_consent(ada.id, "email")
    assert [e.type for e in crm.events.list(type="customer.erased")] == ["customer.erased"]
    with pytest.raises(ValidationError, match="'C1' was erased"):
        crm.customers.update("C1", name="Ada again")


def test_erase_replaces_an_external_id_made_of_personal_data(crm):
    person(crm, external_id="ada.lovelace@example.com")
    tombstone = crm.customers.erase("ada.lovelace@example.com")
    assert tombstone.external_id.startswith("erased-")
    assert scan(crm, [ADA["email"]]) == []


def test_erase_keeps_the_text_of_payload_keys_a_plugin_declares_not_personal(vendor_crm):
    crm = vendor_crm
    person(crm)
    crm.interactions.record("C1", T0, kind="survey", payload={
        "vendor_grade": "gold", "nps": "9", "comment": "fine", "channel": "web",
        "items": [{"sku": "SKU-1", "vendor_grade": "silver", "note": "gift for Ada"}]})
    crm.customers.erase("C1")
    [interaction] = crm.interactions.list(customer="C1")
    # vendor_grade: declared by the (installed) test vendor plugin; nps and sku: by the built-in
    # analytical and loyalty plugins; channel: the core's own
    assert interaction.payload == {
        "vendor_grade": "gold", "nps": "9", "comment": "(erased)", "channel": "web",
        "items": [{"sku": "SKU-1", "vendor_grade": "silver", "note": "(erased)"}]}


def test_erase_unknown_and_a_disabled_plugin_holding_data(vendor_crm):
    crm = vendor_crm
    with pytest.raises(NotFound, match="no customer 'NOPE'"):
        crm.customers.erase("NOPE")
    crm.plugins.enable("testvendor")
    person(crm)
    crm.plugins.disable("testvendor")
    with pytest.raises(PluginError) as refused:
        crm.customers.erase("C1")
    assert str(refused.value) == (
        "cannot erase 'C1': testvendor_notes.customer_id holds 1 row(s) about them: run "
        "`crmkit plugins enable testvendor` first so its data is erased too")
    assert crm.customers.get("C1").name == ADA["name"]
    assert scan(crm, [ADA["email"]])  # nothing was changed


def test_a_table_of_no_installed_plugin_holding_data_refuses_both_requests(crm):
    ada = person(crm)
    with crm.transaction() as tx:
        tx.conn.execute(text("CREATE TABLE gone_notes (id INTEGER PRIMARY KEY, customer_id "
                             "INTEGER)"))
        tx.conn.execute(text(f"INSERT INTO gone_notes VALUES (1, {ada.id})"))
    for request, verb in [(crm.customers.erase, "erase"), (crm.customers.export_data, "export")]:
        with pytest.raises(PluginError) as refused:
            request("C1")
        assert str(refused.value) == (
            f"cannot {verb} 'C1': gone_notes.customer_id holds 1 row(s) about them, in a table "
            "of no installed plugin: delete those rows first")


def test_a_plugin_that_forgets_personal_data_rolls_the_erasure_back(vendor_crm, monkeypatch):
    import crmkit_testvendor.dataservices

    crm = vendor_crm
    crm.plugins.enable("testvendor", {"welcome_note": "Hello Ada Lovelace"})
    person(crm)
    monkeypatch.setattr(crmkit_testvendor.dataservices, "erase", lambda ctx, customer_id: None)
    with pytest.raises(PluginError, match=r"personal data is still in testvendor_notes "
                                          r"\(plugin testvendor\) column note"):
        crm.customers.erase("C1")
    assert crm.customers.get("C1").erased_at is None


def test_export_data_holds_everything_and_is_recorded(vendor_crm):
    crm = vendor_crm
    crm.plugins.enable("testvendor")
    ada = person(crm)
    crm.customers.set_consent("C1", "sms", False, "phone call")
    crm.interactions.record("C1", T0, amount=Decimal("5.25"), external_id="o1")
    data = crm.customers.export_data("C1")
    assert data["customer"]["email"] == ADA["email"]
    assert data["customer"]["attributes"] == {"city": "London", "nick": "Countess"}
    assert [(c["channel"], c["granted"], c["source"]) for c in data["consents"]] == [
        ("sms", False, "phone call")]
    assert [(i["external_id"], i["amount"]) for i in data["interactions"]] == [("o1", "5.2500")]
    assert [a["action"] for a in data["audit_log"]] == ["create", "consent"]
    assert "customer.created" in [e["type"] for e in data["events"]]
    assert data["plugins"]["testvendor"] == {
        "notes": [{"note": "Welcome!", "author_email": "vendor@example.com",
                   "created_at": "2025-01-01T12:00:00+00:00"}], "purchases": 1}
    with crm.read() as conn:
        [request] = conn.execute(select(tables.privacy_requests)).mappings().all()
    assert (request["customer_id"], request["kind"]) == (ada.id, "export")
    assert request["details"]["rows"]["interactions"] == 1
    assert ADA["email"] not in str(request["details"])


def test_export_data_of_an_organisation_lists_its_people(crm, run_cli):
    import json

    crm.customers.add("O1", "Oak Ltd", type="organisation")
    person(crm, organisation="O1")
    code, out, err = run_cli("customers", "export-data", "O1")
    assert (code, err) == (0, "")
    assert json.loads(out)["people"] == [{"external_id": "C1", "name": ADA["name"]}]


def test_export_data_cli_writes_json(crm, run_cli, tmp_path):
    import json

    person(crm)
    code, out, _ = run_cli("customers", "export-data", "C1")
    assert code == 0 and json.loads(out)["customer"]["name"] == ADA["name"]
    code, _, err = run_cli("customers", "export-data", "NOPE")
    assert code == 1 and err == "error: no customer 'NOPE'\n"


def export_requests(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(tables.privacy_requests)
                            .where(tables.privacy_requests.c.kind == "export")).scalar_one()


def test_export_data_is_refused_while_a_disabled_plugin_holds_data(crm, run_cli, tmp_path):
    import json

    person(crm)
    crm.plugins.enable("loyalty")
    crm.interactions.record("C1", T0, amount=Decimal("20"))
    crm.plugins.disable("loyalty")
    target = tmp_path / "c1.json"
    code, out, err = run_cli("customers", "export-data", "C1", "-o", str(target))
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot export 'C1': loyalty_") and err.endswith(
        " row(s) about them: run `crmkit plugins enable loyalty` first so its data is "
        "exported too\n") and err.count("\n") == 1
    assert not target.exists() and export_requests(crm) == 0
    crm.plugins.enable("loyalty")
    code, _, err = run_cli("customers", "export-data", "C1", "-o", str(target))
    assert code == 0, err
    assert "loyalty" in json.loads(target.read_text(encoding="utf-8"))["plugins"]


def test_export_data_to_a_file_is_atomic_private_and_recorded_once_delivered(
        crm, run_cli, tmp_path, monkeypatch):
    import errno
    import json
    import os
    import tempfile

    person(crm)
    target = tmp_path / "ada.json"
    target.write_text("the previous export\n", encoding="utf-8")
    target.chmod(0o644)
    real = tempfile.NamedTemporaryFile

    def disk_full(*args, **kwargs):  # the first write fails as on a full disk
        handle = real(*args, **kwargs)

        def write(text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        handle.write = write
        return handle

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", disk_full)
    code, out, err = run_cli("customers", "export-data", "C1", "-o", str(target))
    assert code == 1
    assert err == f"error: cannot write {target}: No space left on device (nothing was written)\n"
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".crmkit")] == []
    assert export_requests(crm) == 0

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", real)
    old_umask = os.umask(0o022)
    try:
        code, out, err = run_cli("customers", "export-data", "C1", "-o", str(target))
    finally:
        os.umask(old_umask)
    assert code == 0, err
    assert json.loads(target.read_text(encoding="utf-8"))["customer"]["name"] == ADA["name"]
    assert target.stat().st_mode & 0o777 == 0o600
    assert export_requests(crm) == 1


def test_consent_per_channel_with_source_and_time(crm, clock, run_cli):
    ada = person(crm)
    assert not crm.customers.has_consent(ada.id, "email")
    with pytest.raises(ConsentError, match=r"customer 'C1' has not consented to contact on "
                                           r"channel 'email' \(no consent recorded\)"):
        crm.customers.require_consent(ada.id, "email")
    crm.customers.set_consent("C1", "email", True, "web form")
    crm.customers.require_consent(ada.id, "email")
    assert crm.customers.has_consent(ada.id, "email") and not crm.customers.has_consent(ada.id,
                                                                                        "sms")
    clock.advance(days=2)
    crm.customers.set_consent("C1", "email", False, "unsubscribe link")
    code, out, err = run_cli("customers", "consent", "C1", "sms", "grant", "--source", "shop")
    assert code == 0 and "consent on sms granted for C1 (source: shop)" in out, err
    assert crm.customers.has_consent(ada.id, "sms")
    with pytest.raises(ConsentError, match=r"'email' \(withdrawn 2025-01-03 .* source "
                                           r"'unsubscribe link'\)"):
        crm.customers.require_consent(ada.id, "email")
    consent, _ = crm.customers.consents("C1")
    assert (consent.channel, consent.granted, consent.source) == \
        ("email", False, "unsubscribe link")
    assert consent.recorded_at == dt.datetime(2025, 1, 3, 12, tzinfo=UTC)
    history = [e.changes for e in crm.customers.history("C1") if e.action == "consent"
               and e.changes["channel"] == "email"]
    assert history == [{"channel": "email", "granted": [True, False],
                        "source": ["web form", "unsubscribe link"]},
                       {"channel": "email", "granted": [None, True], "source": [None, "web form"]}]
    assert len(crm.events.list(type="consent.changed")) == 3
    with pytest.raises(ValidationError, match="consent source: required"):
        crm.customers.set_consent("C1", "sms", True, " ")
    with pytest.raises(ValidationError, match=r"^consent source: contains U\+0007"):
        crm.customers.set_consent("C1", "sms", True, "form\x07")
    with pytest.raises(NotFound):
        crm.customers.require_consent(999, "email")


def test_consent_is_one_decision_per_channel_whatever_its_case(crm, clock):
    """A withdrawal typed ``Email`` withdraws the grant on ``email``: names are kept in lower
    case, checked so too, and a name that is no channel's is refused, nothing written."""
    crm.customers.add("C1")
    ada = crm.customers.get("C1")
    crm.customers.set_consent("C1", "email", True, "web form")
    clock.advance(days=1)
    crm.customers.set_consent("C1", " Email ", False, "phone call")
    assert [(c.channel, c.granted) for c in crm.customers.consents("C1")] == [("email", False)]
    assert not crm.customers.has_consent(ada.id, "email")
    with pytest.raises(ConsentError, match=r"channel 'email' \(withdrawn"):
        crm.customers.require_consent(ada.id, "EMAIL")
    crm.customers.set_consent("C1", "微信", True, "app")
    assert crm.customers.has_consent(ada.id, " 微信")
    before = crm.customers.consents("C1")
    for bad, problem in (("e\x07mail", "contains U+0007"), ("e\u200bmail", "contains U+200B"),
                         ("x" * 41, "41 characters; at most 40"),
                         ("  ", "required non-empty text")):
        with pytest.raises(ValidationError, match=f"^consent channel: {re.escape(problem)}"):
            crm.customers.set_consent("C1", bad, True, "web form")
    assert crm.customers.consents("C1") == before
    assert_keeps_max_field_length(
        crm, "consent source", lambda text: crm.customers.set_consent("C1", "sms", True, text),
        lambda: crm.customers.consents("C1"))
