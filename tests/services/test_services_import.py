"""Import and export: two-pass checking, atomic writes, idempotence, round trips, bad files."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crmkit import tables
from crmkit.errors import ValidationError
from crmkit.services import records
from crmkit.services.exporting import export
from crmkit.services.importing import ImportRejected, import_file

UTC = dt.timezone.utc
HEADER = "customer,occurred_at,kind,channel,amount,currency,external_id,note\n"


def counts(crm) -> dict[str, int]:
    with crm.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (tables.customers, tables.interactions, tables.audit_log,
                          tables.events)}


def interaction_lines(n: int, customers: int = 50) -> list[str]:
    """``n`` valid purchase rows; row i is file line i + 2 (after the header)."""
    return [f"C{i % customers},2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z,purchase,web,"
            f"{10 + i % 90}.25,USD,o{i},note {i}\n" for i in range(n)]


@pytest.fixture
def shop(crm):
    crm.customers.add_many({"external_id": f"C{i}", "name": f"Customer {i}"} for i in range(50))
    return crm


def write(path, lines, header=HEADER):
    path.write_text(header + "".join(lines), encoding="utf-8")
    return str(path)


BAD_ROWS = {
    "wrong date": ("C1,2024-13-45,purchase,web,5.00,USD,bad,x\n", "occurred_at",
                   "'2024-13-45' is not an ISO 8601 date"),
    "non-numeric amount": ("C1,2024-05-01,purchase,web,twelve,USD,bad,x\n", "amount",
                           "'twelve' is not a number"),
    "unknown customer": ("NOBODY,2024-05-01,purchase,web,5.00,USD,bad,x\n", "customer",
                         "unknown customer 'NOBODY'"),
    "repeated external id": ("C2,2024-05-01,purchase,web,999.00,USD,o17,x\n", "external_id",
                             "repeats the external id of line 19 with different content"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_one_bad_row_among_10000_writes_nothing_and_names_the_line(shop, tmp_path, case):
    bad, field, message = BAD_ROWS[case]
    lines = interaction_lines(10_000)
    lines[7_000] = bad  # file line 7,002
    path = write(tmp_path / "i.csv", lines)
    before = counts(shop)
    with pytest.raises(ImportRejected) as caught:
        import_file(shop, "interactions", path)
    report = caught.value.report
    assert report.read == 10_000 and report.rejected == 1 and not report.written
    [(where, got_field, got_message)] = report.problems
    assert (where, got_field) == ("line 7002", field) and message in got_message
    assert counts(shop) == before


def test_skip_invalid_writes_the_rest_and_reimport_changes_nothing(shop, tmp_path):
    lines = interaction_lines(10_000)
    lines[4_321] = BAD_ROWS["wrong date"][0]
    path = write(tmp_path / "i.csv", lines)
    report = import_file(shop, "interactions", path, skip_invalid=True)
    assert report.summary() == "read 10000, created 9999, updated 0, unchanged 0, rejected 1"
    assert report.problems[0][0] == "line 4323"
    with shop.read() as conn:
        total = conn.execute(select(func.sum(tables.interactions.c.amount))).scalar()
    expected = sum(Decimal(f"{10 + i % 90}.25") for i in range(10_000) if i != 4_321)
    assert total == expected
    before = counts(shop)
    again = import_file(shop, "interactions", path, skip_invalid=True)
    assert again.summary() == "read 10000, created 0, updated 0, unchanged 9999, rejected 1"
    assert counts(shop)["interactions"] == before["interactions"]


def test_dry_run_checks_everything_and_writes_nothing(shop, tmp_path):
    path = write(tmp_path / "i.csv", interaction_lines(30) + [
        "NEW1,2024-05-01,visit,store,,,v1,\n", "NEW1,2024-05-02,visit,store,,,v2,\n"])
    import_file(shop, "interactions", write(tmp_path / "first.csv", interaction_lines(10)))
    before = counts(shop)
    report = import_file(shop, "interactions", path, dry_run=True, create_customers=True)
    assert (report.created, report.unchanged, report.rejected) == (22, 10, 0)
    assert report.new_customers == 1 and not report.written
    assert counts(shop) == before
    report = import_file(shop, "interactions", path, create_customers=True)
    assert (report.created, report.unchanged, report.new_customers) == (22, 10, 1)
    assert shop.customers.get("NEW1").name is None


REPEATS = [
    "C1,2024-05-01,purchase,web,5.00,USD,o1,\n",    # line 2: o1's first line
    "C2,2024-05-01,purchase,web,6.00,USD,o2,\n",    # line 3
    "C1,2024-05-01,purchase,web,5.00,USD,o1,\n",    # line 4: o1 again, the same: unchanged
    "C3,2024-05-02,visit,store,,,o3,\n",            # line 5
    "C2,2024-05-01,purchase,web,7.00,USD,o2,\n",    # line 6: o2 with another amount
    "C1,2024-05-01,purchase,web,5.00,USD,o1,x\n",   # line 7: o1 with a note
    "C4,2024-05-03,visit,store,,,o4,\n",            # line 8
    "C4,2024-05-03,visit,store,,,o4,\n",            # line 9: the same as line 8
    "C1,2024-05-01,purchase,web,5.00,USD,o1,\n",    # line 10: the same as line 2
]


@pytest.mark.parametrize("batch_size", [1, 2, 3, None])
def test_repeated_external_ids_are_compared_with_their_first_line_in_any_batch(
        shop, tmp_path, batch_size):
    """Whether a repeat falls in its first line's batch or a later one, the answer is the same:
    identical repeats are unchanged, others rejected naming the first line."""
    path = write(tmp_path / "i.csv", REPEATS)
    expected = [("line 6", "external_id", "repeats the external id of line 3 with different "
                 "content"), ("line 7", "external_id", "repeats the external id of line 2 "
                              "with different content")]
    for dry_run in (True, False):
        report = import_file(shop, "interactions", path, batch_size=batch_size,
                             skip_invalid=True, dry_run=dry_run)
        assert report.summary() == "read 9, created 4, updated 0, unchanged 3, rejected 2"
        assert report.problems == expected
    assert counts(shop)["interactions"] == 4
    with pytest.raises(ImportRejected) as caught:
        import_file(shop, "interactions", path, batch_size=batch_size)
    assert caught.value.report.problems == expected


REFUNDS = [
    "NOBODY,2024-05-01,purchase,1.00,o0,\n",  # line 2: unknown customer
    "C1,2024-05-01,purchase,50.00,1001,\n",   # line 3
    "C2,2024-05-02,refund,50.00,r1,1001\n",   # line 4: C1's purchase
    "C1,2024-04-30,refund,50.00,r2,1001\n",   # line 5: before the purchase
    "C1,2024-05-02,refund,20.00,r3,1001\n",   # line 6
    "C2,2024-05-03,refund,5.00,r4,o-shop\n",  # line 7: a purchase crmkit never recorded
]


@pytest.mark.parametrize("batch_size", [1, 2, None])
def test_a_refund_of_another_customers_or_a_later_purchase_is_rejected_in_any_batch(
        shop, tmp_path, batch_size):
    """The refund rule sees the file's earlier lines in the batch, written, or only checked
    (a dry run, or the lines after a rejected one), so every answer is the same."""
    path = write(tmp_path / "r.csv", REFUNDS,
                 header="customer,occurred_at,kind,amount,external_id,refund_of\n")
    expected = [("line 4", "payload"), ("line 5", "payload")]
    with pytest.raises(ImportRejected) as caught:
        import_file(shop, "interactions", path, batch_size=batch_size)
    assert [p[:2] for p in caught.value.report.problems[1:]] == expected
    for dry_run in (True, False):
        report = import_file(shop, "interactions", path, batch_size=batch_size,
                             skip_invalid=True, dry_run=dry_run)
        assert report.summary() == "read 6, created 3, updated 0, unchanged 0, rejected 3"
        assert [p[:2] for p in report.problems[1:]] == expected
    assert [(i.external_id, i.payload) for i in shop.interactions.list(kind="refund")] == [
        ("r4", {"refund_of": "o-shop"}), ("r3", {"refund_of": "1001"})]  # an id stays text


EARLY_REFUNDS = [
    "C2,2024-05-02,refund,50.00,r1,1001\n",   # line 2: C1's purchase, on line 5
    "C1,2024-04-30,refund,50.00,r2,1001\n",   # line 3: before the purchase
    "C1,2024-05-02,refund,20.00,r3,1001\n",   # line 4
    "C1,2024-05-01,purchase,50.00,1001,\n",   # line 5
    "C1,2024-05-03,refund,5.00,r5,m1\n",      # line 6: an email, on line 7
    "C1,2024-05-01,email,,m1,\n",             # line 7
    "C1,2024-05-03,refund,5.00,r7,r3\n",      # line 8: a refund, on line 4
    "C2,2024-05-03,refund,5.00,r8,o-shop\n",  # line 9: a purchase crmkit never recorded
]


@pytest.mark.parametrize("batch_size", [1, 2, 3, None])
def test_a_refund_is_checked_against_its_purchase_on_a_later_line_in_any_batch(
        shop, tmp_path, batch_size):
    """A refund coming lines before what it names gets the answer of one batch: those of
    another customer's or a later purchase, or naming no purchase, are rejected; the others
    are written."""
    path = write(tmp_path / "r.csv", EARLY_REFUNDS,
                 header="customer,occurred_at,kind,amount,external_id,refund_of\n")
    expected = [("line 2", "payload"), ("line 3", "payload"), ("line 6", "payload"),
                ("line 8", "payload")]
    with pytest.raises(ImportRejected) as caught:
        import_file(shop, "interactions", path, batch_size=batch_size)
    assert [p[:2] for p in caught.value.report.problems] == expected
    assert counts(shop)["interactions"] == 0
    for dry_run in (True, False):
        report = import_file(shop, "interactions", path, batch_size=batch_size,
                             skip_invalid=True, dry_run=dry_run)
        assert report.summary() == "read 8, created 4, updated 0, unchanged 0, rejected 4"
        assert [p[:2] for p in report.problems] == expected
    assert sorted((i.external_id, i.payload) for i in shop.interactions.list(kind="refund")) == [
        ("r3", {"refund_of": "1001"}), ("r8", {"refund_of": "o-shop"})]
    again = import_file(shop, "interactions", path, batch_size=batch_size, skip_invalid=True)
    assert again.summary() == "read 8, created 0, updated 0, unchanged 4, rejected 4"


CURRENCY_REFUNDS = [
    "C1,2024-05-01,purchase,50.00,USD,p1,\n",   # line 2
    "C1,2024-05-02,refund,1000,JPY,r1,p1\n",    # line 3: after its purchase, in yen
    "C1,2024-05-02,refund,1000,JPY,r2,p2\n",    # line 4: before its purchase, in yen
    "C1,2024-05-01,purchase,50.00,USD,p2,\n",   # line 5
    "C1,2024-05-02,refund,20.00,USD,r3,p2\n",   # line 6
    "C1,2024-05-02,refund,,JPY,r4,p1\n",        # line 7: no amount, so no currency
]


@pytest.mark.parametrize("batch_size", [1, 2, None])
def test_a_refund_is_in_the_currency_of_its_purchase_whatever_the_batch(shop, tmp_path,
                                                                        batch_size):
    path = write(tmp_path / "r.csv", CURRENCY_REFUNDS,
                 header="customer,occurred_at,kind,amount,currency,external_id,refund_of\n")
    for dry_run in (True, False):
        report = import_file(shop, "interactions", path, batch_size=batch_size,
                             skip_invalid=True, dry_run=dry_run)
        assert report.summary() == "read 6, created 4, updated 0, unchanged 0, rejected 2"
        assert [tuple(p) for p in report.problems] == [
            (f"line {line}", "payload", f"/refund_of: 'p{n}' is a purchase in USD, this refund "
             "is in JPY; a refund is in the currency of the purchase it refunds")
            for line, n in ((3, 1), (4, 2))]
    assert sorted(i.external_id for i in shop.interactions.list(kind="refund")) == ["r3", "r4"]


def test_rows_without_external_id_get_stable_content_ids(shop, tmp_path):
    rows = ["C1,2024-05-01,purchase,web,5.00,USD,,\n"] * 2 + ["C2,2024-05-01,visit,,,,,\n"]
    path = write(tmp_path / "i.csv", rows)
    assert import_file(shop, "interactions", path).created == 3  # two identical purchases stay two
    again = import_file(shop, "interactions", path)
    assert (again.created, again.unchanged) == (0, 3)
    ids = [i.external_id for i in shop.interactions.list(customer="C1")]
    assert len(set(ids)) == 2 and all(i.startswith("h:") for i in ids)


def test_extra_columns_go_to_payload_and_jsonl_keeps_types(shop, tmp_path):
    path = write(tmp_path / "s.csv", ["C1,2024-05-01,survey,email,,,s1,\n"],
                 header="customer,occurred_at,kind,channel,amount,currency,external_id,nps\n")
    (tmp_path / "s.csv").write_text(
        "customer,occurred_at,kind,external_id,nps,comment\nC1,2024-05-01,survey,s1,9,fine\n")
    import_file(shop, "interactions", path)
    [survey] = shop.interactions.list(customer="C1", kind="survey")
    assert survey.payload == {"nps": 9, "comment": "fine"}
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text(json.dumps({"customer": "C2", "occurred_at": "2024-05-01T12:00:00+02:00",
                                 "amount": 19.99, "external_id": "j1",
                                 "payload": {"items": [{"sku": "A", "amount": "19.99"}]},
                                 "score": 0.5}) + "\n\n")
    assert import_file(shop, "interactions", str(jsonl)).created == 1
    [row] = shop.interactions.list(customer="C2")
    assert row.amount == Decimal("19.99")
    assert row.occurred_at == dt.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert row.payload == {"items": [{"sku": "A", "amount": "19.99"}], "score": 0.5}


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"who,when\nC1,2024-05-01\n", "missing column 'customer', 'occurred_at'"),
    (b"customer,occurred_at,customer\nC1,2024-05-01,C1\n", "column 'customer' appears twice"),
    (b"customer,occurred_at,note\nC1,2024-05-01,caf\xe9\n",
     "line 2: the file is not UTF-8: byte 0xe9 at column 18"),
])
def test_bad_files_are_one_clear_error_and_change_nothing(shop, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = counts(shop)
    with pytest.raises(ValidationError, match=message):
        import_file(shop, "interactions", str(path), skip_invalid=True)
    assert counts(shop) == before


def test_broken_json_line_and_wrong_field_count_are_row_errors(shop, tmp_path):
    jsonl = tmp_path / "i.jsonl"
    jsonl.write_text('{"customer": "C1", "occurred_at": "2024-05-01", "external_id": "a"}\n'
                     '{"customer": "C1", "occurred_at": \n'
                     '[1, 2]\n')
    before = counts(shop)
    with pytest.raises(ImportRejected) as caught:
        import_file(shop, "interactions", str(jsonl))
    assert [p[:2] for p in caught.value.report.problems] == [("line 2", "json"), ("line 3", "json")]
    assert "not valid JSON" in caught.value.report.problems[0][2]
    assert caught.value.report.problems[1][2] == "expected a JSON object, got an array"
    assert counts(shop) == before
    path = write(tmp_path / "i.csv", ["C1,2024-05-01,purchase,web,5.00,USD,x1,n\n",
                                      "C1,2024-05-01,purchase\n", "C1\n"])
    with pytest.raises(ImportRejected) as caught:
        import_file(shop, "interactions", path)
    assert [problem[2] for problem in caught.value.report.problems] == [
        "3 fields; the header has 8", "1 field; the header has 8"]


def test_oversized_line_and_field_are_row_errors(shop, tmp_path, monkeypatch):
    monkeypatch.setattr(records, "MAX_LINE_BYTES", 200)
    path = write(tmp_path / "i.csv", ["C1,2024-05-01,purchase,web,5.00,USD,a1,ok\n",
                                      f"C1,2024-05-01,purchase,web,5.00,USD,a2,{'x' * 300}\n",
                                      "C1,2024-05-01,purchase,web,5.00,USD,a3,ok\n"])
    report = import_file(shop, "interactions", path, skip_invalid=True)
    assert report.problems == [("line 3", "row", "the line is longer than 200 bytes (the limit)")]
    assert report.created == 2
    monkeypatch.setattr(records, "MAX_LINE_BYTES", 1_048_576)
    shop.plugins.configure_core({"max_field_length": 20})  # default 10000
    path = write(tmp_path / "j.csv", [f"C1,2024-05-01,visit,web,,,b1,{'y' * 21}\n",
                                      f"C1,2024-05-01,visit,web,,,b2,{'y' * 20}\n"])
    with pytest.raises(ImportRejected, match="line 2: note: 21 characters; at most 20"):
        import_file(shop, "interactions", path)


def customers_csv(tmp_path, rows: list[str], name="c.csv") -> str:
    path = tmp_path / name
    path.write_text("external_id,name,type,email,organisation,tags,attr.city,attr.level\n"
                    + "".join(rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("batch_size", [None, 1])
def test_a_person_of_a_rejected_organisation_row_names_that_row(crm, tmp_path, batch_size):
    rows = ["P1,Ada,person,ada@example.com,ORG-9,,,\n",            # before the organisation
            "ORG-9,Acme,organisation,not-an-email,,,,\n",
            "P2,Bob,person,bob@example.com,ORG-9,,,\n",            # after it
            "P3,Cy,person,cy@example.com,LOST,,,\n"]
    path = customers_csv(tmp_path, rows)
    report = import_file(crm, "customers", path, batch_size=batch_size, skip_invalid=True)
    rejected = "'ORG-9': the organisation's row (line 3) was rejected"
    assert sorted(report.problems) == [
        ("line 2", "organisation", rejected),
        ("line 3", "email", "'not-an-email' is not an email address"),
        ("line 4", "organisation", rejected),
        ("line 5", "organisation", "'LOST' is not an organisation customer (neither stored "
                                   "nor an organisation row of this file)")]


def test_people_of_an_organisation_row_rejected_after_its_checks_are_rejected_too(crm,
                                                                                 tmp_path):
    crm.plugins.configure_core({"customer_attributes": {
        "type": "object", "properties": {"level": {"type": "integer", "maximum": 5}}}})
    crm.customers.add("P0", "Stored")
    path = customers_csv(tmp_path, ["A/B,Acme,organisation,,,,,9\n",   # its level is too high
                                    "P1,Ada,person,,A/B,,,\n", "P0,,,,A/B,,,\n",
                                    "P2,Cy,person,,,,,\n"])
    report = import_file(crm, "customers", path, skip_invalid=True)  # it raised KeyError
    assert report.summary() == "read 4, created 1, updated 0, unchanged 0, rejected 3"
    rejected = "'A/B': the organisation's row (line 2) was rejected"
    assert [p[:2] for p in report.problems] == [("line 2", "attributes")] + [
        (line, "organisation") for line in ("line 3", "line 4")]
    assert {p[2] for p in report.problems[1:]} == {rejected}
    assert crm.customers.get("P0").organisation_id is None


def test_customer_import_upserts_audits_and_is_idempotent(crm, tmp_path):
    rows = [f"P{i},Person {i},person,p{i}@example.com,ORG,news;vip,Leeds,{i}\n" for i in range(6)]
    rows.append("ORG,Acme,organisation,info@acme.example,,b2b,,\n")  # defined after its people
    path = customers_csv(tmp_path, rows)
    report = import_file(crm, "customers", path, batch_size=4)
    assert report.summary() == "read 7, created 7, updated 0, unchanged 0, rejected 0"
    org = crm.customers.get("ORG")
    assert crm.customers.get("P5").organisation_id == org.id
    assert crm.customers.get("P2").attributes == {"city": "Leeds", "level": 2}
    assert import_file(crm, "customers", path).summary() == \
        "read 7, created 0, updated 0, unchanged 7, rejected 0"
    changed = customers_csv(tmp_path, ["P1,Person One,,,,,,\n", "P2,,,,,,York,\n"], "d.csv")
    report = import_file(crm, "customers", changed)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    assert crm.customers.get("P1").email == "p1@example.com"  # an empty cell keeps the value
    assert crm.customers.get("P2").attributes == {"city": "York", "level": 2}
    [entry] = [e for e in crm.customers.history("P1") if e.action == "update"]
    assert entry.changes == {"name": ["Person 1", "Person One"]}


def test_customer_rows_checked_across_the_whole_file(crm, tmp_path):
    path = customers_csv(tmp_path, [
        "A1,Ann,person,ann@example.com,,,,\n",
        "A2,Bob,person,not-an-email,,,,\n",
        "A3,Cy,person,,NOORG,,,\n",
        "A1,Ann B,person,ann@example.com,,,,\n",
        "A4,Di,robot,,,,,\n",
    ])
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "customers", path, batch_size=2)
    assert [p[:2] for p in caught.value.report.problems] == [
        ("line 3", "email"), ("line 4", "organisation"), ("line 5", "external_id"),
        ("line 6", "type")]
    assert crm.customers.count() == 0


@pytest.mark.parametrize("batch_size", [2, None])
def test_a_customer_dry_run_counts_what_the_import_then_does(crm, tmp_path, batch_size):
    path = customers_csv(tmp_path, [
        "P1,Ann,person,,ORG,,,\n",          # its organisation comes later
        "P2,Bob,person,,LOST,,,\n",         # no such organisation: rejected
        "P1,Ann,person,,ORG,,,\n",          # the same as line 2: unchanged
        "P3,Cy,person,,,,,\n",
        "P3,Cy B,person,,,,,\n",            # another name: rejected
        "P2,Bob,person,,LOST,,,\n",         # repeats a rejected line: rejected too
        "ORG,Acme,organisation,,,,,\n",
    ])
    predicted = import_file(crm, "customers", path, batch_size=batch_size, skip_invalid=True,
                            dry_run=True)
    done = import_file(crm, "customers", path, batch_size=batch_size, skip_invalid=True)
    assert predicted.summary() == done.summary() == (
        "read 7, created 3, updated 0, unchanged 1, rejected 3")
    assert crm.customers.count() == 3


def test_unknown_customer_column_is_a_header_error(crm, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("external_id,name,colour\nA1,Ann,red\n")
    with pytest.raises(ValidationError, match=r"unknown column 'colour' \(allowed: external_id"):
        import_file(crm, "customers", str(path))


def test_formula_injection_is_neutralised_and_round_trips(crm, crm_url, clock, tmp_path,
                                                          request):
    from crmkit import CRM

    crm.customers.add("C1", '=HYPERLINK("http://evil.example","click")', email="c1@example.com",
                      phone="+44 20 7946 0000", tags=["-minus", "@at", "a;b", "C:\\tmp\\"],
                      attributes={"note": "'=quoted", "n": 5, "code": "007", "s": "5"})
    crm.interactions.record("C1", dt.datetime(2024, 5, 1, tzinfo=UTC), kind="adjustment",
                            amount=Decimal("-5.50"), channel="=cmd|' /C calc'!A0",
                            external_id="x1", payload={"text": "+1 bad"})
    out = tmp_path / "c.csv"
    with open(out, "w", newline="", encoding="utf-8") as handle:
        assert export(crm, "customers", handle, "csv") == 1
    text = out.read_text()
    assert "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\"" in text
    assert "'+442079460000" in text and "'-minus;@at;C:\\\\tmp\\\\;a\\;b" in text
    assert ",''=quoted," in text and ',007,5,' in text  # one more quote; JSON-typed numbers
    interactions = tmp_path / "i.csv"
    with open(interactions, "w", newline="", encoding="utf-8") as handle:
        export(crm, "interactions", handle, "csv")
    assert ",-5.5000," in interactions.read_text() and ",'=cmd|" in interactions.read_text()
    # same database: nothing changes
    assert import_file(crm, "customers", str(out)).unchanged == 1
    assert import_file(crm, "interactions", str(interactions)).unchanged == 1
    # a fresh database gets exactly the same data back
    if crm_url.startswith("sqlite"):
        fresh_url = crm_url.replace("crm.db", "fresh.db")
    else:
        fresh_url = request.getfixturevalue("postgres_server").create_database()
    with CRM.open(fresh_url, clock=clock, create=True) as fresh:
        import_file(fresh, "customers", str(out))
        import_file(fresh, "interactions", str(interactions))
        got, want = fresh.customers.get("C1"), crm.customers.get("C1")
        for field in ("name", "email", "phone", "tags", "attributes"):
            assert getattr(got, field) == getattr(want, field)
        [row] = fresh.interactions.list()
        assert (row.amount, row.channel, row.payload) == (Decimal("-5.5"), "=cmd|' /C calc'!A0",
                                                          {"text": "+1 bad"})


def test_jsonl_export_round_trips(crm, tmp_path):
    crm.customers.add("ORG", "Acme", type="organisation")
    crm.customers.add("C1", "Zoë", organisation="ORG", tags=["a, b"], attributes={"x": [1, 2]})
    path = tmp_path / "c.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        export(crm, "customers", handle, "jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[1] == {"external_id": "C1", "name": "Zoë", "type": "person",
                        "organisation": "ORG", "tags": ["a, b"], "attributes": {"x": [1, 2]}}
    assert import_file(crm, "customers", str(path)).unchanged == 2


def test_default_currency_of_the_core_config_fills_imported_rows(shop, tmp_path):
    path = write(tmp_path / "i.csv", ["C1,2024-05-01,purchase,web,5.00,,u1,\n"])
    import_file(shop, "interactions", path)
    shop.plugins.configure_core({"default_currency": "EUR"})  # default USD
    import_file(shop, "interactions", write(tmp_path / "j.csv",
                                            ["C1,2024-05-01,purchase,web,5.00,,e1,\n"]))
    assert [i.currency for i in shop.interactions.list(customer="C1")] == ["EUR", "USD"]


def test_a_file_over_max_import_bytes_is_refused_before_reading(shop, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"customer": "C1", "occurred_at": "2024-01-01T00:00:00+00:00"}\n' * 10)
    size = path.stat().st_size
    shop.plugins.configure_core({**shop.core_config, "max_import_bytes": size - 1})
    before = counts(shop)
    with pytest.raises(ValidationError, match=rf"{size} bytes; the limit is {size - 1} "
                                              r"\(core config max_import_bytes\)"):
        import_file(shop, "interactions", str(path))
    assert counts(shop) == before
    shop.plugins.configure_core({**shop.core_config, "max_import_bytes": size})
    assert import_file(shop, "interactions", str(path)).created == 10


def test_with_no_plugin_the_import_checks_customer_references_itself(shop, tmp_path,
                                                                      monkeypatch):
    """With no plugin enabled SQLite checks no foreign key row by row during an interaction
    import; the import checks its rows' customers itself, writes nothing when one is
    missing, and the per-row checks are back on afterwards."""
    from crmkit.customers import CustomerService
    from crmkit.errors import DatabaseError
    from sqlalchemy.exc import IntegrityError

    real = CustomerService.ids_by_external_id

    def a_wrong_id_for_c1(self, external_ids, conn, lock=False):
        return {ref: 999_999 if ref == "C1" else id_ for ref, id_ in
                real(self, external_ids, conn, lock).items()}

    path = write(tmp_path / "i.csv", interaction_lines(200))
    before = counts(shop)
    with monkeypatch.context() as patched:
        patched.setattr(CustomerService, "ids_by_external_id", a_wrong_id_for_c1)
        with pytest.raises((DatabaseError, IntegrityError), match="FOREIGN KEY|foreign key"):
            import_file(shop, "interactions", path)
    assert counts(shop) == before
    assert import_file(shop, "interactions", path).created == 200
    if shop.engine.dialect.name == "sqlite":
        with shop.read() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        with pytest.raises(IntegrityError), shop.transaction() as tx:
            tx.conn.exec_driver_sql("UPDATE interactions SET customer_id = 999999")


def counting_plugin(seen: dict[str, list[int]]):
    """A plugin recording how many rows each validate and react call gets (and the external
    ids of the customers it validates)."""
    import types

    import crmkit
    from crmkit import hookimpl

    module = types.ModuleType("plugin_counting")
    module.PLUGIN = crmkit.PluginInfo(name="counting", description="counts rows")

    def crmkit_validate_interactions(rows):
        seen["validated"].append(len(rows))

    def crmkit_react_interactions(batch):
        seen["reacted"].append(len(batch.rows))

    def crmkit_validate_customers(rows):
        seen["customers"].extend(row["external_id"] for row in rows)

    module.crmkit_validate_customers = hookimpl(crmkit_validate_customers)
    module.crmkit_validate_interactions = hookimpl(crmkit_validate_interactions)
    module.crmkit_react_interactions = hookimpl(crmkit_react_interactions)
    return module


@pytest.fixture
def counted(crm_url, clock):
    from crmkit import CRM

    seen: dict[str, list] = {"validated": [], "reacted": [], "customers": []}
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"counting": counting_plugin(seen)}) as crm:
        crm.plugins.enable("counting")
        crm.customers.add_many({"external_id": f"C{i}"} for i in range(50))
        yield crm, seen


def test_each_row_is_validated_once_and_batches_are_sized_by_memory(counted, tmp_path,
                                                                   monkeypatch):
    crm, seen = counted
    path = write(tmp_path / "i.csv", interaction_lines(7_000))
    report = import_file(crm, "interactions", path)
    assert report.summary() == "read 7000, created 7000, updated 0, unchanged 0, rejected 0"
    assert sum(seen["validated"]) == 7_000           # the check is the write's check
    assert seen["reacted"] == [7_000]                # 7,000 short rows fit one batch
    from crmkit.services import importing

    seen["validated"].clear()
    seen["reacted"].clear()
    monkeypatch.setattr(importing, "BATCH_BYTES", 2_500 * importing.ROW_BYTES)
    path = write(tmp_path / "j.csv", [line.replace(",o", ",p") for line in
                                      interaction_lines(7_000)])
    import_file(crm, "interactions", path)
    assert sum(seen["validated"]) == 7_000 and len(seen["reacted"]) == 4
    assert max(seen["reacted"]) < 2_500                 # the file's bytes count too


def merging_plugin():
    """A plugin whose interaction react hook merges customer C2 into C1, the first time it runs."""
    import types

    import crmkit
    from crmkit import hookimpl

    module = types.ModuleType("plugin_merging")
    module.PLUGIN = crmkit.PluginInfo(name="merging", description="merges C2 into C1 once")
    merges = []

    def crmkit_react_interactions(ctx, batch):
        if not merges:
            merges.append(ctx.crm.customers.merge("C1", "C2"))

    module.crmkit_react_interactions = hookimpl(crmkit_react_interactions)
    return module


def test_a_customer_merged_away_by_a_plugin_mid_import_is_not_written_to(crm_url, clock,
                                                                          tmp_path):
    """On PostgreSQL the import remembers the customers it found across batches; a merge in a
    batch's react step makes it look them up again (the merged-away external id is new
    again).  SQLite looks them up in every batch."""
    from crmkit import CRM

    lines = [f"C{customer},2024-05-0{n},purchase,web,{n}.00,USD,e{n},\n"
             for n, customer in ((1, 1), (2, 2), (3, 2), (4, 1))]
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"merging": merging_plugin()}) as crm:
        crm.plugins.enable("merging")
        crm.customers.add_many({"external_id": f"C{i}"} for i in (1, 2))
        report = import_file(crm, "interactions", write(tmp_path / "i.csv", lines),
                             create_customers=True, batch_size=2)
        assert report.summary() == "read 4, created 4, updated 0, unchanged 0, rejected 0"
        assert report.new_customers == 1
        assert {i.external_id for i in crm.interactions.list(customer="C1")} == {"e1", "e2", "e4"}
        assert [i.external_id for i in crm.interactions.list(customer="C2")] == ["e3"]


def test_a_file_rejected_after_rows_were_written_leaves_nothing(counted, tmp_path):
    crm, seen = counted
    lines = interaction_lines(9_000)
    lines[8_500] = "C1,2024-05-01,purchase,web,oops,USD,bad,x\n"
    path = write(tmp_path / "i.csv", lines)
    before = counts(crm)
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", path, batch_size=1_000)
    assert caught.value.report.summary() == (
        "read 9000, created 0, updated 0, unchanged 0, rejected 1")
    assert seen["reacted"] == [1_000] * 8               # batches before the bad one were written
    assert counts(crm) == before                        # … and rolled back


def test_source_file_read_all_undoes_the_formula_escaping_and_names_bad_lines(tmp_path):
    from crmkit.plugin import SourceFile

    path = tmp_path / "rows.csv"
    path.write_text('sku,name\nA-1,"\'=SUM(1)"\nB-2,x,one cell too many\n', encoding="utf-8")
    records, labels, problems = SourceFile(str(path), "csv").read_all()
    assert records == [{"sku": "A-1", "name": "=SUM(1)"}]
    assert labels == ["line 2"]
    assert [where for where, _field, _message in problems] == ["line 3"]


def test_each_customer_row_is_validated_once_even_before_its_organisation(counted, tmp_path):
    crm, seen = counted
    seen["customers"].clear()                          # the fixture's own customers
    rows = [f"P{i},Person {i},person,,ORG,,,\n" for i in range(5)]      # ORG comes later
    rows += [f"Q{i},Person {i},person,,,,,\n" for i in range(5)]
    rows.append("ORG,Acme,organisation,,,,,\n")
    rows.append("P9,Person 9,person,,LOST,,,\n")                       # no such organisation
    path = customers_csv(tmp_path, rows)
    report = import_file(crm, "customers", path, batch_size=3, skip_invalid=True)
    assert report.summary() == "read 12, created 11, updated 0, unchanged 0, rejected 1"
    assert report.problems == [("line 13", "organisation", "'LOST' is not an organisation "
                                "customer (neither stored nor an organisation row of this file)")]
    assert sorted(seen["customers"]) == sorted(
        [f"P{i}" for i in range(5)] + [f"Q{i}" for i in range(5)] + ["ORG", "P9"])
    org = crm.customers.get("ORG")
    assert {crm.customers.get(f"P{i}").organisation_id for i in range(5)} == {org.id}
    assert crm.customers.get("Q1").organisation_id is None
    assert crm.customers.count() == 50 + 11
    seen["customers"].clear()
    again = import_file(crm, "customers", path, batch_size=3, skip_invalid=True)
    assert again.summary() == "read 12, created 0, updated 0, unchanged 11, rejected 1"
    assert seen["customers"] == ["P9"]                 # only new rows are validated


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_exported_interactions_without_external_ids_import_again_unchanged(shop, tmp_path,
                                                                           fmt):
    at = dt.datetime(2024, 5, 1, 10, tzinfo=UTC)
    shop.interactions.record("C1", at, kind="visit")
    shop.interactions.record("C1", at, kind="visit")  # the same twice: two visits
    shop.interactions.record("C2", at, amount="5.00", payload={"items": [{"sku": "A"}]})
    shop.interactions.record("C3", at, external_id="given")
    path = tmp_path / f"i.{fmt}"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        assert export(shop, "interactions", handle, fmt) == 4
    before = counts(shop)["interactions"]
    unchanged = "read 4, created 0, updated 0, unchanged 4, rejected 0"
    assert import_file(shop, "interactions", str(path), dry_run=True).summary() == unchanged
    assert import_file(shop, "interactions", str(path)).summary() == unchanged
    assert import_file(shop, "interactions", str(path)).summary() == unchanged
    assert counts(shop)["interactions"] == before == 4
    with open(path, "a", encoding="utf-8") as handle:  # a third identical visit is new
        handle.write(path.read_text().splitlines()[-4 if fmt == "csv" else 0] + "\n")
    report = import_file(shop, "interactions", str(path))
    assert report.summary() == "read 5, created 1, updated 0, unchanged 4, rejected 0"
    assert [i.kind for i in shop.interactions.list(customer="C1")] == ["visit"] * 3
