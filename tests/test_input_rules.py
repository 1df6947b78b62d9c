"""Input rules at the core's boundary: amounts, currencies, text, phones, config documents.

Each rule is checked where data enters (Python API, import files, CLI), on
SQLite and PostgreSQL, and a refused input leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crmkit import CRM, tables
from crmkit.errors import ConfigError, ConflictError, ValidationError
from crmkit.services.importing import ImportRejected, import_file
from crmkit.types import money_from_units, money_units, to_currency, to_money

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def count(crm, table) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# -- amounts: [+-]digits[.digits], ASCII only -------------------------------------------

NOT_AMOUNTS = ["١٢٣", "１２３", "1_000", "1e3", "12.", ".5", "+-1", "1,5", "٣.٥"]


@pytest.mark.parametrize("text", NOT_AMOUNTS)
def test_amount_text_outside_the_documented_syntax_is_refused_by_to_money(text):
    with pytest.raises(ValidationError, match=r"price: .* is not a number \(allowed: "
                       r"\[\+-\]digits\[\.digits\] with ASCII digits"):
        to_money(text, "price")


@pytest.mark.parametrize("text, value", [("12", "12"), (" -5 ", "-5"), ("+0.2500", "0.25"),
                                         ("007.1", "7.1")])
def test_amount_text_in_the_documented_syntax_is_exact(text, value):
    assert to_money(text) == Decimal(value)


@pytest.mark.parametrize("text", ["0", "12.5", "-0.0001", "99999999999999.9999"])
def test_money_units_and_back_give_what_a_money_column_reads(crm, text):
    units = money_units(to_money(text))
    assert money_from_units(units) == Decimal(text)
    assert str(money_from_units(units)) == str(Decimal(text).quantize(Decimal("0.0001")))
    crm.customers.add("C1")
    crm.interactions.record("C1", dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc),
                            kind="adjustment", amount=to_money(text), external_id="m1")
    with crm.read() as conn:
        stored = conn.execute(select(tables.interactions.c.amount)).scalar_one()
    assert str(stored) == str(money_from_units(units))


@pytest.mark.parametrize("text", ["١٢٣", "１２３", "1_000"])
def test_recording_a_non_ascii_or_underscored_amount_is_refused_and_stores_nothing(crm, text):
    crm.customers.add("C1", "Ada")
    with pytest.raises(ValidationError, match=r"^amount: .* is not a number \(allowed"):
        crm.interactions.record("C1", T0, amount=text)
    assert count(crm, tables.interactions) == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_importing_non_ascii_digits_as_an_amount_names_the_line(crm, tmp_path, fmt):
    crm.customers.add("C1", "Ada")
    rows = [{"customer": "C1", "occurred_at": "2024-05-01", "amount": "5.00", "external_id": "a"},
            {"customer": "C1", "occurred_at": "2024-05-02", "amount": "١٢٣", "external_id": "b"},
            {"customer": "C1", "occurred_at": "2024-05-03", "amount": "1_000", "external_id": "c"}]
    path = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        path.write_text("customer,occurred_at,amount,external_id\n" + "".join(
            ",".join(r.values()) + "\n" for r in rows), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(path))
    first = 3 if fmt == "csv" else 2  # after the CSV header
    assert [p[:2] for p in caught.value.problems] == [(f"line {first}", "amount"),
                                                       (f"line {first + 1}", "amount")]
    assert "'١٢٣' is not a number (allowed: [+-]digits[.digits]" in str(caught.value)
    assert count(crm, tables.interactions) == 0


def test_cli_amount_option_with_full_width_digits_is_one_line_error(run_cli):
    assert run_cli("init")[0] == 0
    assert run_cli("customers", "add", "C1", "--name", "Ada")[0] == 0
    code, _, err = run_cli("interactions", "record", "C1", "--amount", "１２３",
                           "--at", "2024-05-01")
    assert code != 0 and "Traceback" not in err
    assert "amount: '１２３' is not a number (allowed: [+-]digits[.digits]" in err
    assert len(err.strip().splitlines()) == 1


# -- configuration documents must be JSON objects ------------------------------------------


@pytest.mark.parametrize("text, found", [("[]", "array"), ('"x"', "string"), ("3", "number"),
                                         ("null", "null")])
def test_a_config_file_that_is_not_an_object_is_refused_and_nothing_changes(crm, run_cli,
                                                                           tmp_path, text, found):
    crm.plugins.enable("loyalty", {"lock_days": 3})
    path = tmp_path / "f.json"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli("plugins", "config", "loyalty", "--file", str(path))
    assert code != 0 and out == ""
    assert err.strip() == (f"error: plugin 'loyalty' config: {path}: the configuration must be "
                           f"a JSON object, got {found}")
    code, _, err = run_cli("config", "--file", str(path))
    assert code != 0 and f"the configuration must be a JSON object, got {found}" in err
    assert crm.plugins.config("loyalty")["lock_days"] == 3


def test_the_api_refuses_a_non_object_configuration_instead_of_resetting_it(crm):
    crm.plugins.enable("loyalty", {"lock_days": 3})
    with pytest.raises(ConfigError, match="plugin 'loyalty' config: the configuration must be "
                       "a JSON object, got array"):
        crm.plugins.configure("loyalty", [])
    with pytest.raises(ConfigError, match="core config: the configuration must be a JSON "
                       "object, got array"):
        crm.plugins.configure_core([])
    assert crm.plugins.config("loyalty")["lock_days"] == 3


# -- time zones are checked at config time, by JSON pointer --------------------------------


@pytest.mark.parametrize("name", ["Mars/Olympus", "America", "../etc/passwd", ""])
def test_an_unknown_core_timezone_is_refused_by_pointer_and_nothing_changes(crm, name):
    with pytest.raises(ConfigError) as caught:
        crm.plugins.configure_core({"timezone": name})
    assert str(caught.value) == (f"core config: /timezone: {name!r} is not an IANA time zone "
                                 "(allowed: e.g. Europe/London or UTC)")
    assert crm.core_config["timezone"] == "UTC"


def test_an_unknown_calendar_timezone_is_refused_naming_its_plugin_and_pointer(crm):
    with pytest.raises(ConfigError, match=r"^plugin 'operational' config: "
                       r"/cases/calendar/timezone: 'Mars/Olympus' is not an IANA time zone"):
        crm.plugins.enable("operational", {"cases": {"calendar": {"timezone": "Mars/Olympus"}}})
    assert "operational" not in crm.enabled_plugins()
    crm.plugins.enable("operational", {"cases": {"calendar": {"timezone": "Europe/Paris"}}})
    crm.plugins.configure_core({"timezone": "Asia/Tokyo"})
    assert crm.core_config["timezone"] == "Asia/Tokyo"


def test_the_cli_refuses_an_unknown_timezone_in_one_line(run_cli):
    assert run_cli("init")[0] == 0
    code, _, err = run_cli("config", "--set", "timezone=Mars/Olympus")
    assert code != 0 and err.strip() == (
        "error: core config: /timezone: 'Mars/Olympus' is not an IANA time zone (allowed: "
        "e.g. Europe/London or UTC)")


@pytest.mark.parametrize("region", ["UK", "EU", "XX"])
def test_a_phone_region_phone_numbers_lack_is_refused_and_nothing_changes(crm, region):
    with pytest.raises(ConfigError) as caught:
        crm.plugins.configure_core({"phone_region": region})
    assert str(caught.value) == (f"core config: /phone_region: {region!r} is not an ISO 3166 "
                                 "region of phone numbers (allowed: e.g. GB, US, DE, or null)")
    assert crm.core_config["phone_region"] is None
    crm.plugins.configure_core({"phone_region": "GB"})
    assert crm.customers.add("C1", phone="020 7946 0018").phone == "+442079460018"


# -- currencies: ISO 4217, upper case ------------------------------------------------------


@pytest.mark.parametrize("code", ["XYZ", "US$", "euro", "U S D", "", "ＵＳＤ"])
def test_to_currency_refuses_codes_outside_iso_4217_with_the_allowed_form(code):
    with pytest.raises(ValidationError, match=r"^price currency: .* is not an ISO 4217 currency "
                       r"code \(allowed: three letters of ISO 4217, e.g. USD, EUR, GBP\)$"):
        to_currency(code, "price currency")


def test_recorded_currencies_are_upper_cased_and_unknown_ones_refused(crm):
    crm.customers.add("C1", "Ada")
    assert crm.interactions.record("C1", T0, amount="5", currency=" usd ").currency == "USD"
    assert crm.interactions.record("C1", T0, amount="5", currency="chf",
                                   external_id="x").currency == "CHF"
    with pytest.raises(ValidationError, match=r"^currency: 'XYZ' is not an ISO 4217 "
                       r"currency code"):
        crm.interactions.record("C1", T0, amount="5", currency="XYZ", external_id="y")
    assert count(crm, tables.interactions) == 2


def test_importing_an_unknown_currency_names_the_line(crm, tmp_path):
    crm.customers.add("C1", "Ada")
    path = tmp_path / "i.csv"
    path.write_text("customer,occurred_at,amount,currency,external_id\n"
                    "C1,2024-05-01,5,eur,a\nC1,2024-05-01,5,US$,b\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(path))
    assert [p[:2] for p in caught.value.problems] == [("line 3", "currency")]
    assert count(crm, tables.interactions) == 0
    path.write_text("customer,occurred_at,amount,currency,external_id\nC1,2024-05-01,5,eur,a\n",
                    encoding="utf-8")
    import_file(crm, "interactions", str(path))
    assert [i.currency for i in crm.interactions.list()] == ["EUR"]


def test_an_unknown_default_currency_is_refused_in_the_core_config(crm):
    with pytest.raises(ConfigError, match=r"^core config: /default_currency: 'XYZ' is not an ISO "
                       r"4217 currency code \(allowed: e.g. USD, EUR, GBP\)$"):
        crm.plugins.configure_core({"default_currency": "XYZ"})
    assert crm.core_config["default_currency"] == "USD"


# -- $ref in an admin schema: local JSON pointers only, never retrieved ------------------------


def attribute_schema(ref: str) -> dict:
    return {"type": "object", "$defs": {"size": {"type": "integer"}},
            "properties": {"a": {"$ref": ref}}}


@pytest.mark.parametrize("ref, problem", [
    ("file:///etc/passwd", "is not a local reference (allowed: a JSON pointer into this schema"),
    ("https://example.com/s.json", "is not a local reference"),
    ("other.json#/x", "is not a local reference"),
    ("#/$defs/missing", "does not resolve inside this schema")])
def test_a_schema_ref_to_a_file_or_url_is_refused_in_the_core_config(crm, run_cli, ref, problem):
    with pytest.raises(ConfigError) as caught:
        crm.plugins.configure_core({"customer_attributes": attribute_schema(ref)})
    assert str(caught.value).startswith(
        f"core config /customer_attributes: invalid JSON Schema: /properties/a/$ref: {ref!r} "
        + problem)
    assert crm.core_config["customer_attributes"] == {"type": "object", "properties": {}}
    code, _, err = run_cli("config", "--set",
                           "customer_attributes=" + json.dumps(attribute_schema(ref)))
    assert code != 0 and problem in err and len(err.strip().splitlines()) == 1


def test_a_schema_found_valid_is_not_checked_again_and_a_bad_one_always_is(monkeypatch):
    from crmkit import config

    checked = []
    real = config._schema_problem
    monkeypatch.setattr(config, "_schema_problem", lambda s: checked.append(s) or real(s))
    valid = attribute_schema("#/$defs/size") | {"title": "checked once"}
    for _ in range(3):
        config.check_schema(valid, "here")
    bad = attribute_schema("#/$defs/missing") | {"title": "checked each time"}
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"^there: invalid JSON Schema: .* does not resolve"):
            config.check_schema(bad, "there")
    assert checked == [valid, bad, bad]


def test_a_local_schema_ref_works(crm):
    crm.plugins.configure_core({"customer_attributes": attribute_schema("#/$defs/size")})
    assert crm.customers.add("C1", attributes={"a": 3}).attributes == {"a": 3}
    with pytest.raises(ValidationError, match=r"attributes: /a: 'x' is not of type 'integer'"):
        crm.customers.add("C2", attributes={"a": "x"})


def test_a_stored_file_ref_is_never_read(crm_url, clock, tmp_path):
    from crmkit import CRM

    target = tmp_path / "s.json"
    target.write_text('{"type": "string"}', encoding="utf-8")
    with CRM.open(crm_url, clock=clock, create=True) as crm:
        with crm.transaction() as tx:  # as if stored before refs were checked
            tx.conn.execute(tables.settings.insert(), {
                "name": "core", "value": {"customer_attributes": attribute_schema(
                    target.as_uri())}, "updated_at": clock.now()})
    with CRM.open(crm_url, clock=clock) as crm:
        with pytest.raises(ConfigError, match=r"core config /customer_attributes: the schema's "
                           r"reference 'file://.*' cannot be resolved"):
            crm.customers.add("C1", attributes={"a": "text the file would allow"})
        assert count(crm, tables.customers) == 0


# -- text: one Unicode form (NFC), no control or bidirectional characters in identifiers --------

NFC_JOSE = "Jos\u00e9"
NFD_JOSE = "Jose\u0301"


def test_composed_and_decomposed_spellings_are_one_customer(crm):
    crm.customers.add(NFD_JOSE, NFD_JOSE, tags=[NFD_JOSE], attributes={NFD_JOSE: NFD_JOSE})
    stored = crm.customers.get(NFC_JOSE)
    assert (stored.external_id, stored.name, stored.tags, stored.attributes) == (
        NFC_JOSE, NFC_JOSE, (NFC_JOSE,), {NFC_JOSE: NFC_JOSE})
    assert crm.customers.get(NFD_JOSE) == stored
    with pytest.raises(ConflictError, match="already exists"):
        crm.customers.add(NFC_JOSE, "someone else")
    assert crm.customers.find(name=NFD_JOSE) == [stored]
    assert crm.customers.find(tag=NFD_JOSE) == [stored]
    assert count(crm, tables.customers) == 1


def test_interaction_identifiers_are_stored_in_nfc(crm):
    crm.customers.add(NFC_JOSE)
    first = crm.interactions.record(NFD_JOSE, T0, external_id=f"order-{NFD_JOSE}",
                                    actor=NFD_JOSE, channel=NFD_JOSE)
    assert (first.external_id, first.actor, first.channel) == (
        f"order-{NFC_JOSE}", NFC_JOSE, NFC_JOSE)
    again = crm.interactions.record(NFC_JOSE, T0, external_id=f"order-{NFC_JOSE}",
                                    actor=NFC_JOSE, channel=NFC_JOSE)
    assert again.id == first.id and count(crm, tables.interactions) == 1
    with crm.transaction(actor=NFD_JOSE):
        crm.customers.add("C2")
    assert crm.customers.history("C2")[0].actor == NFC_JOSE
    crm.staff.add(NFD_JOSE, NFD_JOSE, "sales")
    assert crm.staff.get(NFC_JOSE).handle == NFC_JOSE


def test_an_import_in_nfd_updates_the_nfc_customer(crm, tmp_path):
    crm.customers.add(NFC_JOSE, "old name")
    path = tmp_path / "c.csv"
    path.write_text(f"external_id,name,tags\n{NFD_JOSE},{NFD_JOSE},{NFD_JOSE}\n",
                    encoding="utf-8")
    report = import_file(crm, "customers", str(path))
    assert (report.created, report.updated) == (0, 1)
    stored = crm.customers.get(NFC_JOSE)
    assert (stored.name, stored.tags) == (NFC_JOSE, (NFC_JOSE,))


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f",
                                  "\u200b", "\ufeff", "\x1b", "\x85", "\t", "\n", "\u2028"])
def test_control_and_bidi_characters_are_refused_in_identifiers_naming_the_code_point(crm, char):
    code = re.escape(f"U+{ord(char):04X}")
    crm.customers.add("C1", "Ada")
    with pytest.raises(ValidationError, match=rf"^external_id: contains {code} "):
        crm.customers.add(f"C{char}2", "Bob")
    with pytest.raises(ValidationError, match=rf"^external_id: contains {code} \("):
        crm.interactions.record("C1", T0, external_id=f"o{char}1")
    with pytest.raises(ValidationError, match=rf"^actor: contains {code} "):
        crm.interactions.record("C1", T0, actor=f"ev{char}il")
    with pytest.raises(ValidationError, match=rf"^actor: contains {code} "):
        with crm.transaction(actor=f"ev{char}il"):
            crm.customers.add("C3")
    with pytest.raises(ValidationError, match=rf"^staff handle: contains {code} "):
        crm.staff.add(f"ana{char}", "Ana", "sales")
    assert (count(crm, tables.customers), count(crm, tables.interactions),
            count(crm, tables.staff)) == (1, 0, 0)


def test_free_text_rules_names_are_one_line_attribute_texts_may_have_lines(crm):
    with pytest.raises(ValidationError, match=r"^name: contains U\+000A \(a control "
                       r"character\): one-line text may not contain control characters \(tab and "
                       r"newline included\)"):
        crm.customers.add("C1", "Ada\nLovelace")
    with pytest.raises(ValidationError, match=r"^name: contains U\+202E "
                       r"\(RIGHT-TO-LEFT OVERRIDE\)"):
        crm.customers.add("C1", "\u202egnp.exe")
    with pytest.raises(ValidationError, match=r"^attributes: /note: contains U\+0007"):
        crm.customers.add("C1", "Ada", attributes={"note": "bell\x07"})
    assert count(crm, tables.customers) == 0
    arabic = "\u0645\u0631\u064a\u0645\u200f"  # a right-to-left name with its RLM mark
    stored = crm.customers.add("C1", arabic, attributes={"note": "line one\n\tline two"})
    assert (stored.name, stored.attributes) == (arabic, {"note": "line one\n\tline two"})


def test_the_cli_refuses_a_bidi_actor_in_one_line(run_cli):
    assert run_cli("init")[0] == 0
    # refused even where any actor name is allowed: not a staff handle is the lesser problem
    assert run_cli("config", "--set", "allow_free_actors=true")[0] == 0
    code, _, err = run_cli("--actor", "ev\u202eil", "customers", "add", "C1")
    assert code != 0 and err.strip() == (
        "error: actor: contains U+202E (RIGHT-TO-LEFT OVERRIDE): an identifier may not contain "
        "control, format, bidirectional or line-separator characters")


# -- phones: valid numbers only, stored in E.164 ----------------------------------------------


@pytest.mark.parametrize("phone", ["hello", "123", "+44 1", "+1 555 0100", "020 7946 0018"])
def test_a_phone_that_is_not_a_phone_number_is_refused(crm, phone):
    with pytest.raises(ValidationError, match=rf"^phone: {re.escape(repr(phone))} is "
                       r"not a phone number \(allowed: \+ and the country code, e.g. "
                       r"\+44 20 7946 0018; national numbers need the core config "
                       r"phone_region or a region in brackets, e.g. 020 7946 0018 \(GB\)\)$"):
        crm.customers.add("C1", "Ada", phone=phone)
    assert count(crm, tables.customers) == 0


def test_phones_are_stored_in_e164_and_national_numbers_use_the_configured_region(crm):
    assert crm.customers.add("C1", phone="+44 20 7946 0018").phone == "+442079460018"
    crm.plugins.configure_core({"phone_region": "GB"})
    assert crm.customers.add("C2", phone="020 7946 0019").phone == "+442079460019"
    assert crm.customers.add("C3", phone="+1 (212) 555-0199").phone == "+12125550199"
    with pytest.raises(ValidationError, match=r"or a national number of GB \(core config "
                       r"phone_region\)"):
        crm.customers.update("C1", phone="123")
    assert [c.external_id for c in crm.customers.find(phone="020 7946 0018")] == ["C1"]
    assert crm.customers.get("C1").phone == "+442079460018"


def test_an_import_with_a_bad_phone_names_the_line(crm, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("external_id,phone\nC1,+44 20 7946 0018\nC2,hello\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "customers", str(path))
    assert [p[:2] for p in caught.value.problems] == [("line 3", "phone")]
    assert count(crm, tables.customers) == 0


def test_a_region_in_brackets_reads_a_national_number(crm):
    assert crm.customers.add("C1", phone="020 7946 0018 (GB)").phone == "+442079460018"
    assert crm.customers.add("C2", phone="(212) 555-0199 (us)").phone == "+12125550199"


def test_a_repeated_id_in_a_batch_is_dropped_when_identical_and_a_problem_when_not():
    from crmkit.plugin import drop_repeats

    rows = [{"id": "a", "v": 1}, {"id": None, "v": 2}, {"id": "a", "v": 1}, {"id": None, "v": 2},
            {"id": "a", "v": 3}, {"id": "b", "v": 4}]
    problems: list = []
    kept, labels = drop_repeats(rows, [f"line {n}" for n in range(2, 8)], problems,
                                key=lambda row: row["id"], field="id",
                                name=lambda row: repr(row["id"]))
    assert labels == ["line 2", "line 3", "line 5", "line 7"]
    assert kept == [rows[0], rows[1], rows[3], rows[5]]
    assert problems == [("line 6", "id", "'a' repeats line 2 with different content")]


@pytest.mark.parametrize("fields, message", [
    ({"tags": ["t" * 21]}, "tags: a tag of 21 characters; at most 20 (core config "
                           "max_field_length)"),
    ({"tags": [f"t{i}" for i in range(1_001)]}, "tags: 1001 tags; at most 1000"),
    ({"attributes": {"note": "n" * 21}}, "attributes: /note: 21 characters; at most 20"),
    ({"attributes": {"notes": ["ok", "n" * 21]}}, "attributes: /notes/1: 21 characters"),
])
def test_tags_and_attribute_texts_keep_the_field_length_limit(crm, fields, message):
    crm.plugins.configure_core({"max_field_length": 20})
    with pytest.raises(ValidationError, match=re.escape(message)):
        crm.customers.add("C1", **fields)
    assert crm.customers.count() == 0
    crm.customers.add("C1", tags=["t" * 20], attributes={"note": "n" * 20})


def test_a_blank_tag_is_refused(crm, run_cli):
    message = "tags: a tag is blank (each must hold a text)"
    crm.customers.add("C1", tags=["vip"])
    with pytest.raises(ValidationError, match=re.escape(message)):
        crm.customers.add("C2", tags=["gold", " "])
    with pytest.raises(ValidationError, match=re.escape(message)):
        crm.customers.update("C1", tags=[" "])
    code, _, err = run_cli("customers", "update", "C1", "--add-tag", " ")
    assert code != 0 and err == f"error: {message}\n"
    assert [(c.external_id, c.tags) for c in crm.customers.list()] == [("C1", ("vip",))]


def test_case_insensitive_search_follows_unicode_on_every_database(crm):
    crm.customers.add("C1", "Émile Zola Ölberg", email="ÉMILE@example.com")
    crm.customers.add("C2", tags=["Ärzte 50%", "vip"])
    for text in ("émile", "ÖLBERG", "zola ö"):
        assert [c.external_id for c in crm.customers.search(text)] == ["C1"], text
    for text in ("ärzte", "RZTE 50%", "VIP"):  # a tag contains it, any case
        assert [c.external_id for c in crm.customers.search(text)] == ["C2"], text
    assert crm.customers.search("E_5") == crm.customers.search("ärzte_") == []
    assert [c.external_id for c in crm.customers.find(email="émile@example.com")] == ["C1"]


def test_case_insensitive_search_follows_unicode_on_a_postgresql_database_of_locale_c(
        postgres_server, clock):
    """A database created with LC_CTYPE C lower-cases ASCII only; crmkit compares through
    ICU's collation there."""
    with CRM.open(postgres_server.create_database(locale="C"), clock=clock,
                  create=True) as crm:
        test_case_insensitive_search_follows_unicode_on_every_database(crm)
