"""4. Hostile input: imports, oversized values, injection strings.

Hypothesis writes hostile CSV and JSON Lines files (broken numbers and dates,
unknown customers, repeated external ids, injection strings, odd Unicode) and
imports them through the ``crmkit`` CLI with every existing plugin enabled.
Whatever the file: no traceback, one clear outcome, and either the import
reports what it wrote or the database is exactly as before.  Oversized values
are refused naming the documented limit; injection strings are stored and
searched verbatim, never executed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rel_db
import rel_support
from rel_fuzz import INJECTIONS, NUL, SURROGATE, amounts, json_values, odd_text, timestamps
from rel_support import INTERNAL_ERROR, assert_clean_failure, cli

FUZZ = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
BIDI = [t for t in INJECTIONS if "\u202e" in t]
"""Injection strings with a bidirectional override: refused in names and identifiers."""
SUMMARY = re.compile(r"read (\d+), created (\d+), updated (\d+), unchanged (\d+), rejected (\d+)")

interaction_rows = st.lists(st.fixed_dictionaries({}, optional={
    "customer": st.one_of(st.sampled_from(["C1", "C2", "C9"]), odd_text),
    "occurred_at": timestamps,
    "kind": st.one_of(st.sampled_from(["purchase", "visit", "refund", "complaint"]), odd_text),
    "channel": st.one_of(st.sampled_from(["web", "email"]), odd_text),
    "amount": amounts,
    "currency": st.one_of(st.sampled_from(["USD", "EUR", "usd", "EURO"]), odd_text),
    "external_id": st.one_of(st.sampled_from(["E1", "E2", "P0"]), odd_text),
    "note": odd_text,
}), min_size=1, max_size=6)

customer_rows = st.lists(st.fixed_dictionaries({}, optional={
    "external_id": st.one_of(st.sampled_from(["C1", "C2", "N1", "N2", "ORG"]), odd_text),
    "name": odd_text,
    "type": st.one_of(st.sampled_from(["person", "organisation"]), odd_text),
    "email": st.one_of(st.sampled_from(["a@example.com", "not-an-email"]), odd_text),
    "phone": odd_text,
    "organisation": st.one_of(st.sampled_from(["ORG", "C1"]), odd_text),
    "tags": odd_text,
    "attr.loyalty_id": odd_text,
}), min_size=1, max_size=6)


def write_rows(path, rows, fmt) -> None:
    """Write ``rows`` as CSV (header = every key seen) or JSON Lines."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return
    header = list(dict.fromkeys(k for r in rows for k in r)) or ["customer"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for r in rows:
            writer.writerow([r.get(k, "") for k in header])


def check_import(url, path, kind, flags) -> None:
    """Import ``path``; assert one clean outcome and that the database matches it."""
    table = "interactions" if kind == "interactions" else "customers"
    before = rel_db.snapshot(url)
    code, out, err = cli(url, "import", kind, str(path), *flags)
    assert INTERNAL_ERROR not in err and "Traceback" not in err, err
    if code != 0:
        assert err.strip(), "a refused import must say why"
        assert rel_db.snapshot(url) == before, "a refused import changed the database"
        return
    match = SUMMARY.search(out)
    assert match, f"no summary line in {out!r}"
    created = int(match.group(2))
    new_customers = int(re.search(r"created (\d+) new customer", out).group(1)) \
        if "new customer" in out else 0
    grown = len(rel_db.snapshot(url)[table]) - len(before[table])
    expected = created + (new_customers if table == "customers" else 0)
    assert grown == expected, f"summary says {created} created, table grew by {grown}: {out}"
    assert rel_db.integrity_problems(url) == []


@FUZZ
@given(rows=interaction_rows, fmt=st.sampled_from(["csv", "jsonl"]),
       flags=st.lists(st.sampled_from(["--skip-invalid", "--create-customers"]), unique=True))
def test_fuzzed_interaction_files_import_cleanly_or_change_nothing(seeded_url, tmp_path, rows,
                                                                     fmt, flags):
    path = tmp_path / f"interactions.{fmt}"
    write_rows(path, rows, fmt)
    check_import(seeded_url, path, "interactions", flags)


@FUZZ
@given(rows=customer_rows, fmt=st.sampled_from(["csv", "jsonl"]),
       skip=st.booleans())
def test_fuzzed_customer_files_import_cleanly_or_change_nothing(seeded_url, tmp_path, rows, fmt,
                                                                 skip):
    path = tmp_path / f"customers.{fmt}"
    write_rows(path, rows, fmt)
    check_import(seeded_url, path, "customers", ["--skip-invalid"] if skip else [])


DEEP = settings(FUZZ, max_examples=300)
"""The long variants' budget (``pytest -m slow``)."""


@pytest.mark.slow
@DEEP
@given(rows=interaction_rows, fmt=st.sampled_from(["csv", "jsonl"]),
       flags=st.lists(st.sampled_from(["--skip-invalid", "--create-customers"]), unique=True))
def test_fuzzed_interaction_files_deep(seeded_url, tmp_path, rows, fmt, flags):
    """The interaction-file property with 300 examples (long variant)."""
    path = tmp_path / f"interactions.{fmt}"
    write_rows(path, rows, fmt)
    check_import(seeded_url, path, "interactions", flags)


@pytest.mark.slow
@DEEP
@given(rows=customer_rows, fmt=st.sampled_from(["csv", "jsonl"]), skip=st.booleans())
def test_fuzzed_customer_files_deep(seeded_url, tmp_path, rows, fmt, skip):
    """The customer-file property with 300 examples (long variant)."""
    path = tmp_path / f"customers.{fmt}"
    write_rows(path, rows, fmt)
    check_import(seeded_url, path, "customers", ["--skip-invalid"] if skip else [])


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_as_an_import_file_are_refused_or_read_cleanly(seeded_url, tmp_path, data):
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"customer,occurred_at,amount\n" + data)
    check_import(seeded_url, path, "interactions", [])


# -- oversized values and files ------------------------------------------------------------------


def test_oversized_fields_are_refused_naming_the_limit_and_the_limit_is_configurable(seeded_url,
                                                                                    clock):
    from crmkit.errors import ValidationError

    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        with pytest.raises(ValidationError, match="301 characters; at most 300"):
            crm.customers.add("BIG", "x" * 301)
        crm.customers.add("OK60", "y" * 60)
        with pytest.raises(ValidationError, match=r"channel: .*at most \d+ characters"):
            crm.interactions.record("C1", clock.now(), channel="c" * 201)
        with pytest.raises(ValidationError, match=r"bytes of JSON; the limit is 65536 "
                                                  r"\(core config max_payload_bytes\)"):
            crm.interactions.record("C1", clock.now(), payload={"blob": "z" * 70_000})
        crm.interactions.record("C1", clock.now(), payload={"blob": "z" * 200}, external_id="M1")
        crm.plugins.configure_core({"max_field_length": 50, "max_payload_bytes": 100})
        with pytest.raises(ValidationError, match="60 characters; at most 50"):
            crm.customers.add("BIG60", "y" * 60)
        with pytest.raises(ValidationError, match="the limit is 100"):
            crm.interactions.record("C1", clock.now(), payload={"blob": "z" * 200})
    assert rel_db.count(seeded_url, "SELECT count(*) FROM customers") == 3
    assert rel_db.count(seeded_url, "SELECT count(*) FROM interactions") == 2


def test_an_import_line_over_the_documented_limit_is_a_row_error_and_nothing_is_written(
        seeded_url, tmp_path):
    from crmkit.services.records import MAX_LINE_BYTES

    path = tmp_path / "big.csv"
    path.write_text("customer,occurred_at,amount,note\n"
                    "C1,2024-06-01,5,short\n"
                    f"C1,2024-06-02,5,{'n' * (MAX_LINE_BYTES + 10)}\n"
                    "C2,2024-06-03,5,short\n")
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, "import", "interactions", str(path))
    assert code != 0 and INTERNAL_ERROR not in err
    assert f"line 3: row: the line is longer than {MAX_LINE_BYTES} bytes (the limit)" in err
    assert rel_db.snapshot(seeded_url) == before


def test_an_import_field_over_max_field_length_is_a_row_error_naming_the_limit(seeded_url,
                                                                              tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"customer": "C1", "occurred_at": "2024-06-01",
                                "channel": "w" * 201}) + "\n")
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, "import", "interactions", str(path))
    assert code != 0 and INTERNAL_ERROR not in err
    assert re.search(r"line 1: channel: .*at most \d+ characters", err), err
    assert rel_db.snapshot(seeded_url) == before


# -- injection strings ---------------------------------------------------------------------------


def test_injection_strings_in_every_free_text_field_are_stored_and_searched_verbatim(seeded_url,
                                                                                     clock):
    from crmkit import conditions, tables
    from crmkit.errors import CRMError
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        names_before = rel_db.table_names_of(seeded_url)
        for i, text in enumerate(INJECTIONS):
            ext = f"INJ{i}"
            if text in BIDI:  # refused by the text rules (docs/conventions.md#input-rules)
                with pytest.raises(CRMError, match=r"name: contains U\+202E"):
                    crm.customers.add(ext, text)
                with pytest.raises(CRMError, match=r"external_id: contains U\+202E"):
                    crm.interactions.record("C1", clock.now(), kind="visit", external_id=text)
                continue
            crm.customers.add(ext, text, preferred_channel=text[:40],
                              lifecycle_stage=text[:40], tags=[text],
                              attributes={"note": text})
            crm.interactions.record(ext, clock.now(), kind="visit", channel=text[:40],
                                    external_id=text, actor=text[:200],
                                    payload={"comment": text, text: text})
            got = crm.customers.get(ext)
            assert (got.name, got.tags, got.attributes["note"]) == (text.strip(), (text,), text)
            assert [c.external_id for c in crm.customers.find(name=text.strip())] == [ext]
            assert [c.external_id for c in crm.customers.find(tag=text)] == [ext]
            [stored] = crm.interactions.list(customer=ext)
            assert (stored.channel, stored.external_id, stored.payload["comment"]) == (
                text[:40], text, text)
            condition = {"any": [{"field": "name", "op": "eq", "value": text.strip()},
                                 {"field": "name", "op": "contains", "value": text.strip()}]}
            where = conditions.to_sql(condition, lambda f, op: tables.customers.c[f])
            query = select(tables.customers.c.external_id).where(where)
            for dialect in (sqlite.dialect(), postgresql.dialect()):
                sql = str(query.compile(dialect=dialect))
                assert text.strip() not in sql and "DROP" not in sql, sql
            with crm.read() as conn:
                assert [r[0] for r in conn.execute(query)] == [ext]
        with pytest.raises(CRMError):
            crm.customers.get(INJECTIONS[0])
    assert rel_db.table_names_of(seeded_url) == names_before
    assert rel_db.count(seeded_url, "SELECT count(*) FROM customers") == (
        2 + len(INJECTIONS) - len(BIDI))
    assert rel_db.integrity_problems(seeded_url) == []


def _plugin_text_writes(crm, clock, text: str, n: int) -> list[tuple[str, object]]:
    """``(table, call)`` for every public plugin/core API taking free text, fed ``text``."""
    enabled = set(crm.enabled_plugins())
    c1 = crm.customers.get("C1").id
    due = clock.now() + dt.timedelta(days=1)
    calls = [("staff", lambda: crm.staff.add(f"inj{n}", text, text, None))]
    if "operational" in enabled:
        ops = crm.plugin("operational")
        calls += [("operational_cases", lambda: ops.open_case(c1, text, source=text[:20])),
                  ("operational_tasks", lambda: ops.create_task(c1, text, None, due))]
    if "loyalty" in enabled:
        loyalty = crm.plugin("loyalty")
        calls += [("loyalty_ledger", lambda: loyalty.adjust("C1", 5, text)),
                  ("loyalty_rewards", lambda: loyalty.add_reward(f"R{n}", 10, name=text))]
    if "analytical" in enabled:
        analytical = crm.plugin("analytical")
        condition = {"field": "external_id", "op": "eq", "value": text}
        calls += [("analytical_segments",
                   lambda: analytical.save_segment(text, condition, description=text))]
    if "social" in enabled:
        calls += [("social_identities",
                   lambda: crm.plugin("social").link_handle("C2", "twitter", text))]
    return calls


def test_injection_strings_in_plugin_free_text_fields_are_stored_verbatim_or_refused(seeded_url,
                                                                                     clock):
    """Staff, cases, tasks, loyalty reasons and rewards, segment names and conditions, social
    handles: each injection string is stored verbatim or refused with one CRMError."""
    from crmkit.errors import CRMError

    tables_before = rel_db.table_names_of(seeded_url)
    stored: dict[str, list[str]] = {}
    refused = []
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        for n, text in enumerate(INJECTIONS):
            for table, call in _plugin_text_writes(crm, clock, text, n):
                try:
                    call()
                except CRMError as exc:
                    refused.append((table, text, str(exc)))
                else:
                    stored.setdefault(table, []).append(text)
    assert rel_db.table_names_of(seeded_url) == tables_before
    cells: dict[str, list[str]] = {}
    for table, _, _, value in rel_db.text_cells(seeded_url, list(stored)):
        cells.setdefault(table, []).append(value)
    handles = stored.pop("social_identities", [])
    assert rel_db.count(seeded_url, "SELECT count(*) FROM social_identities s JOIN customers c "
                        "ON c.id = s.customer_id WHERE c.external_id = 'C2'") == len(handles) \
        if handles else True  # handles are normalised (lower case, no @): counted, not compared
    for table, texts in stored.items():
        for text in texts:
            assert any(text.strip() in cell or json.dumps(text)[1:-1] in cell
                       for cell in cells.get(table, [])), f"{text!r} not stored verbatim in {table}"
    # the free-text fields of cases, tasks and loyalty take any text; staff names are one-line
    # text, which refuses bidirectional overrides (docs/conventions.md#input-rules)
    for table in ("staff", "operational_cases", "operational_tasks", "loyalty_ledger"):
        if table in tables_before:
            expected = len(INJECTIONS) - (len(BIDI) if table == "staff" else 0)
            assert len(stored.get(table, [])) == expected, [r for r in refused
                                                            if r[0] == table][:3]
    assert all("contains U+202E" in message for table, _, message in refused
               if table == "staff")
    assert rel_db.integrity_problems(seeded_url) == []


@pytest.mark.parametrize("text", INJECTIONS[:6])
def test_injection_strings_as_cli_arguments_are_data_not_sql(seeded_url, text):
    code, _, err = cli(seeded_url, "customers", "add", "INJ", "--name", text, "--tag", text,
                       "--attr", f"note={text}")
    assert code == 0, err
    code, out, err = cli(seeded_url, "customers", "show", "INJ", "--format", "json")
    assert code == 0 and json.loads(out)["profile"]["name"] == text.strip(), err
    code, out, err = cli(seeded_url, "interactions", "list", "--kind", text, "--format", "json")
    assert code == 0 and json.loads(out) == [], err
    code, _, err = cli(seeded_url, "customers", "show", text)
    assert_clean_failure(code, err, "no customer")
    assert rel_db.count(seeded_url, "SELECT count(*) FROM customers") == 3
    assert rel_db.integrity_problems(seeded_url) == []


# -- inputs the fuzzing found wrong once: an organisation without an id, NUL, wide codes -----


def test_an_organisation_row_without_an_external_id_is_a_row_error(seeded_url, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_text("external_id,name,type\n,Acme Ltd,organisation\n")
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, "import", "customers", str(path))
    assert INTERNAL_ERROR not in err, err
    assert code != 0 and "line 2: external_id: required" in err, err
    assert rel_db.snapshot(seeded_url) == before


def test_text_with_a_nul_character_is_refused_clearly(seeded_url, clock):
    from crmkit.errors import ValidationError

    before = rel_db.snapshot(seeded_url)
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        for call in (lambda: crm.customers.add("NUL1", NUL),
                     lambda: crm.customers.add("NUL2", "ok", tags=[NUL]),
                     lambda: crm.customers.add("NUL3", "ok", attributes={"note": NUL}),
                     lambda: crm.interactions.record("C1", clock.now(), payload={"c": NUL}),
                     lambda: crm.interactions.record("C1", clock.now(), external_id=NUL)):
            with pytest.raises(ValidationError, match="NUL|U\\+0000|control character"):
                call()
    assert rel_db.snapshot(seeded_url) == before


@pytest.mark.parametrize("field", ["channel", "kind"])
def test_an_interaction_code_wider_than_its_column_is_refused_naming_the_limit(seeded_url, clock,
                                                                               field):
    from crmkit.errors import ValidationError

    before = rel_db.snapshot(seeded_url)
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        values = {"kind": "visit", field: "c" * 41}
        with pytest.raises(ValidationError, match=rf"{field}: .*at most 40"):
            crm.interactions.record("C1", clock.now(), **values)
    assert rel_db.snapshot(seeded_url) == before


def test_text_with_a_lone_surrogate_is_refused_clearly(seeded_url, clock, tmp_path):
    from crmkit.errors import ValidationError

    before = rel_db.snapshot(seeded_url)
    path = tmp_path / "surrogate.jsonl"
    path.write_text(json.dumps({"customer": "C1", "occurred_at": "2024-06-01",
                                "external_id": f"S{SURROGATE}"}) + "\n")  # "\ud800" escaped
    code, _, err = cli(seeded_url, "import", "interactions", str(path))
    assert INTERNAL_ERROR not in err and "line 1: external_id:" in err, err
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        for call in (lambda: crm.customers.add("SUR1", f"x{SURROGATE}"),
                     lambda: crm.interactions.record("C1", clock.now(),
                                                     payload={"note": f"x{SURROGATE}"})):
            with pytest.raises(ValidationError):
                call()
    assert rel_db.snapshot(seeded_url) == before


# -- plugin configurations ---------------------------------------------------------------------


def _config_edits(data, schema):
    """A configuration: the schema's keys (and unknown ones) set to hostile JSON values."""
    properties = schema.get("properties", {})
    keys = sorted(properties)
    near = st.sampled_from([0, 1, -1, 10**9, 10**30, 0.5, 1e308, [], {}, "", True, None,
                            [{}], {"x": 1}])
    values = st.one_of(near, json_values,
                       st.sampled_from([properties[k].get("default") for k in keys] or [None]))
    return data.draw(st.dictionaries(st.one_of(st.sampled_from(keys or ["x"]), odd_text),
                                     values, max_size=3), label="edits")


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_plugin_configs_are_stored_valid_or_refused_with_nothing_changed(seeded_url, clock,
                                                                                  data):
    """A config is either refused (ConfigError naming the JSON pointer, stored config kept) or
    accepted, and then the plugin still handles a write and a sweep."""
    from crmkit.errors import CRMError, ConfigError

    names = rel_support.existing_builtins() + ["relcheck", "relfaulty"]
    name = data.draw(st.sampled_from(names), label="plugin")
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        schema = crm.plugins.schema(name)
        stored = crm.plugins.config(name)
        edits = _config_edits(data, schema)
        before = rel_db.snapshot(seeded_url)
        try:
            crm.plugins.configure(name, {**stored, **edits})
        except ConfigError as exc:
            event("config refused by the schema")
            message = str(exc)  # "plugin 'x' config: /pointer: problem (allowed: …); …"
            assert f"plugin {name!r}" in message and ": /" in message, message
            # one line, unless a hostile key itself holds a line break (it is quoted as given)
            assert "\n" not in message or any("\n" in str(k) for k in edits), message
            assert rel_db.snapshot(seeded_url) == before
            assert crm.plugins.config(name) == stored
            return
        except CRMError as exc:  # crmkit_check_config refusing what a schema cannot express
            event("config refused by crmkit_check_config")
            assert name in str(exc) or "/" in str(exc), exc
            assert rel_db.snapshot(seeded_url) == before
            return
        event("config accepted")
        try:  # an accepted configuration must work
            crm.interactions.record("C1", clock.now(), amount="12.50",
                                    payload={"items": [{"sku": "A", "category": "books",
                                                        "amount": "12.50"}]})
            crm.sweep()
        finally:
            crm.plugins.configure(name, stored)


# -- conditions (segments, automation, routing) ------------------------------------------------

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists")
SEGMENT_FIELDS = ("type", "external_id", "preferred_channel", "lifecycle_stage", "tags",
                  "attributes.note", "lifecycle", "rfm.segment", "rfm.r", "rfm.monetary", "clv",
                  "p_alive", "current_value", "purchases")

conditions_st = st.recursive(
    st.fixed_dictionaries({
        "field": st.one_of(*[st.sampled_from(SEGMENT_FIELDS)] * 4, odd_text),  # mostly known fields
        "op": st.one_of(*[st.sampled_from(OPERATORS)] * 4, odd_text),
        "value": st.one_of(json_values, st.lists(odd_text, max_size=3))}),
    lambda children: st.one_of(
        st.fixed_dictionaries({"all": st.lists(children, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(children, max_size=3)}),
        st.fixed_dictionaries({"not": children})),
    max_leaves=5)


def _literals(condition):
    """Every string value inside a condition."""
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key == "value":
                yield from (v for v in (value if isinstance(value, list) else [value])
                            if isinstance(v, str))
            else:
                yield from _literals(value)
    elif isinstance(condition, list):
        for part in condition:
            yield from _literals(part)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(condition=conditions_st)
def test_fuzzed_segment_conditions_compile_to_bound_parameters_or_are_refused(seeded_url, clock,
                                                                              condition):
    """Any condition: a list of customer ids or one CRMError; user text never enters the SQL."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from crmkit import conditions, tables
    from crmkit.errors import CRMError, ConfigError

    if "analytical" not in rel_support.existing_builtins():
        pytest.fail("the analytical plugin (segments) does not exist in this tree")
    try:
        conditions.check(condition, lambda f: f in tables.customers.c, "/condition")
    except ConfigError:
        pass
    else:
        def column_for(field, op):
            return tables.customers.c[field]

        query = select(tables.customers.c.id).where(conditions.to_sql(condition, column_for))
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            sql = str(query.compile(dialect=dialect))
            for literal in _literals(condition):
                if len(literal.strip()) >= 3:
                    assert literal not in sql, f"{literal!r} was pasted into {sql}"
    before = rel_db.snapshot(seeded_url)
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        try:
            ids = crm.plugin("analytical").evaluate_segment(condition)
        except CRMError as exc:
            assert str(exc).strip()
        else:
            assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
    assert rel_db.snapshot(seeded_url) == before
    assert rel_db.table_names_of(seeded_url) == sorted(before)


AUTOMATION_FIELDS = ("payload.kind", "payload.channel", "payload.amount", "payload.payload.note",
                     "customer.name", "customer.tags", "customer.attributes.note", "lead.score",
                     "lead.stage", "customer.email")

automation_conditions = st.recursive(
    st.fixed_dictionaries({
        "field": st.one_of(*[st.sampled_from(AUTOMATION_FIELDS)] * 4, odd_text),  # mostly known fields
        "op": st.one_of(*[st.sampled_from(OPERATORS)] * 4, odd_text),
        "value": st.one_of(json_values, st.lists(odd_text, max_size=3))}),
    lambda children: st.one_of(
        st.fixed_dictionaries({"all": st.lists(children, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(children, max_size=3)}),
        st.fixed_dictionaries({"not": children})),
    max_leaves=4)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(condition=automation_conditions,
       on=st.sampled_from(["interaction.recorded", "customer.created"]))
def test_fuzzed_automation_conditions_are_refused_by_pointer_or_run_cleanly(seeded_url, clock,
                                                                           condition, on):
    """An automation rule's ``if``: refused naming /automation/rules/0/if, or accepted and then
    a write that triggers it works (the rule's SQL binds every value)."""
    from crmkit.errors import ConfigError

    if "operational" not in rel_support.existing_builtins():
        pytest.fail("the operational plugin (automation) does not exist in this tree")
    rule = {"name": "fuzzed", "on": on, "if": condition, "do": [{"add_tag": "fuzzed"}]}
    with rel_support.open_crm(seeded_url, clock, create=False) as crm:
        stored = crm.plugins.config("operational")
        before = rel_db.snapshot(seeded_url)
        try:
            crm.plugins.configure("operational", {**stored, "automation": {"rules": [rule]}})
        except ConfigError as exc:
            event("rule refused")
            assert "/automation/rules/0" in str(exc), exc
            assert rel_db.snapshot(seeded_url) == before
            return
        event("rule accepted")
        try:
            crm.interactions.record("C1", clock.now(), kind="visit", channel="web",
                                    payload={"note": "fuzz"})
            crm.customers.add(f"AUTO{len(before['customers'])}", "Auto Matic")
        finally:
            crm.plugins.configure("operational", stored)
    assert rel_db.table_names_of(seeded_url) == sorted(before)
    assert rel_db.integrity_problems(seeded_url) == []


# -- CLI arguments -----------------------------------------------------------------------------

COMMAND_LINES = [
    ["customers", "list"], ["customers", "show"], ["customers", "add"], ["customers", "update"],
    ["interactions", "list"], ["interactions", "record"], ["plugins", "list"],
    ["plugins", "config"], ["plugins", "enable"], ["plugins", "disable"], ["events", "list"],
    ["audit"], ["staff", "list"], ["staff", "add"], ["export", "customers"], ["db", "status"],
    ["loyalty"], ["analytical"], ["operational"], ["social"],
]
TOKENS = st.one_of(
    odd_text, amounts, timestamps,
    st.sampled_from(["--format", "json", "csv", "table", "xml", "--as-of", "--amount", "--limit",
                     "-1", "0", "--name", "--kind", "--tag", "--attr", "=", "a=b", "--set",
                     "fail=[1]", "relfaulty", "loyalty", "C1", "C2", "--help", "--yes", "--"]))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.sampled_from(COMMAND_LINES), args=st.lists(TOKENS, max_size=5))
def test_fuzzed_cli_arguments_never_end_in_a_traceback(seeded_url, tmp_path, command, args):
    """Whatever the arguments: exit 0, or a usage error / one clear ``error:`` line; no traceback."""
    if command[0] == "export":
        args = [str(tmp_path / "out.csv")] + args
    code, out, err = cli(seeded_url, *command, *args)
    assert "Traceback" not in err and INTERNAL_ERROR not in err, err
    assert code == 0 or err.strip(), f"exit {code} without a message"
    assert rel_db.integrity_problems(seeded_url) == []
