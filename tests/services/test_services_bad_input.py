"""Bad input that used to get in and break later work: refused where it enters, nothing stored."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from crmkit import tables
from crmkit.errors import ConfigError, ValidationError
from crmkit.services import records
from crmkit.services.importing import ImportRejected, import_file

UTC = dt.timezone.utc
WHEN = dt.datetime(2024, 5, 1, 10, tzinfo=UTC)


def counts(crm) -> dict[str, int]:
    with crm.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (tables.customers, tables.interactions, tables.audit_log,
                          tables.events)}


# -- NaN, Infinity and numbers beyond a double ---------------------------------------------


@pytest.mark.parametrize("value, shown", [(float("nan"), "NaN"), (float("inf"), "Infinity"),
                                          (float("-inf"), "-Infinity")])
def test_non_finite_numbers_are_refused_by_the_python_api(crm, value, shown):
    crm.customers.add("C1", "Ann")
    before = counts(crm)
    with pytest.raises(ValidationError, match=f"attributes: /score/1: {shown} is not a "
                                              "finite number"):
        crm.customers.add("C2", "Bob", attributes={"score": [1, value]})
    with pytest.raises(ValidationError, match=f"attributes: /score: {shown} is not a finite"):
        crm.customers.update("C1", attributes={"score": value})
    with pytest.raises(ValidationError, match=f"payload: /items/0/price: {shown} is not a "
                                              "finite number"):
        crm.interactions.record("C1", WHEN, payload={"items": [{"price": value}]})
    assert counts(crm) == before


def test_non_finite_numbers_in_import_files_are_row_errors(crm, tmp_path):
    crm.customers.add("C1", "Ann")
    before = counts(crm)
    people = tmp_path / "c.csv"
    people.write_text("external_id,name,attr.score\nC2,Bob,1e400\nC3,Cy,NaN\nC4,Di,7\n")
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "customers", str(people))
    finite = " is not a finite number (JSON numbers must be finite)"
    assert caught.value.report.problems == [("line 2", "attributes", "/score: Infinity" + finite),
                                            ("line 3", "attributes", "/score: NaN" + finite)]
    lines = tmp_path / "c.jsonl"
    lines.write_text('{"external_id": "C2", "attributes": {"a": {"b/c": NaN}}}\n'
                     '{"external_id": "C3", "attributes": {"a": -1e999}}\n')
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "customers", str(lines))
    assert caught.value.report.problems == [("line 1", "attributes", "/a/b~1c: NaN" + finite),
                                            ("line 2", "attributes", "/a: -Infinity" + finite)]
    sales = tmp_path / "i.jsonl"
    sales.write_text('{"customer": "C1", "occurred_at": "2024-05-01", "payload": '
                     '{"x": Infinity}}\n{"customer": "C1", "occurred_at": "2024-05-01", '
                     '"score": 1e400}\n')
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(sales))
    assert caught.value.report.problems == [("line 1", "payload", "/x: Infinity" + finite),
                                            ("line 2", "payload", "/score: Infinity" + finite)]
    assert counts(crm) == before


def test_non_finite_numbers_on_the_command_line_are_one_line_errors(run_cli):
    run_cli("init")
    run_cli("customers", "add", "C1")
    code, _, err = run_cli("customers", "add", "C2", "--attr", "score=1e400")
    assert code != 0 and err.strip() == ("error: attributes: /score: Infinity is not "
                                         "a finite number (JSON numbers must be finite)")
    code, _, err = run_cli("interactions", "record", "C1", "--payload", '{"a": NaN}')
    assert code != 0 and err.strip() == ("error: payload: /a: NaN is not a finite number "
                                         "(JSON numbers must be finite)")
    assert run_cli("plugins", "enable", "loyalty")[0] == 0
    for value in ("NaN", "1e400", "-Infinity"):
        code, _, err = run_cli("plugins", "config", "loyalty", "--set",
                               f"points_per_unit={value}")
        assert code != 0 and "/points_per_unit" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli("plugins", "config", "loyalty")
    assert json.loads(out)["points_per_unit"] == 1


def test_non_finite_numbers_in_a_config_are_refused(crm):
    with pytest.raises(ConfigError, match=r"/max_payload_bytes: Infinity is not a finite"):
        crm.plugins.configure_core({"max_payload_bytes": float("inf")})


# -- instants outside the accepted range ----------------------------------------------------


@pytest.mark.parametrize("when", [dt.datetime(9999, 12, 31, tzinfo=UTC),
                                  dt.datetime(3000, 1, 1, tzinfo=UTC),
                                  dt.datetime(1899, 12, 31, 23, 59, tzinfo=UTC)])
def test_an_instant_outside_the_range_is_refused_by_the_python_api(crm, when):
    crm.customers.add("C1")
    before = counts(crm)
    with pytest.raises(ValidationError, match=r"^occurred_at: .* is outside the accepted "
                       r"range \(1900-01-01T00:00:00Z to 2999-12-31T23:59:59Z\)"):
        crm.interactions.record("C1", when, amount="5")
    with pytest.raises(ValidationError, match="row 1: occurred_at: .* is outside the accepted"):
        crm.interactions.record_many([{"customer": "C1", "occurred_at": when}])
    assert counts(crm) == before


def test_instants_outside_the_range_in_files_and_arguments_are_one_clear_error(crm, run_cli,
                                                                              tmp_path):
    crm.customers.add("C1")
    before = counts(crm)
    path = tmp_path / "i.csv"
    path.write_text("customer,occurred_at,amount\nC1,2024-05-01,5\nC1,9999-12-31,5\n"
                    "C1,9999-12-31T23:00:00-05:00,5\nC1,0001-01-01T00:00:00+01:00,5\n")
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(path))
    assert [p[:2] for p in caught.value.report.problems] == [
        ("line 3", "occurred_at"), ("line 4", "occurred_at"), ("line 5", "occurred_at")]
    assert all("is outside the accepted range" in p[2] for p in caught.value.report.problems)
    assert counts(crm) == before
    code, _, err = run_cli("interactions", "record", "C1", "--at", "9999-12-31T23:59:59Z")
    assert code != 0 and err.strip() == (
        "error: --at: 9999-12-31T23:59:59Z is outside the accepted range "
        "(1900-01-01T00:00:00Z to 2999-12-31T23:59:59Z)")
    code, _, err = run_cli("sweep", "--as-of", "10000-01-01")
    assert code != 0 and err.startswith("error: --as-of: ") and "Traceback" not in err
    assert counts(crm) == before


def test_the_latest_instant_leaves_room_for_plugin_date_arithmetic(crm, run_cli):
    crm.plugins.enable("loyalty", {"expiry_mode": "rolling", "expiry_months": 1200})
    crm.customers.add("C1")
    crm.interactions.record("C1", dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC),
                            amount="10", external_id="late")
    late = dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert crm.plugin("loyalty").balance("C1", as_of=late) == 10
    for args in (("sweep", "--as-of", "2999-12-31T23:59:59Z"), ("customers", "show", "C1"),
                 ("customers", "export-data", "C1")):
        code, _, err = run_cli(*args)
        assert code == 0, (args, err)


# -- CSV syntax --------------------------------------------------------------------------


@pytest.mark.parametrize("tail, problem", [
    ("", "a quoted field of the record that starts on this line is never closed"),
    ("\n", "a quoted field of the record that starts on this line is never closed"),
    ('\nC1,2024-05-04,4,x"y\n', "',' expected after '\"' on line 5 \\(a quoted field of the "
                                 "record that starts on line 3 runs to line 5: is a quote missing"),
])
def test_an_unterminated_csv_quote_refuses_the_file_naming_the_line(crm, tmp_path, tail,
                                                                    problem):
    crm.customers.add("C1")
    before = counts(crm)
    path = tmp_path / "i.csv"
    path.write_text("customer,occurred_at,amount,note\nC1,2024-05-01,1,fine\n"
                    'C1,2024-05-02,2,"never closed\nC1,2024-05-03,3,swallowed' + tail)
    with pytest.raises(ValidationError, match="line 3: CSV syntax error: " + problem):
        import_file(crm, "interactions", str(path), skip_invalid=True)
    assert counts(crm) == before


def test_an_unterminated_quote_in_a_long_file_stops_at_the_field_limit(crm, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(records, "MAX_LINE_BYTES", 200)
    crm.customers.add("C1")
    path = tmp_path / "i.csv"
    path.write_text('customer,occurred_at,amount,note\nC1,2024-05-02,2,"never closed\n'
                    + "C1,2024-05-03,3,a row that the open quote swallows\n" * 20)
    with pytest.raises(ValidationError, match=r"line 2: CSV syntax error: a field is longer than "
                       r"200 bytes \(the limit\) on line 6 \(a quoted field of the record that "
                       "starts on line 2 runs to line 6"):
        import_file(crm, "interactions", str(path), skip_invalid=True)


def test_a_stray_quote_after_a_quoted_csv_field_refuses_the_file(crm, tmp_path):
    crm.customers.add("C1")
    path = tmp_path / "i.csv"
    path.write_text('customer,occurred_at,amount,note\nC1,2024-05-01,1,"a"b\n')
    with pytest.raises(ValidationError, match=r"line 2: CSV syntax error: ',' expected after"):
        import_file(crm, "interactions", str(path), skip_invalid=True)


def test_social_mention_files_refuse_an_unterminated_quote(crm, tmp_path):
    crm.plugins.enable("social")
    path = tmp_path / "m.csv"
    path.write_text('platform,handle,posted_at,text\nx,@ann,2024-05-01,"hello\n'
                    "x,@bob,2024-05-02,hi\n")
    with pytest.raises(ValidationError, match="line 2: CSV syntax error: a quoted field"):
        crm.plugin("social").import_file(str(path))


# -- loyalty points beyond what the ledger holds ----------------------------------------------


def loyalty_counts(crm) -> dict[str, int]:
    from crmkit_loyalty.tables import ledger, members

    with crm.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (tables.interactions, ledger, members, tables.events)}


def test_a_purchase_earning_more_points_than_the_ledger_holds_commits_nothing(crm, tmp_path):
    crm.plugins.enable("loyalty", {"points_per_unit": 1000})
    crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}])
    crm.interactions.record("C1", WHEN, amount="10", external_id="first")
    before = loyalty_counts(crm)
    rows = [{"customer": "C2", "occurred_at": WHEN, "amount": "5", "external_id": "ok"},
            {"customer": "C1", "occurred_at": WHEN, "amount": "99999999999999",
             "external_id": "huge"}]
    with pytest.raises(ValidationError, match=r"row 2: amount: 99999999999999 would earn up to "
                       r"149999999999998500 loyalty points \(points_per_unit 1000 × tier "
                       r"multiplier 1\.5\); one ledger entry holds at most 2147483647"):
        crm.interactions.record_many(rows, batch_size=1, atomic=True)
    assert loyalty_counts(crm) == before
    path = tmp_path / "i.csv"
    path.write_text("customer,occurred_at,amount,external_id\nC2,2024-05-01,5,ok\n"
                    "C1,2024-05-01,3000000,huge\n")
    with pytest.raises(ImportRejected, match=r"line 3: amount: 3000000 would earn up to "
                                             "4500000000 loyalty points"):
        import_file(crm, "interactions", str(path), batch_size=1)
    assert loyalty_counts(crm) == before
    refund_item = {"category": "delivery", "amount": "-99999999999999"}
    with pytest.raises(ValidationError, match=r"^amount: 5 \(eligible 100000000000004\) "
                                              "would earn up to 150000000000006000 loyalty"):
        crm.interactions.record("C1", WHEN, amount="5", payload={"items": [refund_item]})
    assert loyalty_counts(crm) == before
    with pytest.raises(ValidationError, match="adjust: points 2147483648: one ledger entry "
                                              "holds at most 2147483647"):
        crm.plugin("loyalty").adjust("C1", 2**31, "goodwill")
    assert loyalty_counts(crm) == before
    assert crm.plugin("loyalty").balance("C1") == 10000


# -- nesting deeper than the documented limit ---------------------------------------------


def nested(depth: int, leaf) -> dict:
    """``{"a": {"a": ... leaf}}`` with ``depth`` objects."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def negated(depth: int, field: str = "type") -> dict:
    condition = {"field": field, "op": "eq", "value": "person"}
    for _ in range(depth):
        condition = {"not": condition}
    return condition


def test_json_nested_deeper_than_the_limit_is_refused_naming_where(crm, tmp_path):
    crm.customers.add("C1")
    crm.customers.add("C2", attributes=nested(31, 1))  # 32 levels with the attributes object
    before = counts(crm)
    with pytest.raises(ValidationError, match=r"attributes: (/a){32}: nested deeper than 32 "
                                              r"levels \(the limit\)"):
        crm.customers.add("C3", attributes=nested(5000, 1))
    path = tmp_path / "i.jsonl"
    path.write_text(json.dumps({"customer": "C1", "occurred_at": "2024-05-01",
                                "payload": nested(40, 1)}) + "\n"
                    + '{"customer": "C1", "occurred_at": "2024-05-01", "payload": '
                    + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(path))
    assert caught.value.report.problems == [
        ("line 1", "json", "not valid JSON: /payload" + "/a" * 31
         + ": nested deeper than 32 levels (the limit)"),
        ("line 2", "json", "not valid JSON: nested deeper than 32 levels (the limit)")]
    assert counts(crm) == before


def test_conditions_nested_deeper_than_the_limit_are_refused_naming_where(crm, run_cli):
    crm.plugins.enable("analytical")
    crm.plugins.enable("operational")
    with pytest.raises(ValidationError, match=r"segment '\(preview\)': /condition(/not){32}: "
                                              r"nested deeper than 32 levels"):
        crm.plugin("analytical").evaluate_segment(negated(5000))
    assert crm.plugin("analytical").evaluate_segment(negated(31)) == []
    rule = {"name": "r", "on": "customer.created", "if": negated(40, "customer.type"), "do": [{"add_tag": "x"}]}
    with pytest.raises(ConfigError, match=r"plugin 'operational' config: /automation/rules/0/if"
                                          r"(/not){28}: nested deeper than 32 levels"):
        crm.plugins.configure("operational", {"automation": {"rules": [rule]}})
    code, _, err = run_cli("analytical", "segments", "preview", "--if",
                           json.dumps(negated(300)))
    assert code != 0 and err.startswith("error: --if: not valid JSON: /not/not/not")
    assert err.strip().endswith("/not: nested deeper than 32 levels (the limit)")
    code, _, err = run_cli("analytical", "segments", "preview", "--if",
                           '{"not": ' * 100_000 + "}" * 100_000)
    assert code != 0 and err.strip() == ("error: --if: not valid JSON: nested deeper than 32 "
                                         "levels (the limit)")


# -- a key given twice in one JSON object ------------------------------------------------

TWICE = "the key {!r} is given more than once (allowed: each key once)"


def test_json_naming_a_key_twice_in_an_import_file_is_a_row_error(crm, tmp_path):
    crm.customers.add("C1")
    before = counts(crm)
    lines = tmp_path / "c.jsonl"
    lines.write_text('{"external_id": "C2", "attributes": {"a": {"b/c": 1, "b/c": 2}}}\n'
                     '{"external_id": "C3", "external_id": "C4"}\n')
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "customers", str(lines))
    assert caught.value.report.problems == [
        ("line 1", "json", "not valid JSON: /attributes/a/b~1c: " + TWICE.format("b/c")),
        ("line 2", "json", "not valid JSON: /external_id: " + TWICE.format("external_id"))]
    people = tmp_path / "c.csv"
    people.write_text('external_id,attr.size\nC2,"{""w"": 1, ""w"": 2}"\n')
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "customers", str(people))
    assert caught.value.report.problems == [("line 2", "attr.size", "/w: " + TWICE.format("w"))]
    sales = tmp_path / "i.csv"
    sales.write_text('customer,occurred_at,payload\nC1,2024-05-01,"{""n"": 1, ""n"": 1}"\n')
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(sales))
    assert caught.value.report.problems == [
        ("line 2", "payload", "not valid JSON: /n: " + TWICE.format("n"))]
    assert counts(crm) == before


def test_json_naming_a_key_twice_on_the_command_line_is_refused_naming_where(run_cli,
                                                                           tmp_path):
    run_cli("init")
    run_cli("customers", "add", "C1")
    code, _, err = run_cli("customers", "add", "C2", "--attr", 'size={"w": 1, "w": 2}')
    assert code != 0 and f"--attr: size: /w: {TWICE.format('w')}" in err
    code, _, err = run_cli("interactions", "record", "C1", "--payload", '{"a": {"b": 1, "b": 2}}')
    assert code != 0 and err.strip() == (f"error: --payload: not valid JSON: /a/b: "
                                         f"{TWICE.format('b')}")
    code, _, err = run_cli("config", "--set",
                           'customer_attributes={"type": "object", "type": "array"}')
    assert code != 0 and err.strip() == ("error: core config: --set customer_attributes: "
                                         f"/customer_attributes/type: {TWICE.format('type')}")
    assert run_cli("plugins", "enable", "loyalty")[0] == 0
    stored = run_cli("plugins", "config", "loyalty")[1]
    config = tmp_path / "loyalty.json"
    config.write_text('{"points_per_unit": 2, "points_per_unit": 3}')
    code, _, err = run_cli("plugins", "config", "loyalty", "--file", str(config))
    assert code != 0 and err.strip() == (
        f"error: plugin 'loyalty' config: {config} is not valid JSON: /points_per_unit: "
        f"{TWICE.format('points_per_unit')}")
    assert run_cli("plugins", "config", "loyalty")[1] == stored
    assert [c["external_id"] for c in json.loads(
        run_cli("customers", "list", "--format", "json")[1])] == ["C1"]


# -- admin-written regex patterns --------------------------------------------------------


EVIL = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}


def test_an_attribute_pattern_never_runs_on_the_backtracking_engine(crm, monkeypatch):
    from types import SimpleNamespace

    try:  # where jsonschema's own ``pattern`` keyword calls re.search
        from jsonschema import _keywords
    except ImportError:  # jsonschema < 4.18.1
        from jsonschema import _validators as _keywords

    crm.plugins.configure_core({"customer_attributes": EVIL})

    def backtracking(*args, **kwargs):
        raise AssertionError("a schema pattern ran on Python's backtracking re")

    monkeypatch.setattr(_keywords, "re", SimpleNamespace(search=backtracking))
    crm.customers.add("C1", attributes={"code": "aaa"})
    before = counts(crm)
    # exponential for a backtracking engine, linear on RE2
    with pytest.raises(ValidationError, match=r"attributes: /code: 'a{40}'… \(5001 characters\) "
                                              r"does not match '\^\(a\+\)\+\$' \(allowed: text"):
        crm.customers.add("C2", attributes={"code": "a" * 5000 + "!"})
    assert counts(crm) == before


@pytest.mark.parametrize("pattern, reason", [
    (r"^(a)\1$", "invalid escape sequence: \\\\1"),
    (r"^(?=a)", "invalid perl operator: \\(\\?="),
])
def test_a_pattern_without_a_linear_time_match_is_refused_at_configuration(crm, run_cli, pattern,
                                                                          reason):
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    with pytest.raises(ConfigError, match=r"core config /customer_attributes: "
                                          r"/properties/code/pattern: .* is not a supported "
                                          f"regex: {reason} \\(patterns run on RE2"):
        crm.plugins.configure_core({"customer_attributes": schema})
    code, _, err = run_cli("config", "--set", f"customer_attributes={json.dumps(schema)}")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "is not a supported regex" in err
    with pytest.raises(ConfigError, match="/patternProperties: patternProperties is not "
                                          "supported"):
        crm.plugins.configure_core({"customer_attributes": {
            "type": "object", "patternProperties": {"^x": {"type": "string"}}}})
